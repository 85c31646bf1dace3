"""How close each learned network comes to the optimum at every point of Figs. 7-11, and
whether it ranks above every scheme but the optimum and the traditional solver there.

    python figures.py                                 # the figures' CSVs, every network
    python scripts/learned_vs_optimum.py [--figures outputs/figures/full]

Reads ``fig7.csv`` ... ``fig11.csv`` (one row per point and scheme, as ``figures.py``
writes them) and prints, per figure and network: the points, the lowest mean WSNR as %
of the optimum's, the lowest worst-sample %, how many points another scheme
(neither the optimum nor the traditional solver, which reaches it) has a higher WSNR
at, and which, and how far, in percentage points of the optimum, it trails the best
other learned network at any point both were evaluated at (e.g. a universal network
against the per-point networks; "-" where no other network shares a point).
"""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path

from isac.experiments.figures.rows import EVALUATION_METRICS
from isac.schemes.registry import SCHEMES

FIGURES = ("fig7", "fig8", "fig9", "fig10", "fig11")
AT_THE_OPTIMUM = ("optimum", "traditional")  # schemes a network need not beat
TIE = 1e-9  # relative WSNR difference below which two schemes tie


def points(rows: list[dict[str, str]]) -> dict[tuple[str, ...], dict[str, dict[str, str]]]:
    """{sweep point: {scheme: row}}; the point is every column that is not a metric."""
    axes = [k for k in rows[0] if k != "scheme" and k not in EVALUATION_METRICS]
    grouped: dict[tuple[str, ...], dict[str, dict[str, str]]] = {}
    for row in rows:
        grouped.setdefault(tuple(f"{k}={row[k]}" for k in axes), {})[row["scheme"]] = row
    return grouped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--figures", type=Path, default=Path("outputs/figures/full"))
    args = parser.parse_args()
    print(
        "| figure | network | points | mean WSNR, lowest % of the optimum | "
        "worst sample, lowest % | points where another scheme ranks higher | "
        "most it trails another network, pp |"
    )
    print("|---|---|---|---|---|---|---|")
    for figure in FIGURES:
        path = args.figures / f"{figure}.csv"
        if not path.is_file():
            print(f"| {figure} | (no {path}) | | | | | |")
            continue
        with path.open() as handle:
            grouped = points(list(csv.DictReader(handle)))
        networks = sorted({s for p in grouped.values() for s in p} - set(SCHEMES))
        for network in networks:
            lowest, worst, beaten, by = math.inf, math.inf, set(), set()
            count, trails = 0, -math.inf
            for point, schemes in grouped.items():
                if network not in schemes:
                    continue
                count += 1
                row = schemes[network]
                lowest = min(lowest, float(row["pct_of_optimum"]))
                worst = min(worst, float(row["worst_pct_of_optimum"]))
                mine = float(row["wsnr"])
                for other in set(networks) & set(schemes) - {network}:
                    gap = float(schemes[other]["pct_of_optimum"]) - float(row["pct_of_optimum"])
                    trails = max(trails, gap)
                for other, theirs in schemes.items():
                    if other in (network, *AT_THE_OPTIMUM):
                        continue
                    if float(theirs["wsnr"]) > mine * (1 + TIE):
                        beaten.add(point)
                        by.add(other)
            ranked = f"{len(beaten)} (by {', '.join(sorted(by))})" if beaten else "none"
            gap = "-" if trails == -math.inf else f"{trails:.5f}"
            print(
                f"| {figure} | {network} | {count} | {lowest:.5f} | {worst:.3f} | {ranked} "
                f"| {gap} |"
            )


if __name__ == "__main__":
    main()
