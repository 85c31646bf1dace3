"""Fig. 11 and the CSI figure: the designs under imperfect CSI, with each receiver."""

from __future__ import annotations

from matplotlib.figure import Figure

from isac.experiments.figures.plotting import legend_below, panels, plot_groups, plot_learned
from isac.experiments.figures.rows import (
    AXIS_LABELS,
    OPTIMUM_NOTE,
    RATE_UNIT,
    Rows,
    evaluation_rows,
    learned_networks,
    titled,
)
from isac.experiments.sweeps import Run

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
    fig, axes = panels(3, f"Fig. 11: {titled(runs)} under imperfect CSI\n{OPTIMUM_NOTE}", 5.2)
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
        legend_below(ax, ncol=2)
    return rows, fig


def csi(runs: list[Run]) -> tuple[Rows, Figure]:
    """Beyond the paper: WSNR, the communication rate and the gap to the optimum against the
    CSI accuracy beta, one network trained for each receiver (``experiment=csi``)."""
    learned = learned_networks(runs)[0]
    rows = evaluation_rows(
        runs,
        lambda run: {"receiver": run.metrics.get("receiver", "genie"), "beta": run.metrics["beta"]},
    )
    fig, axes = panels(
        3,
        f"Beyond the paper: {titled(runs)} trained for each receiver, against "
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
        legend_below(ax, ncol=1)
    return rows, fig
