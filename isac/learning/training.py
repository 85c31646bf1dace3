"""A training run: validate every setting, fit, resume, and write ``metrics.json``.

Everything a run writes lives under its run directory (Hydra's, for ``train.py``), laid
out as :mod:`isac.experiments.runs` describes. ``metrics.json`` holds the final
validation and test metrics, the reference allocations on the test set, the per-epoch
history, the sweep point of a multirun job, and with ``evaluation.enabled`` every scheme
of ``evaluation.schemes`` scored on the test set (``evaluate.py``'s table).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

import lightning as L
import torch
from hydra.utils import instantiate
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import Logger
from omegaconf import DictConfig, OmegaConf

from isac import checks
from isac.config import CONF_DIR, DataConfig, OptimConfig
from isac.experiments.evaluation import compare_schemes
from isac.experiments.runs import (
    CHECKPOINT_DIR,
    CHECKPOINT_NAMES,
    CONFIG_FILE,
    METRICS_FILE,
    checkpoint_path,
    read_run_config,
    write_config,
    write_json,
)
from isac.learning.checkpoints import AtomicCheckpointIO, load_checkpoint, read_checkpoint
from isac.learning.data import Batch, ISACDataModule, ProblemSet
from isac.learning.lit_module import ISACModule, batch_metrics
from isac.learning.universal import UniversalPriceNet
from isac.learning.universal_data import UniversalDataModule
from isac.physics.system import SystemConfig
from isac.schemes.registry import SCHEMES, SchemeInputs, select_schemes

REFERENCE_SCHEMES = ("average", "zero_power")
"""Allocations that ignore the channel, scored on the test set of every run."""

# Lightning's advice that does not apply here: the data live in memory (no workers
# needed), metrics are logged per epoch, and the tips advertise a cloud service.
IGNORED_WARNINGS = (
    ".*does not have many workers.*",
    ".*smaller than the logging interval.*",
    ".*LeafSpec.*is deprecated.*",
    ".*Checkpoint directory .* exists and is not empty.*",  # a resumed run's own checkpoints
    # data-parallel: validation sets and hence epoch metrics are the same on every rank
    ".*sync_dist=True.*",
)
logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(
    lambda record: "Tip:" not in record.getMessage()
)


def system_from_config(cfg: DictConfig) -> SystemConfig:
    """The validated :class:`SystemConfig` of ``cfg.system``."""
    return checks.settings_of(
        "system", SystemConfig, OmegaConf.to_container(cfg.system, resolve=True)
    )


def build_datamodule(cfg: DictConfig, system: SystemConfig) -> ISACDataModule:
    """The data module of ``cfg.data`` and ``cfg.csi`` (validates them; draws nothing yet):
    over the operating points of ``data.operating_points`` when set."""
    data = checks.settings_of("data", DataConfig, OmegaConf.to_container(cfg.data, resolve=True))
    kind = ISACDataModule if data.operating_points is None else UniversalDataModule
    return kind(system, data, beta=cfg.csi.beta, receiver=cfg.csi.receiver)


def check_network_fits_data(module: ISACModule, datamodule: ISACDataModule) -> None:
    """Refuse a universal network without operating points to train on, and the reverse."""
    universal = isinstance(module.network, UniversalPriceNet)
    if universal and not isinstance(datamodule, UniversalDataModule):
        raise checks.SettingsError(
            "model.network is a universal network, which trains over operating points: "
            "set data.operating_points (data=universal)"
        )
    if isinstance(datamodule, UniversalDataModule) and not universal:
        raise checks.SettingsError(
            f"data.operating_points is set, but the {module.name} network serves one system; "
            "use a universal network (model=universal) or data=default"
        )


def check_evaluation(cfg: DictConfig, system: SystemConfig) -> None:
    """Refuse a post-training evaluation that could not run (before any training)."""
    evaluation = cfg.evaluation
    if not isinstance(evaluation.enabled, bool):
        raise checks.SettingsError(
            f"evaluation.enabled must be true or false, got {evaluation.enabled!r}"
        )
    select_schemes(_scheme_list(cfg), system, setting="evaluation.schemes")
    checks.positive_int("evaluation.repeats", evaluation.repeats)


def _scheme_list(cfg: DictConfig) -> list[str] | None:
    schemes = cfg.evaluation.schemes
    return None if schemes is None else list(schemes)


def build_module(cfg: DictConfig, system: SystemConfig) -> ISACModule:
    """The LightningModule of ``cfg.model`` and ``cfg.optim``, the run config as provenance."""
    return ISACModule(
        system.to_dict(),
        model=OmegaConf.to_container(cfg.model, resolve=True),
        optim=OmegaConf.to_container(cfg.optim, resolve=True),
        run_config=OmegaConf.to_container(cfg, resolve=True),
    )


def build_logger(cfg: DictConfig, run_dir: Path) -> Logger | bool:
    """The logger of ``cfg.logger`` (``_target_`` a Lightning logger) under ``run_dir``, or
    False for ``logger=none``."""
    spec = cfg.get("logger")
    if not spec or spec.get("_target_") is None:
        return False
    try:
        logger = instantiate(spec, save_dir=str(run_dir))
    except Exception as error:  # Hydra wraps import and argument errors alike
        raise checks.SettingsError(
            f"logger: cannot build {spec._target_!r}: {str(error).splitlines()[0]}"
        ) from None
    if not isinstance(logger, Logger):
        raise checks.SettingsError(
            f"logger._target_ must build a Lightning logger, {spec._target_!r} built a "
            f"{type(logger).__name__}"
        )
    return logger


def build_trainer(
    cfg: DictConfig, run_dir: Path, *, interactive: bool, extra_callbacks: Sequence[Callback] = ()
) -> L.Trainer:
    """The Trainer: atomic checkpoints, early stopping and the logger under ``run_dir``."""
    trainer_args = OmegaConf.to_container(cfg.trainer, resolve=True)
    checks.positive_int("trainer.max_epochs", trainer_args["max_epochs"])
    if trainer_args.get("enable_progress_bar") is None:
        trainer_args["enable_progress_bar"] = interactive
    stopping = cfg.callbacks.early_stopping
    checks.non_negative_int("callbacks.early_stopping.patience", stopping.patience)
    callbacks = [
        EarlyStopping(
            monitor="val/loss", mode="min", patience=stopping.patience, min_delta=stopping.min_delta
        ),
        ModelCheckpoint(
            dirpath=run_dir / CHECKPOINT_DIR,
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
    # each process draws its own training data (ISACDataModule.training_split), so
    # Lightning must not shard the batches across data-parallel processes as well
    trainer_args.setdefault("use_distributed_sampler", False)
    return L.Trainer(
        default_root_dir=str(run_dir),
        logger=build_logger(cfg, run_dir),
        callbacks=callbacks,
        plugins=[AtomicCheckpointIO()],
        enable_model_summary=interactive,
        **trainer_args,
    )


def _upgrade_saved_config(saved: DictConfig) -> DictConfig:
    """A config saved before models named their class by ``_target_`` (``model.name`` and
    the optimiser settings under ``model``), in today's form, so that such runs resume."""
    model = saved.get("model")
    if model is None or "network" in model:
        return saved
    saved.optim = {f.name: model[f.name] for f in fields(OptimConfig) if f.name in model}
    saved.model = OmegaConf.load(CONF_DIR / "model" / f"{model.name}.yaml")
    return saved


def prepare_run(cfg: DictConfig, run_dir: Path) -> tuple[DictConfig, Path, Path | None]:
    """Resolve what to run where: a new run in ``run_dir``, or ``cfg.resume``'s run from its
    ``cfg.resume_checkpoint`` (last or best).

    Returns:
        (config, run directory, checkpoint to resume from or None).

    Raises:
        checks.SettingsError: the run to resume is not a run, or its files are damaged.
    """
    if not cfg.get("resume"):
        resolved = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
        resolved.resume = None
        return resolved, run_dir, None
    resume_dir = Path(cfg.resume)
    which = checks.one_of("resume_checkpoint", cfg.resume_checkpoint, CHECKPOINT_NAMES)
    saved = _upgrade_saved_config(read_run_config(resume_dir, setting="resume"))
    start = checkpoint_path(resume_dir, which)
    other = "best" if which == "last" else "last"
    read_checkpoint(
        start,
        remedy=(
            f"resume from checkpoints/{other}.ckpt with `python train.py resume={resume_dir} "
            f"resume_checkpoint={other}`, or start a new run"
        ),
    )
    # settings the project gained after the run started take their defaults
    defaults = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    merged = OmegaConf.merge(defaults, saved)
    merged.resume, merged.resume_checkpoint = str(resume_dir), which
    return merged, resume_dir, start


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

    Every setting is validated before any data is drawn or any epoch runs.

    Args:
        cfg: the composed config (``conf/config.yaml``).
        run_dir: where a new run writes (a resumed run writes into its own directory).
        interactive: a single run in a terminal (progress bar and model summary on).
        sweep_point: the settings a multirun sweep varied for this job, recorded in
            ``metrics.json`` for the figures.
        extra_callbacks: more Lightning callbacks.
    """
    cfg, run_dir, resume_from = prepare_run(cfg, Path(run_dir))
    system = system_from_config(cfg)
    check_evaluation(cfg, system)
    datamodule = build_datamodule(cfg, system)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    module = build_module(cfg, system)
    check_network_fits_data(module, datamodule)
    trainer = build_trainer(cfg, run_dir, interactive=interactive, extra_callbacks=extra_callbacks)
    run_dir.mkdir(parents=True, exist_ok=True)
    if resume_from is None:
        write_config(run_dir / CONFIG_FILE, cfg)
    with warnings.catch_warnings():
        for pattern in IGNORED_WARNINGS:
            warnings.filterwarnings("ignore", pattern)
        trainer.fit(
            module, datamodule=datamodule, ckpt_path=str(resume_from) if resume_from else None
        )
    if not trainer.is_global_zero:  # one metrics.json per run, from rank 0 (DDP)
        return None
    metrics = final_metrics(trainer, module, datamodule, system, run_dir, cfg)
    metrics["sweep_point"] = dict(sweep_point or {})
    write_json(run_dir / METRICS_FILE, metrics)
    return metrics


def _mean_over_sets(
    sets: list[ProblemSet], design: Callable[[Batch, ProblemSet], torch.Tensor]
) -> dict[str, float]:
    """The metrics (:func:`batch_metrics`) of ``design``'s sigma_s over every sample of
    ``sets`` (one set, or one per operating point of a universal network's grid)."""
    sums: dict[str, float] = {}
    for problems in sets:
        batch = problems.all()
        metrics = batch_metrics(design(batch, problems), batch.terms, problems.system)
        for name, value in metrics.items():
            sums[name] = sums.get(name, 0.0) + float(value) * len(batch)
    total = sum(len(problems) for problems in sets)
    return {name: value / total for name, value in sums.items()}


@torch.no_grad()
def scored_metrics(
    best: ISACModule, datamodule: ISACDataModule, system: SystemConfig, cfg: DictConfig
) -> dict[str, Any]:
    """Validation and test metrics of ``best``, the reference schemes on the test set
    (over every grid point for a universal run), and the optional evaluation of
    ``cfg.evaluation`` at ``system`` and ``cfg.csi``."""
    results: dict[str, Any] = {}
    for split in ("val", "test"):
        results[split] = _mean_over_sets(
            datamodule.evaluation_sets(split), lambda batch, _: best.design(batch)[0]
        )

    def reference(name: str) -> Callable[[Batch, ProblemSet], torch.Tensor]:
        def design(batch: Batch, problems: ProblemSet) -> torch.Tensor:
            inputs = SchemeInputs(problems.terms, problems.H_est, problems.p, problems.system)
            return SCHEMES[name].design(inputs).sigma_s

        return design

    results["test_reference"] = {
        name: _mean_over_sets(datamodule.evaluation_sets("test"), reference(name))
        for name in REFERENCE_SCHEMES
    }
    if cfg.evaluation.enabled:
        comparison = compare_schemes(
            system,
            best,
            _scheme_list(cfg),
            beta=float(cfg.csi.beta),
            receiver=str(cfg.csi.receiver),
            n_test=int(cfg.data.n_test),
            seed=int(cfg.data.seed),
            repeats=int(cfg.evaluation.repeats),
        )
        results["evaluation"] = {row["scheme"]: row for row in comparison.rows}
    return results


def final_metrics(
    trainer: L.Trainer,
    module: ISACModule,
    datamodule: ISACDataModule,
    system: SystemConfig,
    run_dir: Path,
    cfg: DictConfig,
) -> dict[str, Any]:
    """:func:`scored_metrics` of the best checkpoint, the run's settings and its per-epoch
    history."""
    best_path = Path(trainer.checkpoint_callback.best_model_path)
    best = load_checkpoint(best_path, expected=system, beta=float(cfg.csi.beta))
    results = scored_metrics(best, datamodule, system, cfg)
    history = module.history
    best_epoch = min(history, key=lambda entry: entry["val_loss"])["epoch"]
    return {
        "model": best.name,
        "model_display": {"label": cfg.model.label, "style": dict(cfg.model.style)},
        "system": system.to_dict(),
        "beta": float(cfg.csi.beta),
        "receiver": str(cfg.csi.receiver),
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
