"""Table I: the learned design's online time per sample, beside the paper's."""

from __future__ import annotations

from matplotlib.figure import Figure

from isac import checks
from isac.experiments.figures.plotting import panels
from isac.experiments.figures.rows import AXIS_LABELS, Rows, series
from isac.experiments.paper_numbers import PAPER_TABLE1_MS
from isac.experiments.sweeps import Run
from isac.physics.system import SIZE_SETTINGS, SystemConfig


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
    fig, axes = panels(3, "Table I: online time per sample of the DL scheme", 4.2)
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
