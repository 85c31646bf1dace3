"""Targets at directions (beyond the paper): every scheme's distance to the reference
optimum, and its time per sample, over the number of targets, the users' angular
separation from them and the sensing weight (``experiment=directions``).

The reference is the certified optimum for one target and the best of 16 searches for
more (:mod:`isac.schemes.directional`). Sweeps of several networks share its test sets
(the same ``data.seed``), so a network evaluated without schemes (the paper's ISACNN) is
measured against the optimum of the run that has it, at the same point.
"""

from __future__ import annotations

import math

from matplotlib.figure import Figure

from isac import checks
from isac.experiments.figures.plotting import legend_below, panels
from isac.experiments.figures.rows import Rows, display, evaluation_rows, scheme_order
from isac.experiments.sweeps import Run

SHORTFALL_FLOOR = 1e-4  # % of the optimum: the figure's floor, below which a curve lies on it


def point_of(run: Run) -> dict[str, float]:
    """The sweep point of a run: M, the users' separation from the targets in degrees,
    and alpha."""
    target, channel = run.metrics.get("target"), run.metrics.get("channel")
    if target is None or target.get("model") != "directions":
        raise checks.SettingsError(
            f"run {run.path} is not of targets at directions (target=directions); "
            "make the sweep with: python train.py -m experiment=directions"
        )
    return {
        "n_targets": target["n_targets"],
        "separation_deg": channel["center_deg"] - target["center_deg"],
        "alpha": run.system("alpha"),
    }


def direction_rows(runs: list[Run]) -> Rows:
    """One row per point and scheme: its mean WSNR, its share of the optimum's mean WSNR
    at that point (``pct_of_optimum``), its worst sample's share where its run had the
    optimum, its ms per sample, the optimum's ms over it (``speedup``) and, for the
    optimum of one target, its certified gap (the largest over the test set)."""
    rows = evaluation_rows(runs, point_of)
    keys = ("n_targets", "separation_deg", "alpha")
    optimum = {tuple(r[k] for k in keys): r for r in rows if r["scheme"] == "optimum"}
    gaps = {  # the certificate of the single-target optimum, where its run has one
        tuple(point_of(run).values()): run.metrics["evaluation"]["optimum"]["certified_gap"]
        for run in runs
        if "certified_gap" in run.metrics["evaluation"].get("optimum", {})
    }
    shaped = []
    for row in rows:
        reference = optimum.get(tuple(row[k] for k in keys))
        if reference is None:
            raise checks.SettingsError(
                f"no optimum at {dict((k, row[k]) for k in keys)}: the sweep of "
                "experiment=directions with its schemes must be there"
            )
        shaped.append(
            {
                **{k: row[k] for k in keys},
                "scheme": row["scheme"],
                "wsnr": row["wsnr"],
                "pct_of_optimum": 100.0 * row["wsnr"] / reference["wsnr"],
                "worst_pct_of_optimum": row["worst_pct_of_optimum"],
                "ms_per_sample": row["ms_per_sample"],
                "speedup": reference["ms_per_sample"] / row["ms_per_sample"],
                "certified_gap": gaps.get(tuple(row[k] for k in keys), float("nan"))
                if row["scheme"] == "optimum"
                else float("nan"),
            }
        )
    return shaped


def directions(runs: list[Run]) -> tuple[Rows, Figure]:
    """Per number of targets (columns): each scheme's shortfall from the optimum (top, %,
    log scale) and its ms per sample (bottom), at every (separation, alpha) point."""
    rows = direction_rows(runs)
    counts = sorted({r["n_targets"] for r in rows})
    points = sorted({(r["separation_deg"], r["alpha"]) for r in rows})
    ticks = [f"{s:g}°\n{a:g}" for s, a in points]
    fig, axes = panels(
        len(counts), "Targets at directions: distance to the optimum and time", 5.2, rows=2
    )
    schemes = scheme_order(runs, (r["scheme"] for r in rows))
    for column, count in enumerate(counts):
        ax_gap, ax_time = axes[column], axes[len(counts) + column]
        for scheme in schemes:
            label, style = display(runs, scheme)
            mine = {
                (r["separation_deg"], r["alpha"]): r
                for r in rows
                if r["scheme"] == scheme and r["n_targets"] == count
            }
            x = [i for i, point in enumerate(points) if point in mine]
            picked = [mine[points[i]] for i in x]
            if scheme != "optimum":
                shortfall = [max(100.0 - r["pct_of_optimum"], SHORTFALL_FLOOR) for r in picked]
                ax_gap.plot(x, shortfall, label=label, **style)
            times = [r["ms_per_sample"] for r in picked]
            if all(math.isfinite(t) for t in times):
                ax_time.plot(x, times, label=label, **style)
        reference = "certified optimum" if count == 1 else "best of 16 searches"
        ax_gap.set(
            yscale="log",
            ylabel=f"% below the {reference}",
            title=f"M = {count} target{'s' if count > 1 else ''}",
        )
        ax_time.set(yscale="log", ylabel="ms per sample (batched)")
        for ax in (ax_gap, ax_time):
            ax.set_xticks(range(len(points)), ticks, fontsize=7)
            ax.set_xlabel("users' separation from the targets, alpha")
    legend_below(axes[len(counts)], ncol=2)
    return rows, fig
