"""A job that scores a trained universal network at its own operating point, untrained.

``python train.py -m experiment=fig7 universal_run=<run>`` reproduces a figure's sweep
with one universal network (:mod:`isac.learning.universal`) and no training: each job
binds the network to its point (``system`` and ``csi``), scores it on that point's
validation and test sets as a trained job would, runs ``evaluation``, and writes the
same ``metrics.json``, so ``figures.py`` draws it beside the per-point networks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from isac import checks
from isac.config import DataConfig
from isac.experiments.runs import METRICS_FILE, checkpoint_path, read_run_config, write_json
from isac.learning.checkpoints import bind, load_checkpoint
from isac.learning.data import ISACDataModule
from isac.learning.training import check_evaluation, scored_metrics, system_from_config
from isac.learning.universal import UniversalPriceNet


def serve_universal(
    cfg: DictConfig, run_dir: Path, sweep_point: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Score the universal network of ``cfg.universal_run`` at ``cfg.system`` and
    ``cfg.csi``, write ``metrics.json`` into ``run_dir`` and return the metrics.

    Raises:
        checks.SettingsError: ``cfg.universal_run`` is not a run of a universal network,
            the point lies outside its ranges, or another setting is bad (before any work).
    """
    if cfg.get("resume"):
        raise checks.SettingsError("universal_run scores a trained network; drop resume")
    system = system_from_config(cfg)
    check_evaluation(cfg, system)
    universal_run = Path(str(cfg.universal_run))
    run_cfg = read_run_config(universal_run, setting="universal_run")
    data = checks.settings_of("data", DataConfig, OmegaConf.to_container(cfg.data, resolve=True))
    beta = float(cfg.csi.beta)
    module = load_checkpoint(
        checkpoint_path(universal_run, "best"),
        remedy="train the universal run again (python train.py model=universal)",
    )
    if not isinstance(module.network, UniversalPriceNet):
        raise checks.SettingsError(
            f"universal_run must be a run of a universal network (model=universal); "
            f"{universal_run} trained {module.name}"
        )
    module = bind(module, system, beta)
    trained_receiver = module.receiver.kind
    if cfg.csi.receiver != trained_receiver:
        raise checks.SettingsError(
            f"csi.receiver={cfg.csi.receiver} differs from the {trained_receiver} receiver "
            f"universal run {universal_run} was trained for"
        )
    # this point's own sets, drawn as a per-point job of the same data settings draws them
    point_data = ISACDataModule(system, data, beta=beta, receiver=str(cfg.csi.receiver))
    metrics = {
        "model": module.name,
        "model_display": {
            "label": run_cfg.model.label,
            "style": OmegaConf.to_container(run_cfg.model.style),
        },
        "system": system.to_dict(),
        "beta": beta,
        "receiver": str(cfg.csi.receiver),
        "seed": int(run_cfg.seed),
        "data_seed": int(cfg.data.seed),
        "n_train": int(run_cfg.data.n_train),
        **scored_metrics(module, point_data, system, cfg),
        "universal_run": str(universal_run),
        "epochs_trained": 0,  # this job trains nothing; the universal run's record has it
        "train_seconds": 0.0,
        "sweep_point": dict(sweep_point or {}),
    }
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(run_dir / METRICS_FILE, metrics)
    return metrics
