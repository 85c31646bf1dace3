"""The paper's Figs. 6-11 and Table I from finished sweeps: a CSV of the data and a PNG.

Each ``FIGURES[name]`` turns the runs of ``python train.py -m experiment=<name>`` into
long-format rows (one per sweep point and scheme) and a matplotlib figure whose curves
carry the paper's names. Schemes take their label and style from the scheme registry
(:mod:`isac.schemes.registry`), a learned network from its model config, recorded in
each run's ``metrics.json``. The project's additions (global optimum, water-filling, the
rate with the beams the BS forms from H_hat) are drawn thin or dashed and say so.

Figures are built with matplotlib's object-oriented API (no pyplot, no global backend),
so importing this module changes nothing for the caller.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from isac import checks
from isac.experiments.runs import write_csv
from isac.experiments.sweeps import Run, latest_sweep, latest_sweeps, load_sweep
from isac.physics.system import SIZE_SETTINGS, SystemConfig
from isac.schemes.registry import SCHEMES

Rows = list[dict[str, Any]]

EVALUATION_METRICS = (
    "wsnr",
    "rate_s",
    "rate_c",
    "sum_rate_c",
    "pct_of_optimum",
    "wsnr_bs_beams",
    "rate_c_bs_beams",
    "ms_per_sample",
    # the receivers (isac/physics/receivers.py); NaN in runs evaluated before them
    "wsnr_genie",
    "wsnr_naive",
    "wsnr_robust",
    "rate_c_naive",
    "rate_c_robust",
    "rate_c_bound_naive",
    "rate_c_bound_robust",
    "objective_pct_of_optimum",
    "worst_pct_of_optimum",
)
RATE_UNIT = "bits/s/Hz"
OPTIMUM_NOTE = "dotted: the global optimum of each point (beyond the paper)"

# Table I of the paper (ms per sample, their hardware), for side-by-side comparison.
PAPER_TABLE1_MS = {
    "n_tx": {4: 0.2330, 6: 0.2360, 8: 0.2404, 10: 0.2418, 12: 0.2422, 14: 0.2447, 16: 0.2457},
    "n_rx": {4: 0.1413, 6: 0.1572, 8: 0.1732, 10: 0.1943, 12: 0.2052, 14: 0.2206, 16: 0.2504},
    "n_users": {2: 0.1653, 3: 0.1897, 4: 0.2169, 5: 0.2504, 6: 0.2687, 7: 0.2812, 8: 0.2934},
}
AXIS_LABELS = {
    "n_tx": "Number of BS transmit antennas $N_t$",
    "n_rx": "Number of BS receive antennas $N_r$",
    "n_users": "Number of CUs $K$",
    "alpha": r"Weight of sensing $\alpha$",
    "snr_s_db": r"Maximum sensing transmit SNR $\mathrm{SNR}_s$ (dB)",
}


def display(runs: list[Run], scheme: str) -> tuple[str, dict[str, Any]]:
    """(legend label, line style) of ``scheme``: a learned network's from the model config
    of a run that trained it, any other scheme's from the registry."""
    for run in runs:
        if scheme == run.metrics["model"]:
            shown = run.metrics.get("model_display", {})
            return shown.get("label", scheme), dict(shown.get("style", {}))
    return SCHEMES[scheme].label, dict(SCHEMES[scheme].style)


def scheme_order(runs: list[Run], schemes: Iterable[str]) -> list[str]:
    """``schemes`` in legend order: learned networks first, then the registry's order."""
    learned = {run.metrics["model"] for run in runs}
    order = list(SCHEMES)
    return sorted(
        set(schemes), key=lambda s: (s not in learned, order.index(s) if s in order else 0, s)
    )


def evaluation_rows(runs: Iterable[Run], point: Callable[[Run], dict[str, Any]]) -> Rows:
    """One row per sweep point and evaluated scheme: the point, the scheme and its metrics.

    With the sweeps of several networks (:func:`learned_networks`), a scheme that more
    than one evaluated at a point (the optimum, the baselines: the same test set, so the
    same numbers but for timing) keeps the row of the first run that has it.
    """
    rows, seen = [], set()
    for run in runs:
        learned = run.metrics["model"]
        run.scheme(learned)  # a clear error if the run was not evaluated
        where = point(run)
        for scheme, row in run.metrics["evaluation"].items():
            key = (*where.values(), scheme)
            if key in seen:
                continue
            seen.add(key)
            metrics = {m: row.get(m, float("nan")) for m in EVALUATION_METRICS}
            rows.append({**where, "scheme": scheme, **metrics})
    axes = [key for key in rows[0] if key != "scheme" and key not in EVALUATION_METRICS]
    return sorted(rows, key=lambda r: (*(r[key] for key in axes), r["scheme"]))


def series(rows: Rows, x: str, y: str, **where: Any) -> tuple[list[Any], list[float]]:
    """(x values, y values) of the rows matching ``where``, sorted by x."""
    picked = sorted(
        (r[x], r[y]) for r in rows if all(r[key] == value for key, value in where.items())
    )
    return [p[0] for p in picked], [p[1] for p in picked]


def _panels(n: int, title: str, width: float = 5.0, rows: int = 1) -> tuple[Figure, list[Axes]]:
    # constrained layout keeps titles, labels and legends below the panels apart
    fig = Figure(figsize=(width * n, 4.6 * rows), layout="constrained")
    fig.suptitle(title)
    axes = fig.subplots(rows, n, squeeze=False)
    for ax in axes.flat:
        ax.grid(True, alpha=0.3)
    return fig, list(axes.flat)


def _legend_below(ax: Axes, ncol: int = 1) -> None:
    # below the panel, so that no curve is ever hidden behind it
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=ncol, fontsize=8)


def learned_networks(runs: list[Run]) -> list[str]:
    """The learned networks of ``runs``, in the order their runs come (the paper's first:
    :func:`make_figures` orders the sweeps so)."""
    return list(dict.fromkeys(run.metrics["model"] for run in runs))


def short_name(runs: list[Run], network: str) -> str:
    """A learned network's label without its parenthesised note or its "+ ..." part."""
    return display(runs, network)[0].split(" (")[0].split(" + ")[0]


def _titled(runs: list[Run]) -> str:
    networks = learned_networks(runs)
    names = [display(runs, networks[0])[0], *(short_name(runs, n) for n in networks[1:])]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


# the curves of the second, third, ... learned network: each its own line style and its
# model's marker, no second optimum
OTHER_NETWORK_LINES = ("--", "-.", (0, (1, 1)), (0, (5, 1, 1, 1, 1, 1)))
OTHER_NETWORK_STYLE = {"markersize": 6, "linewidth": 1.2}


def plot_learned(
    ax: Axes,
    runs: list[Run],
    rows: Rows,
    x: str,
    y: str,
    group: tuple[str, ...],
    label: Callable[..., str],
    *,
    optimum: bool = True,
    style: dict[str, Any] | Callable[[int], dict[str, Any]] | None = None,
) -> None:
    """:func:`plot_groups` for every learned network of ``runs``: the first as given, each
    other with its own line style (:data:`OTHER_NETWORK_LINES`), its model's marker and
    its short name in the label."""
    for index, network in enumerate(learned_networks(runs)):
        if index == 0:
            plot_groups(ax, rows, x, y, group, label, scheme=network, optimum=optimum, style=style)
            continue
        name = short_name(runs, network)
        own = {
            **OTHER_NETWORK_STYLE,
            "linestyle": OTHER_NETWORK_LINES[(index - 1) % len(OTHER_NETWORK_LINES)],
            "marker": display(runs, network)[1].get("marker", "P"),
        }

        def other_style(i: int, own: dict[str, Any] = own) -> dict[str, Any]:
            base = style(i) if callable(style) else dict(style or {})
            return {**base, **own}

        plot_groups(
            ax,
            rows,
            x,
            y,
            group,
            lambda *values, name=name: f"{name}: {label(*values)}",
            scheme=network,
            optimum=False,
            style=other_style,
        )


def plot_groups(
    ax: Axes,
    rows: Rows,
    x: str,
    y: str,
    group: tuple[str, ...],
    label: Callable[..., str],
    *,
    scheme: str | None,
    optimum: bool = True,
    style: dict[str, Any] | Callable[[int], dict[str, Any]] | None = None,
) -> None:
    """One line of ``y`` against ``x`` for ``scheme`` per value of the ``group`` keys.

    The i-th group is drawn in colour i with ``style`` (or ``style(i)``, to vary it by
    group), labelled ``label(*group values)``;
    with ``optimum``, the global optimum of the same group is drawn dotted in its colour.
    ``scheme=None`` takes every row (rows without a ``scheme`` column).
    """
    for i, values in enumerate(sorted({tuple(r[key] for key in group) for r in rows})):
        where = dict(zip(group, values, strict=True))
        line = {"color": f"C{i}", "marker": "o", **((style(i) if callable(style) else style) or {})}
        chosen = where if scheme is None else {**where, "scheme": scheme}
        ax.plot(*series(rows, x, y, **chosen), label=label(*values), **line)
        if optimum:
            xs, ys = series(rows, x, y, scheme="optimum", **where)
            ax.plot(xs, ys, color=line["color"], linestyle=":", linewidth=1)


def fig6(runs: list[Run]) -> tuple[Rows, Figure]:
    """Training and validation loss (30) against epoch, per network and training-set size."""
    rows = [
        {
            "network": run.metrics["model"],
            "n_train": run.metrics["n_train"],
            "epoch": epoch + 1,
            "train_loss": train_loss,
            "val_loss": val_loss,
        }
        for run in runs
        for epoch, train_loss, val_loss in zip(
            run.metrics["history"]["epoch"],
            run.metrics["history"]["train_loss"],
            run.metrics["history"]["val_loss"],
            strict=True,
        )
    ]
    rows.sort(key=lambda r: (r["network"], r["n_train"], r["epoch"]))
    # in the sweep's job order, which follows the experiment's list of models
    labels = {run.metrics["model"]: display([run], run.metrics["model"])[0] for run in runs}
    networks = list(labels)
    fig = Figure(figsize=(5.5 * len(networks), 7.5), layout="constrained")
    fig.suptitle("Fig. 6: training and validation loss (−WSNR) against epoch")
    grid = fig.subplots(2, len(networks), squeeze=False)
    for col, network in enumerate(networks):
        for row, (key, name) in enumerate((("train_loss", "Train_loss"), ("val_loss", "Val_loss"))):
            ax = grid[row][col]
            plot_groups(
                ax,
                [r for r in rows if r["network"] == network],
                "epoch",
                key,
                ("n_train",),
                lambda n_train: f"Train_num = {n_train}",
                scheme=None,
                optimum=False,
                style={"marker": None},
            )
            ax.set(title=f"{labels[network]}: {name}", xlabel="Epoch", ylabel=f"{name} (−WSNR)")
            ax.grid(True, alpha=0.3)
            ax.legend()
    return rows, fig


def fig7(runs: list[Run]) -> tuple[Rows, Figure]:
    """WSNR against alpha for every scheme, and each scheme's share of the optimum."""
    rows = evaluation_rows(runs, lambda run: {"alpha": run.system("alpha")})
    fig, (ax_wsnr, ax_gap) = _panels(2, "Fig. 7: performance of the schemes against the weight")
    for scheme in scheme_order(runs, (r["scheme"] for r in rows)):
        label, style = display(runs, scheme)
        ax_wsnr.plot(*series(rows, "alpha", "wsnr", scheme=scheme), label=label, **style)
        if scheme != "optimum":
            ax_gap.plot(
                *series(rows, "alpha", "pct_of_optimum", scheme=scheme), label=label, **style
            )
    ax_wsnr.set(xlabel=AXIS_LABELS["alpha"], ylabel="WSNR", title="(a) WSNR, eq. (28)")
    ax_gap.set(
        xlabel=AXIS_LABELS["alpha"],
        ylabel="% of the optimum's mean WSNR",
        title="(b) distance to the optimum (beyond the paper)",
    )
    _legend_below(ax_wsnr)
    _legend_below(ax_gap)
    return rows, fig


def fig8(runs: list[Run]) -> tuple[Rows, Figure]:
    """Sensing and communication rates against SNR_s for each SNR_c."""
    rows = evaluation_rows(
        runs,
        lambda run: {"snr_c_db": run.system("snr_c_db"), "snr_s_db": run.system("snr_s_db")},
    )
    fig, (ax_s, ax_c) = _panels(
        2, f"Fig. 8: {_titled(runs)} against the sensing SNR\n{OPTIMUM_NOTE}"
    )
    for ax, key, name, title in (
        (ax_s, "rate_s", "SR", "(a) sensing rate, eq. (14)"),
        (ax_c, "rate_c", "CR", "(b) communication rate, eq. (26)"),
    ):
        plot_learned(
            ax,
            runs,
            rows,
            "snr_s_db",
            key,
            ("snr_c_db",),
            lambda snr_c, name=name: f"{name}, SNR$_c$ = {snr_c:g} dB",
        )
        ax.set(xlabel=AXIS_LABELS["snr_s_db"], title=title)
        _legend_below(ax)
    ax_s.set_ylabel(f"Sensing rate ({RATE_UNIT})")
    ax_c.set_ylabel(f"Communication rate per CU ({RATE_UNIT})")
    return rows, fig


def fig9(runs: list[Run]) -> tuple[Rows, Figure]:
    """SR, CR and the sum CR against the number of users for each antenna count."""
    rows = evaluation_rows(runs, lambda run: {n: run.system(n) for n in SIZE_SETTINGS})
    panels = (
        ("rate_s", "SR", f"Sensing rate ({RATE_UNIT})"),
        ("rate_c", "CR", f"Communication rate per CU ({RATE_UNIT})"),
        ("sum_rate_c", "SCR", f"Sum communication rate ({RATE_UNIT})"),
    )
    fig, axes = _panels(
        3, f"Fig. 9: {_titled(runs)} against the number of CUs\n{OPTIMUM_NOTE}", 5.2
    )
    for i, (ax, (key, name, ylabel)) in enumerate(zip(axes, panels, strict=True)):
        plot_learned(
            ax,
            runs,
            rows,
            "n_users",
            key,
            ("n_tx", "n_rx"),
            lambda n_tx, n_rx, name=name: f"{name}, $N_t$ = {n_tx}, $N_r$ = {n_rx}",
        )
        ax.set(xlabel=AXIS_LABELS["n_users"], ylabel=ylabel, title=f"({chr(97 + i)}) {name}")
        _legend_below(ax)
    return rows, fig


def fig10(runs: list[Run]) -> tuple[Rows, Figure]:
    """(a) WSNR and (b) SR and CR against alpha for each number of users."""
    rows = evaluation_rows(
        runs, lambda run: {"n_users": run.system("n_users"), "alpha": run.system("alpha")}
    )
    fig, (ax_w, ax_r) = _panels(
        2, f"Fig. 10: {_titled(runs)} against the weight\n{OPTIMUM_NOTE} in (a)"
    )
    plot_learned(ax_w, runs, rows, "alpha", "wsnr", ("n_users",), lambda k: f"K = {k}")
    for key, name, line in (
        ("rate_s", "SR", {}),
        ("rate_c", "CR", {"marker": "s", "linestyle": "--"}),
    ):
        plot_groups(
            ax_r,
            rows,
            "alpha",
            key,
            ("n_users",),
            lambda k, name=name: f"{name}, K = {k}",
            scheme=learned_networks(runs)[0],
            optimum=False,
            style=line,
        )
    ax_w.set(xlabel=AXIS_LABELS["alpha"], ylabel="WSNR", title="(a) WSNR, eq. (28)")
    ax_r.set(
        xlabel=AXIS_LABELS["alpha"],
        ylabel=f"Rate ({RATE_UNIT})",
        title="(b) sensing rate (SR) and communication rate per CU (CR)",
    )
    _legend_below(ax_w)
    _legend_below(ax_r, ncol=2)
    return rows, fig


RECEIVER_STYLES = {  # line styles of the receivers' curves (isac/physics/receivers.py)
    "naive": {"marker": None, "linestyle": "--", "linewidth": 1.2},
    "robust": {"marker": None, "linestyle": "-.", "linewidth": 1.6},
}


def fig11(runs: list[Run]) -> tuple[Rows, Figure]:
    """WSNR, SR and CR against N_r for each CSI accuracy beta: the paper's metric (genie
    receiver) and, for beta < 1, the rates realised with the naive and robust receivers'
    beams from H_hat (at beta = 1 all three coincide)."""
    rows = evaluation_rows(
        runs, lambda run: {"beta": run.metrics["beta"], "n_rx": run.system("n_rx")}
    )
    fig, axes = _panels(3, f"Fig. 11: {_titled(runs)} under imperfect CSI\n{OPTIMUM_NOTE}", 5.2)
    titles = ("(a) WSNR, eq. (28)", "(b) sensing rate, eq. (14)", "(c) communication rate")
    ylabels = ("WSNR", f"Sensing rate ({RATE_UNIT})", f"Communication rate per CU ({RATE_UNIT})")
    for ax, key, title, ylabel in zip(
        axes, ("wsnr", "rate_s", "rate_c"), titles, ylabels, strict=True
    ):
        # the paper's metric barely moves with beta: markers shrinking with beta keep all visible
        plot_learned(
            ax,
            runs,
            rows,
            "n_rx",
            key,
            ("beta",),
            lambda b: f"β = {b:g}, genie (paper)",
            style=lambda i: {"marker": "osv"[i % 3], "markersize": 9 - 2.5 * (i % 3)},
        )
        ax.set(xlabel=AXIS_LABELS["n_rx"], ylabel=ylabel, title=title)
    # sorted betas below 1 are a prefix of all, so each keeps its colour
    imperfect = [r for r in rows if r["beta"] < 1.0]
    for receiver, style in RECEIVER_STYLES.items():
        for ax, key in ((axes[0], "wsnr"), (axes[2], "rate_c")):
            plot_groups(
                ax,
                imperfect,
                "n_rx",
                f"{key}_{receiver}",
                ("beta",),
                lambda b, receiver=receiver: f"β = {b:g}, {receiver} (beyond the paper)",
                scheme=learned_networks(runs)[0],
                optimum=False,
                style=style,
            )
    for ax in axes:
        _legend_below(ax, ncol=2)
    return rows, fig


def csi(runs: list[Run]) -> tuple[Rows, Figure]:
    """Beyond the paper: WSNR, the communication rate and the gap to the optimum against the
    CSI accuracy beta, one network trained for each receiver (``experiment=csi``)."""
    learned = learned_networks(runs)[0]
    rows = evaluation_rows(
        runs,
        lambda run: {"receiver": run.metrics.get("receiver", "genie"), "beta": run.metrics["beta"]},
    )
    fig, axes = _panels(
        3,
        f"Beyond the paper: {_titled(runs)} trained for each receiver, against "
        f"the CSI accuracy β\n{OPTIMUM_NOTE}",
        5.2,
    )

    def label(receiver: str) -> str:
        return f"{receiver} receiver, realised"

    plot_groups(axes[0], rows, "beta", "wsnr", ("receiver",), label, scheme=learned)
    plot_groups(
        axes[0],
        rows,
        "beta",
        "wsnr_genie",
        ("receiver",),
        lambda receiver: f"{receiver}-trained, genie metric (paper)",
        scheme=learned,
        optimum=False,
        style={"marker": None, "linestyle": "--", "linewidth": 1},
    )
    # the naive receiver's powers with the robust receiver's beams: which of the two helps
    plot_groups(
        axes[0],
        [r for r in rows if r["receiver"] == "naive"],
        "beta",
        "wsnr_robust",
        ("receiver",),
        lambda receiver: "naive-trained powers, robust beams, realised",
        scheme=learned,
        optimum=False,
        style={"color": "C2", "marker": "s", "markersize": 4, "linestyle": "-."},
    )
    plot_groups(axes[1], rows, "beta", "rate_c", ("receiver",), label, scheme=learned)
    for receiver in ("naive", "robust"):
        plot_groups(
            axes[1],
            [r for r in rows if r["receiver"] == receiver],
            "beta",
            f"rate_c_bound_{receiver}",
            ("receiver",),
            lambda receiver: f"{receiver} receiver, bound",
            scheme=learned,
            optimum=False,
            style=lambda i, receiver=receiver: {
                "color": f"C{('naive', 'robust').index(receiver)}",
                "marker": None,
                "linestyle": "--",
                "linewidth": 1,
            },
        )
    plot_groups(
        axes[2],
        rows,
        "beta",
        "objective_pct_of_optimum",
        ("receiver",),
        lambda receiver: f"{receiver} receiver",
        scheme=learned,
        optimum=False,
    )
    for ax, title, ylabel in zip(
        axes,
        ("(a) WSNR, realised on the true H", "(b) communication rate", "(c) objective vs optimum"),
        ("WSNR", f"Communication rate per CU ({RATE_UNIT})", "% of the optimum's objective"),
        strict=True,
    ):
        ax.set(xlabel="CSI accuracy β", ylabel=ylabel, title=title)
        _legend_below(ax, ncol=1)
    return rows, fig


def varied_setting(run: Run) -> tuple[str, int]:
    """(setting, value) of the one antenna or user count a Table I job varied, from the
    sweep point the job recorded in its ``metrics.json``."""
    if "sweep_point" not in run.metrics:
        raise checks.SettingsError(
            f"run {run.path} was made before jobs recorded their sweep point in metrics.json; "
            "run the Table I sweep again: python train.py -m experiment=table1"
        )
    sizes = {
        key.removeprefix("system."): value
        for key, value in run.metrics["sweep_point"].items()
        if key.removeprefix("system.") in SIZE_SETTINGS
    }
    if len(sizes) != 1:
        raise checks.SettingsError(
            f"run {run.path} of a Table I sweep must vary exactly one of system.n_tx, "
            f"system.n_rx, system.n_users; its sweep point is {run.metrics.get('sweep_point')}"
        )
    return next(iter(sizes.items()))


def table1(runs: list[Run]) -> tuple[Rows, Figure]:
    """The learned scheme's online ms per sample against N_t, N_r and K, batched and one
    sample per call (runs evaluated before the latter was measured leave it NaN), beside
    the paper's."""
    defaults = SystemConfig()
    rows = []
    for run in runs:
        row = run.scheme(run.metrics["model"])
        setting, value = varied_setting(run)
        others = {n: run.system(n) for n in SIZE_SETTINGS if n != setting}
        if any(value != getattr(defaults, n) for n, value in others.items()):
            raise checks.SettingsError(
                f"run {run.path}: Table I keeps the other sizes at Table II, got {others}"
            )
        rows.append(
            {
                "setting": setting,
                "value": value,
                "ms_per_sample": row["ms_per_sample"],
                "ms_batch_1": row.get("ms_batch_1", float("nan")),
                "paper_ms_per_sample": PAPER_TABLE1_MS[setting].get(value, float("nan")),
            }
        )
    rows.sort(key=lambda r: (SIZE_SETTINGS.index(r["setting"]), r["value"]))
    fig, axes = _panels(3, "Table I: online time per sample of the DL scheme", 4.2)
    for ax, setting in zip(axes, SIZE_SETTINGS, strict=True):
        values, ms = series(rows, "value", "ms_per_sample", setting=setting)
        ax.plot(values, ms, marker="o", color="C3", label="this project (CPU, batched)")
        values, ms = series(rows, "value", "ms_batch_1", setting=setting)
        ax.plot(values, ms, marker="^", color="C2", label="this project (CPU, batch 1)")
        values, ms = series(rows, "value", "paper_ms_per_sample", setting=setting)
        ax.plot(values, ms, marker="s", color="C0", linestyle="--", label="paper, Table I")
        ax.set(xlabel=AXIS_LABELS[setting], ylabel="Time per sample (ms)")
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=8)
    return rows, fig


MERGED_FIGURES = ("fig7", "fig8", "fig9", "fig10", "fig11")  # draw every learned network

FIGURES: dict[str, Callable[[list[Run]], tuple[Rows, Figure]]] = {
    "fig6": fig6,
    "fig7": fig7,
    "fig8": fig8,
    "fig9": fig9,
    "fig10": fig10,
    "fig11": fig11,
    "table1": table1,
    "csi": csi,
}


def write_figure(name: str, runs: list[Run], out_dir: Path) -> tuple[Path, Path]:
    """Make figure ``name`` from ``runs``; write ``<name>.csv`` and ``<name>.png``."""
    if not runs:
        raise checks.SettingsError(f"{name}: no finished runs to plot")
    rows, fig = FIGURES[name](runs)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, png_path = out_dir / f"{name}.csv", out_dir / f"{name}.png"
    write_csv(csv_path, rows)
    fig.savefig(png_path, dpi=130, bbox_inches="tight")
    return csv_path, png_path


def make_figures(
    names: list[str] | None,
    *,
    preset: str,
    sweeps_dir: Path,
    out_dir: Path,
    sweep: Path | None = None,
    allow_incomplete: bool = False,
) -> dict[str, tuple[Path, Path]]:
    """Write the figures ``names`` (None: every figure whose sweep exists) from the latest
    sweep of each under ``sweeps_dir/<name>/<preset>/``, or from ``sweep`` for one figure.
    Figs. 7-11 take the latest sweep of each learned network there and draw them all
    (:func:`~isac.experiments.sweeps.latest_sweeps`).

    Returns:
        {name: (csv path, png path)}.
    """
    requested = names is not None
    names = list(FIGURES) if names is None else list(names)
    for name in names:
        checks.one_of("figures[]", name, tuple(FIGURES))
    if sweep is not None and len(names) != 1:
        raise checks.SettingsError(f"sweep= plots one figure; name it, e.g. figures=[{names[0]}]")
    written = {}
    for name in names:
        try:
            if sweep is not None:
                sweep_dirs = [Path(sweep)]
            elif name in MERGED_FIGURES:
                sweep_dirs = latest_sweeps(sweeps_dir, name, preset)
            else:
                sweep_dirs = [latest_sweep(sweeps_dir, name, preset)]
        except checks.SettingsError as missing:
            if requested:
                raise
            print(f"skipped {name}: {missing}")
            continue
        runs = [
            run
            for sweep_dir in sweep_dirs
            for run in load_sweep(sweep_dir, allow_incomplete=allow_incomplete)
        ]
        written[name] = write_figure(name, runs, out_dir)
        sources = ", ".join(str(d) for d in sweep_dirs)
        print(f"{name}: {len(runs)} runs of {sources} -> {written[name][1]}")
    if not written:
        raise checks.SettingsError(
            f"no sweep with preset {preset!r} under {sweeps_dir}; run one first (docs/results.md)"
        )
    return written
