"""``train.py``'s job: train a run (:mod:`isac.learning.training`), then score its best
checkpoint and write ``metrics.json`` (:mod:`isac.experiments.run_metrics`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks import Callback
from omegaconf import DictConfig

from isac.config import target_of
from isac.experiments.run_metrics import check_evaluation, metrics_record, scored_metrics
from isac.files import METRICS_FILE, write_json
from isac.learning.checkpoints import load_for
from isac.learning.training import fit, plan_run
from isac.physics.receivers import Receiver


def train(
    cfg: DictConfig,
    run_dir: Path,
    *,
    interactive: bool = False,
    sweep_point: dict[str, Any] | None = None,
    extra_callbacks: Sequence[Callback] = (),
) -> dict[str, Any] | None:
    """Train (or resume) one run and write its ``metrics.json``; returns the metrics (None
    in the processes of a data-parallel run other than rank 0, which write nothing).

    Every setting, the post-training evaluation's included, is validated before any data
    are drawn or any epoch runs.

    Args:
        cfg: the composed config (``conf/config.yaml``).
        run_dir: where a new run writes (a resumed run writes into its own directory).
        interactive: a single run in a terminal (progress bar and model summary on).
        sweep_point: the settings a multirun sweep varied for this job, recorded in
            ``metrics.json`` for the figures.
        extra_callbacks: more Lightning callbacks.
    """
    plan = plan_run(cfg, Path(run_dir))
    check_evaluation(plan.cfg, plan.system)
    trained = fit(plan, interactive=interactive, extra_callbacks=extra_callbacks)
    if not trained.is_global_zero:  # one metrics.json per run, from rank 0 (DDP)
        return None
    cfg, run_dir, system = plan.cfg, plan.run_dir, plan.system
    receiver = Receiver(cfg.csi.receiver, cfg.csi.beta)
    best = load_for(trained.best_checkpoint, system, receiver, target_of(cfg))
    history = trained.module.history
    best_path = trained.best_checkpoint
    training = {
        "epochs_trained": len(history),
        "best_epoch": min(history, key=lambda entry: entry["val_loss"])["epoch"],
        "train_seconds": sum(entry["seconds"] for entry in history),
        "best_checkpoint": str(
            best_path.relative_to(run_dir.resolve()) if best_path.is_absolute() else best_path
        ),
        "history": {key: [entry[key] for entry in history] for key in history[0]},
    }
    scores = scored_metrics(best, trained.datamodule, system, cfg)
    metrics = metrics_record(best, cfg, cfg, system, scores, training, sweep_point)
    write_json(run_dir / METRICS_FILE, metrics)
    return metrics
