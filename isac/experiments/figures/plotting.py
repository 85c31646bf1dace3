"""The plotting helpers every figure shares: panels, legends, and curves per group.

Figures are built with matplotlib's object-oriented API (no pyplot, no global backend),
so importing this package changes nothing for the caller.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from isac.experiments.figures.rows import Rows, display, learned_networks, series, short_name
from isac.experiments.sweeps import Run


def panels(n: int, title: str, width: float = 5.0, rows: int = 1) -> tuple[Figure, list[Axes]]:
    # constrained layout keeps titles, labels and legends below the panels apart
    fig = Figure(figsize=(width * n, 4.6 * rows), layout="constrained")
    fig.suptitle(title)
    axes = fig.subplots(rows, n, squeeze=False)
    for ax in axes.flat:
        ax.grid(True, alpha=0.3)
    return fig, list(axes.flat)


def legend_below(ax: Axes, ncol: int = 1) -> None:
    # below the panel, so that no curve is ever hidden behind it
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=ncol, fontsize=8)


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
