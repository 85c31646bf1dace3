"""Reading a finished multirun sweep: one :class:`Run` per job directory.

A sweep of ``python train.py -m experiment=<name> preset=<preset>`` lives in

    outputs/sweeps/<name>/<preset>/<date_time>/<job number>/
        .hydra/overrides.yaml   Hydra's record of the job (marks a job directory)
        metrics.json            written by the job when it finished, with the settings
                                the sweep varied under "sweep_point" (isac.learning.training)

Figures are made from these files only, never from logs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from isac import checks
from isac.files import METRICS_FILE, read_metrics


@dataclass(frozen=True)
class Run:
    """One finished job: its directory and its ``metrics.json``."""

    path: Path
    metrics: dict[str, Any]

    def system(self, name: str) -> float:
        """A :class:`~isac.physics.system.SystemConfig` setting of the run, e.g. ``"n_users"``."""
        return self.metrics["system"][name]

    def scheme(self, name: str) -> dict[str, float]:
        """The run's evaluation row of scheme ``name`` (``"isacnn"``, ``"optimum"``, ...)."""
        evaluation = self.metrics.get("evaluation")
        if evaluation is None:
            raise checks.SettingsError(
                f"run {self.path} has no post-training evaluation; its sweep was not made "
                "with a figure experiment (evaluation.enabled=true)"
            )
        if name not in evaluation:
            raise checks.SettingsError(
                f"run {self.path} did not evaluate scheme {name!r} (it has {sorted(evaluation)})"
            )
        return evaluation[name]


def latest_sweep(sweeps_dir: Path, experiment: str, preset: str) -> Path:
    """The newest sweep directory of ``experiment`` under ``preset`` (names sort by time)."""
    parent = Path(sweeps_dir) / experiment / preset
    sweeps = sorted(p for p in parent.glob("*") if p.is_dir()) if parent.is_dir() else []
    if not sweeps:
        raise checks.SettingsError(
            f"no sweep of experiment {experiment!r} with preset {preset!r} under {parent}; "
            f"run: python train.py -m experiment={experiment} preset={preset} "
            "hydra/launcher=joblib"
        )
    return sweeps[-1]


PAPER_NETWORKS = ("isacnn", "fcnn")  # drawn first, in the paper's style, when sweeps merge


def sweep_network(sweep_dir: Path) -> str | None:
    """The learned network of a sweep: the model of its first finished job (None if no
    job has finished)."""
    jobs = sorted(
        (p for p in Path(sweep_dir).glob("*") if (p / METRICS_FILE).is_file()),
        key=lambda p: int(p.name) if p.name.isdigit() else p.name,
    )
    return read_metrics(jobs[0] / METRICS_FILE)["model"] if jobs else None


def latest_sweeps(sweeps_dir: Path, experiment: str, preset: str) -> list[Path]:
    """The newest sweep of ``experiment`` under ``preset`` for each learned network, the
    paper's networks first, so that one figure can draw several networks (e.g. ISACNN's
    sweep and PriceNet's).

    Raises:
        checks.SettingsError: there is no sweep at all (as :func:`latest_sweep`).
    """
    newest = latest_sweep(sweeps_dir, experiment, preset)
    parent = Path(sweeps_dir) / experiment / preset
    chosen: dict[str, Path] = {}
    for sweep in sorted((p for p in parent.glob("*") if p.is_dir()), reverse=True):
        network = sweep_network(sweep)
        if network is not None and network not in chosen:
            chosen[network] = sweep
    if not chosen:
        return [newest]  # nothing finished: load_sweep says which jobs are missing
    order = sorted(chosen, key=lambda n: (n not in PAPER_NETWORKS, n))
    return [chosen[n] for n in order]


def load_sweep(sweep_dir: Path, *, allow_incomplete: bool = False) -> list[Run]:
    """Every job of the sweep in ``sweep_dir``, in job order.

    Raises:
        checks.SettingsError: no jobs there, or a job without ``metrics.json`` (still
            running or failed) unless ``allow_incomplete``, which skips such jobs.
    """
    sweep_dir = Path(sweep_dir)
    jobs = sorted(
        (p for p in sweep_dir.glob("*") if (p / ".hydra" / "overrides.yaml").is_file()),
        key=lambda p: int(p.name) if p.name.isdigit() else p.name,
    )
    if not jobs:
        raise checks.SettingsError(f"{sweep_dir} holds no sweep jobs (no */.hydra/overrides.yaml)")
    unfinished = [p.name for p in jobs if not (p / METRICS_FILE).is_file()]
    if unfinished and not allow_incomplete:
        raise checks.SettingsError(
            f"jobs {unfinished} of {sweep_dir} have no {METRICS_FILE} (still running or "
            "failed); rerun them, or pass allow_incomplete=true to plot the others"
        )
    return [
        Run(path=p, metrics=read_metrics(p / METRICS_FILE))
        for p in jobs
        if p.name not in unfinished
    ]
