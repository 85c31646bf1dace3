"""Fig. 7: every scheme's WSNR against the sensing weight, and its share of the optimum."""

from __future__ import annotations

from matplotlib.figure import Figure

from isac.experiments.figures.plotting import legend_below, panels
from isac.experiments.figures.rows import (
    AXIS_LABELS,
    Rows,
    display,
    evaluation_rows,
    scheme_order,
    series,
)
from isac.experiments.sweeps import Run


def fig7(runs: list[Run]) -> tuple[Rows, Figure]:
    """WSNR against alpha for every scheme, and each scheme's share of the optimum."""
    rows = evaluation_rows(runs, lambda run: {"alpha": run.system("alpha")})
    fig, (ax_wsnr, ax_gap) = panels(2, "Fig. 7: performance of the schemes against the weight")
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
    legend_below(ax_wsnr)
    legend_below(ax_gap)
    return rows, fig
