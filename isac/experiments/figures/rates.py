"""Figs. 8-10: the learned networks' rates and WSNR against SNR_s, the number of users
and the sensing weight."""

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
from isac.physics.system import SIZE_SETTINGS


def fig8(runs: list[Run]) -> tuple[Rows, Figure]:
    """Sensing and communication rates against SNR_s for each SNR_c."""
    rows = evaluation_rows(
        runs,
        lambda run: {"snr_c_db": run.system("snr_c_db"), "snr_s_db": run.system("snr_s_db")},
    )
    fig, (ax_s, ax_c) = panels(2, f"Fig. 8: {titled(runs)} against the sensing SNR\n{OPTIMUM_NOTE}")
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
        legend_below(ax)
    ax_s.set_ylabel(f"Sensing rate ({RATE_UNIT})")
    ax_c.set_ylabel(f"Communication rate per CU ({RATE_UNIT})")
    return rows, fig


def fig9(runs: list[Run]) -> tuple[Rows, Figure]:
    """SR, CR and the sum CR against the number of users for each antenna count."""
    rows = evaluation_rows(runs, lambda run: {n: run.system(n) for n in SIZE_SETTINGS})
    quantities = (
        ("rate_s", "SR", f"Sensing rate ({RATE_UNIT})"),
        ("rate_c", "CR", f"Communication rate per CU ({RATE_UNIT})"),
        ("sum_rate_c", "SCR", f"Sum communication rate ({RATE_UNIT})"),
    )
    fig, axes = panels(3, f"Fig. 9: {titled(runs)} against the number of CUs\n{OPTIMUM_NOTE}", 5.2)
    for i, (ax, (key, name, ylabel)) in enumerate(zip(axes, quantities, strict=True)):
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
        legend_below(ax)
    return rows, fig


def fig10(runs: list[Run]) -> tuple[Rows, Figure]:
    """(a) WSNR and (b) SR and CR against alpha for each number of users."""
    rows = evaluation_rows(
        runs, lambda run: {"n_users": run.system("n_users"), "alpha": run.system("alpha")}
    )
    fig, (ax_w, ax_r) = panels(
        2, f"Fig. 10: {titled(runs)} against the weight\n{OPTIMUM_NOTE} in (a)"
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
    legend_below(ax_w)
    legend_below(ax_r, ncol=2)
    return rows, fig
