"""The paper's Figs. 6-11 and Table I from finished sweeps: a CSV of the data and a PNG.

Each ``FIGURES[name]`` turns the runs of ``python train.py -m experiment=<name>`` into
long-format rows (one per sweep point and scheme, :mod:`.rows`) and a matplotlib figure
whose curves carry the paper's names (:mod:`.plotting`; one module per figure or group of
figures). The project's additions (global optimum, water-filling, the rate with the
beams the BS forms from H_hat) are drawn thin or dashed and say so.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from matplotlib.figure import Figure

from isac import checks
from isac.experiments.figures.csi import csi, fig11
from isac.experiments.figures.directions import directions
from isac.experiments.figures.rates import fig8, fig9, fig10
from isac.experiments.figures.rows import Rows
from isac.experiments.figures.runtime import table1
from isac.experiments.figures.schemes import fig7
from isac.experiments.figures.training_curves import fig6
from isac.experiments.sweeps import Run, latest_sweep, latest_sweeps, load_sweep
from isac.files import write_csv

MERGED_FIGURES = ("fig7", "fig8", "fig9", "fig10", "fig11", "directions")  # every learned network

FIGURES: dict[str, Callable[[list[Run]], tuple[Rows, Figure]]] = {
    "fig6": fig6,
    "fig7": fig7,
    "fig8": fig8,
    "fig9": fig9,
    "fig10": fig10,
    "fig11": fig11,
    "table1": table1,
    "csi": csi,
    "directions": directions,
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
