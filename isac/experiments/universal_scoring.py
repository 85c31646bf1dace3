"""A job that scores a trained universal network at its own operating point, untrained.

``python train.py -m experiment=fig7 universal_run=<run>`` reproduces a figure's sweep
with one universal network (:mod:`isac.learning.universal`) and no training: each job
scores the network at its point (``system`` and ``csi``) on that point's validation and
test sets as a trained job would, runs ``evaluation``, and writes the same
``metrics.json`` (:mod:`isac.experiments.run_metrics`), so ``figures.py`` draws it beside
the per-point networks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from isac import checks
from isac.config import DataConfig, channel_of
from isac.experiments.run_metrics import check_evaluation, metrics_record, scored_metrics
from isac.files import METRICS_FILE, checkpoint_path, write_json
from isac.learning.checkpoints import load_for
from isac.learning.data import ISACDataModule
from isac.learning.network_registry import network_kind
from isac.learning.training import read_saved_run, system_from_config
from isac.physics.receivers import Receiver


def score_universal(
    cfg: DictConfig, run_dir: Path, sweep_point: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Score the universal network of ``cfg.universal_run`` at ``cfg.system`` and
    ``cfg.csi``, write ``metrics.json`` into ``run_dir`` and return the metrics.

    Raises:
        checks.SettingsError: ``cfg.universal_run`` is not a run of a universal network,
            the point lies outside its ranges or needs another receiver, or another
            setting is bad (before any work).
    """
    if cfg.get("resume"):
        raise checks.SettingsError("universal_run scores a trained network; drop resume")
    system = system_from_config(cfg)
    check_evaluation(cfg, system)
    universal_run = Path(str(cfg.universal_run))
    run_cfg = read_saved_run(universal_run, "universal_run")
    if not network_kind(run_cfg.model.network, "universal_run model.network").trains_over_ranges:
        raise checks.SettingsError(
            f"universal_run must be a run of a universal network (model=universal); "
            f"{universal_run} trained {run_cfg.model.name}"
        )
    data = checks.settings_of("data", DataConfig, OmegaConf.to_container(cfg.data, resolve=True))
    receiver = Receiver(str(cfg.csi.receiver), float(cfg.csi.beta))
    module = load_for(
        checkpoint_path(universal_run, "best"),
        system,
        receiver,
        remedy="train the universal run again (python train.py model=universal)",
    )
    trained_receiver = module.receiver.kind
    if receiver.kind != trained_receiver:
        raise checks.SettingsError(
            f"csi.receiver={receiver.kind} differs from the {trained_receiver} receiver "
            f"universal run {universal_run} was trained for"
        )
    # this point's own sets, drawn as a per-point job of the same data settings draws them
    point_data = ISACDataModule(
        system,
        data,
        beta=receiver.beta,
        receiver=receiver.kind,
        channel=channel_of(cfg),
        objective=cfg.csi.get("objective", "model"),
    )
    training = {
        "universal_run": str(universal_run),
        "epochs_trained": 0,  # this job trains nothing; the universal run's record has it
        "train_seconds": 0.0,
    }
    scores = scored_metrics(module, point_data, system, cfg)
    metrics = metrics_record(module, run_cfg, cfg, system, scores, training, sweep_point)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(run_dir / METRICS_FILE, metrics)
    return metrics
