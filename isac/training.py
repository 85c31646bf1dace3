"""A training run: validate every setting, fit, resume, and write ``metrics.json``.

Everything a run writes lives under its run directory (Hydra's, for ``train.py``):

    config.yaml              the resolved config (written once; a resume reuses it)
    checkpoints/best.ckpt    lowest validation loss
    checkpoints/last.ckpt    end of the latest epoch, for resuming
    tensorboard/             TensorBoard events (``tensorboard --logdir outputs``)
    metrics.json             final validation and test metrics, references, history, time,
                             and with ``evaluation.enabled`` every scheme of
                             ``evaluation.schemes`` scored on the test set (evaluate.py's table)
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import TensorBoardLogger
from omegaconf import DictConfig, OmegaConf

from isac import checks
from isac.baselines import average_powers, zero_powers
from isac.data import ISACDataModule
from isac.evaluation import check_schemes, compare_schemes
from isac.lit_module import ISACModule, batch_metrics, load_checkpoint
from isac.system import SystemConfig

CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.json"
REFERENCE_SCHEMES = {"average": average_powers, "zero_power": zero_powers}
LOGGERS = ("tensorboard", "none")

# Lightning's advice that does not apply here: the data live in memory (no workers
# needed), metrics are logged per epoch, and the tips advertise a cloud service.
IGNORED_WARNINGS = (
    ".*does not have many workers.*",
    ".*smaller than the logging interval.*",
    ".*LeafSpec.*is deprecated.*",
    ".*Checkpoint directory .* exists and is not empty.*",  # a resumed run's own checkpoints
)
logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(
    lambda record: "Tip:" not in record.getMessage()
)


def system_from_config(cfg: DictConfig) -> SystemConfig:
    """The validated :class:`SystemConfig` of ``cfg.system``."""
    return SystemConfig(**OmegaConf.to_container(cfg.system, resolve=True))


def build_datamodule(cfg: DictConfig, system: SystemConfig) -> ISACDataModule:
    """The data module of ``cfg.data`` and ``cfg.csi`` (validates them; draws nothing yet)."""
    return ISACDataModule(system, beta=cfg.csi.beta, **OmegaConf.to_container(cfg.data))


def check_evaluation(cfg: DictConfig, system: SystemConfig) -> None:
    """Refuse a post-training evaluation that could not run (before any training)."""
    evaluation = cfg.evaluation
    if not isinstance(evaluation.enabled, bool):
        raise checks.SettingsError(
            f"evaluation.enabled must be true or false, got {evaluation.enabled!r}"
        )
    check_schemes(list(evaluation.schemes), system, setting="evaluation.schemes")
    checks.positive_int("evaluation.repeats", evaluation.repeats)


def build_module(cfg: DictConfig, system: SystemConfig) -> ISACModule:
    """The LightningModule of ``cfg.model`` with the whole run config as provenance."""
    model = cfg.model
    return ISACModule(
        system.to_dict(),
        network=model.name,
        learning_rate=model.learning_rate,
        lr_factor=model.lr_factor,
        lr_patience=model.lr_patience,
        lr_threshold=model.lr_threshold,
        run_config=OmegaConf.to_container(cfg, resolve=True),
    )


def build_trainer(
    cfg: DictConfig, run_dir: Path, *, interactive: bool, extra_callbacks: Sequence[Callback] = ()
) -> L.Trainer:
    """The Trainer: checkpoints, early stopping and the logger under ``run_dir``."""
    trainer_args = OmegaConf.to_container(cfg.trainer, resolve=True)
    checks.positive_int("trainer.max_epochs", trainer_args["max_epochs"])
    if trainer_args.get("enable_progress_bar") is None:
        trainer_args["enable_progress_bar"] = interactive
    stopping = cfg.callbacks.early_stopping
    checks.non_negative_int("callbacks.early_stopping.patience", stopping.patience)
    logger_kind = checks.one_of("logger.kind", cfg.logger.kind, LOGGERS)
    logger = (
        TensorBoardLogger(
            save_dir=str(run_dir), name="tensorboard", version="", default_hp_metric=False
        )
        if logger_kind == "tensorboard"
        else False
    )
    callbacks = [
        EarlyStopping(
            monitor="val/loss", mode="min", patience=stopping.patience, min_delta=stopping.min_delta
        ),
        ModelCheckpoint(
            dirpath=run_dir / "checkpoints",
            filename="best",
            monitor="val/loss",
            mode="min",
            save_top_k=1,
            save_last=True,
            auto_insert_metric_name=False,
            enable_version_counter=False,
        ),
        *extra_callbacks,
    ]
    return L.Trainer(
        default_root_dir=str(run_dir),
        logger=logger,
        callbacks=callbacks,
        enable_model_summary=interactive,
        **trainer_args,
    )


def prepare_run(cfg: DictConfig, run_dir: Path) -> tuple[DictConfig, Path, Path | None]:
    """Resolve what to run where: a new run in ``run_dir``, or ``cfg.resume``'s run.

    Returns:
        (config, run directory, checkpoint to resume from or None).
    """
    if cfg.get("resume"):
        resume_dir = Path(cfg.resume)
        saved, last = resume_dir / CONFIG_FILE, resume_dir / "checkpoints" / "last.ckpt"
        if not saved.is_file() or not last.is_file():
            raise checks.SettingsError(
                f"resume={cfg.resume!r} must be a training run directory holding "
                f"{CONFIG_FILE} and checkpoints/last.ckpt"
            )
        # settings the project gained after the run started take their defaults
        defaults = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
        return OmegaConf.merge(defaults, OmegaConf.load(saved)), resume_dir, last
    resolved = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    resolved.resume = None
    return resolved, run_dir, None


def train(
    cfg: DictConfig,
    run_dir: Path,
    *,
    interactive: bool = False,
    extra_callbacks: Sequence[Callback] = (),
) -> dict[str, Any]:
    """Train (or resume) one run and write its ``metrics.json``; returns the metrics.

    Every setting is validated before any data is drawn or any epoch runs.
    """
    cfg, run_dir, resume_from = prepare_run(cfg, Path(run_dir))
    system = system_from_config(cfg)
    check_evaluation(cfg, system)
    datamodule = build_datamodule(cfg, system)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    module = build_module(cfg, system)
    trainer = build_trainer(cfg, run_dir, interactive=interactive, extra_callbacks=extra_callbacks)
    run_dir.mkdir(parents=True, exist_ok=True)
    if resume_from is None:
        OmegaConf.save(cfg, run_dir / CONFIG_FILE)
    with warnings.catch_warnings():
        for pattern in IGNORED_WARNINGS:
            warnings.filterwarnings("ignore", pattern)
        trainer.fit(
            module, datamodule=datamodule, ckpt_path=str(resume_from) if resume_from else None
        )
    metrics = final_metrics(trainer, module, datamodule, system, run_dir, cfg)
    (run_dir / METRICS_FILE).write_text(json.dumps(metrics, indent=2))
    return metrics


def _floats(metrics: dict[str, torch.Tensor]) -> dict[str, float]:
    return {name: float(value) for name, value in metrics.items()}


@torch.no_grad()
def final_metrics(
    trainer: L.Trainer,
    module: ISACModule,
    datamodule: ISACDataModule,
    system: SystemConfig,
    run_dir: Path,
    cfg: DictConfig,
) -> dict[str, Any]:
    """Validation and test metrics of the best checkpoint, the reference schemes on the
    test set, the optional evaluation of ``cfg.evaluation``, and the per-epoch history."""
    best_path = Path(trainer.checkpoint_callback.best_model_path)
    best = load_checkpoint(best_path, expected=system)
    results: dict[str, Any] = {}
    for split in ("val", "test"):
        batch = datamodule.problem_set(split).all()
        results[split] = _floats(batch_metrics(best(batch.features), batch.terms, system))
    test_terms = datamodule.problem_set("test").terms
    results["test_reference"] = {
        name: _floats(batch_metrics(scheme(test_terms, system), test_terms, system))
        for name, scheme in REFERENCE_SCHEMES.items()
    }
    if cfg.evaluation.enabled:
        comparison = compare_schemes(
            system,
            best,
            list(cfg.evaluation.schemes),
            beta=float(cfg.csi.beta),
            n_test=int(cfg.data.n_test),
            seed=int(cfg.data.seed),
            repeats=int(cfg.evaluation.repeats),
        )
        results["evaluation"] = {row["scheme"]: row for row in comparison.rows}
    history = module.history
    best_epoch = min(history, key=lambda entry: entry["val_loss"])["epoch"]
    return {
        "model": cfg.model.name,
        "system": system.to_dict(),
        "beta": float(cfg.csi.beta),
        "seed": int(cfg.seed),
        "data_seed": int(cfg.data.seed),
        "n_train": int(cfg.data.n_train),
        **results,
        "epochs_trained": len(history),
        "best_epoch": best_epoch,
        "train_seconds": sum(entry["seconds"] for entry in history),
        "best_checkpoint": str(
            best_path.relative_to(run_dir.resolve()) if best_path.is_absolute() else best_path
        ),
        "history": {key: [entry[key] for entry in history] for key in history[0]},
    }
