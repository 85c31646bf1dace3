"""The paper's Figs. 6-11 and Table I from finished sweeps: a CSV of the data and a PNG.

Each ``FIGURES[name]`` turns the runs of ``python train.py -m experiment=<name>`` into
long-format rows (one per sweep point and scheme) and a matplotlib figure whose curves
carry the paper's names. The project's additions (global optimum, water-filling, the
rate with the beams the BS forms from H_hat) are drawn thin or dashed and say so.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from isac import checks  # noqa: E402
from isac.sweeps import Run, latest_sweep, load_sweep  # noqa: E402
from isac.system import SystemConfig  # noqa: E402

Rows = list[dict[str, Any]]

SCHEME_LABELS = {
    "isacnn": "Proposed DL scheme (ISACNN)",
    "fcnn": "FC-NN",
    "traditional": "Traditional scheme (AO-SCA)",
    "average": "Average scheme",
    "zfbf": "ZFBF scheme",
    "waterfilling": "Water-filling (beyond the paper)",
    "zero_power": "Zero sensing power",
    "optimum": "Global optimum (beyond the paper)",
}
SCHEME_STYLES = {
    "isacnn": dict(color="C3", marker="o"),
    "fcnn": dict(color="C4", marker="v"),
    "traditional": dict(color="C0", marker="s"),
    "average": dict(color="C2", marker="^"),
    "zfbf": dict(color="C1", marker="D"),
    "waterfilling": dict(color="C5", marker="x", linestyle="--", linewidth=1),
    "zero_power": dict(color="C7", marker="+", linestyle="--", linewidth=1),
    "optimum": dict(color="k", linestyle=":", linewidth=1.5),
}
EVALUATION_METRICS = (
    "wsnr",
    "rate_s",
    "rate_c",
    "sum_rate_c",
    "pct_of_optimum",
    "wsnr_bs_beams",
    "rate_c_bs_beams",
    "ms_per_sample",
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


def evaluation_rows(runs: Iterable[Run], point: Callable[[Run], dict[str, Any]]) -> Rows:
    """One row per run and evaluated scheme: the sweep point, the scheme and its metrics."""
    rows = []
    for run in runs:
        learned = run.metrics["model"]
        run.scheme(learned)  # a clear error if the run was not evaluated
        for scheme, row in run.metrics["evaluation"].items():
            rows.append({**point(run), "scheme": scheme, **{m: row[m] for m in EVALUATION_METRICS}})
    axes = [key for key in rows[0] if key != "scheme" and key not in EVALUATION_METRICS]
    return sorted(rows, key=lambda r: (*(r[key] for key in axes), r["scheme"]))


def series(rows: Rows, x: str, y: str, **where: Any) -> tuple[list[Any], list[float]]:
    """(x values, y values) of the rows matching ``where``, sorted by x."""
    picked = sorted(
        (r[x], r[y]) for r in rows if all(r[key] == value for key, value in where.items())
    )
    return [p[0] for p in picked], [p[1] for p in picked]


def _panels(n: int, title: str, width: float = 5.0) -> tuple[Figure, list[Any]]:
    fig, axes = plt.subplots(1, n, figsize=(width * n, 4.4), squeeze=False)
    fig.suptitle(title)
    for ax in axes[0]:
        ax.grid(True, alpha=0.3)
    return fig, list(axes[0])


def _legend_below(ax: Any, ncol: int = 1) -> None:
    # below the panel, so that no curve is ever hidden behind it
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.24), ncol=ncol, fontsize=8)


def _learned(runs: list[Run]) -> str:
    return runs[0].metrics["model"]


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
    networks = sorted({r["network"] for r in rows}, key=list(SCHEME_LABELS).index)
    fig, grid = plt.subplots(2, len(networks), figsize=(5.5 * len(networks), 7), squeeze=False)
    fig.suptitle("Fig. 6: training and validation loss (−WSNR) against epoch")
    for col, network in enumerate(networks):
        for n_train in sorted({r["n_train"] for r in rows if r["network"] == network}):
            for row, key in enumerate(("train_loss", "val_loss")):
                epochs, losses = series(rows, "epoch", key, network=network, n_train=n_train)
                grid[row][col].plot(epochs, losses, label=f"Train_num = {n_train}")
        for row, name in enumerate(("Train_loss", "Val_loss")):
            ax = grid[row][col]
            ax.set_title(f"{SCHEME_LABELS[network]}: {name}")
            ax.set_xlabel("Epoch")
            ax.set_ylabel(f"{name} (−WSNR)")
            ax.grid(True, alpha=0.3)
            ax.legend()
    fig.tight_layout()
    return rows, fig


def fig7(runs: list[Run]) -> tuple[Rows, Figure]:
    """WSNR against alpha for every scheme, and each scheme's share of the optimum."""
    rows = evaluation_rows(runs, lambda run: {"alpha": run.system("alpha")})
    schemes = sorted({r["scheme"] for r in rows}, key=list(SCHEME_LABELS).index)
    fig, (ax_wsnr, ax_gap) = _panels(2, "Fig. 7: performance of the schemes against the weight")
    for scheme in schemes:
        alphas, wsnr = series(rows, "alpha", "wsnr", scheme=scheme)
        ax_wsnr.plot(alphas, wsnr, label=SCHEME_LABELS[scheme], **SCHEME_STYLES[scheme])
        if scheme != "optimum":
            alphas, pct = series(rows, "alpha", "pct_of_optimum", scheme=scheme)
            ax_gap.plot(alphas, pct, label=SCHEME_LABELS[scheme], **SCHEME_STYLES[scheme])
    ax_wsnr.set(xlabel=AXIS_LABELS["alpha"], ylabel="WSNR", title="(a) WSNR, eq. (28)")
    ax_gap.set(
        xlabel=AXIS_LABELS["alpha"],
        ylabel="Mean WSNR, % of the global optimum's",
        title="(b) distance to the optimum (beyond the paper)",
    )
    _legend_below(ax_wsnr)
    _legend_below(ax_gap)
    fig.tight_layout()
    return rows, fig


def _with_optimum(ax: Any, rows: Rows, x: str, y: str, label: str, style: dict, **where: Any):
    xs, ys = series(rows, x, y, **where)
    ax.plot(xs, ys, label=label, **style)
    xs, ys = series(rows, x, y, **{**where, "scheme": "optimum"})
    if xs:
        ax.plot(xs, ys, color=style.get("color"), linestyle=":", linewidth=1)


def fig8(runs: list[Run]) -> tuple[Rows, Figure]:
    """Sensing and communication rates against SNR_s for each SNR_c."""
    rows = evaluation_rows(
        runs,
        lambda run: {"snr_c_db": run.system("snr_c_db"), "snr_s_db": run.system("snr_s_db")},
    )
    learned = _learned(runs)
    fig, (ax_s, ax_c) = _panels(
        2, f"Fig. 8: {SCHEME_LABELS[learned]} against the sensing SNR\n{OPTIMUM_NOTE}"
    )
    for i, snr_c in enumerate(sorted({r["snr_c_db"] for r in rows})):
        style = dict(color=f"C{i}", marker="o")
        for ax, key, name in ((ax_s, "rate_s", "SR"), (ax_c, "rate_c", "CR")):
            label = f"{name}, SNR$_c$ = {snr_c:g} dB"
            _with_optimum(ax, rows, "snr_s_db", key, label, style, scheme=learned, snr_c_db=snr_c)
    ax_s.set(xlabel=AXIS_LABELS["snr_s_db"], ylabel=f"Sensing rate ({RATE_UNIT})")
    ax_c.set(xlabel=AXIS_LABELS["snr_s_db"], ylabel=f"Communication rate per CU ({RATE_UNIT})")
    ax_s.set_title("(a) sensing rate, eq. (14)")
    ax_c.set_title("(b) communication rate, eq. (26)")
    for ax in (ax_s, ax_c):
        _legend_below(ax)
    fig.tight_layout()
    return rows, fig


def fig9(runs: list[Run]) -> tuple[Rows, Figure]:
    """SR, CR and the sum CR against the number of users for each antenna count."""
    rows = evaluation_rows(
        runs,
        lambda run: {
            "n_tx": run.system("n_tx"),
            "n_rx": run.system("n_rx"),
            "n_users": run.system("n_users"),
        },
    )
    learned = _learned(runs)
    panels = (
        ("rate_s", "SR", f"Sensing rate ({RATE_UNIT})"),
        ("rate_c", "CR", f"Communication rate per CU ({RATE_UNIT})"),
        ("sum_rate_c", "SCR", f"Sum communication rate ({RATE_UNIT})"),
    )
    fig, axes = _panels(
        3, f"Fig. 9: {SCHEME_LABELS[learned]} against the number of CUs\n{OPTIMUM_NOTE}", 4.6
    )
    antennas = sorted({(r["n_tx"], r["n_rx"]) for r in rows})
    for i, (n_tx, n_rx) in enumerate(antennas):
        style = dict(color=f"C{i}", marker="o")
        for ax, (key, name, _) in zip(axes, panels, strict=True):
            label = f"{name}, $N_t$ = {n_tx}, $N_r$ = {n_rx}"
            _with_optimum(
                ax, rows, "n_users", key, label, style, scheme=learned, n_tx=n_tx, n_rx=n_rx
            )
    for i, (ax, (_, name, ylabel)) in enumerate(zip(axes, panels, strict=True)):
        ax.set(xlabel=AXIS_LABELS["n_users"], ylabel=ylabel, title=f"({chr(97 + i)}) {name}")
        _legend_below(ax)
    fig.tight_layout()
    return rows, fig


def fig10(runs: list[Run]) -> tuple[Rows, Figure]:
    """(a) WSNR and (b) SR and CR against alpha for each number of users."""
    rows = evaluation_rows(
        runs, lambda run: {"n_users": run.system("n_users"), "alpha": run.system("alpha")}
    )
    learned = _learned(runs)
    fig, (ax_w, ax_r) = _panels(
        2, f"Fig. 10: {SCHEME_LABELS[learned]} against the weight\n{OPTIMUM_NOTE} in (a)"
    )
    for i, k in enumerate(sorted({r["n_users"] for r in rows})):
        color = f"C{i}"
        _with_optimum(
            ax_w,
            rows,
            "alpha",
            "wsnr",
            f"K = {k}",
            dict(color=color, marker="o"),
            scheme=learned,
            n_users=k,
        )
        for key, name, marker, line in (("rate_s", "SR", "o", "-"), ("rate_c", "CR", "s", "--")):
            alphas, values = series(rows, "alpha", key, scheme=learned, n_users=k)
            ax_r.plot(
                alphas, values, color=color, marker=marker, linestyle=line, label=f"{name}, K = {k}"
            )
    ax_w.set(xlabel=AXIS_LABELS["alpha"], ylabel="WSNR", title="(a) WSNR, eq. (28)")
    ax_r.set(
        xlabel=AXIS_LABELS["alpha"],
        ylabel=f"Rate ({RATE_UNIT})",
        title="(b) sensing rate (SR) and communication rate per CU (CR)",
    )
    _legend_below(ax_w)
    _legend_below(ax_r, ncol=2)
    fig.tight_layout()
    return rows, fig


def fig11(runs: list[Run]) -> tuple[Rows, Figure]:
    """WSNR, SR and CR against N_r for each CSI accuracy beta."""
    rows = evaluation_rows(
        runs, lambda run: {"beta": run.metrics["beta"], "n_rx": run.system("n_rx")}
    )
    learned = _learned(runs)
    fig, axes = _panels(
        3, f"Fig. 11: {SCHEME_LABELS[learned]} under imperfect CSI\n{OPTIMUM_NOTE}", 4.6
    )
    for i, beta in enumerate(sorted({r["beta"] for r in rows})):
        # the paper's metric barely moves with beta: shrinking markers keep all curves visible
        style = dict(color=f"C{i}", marker="osv"[i % 3], markersize=9 - 2.5 * (i % 3))
        for ax, key in zip(axes, ("wsnr", "rate_s", "rate_c"), strict=True):
            _with_optimum(ax, rows, "n_rx", key, f"β = {beta:g}", style, scheme=learned, beta=beta)
        for ax, key in ((axes[0], "wsnr_bs_beams"), (axes[2], "rate_c_bs_beams")):
            n_rx, values = series(rows, "n_rx", key, scheme=learned, beta=beta)
            ax.plot(
                n_rx,
                values,
                color=style["color"],
                linestyle="--",
                linewidth=1,
                label=f"β = {beta:g}, beams from $\\hat{{H}}$",
            )
    titles = ("(a) WSNR, eq. (28)", "(b) sensing rate, eq. (14)", "(c) communication rate")
    ylabels = ("WSNR", f"Sensing rate ({RATE_UNIT})", f"Communication rate per CU ({RATE_UNIT})")
    for ax, title, ylabel in zip(axes, titles, ylabels, strict=True):
        ax.set(xlabel=AXIS_LABELS["n_rx"], ylabel=ylabel, title=title)
        _legend_below(ax, ncol=2)
    fig.tight_layout()
    return rows, fig


_VARIED = re.compile(r"^system(?:=\{|\.)(n_tx|n_rx|n_users)[:=]")


def varied_setting(run: Run) -> str:
    """Which of n_tx, n_rx, n_users the run's overrides set (one per Table I point)."""
    found = {m.group(1) for o in run.overrides if (m := _VARIED.match(o))}
    if len(found) != 1:
        raise checks.SettingsError(
            f"run {run.path} of a Table I sweep must set exactly one of system.n_tx, "
            f"system.n_rx, system.n_users; its overrides are {list(run.overrides)}"
        )
    return found.pop()


def table1(runs: list[Run]) -> tuple[Rows, Figure]:
    """The learned scheme's online ms per sample against N_t, N_r and K, beside the paper's."""
    defaults = SystemConfig()
    rows = []
    for run in runs:
        ms_per_sample = run.scheme(run.metrics["model"])["ms_per_sample"]
        setting = varied_setting(run)
        others = {n: run.system(n) for n in ("n_tx", "n_rx", "n_users") if n != setting}
        if any(value != getattr(defaults, n) for n, value in others.items()):
            raise checks.SettingsError(
                f"run {run.path}: Table I keeps the other sizes at Table II, got {others}"
            )
        value = run.system(setting)
        rows.append(
            {
                "setting": setting,
                "value": value,
                "ms_per_sample": ms_per_sample,
                "paper_ms_per_sample": PAPER_TABLE1_MS[setting].get(value, float("nan")),
            }
        )
    order = list(PAPER_TABLE1_MS)
    rows.sort(key=lambda r: (order.index(r["setting"]), r["value"]))
    fig, axes = _panels(3, "Table I: online time per sample of the DL scheme", 4.2)
    for ax, setting in zip(axes, order, strict=True):
        values, ms = series(rows, "value", "ms_per_sample", setting=setting)
        ax.plot(values, ms, marker="o", color="C3", label="this project (CPU, batched)")
        values, ms = series(rows, "value", "paper_ms_per_sample", setting=setting)
        ax.plot(values, ms, marker="s", color="C0", linestyle="--", label="paper, Table I")
        ax.set(xlabel=AXIS_LABELS[setting], ylabel="Time per sample (ms)")
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return rows, fig


FIGURES: dict[str, Callable[[list[Run]], tuple[Rows, Figure]]] = {
    "fig6": fig6,
    "fig7": fig7,
    "fig8": fig8,
    "fig9": fig9,
    "fig10": fig10,
    "fig11": fig11,
    "table1": table1,
}


def write_figure(name: str, runs: list[Run], out_dir: Path) -> tuple[Path, Path]:
    """Make figure ``name`` from ``runs``; write ``<name>.csv`` and ``<name>.png``."""
    if not runs:
        raise checks.SettingsError(f"{name}: no finished runs to plot")
    rows, fig = FIGURES[name](runs)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, png_path = out_dir / f"{name}.csv", out_dir / f"{name}.png"
    with csv_path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    fig.savefig(png_path, dpi=130, bbox_inches="tight")
    plt.close(fig)
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
            sweep_dir = Path(sweep) if sweep is not None else latest_sweep(sweeps_dir, name, preset)
        except checks.SettingsError as missing:
            if requested:
                raise
            print(f"skipped {name}: {missing}")
            continue
        runs = load_sweep(sweep_dir, allow_incomplete=allow_incomplete)
        written[name] = write_figure(name, runs, out_dir)
        print(f"{name}: {len(runs)} runs of {sweep_dir} -> {written[name][1]}")
    if not written:
        raise checks.SettingsError(
            f"no sweep with preset {preset!r} under {sweeps_dir}; run one first (docs/results.md)"
        )
    return written
