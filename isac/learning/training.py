"""A training run, up to its trained checkpoints: validate every setting, fit, resume.

Everything a run writes lives under its run directory (Hydra's, for ``train.py``), laid
out as :mod:`isac.files` describes. Learning ends here, at ``checkpoints/best.ckpt``;
scoring the trained network and writing ``metrics.json`` is the experiments' job
(:mod:`isac.experiments.training_job`).
"""

from __future__ import annotations

import inspect
import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint
from omegaconf import DictConfig, OmegaConf

from isac import checks
from isac.config import DataConfig, channel_of, target_of
from isac.files import (
    CHECKPOINT_DIR,
    CHECKPOINT_NAMES,
    CONFIG_FILE,
    checkpoint_path,
    read_run_config,
    write_config,
)
from isac.learning.checkpoints import AtomicCheckpointIO, module_of, read_checkpoint
from isac.learning.data import ISACDataModule
from isac.learning.lit_module import ISACModule
from isac.learning.loggers import build_logger, logger_spec
from isac.learning.network_registry import network_kind, network_options
from isac.learning.universal_data import UniversalDataModule
from isac.learning.upgrade import upgrade_run_config
from isac.physics.realised import OBJECTIVES
from isac.physics.receivers import Receiver
from isac.physics.system import SystemConfig

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

SEED_MAX = 2**32 - 1  # the seeds Lightning (and numpy) take
REGISTERED_NODES = ("model", "logger")
"""Config nodes that name a registered class by ``kind``: a resume keeps the run's whole."""

TRAINER_ARGUMENTS = frozenset(inspect.signature(L.Trainer.__init__).parameters) - {"self"}
"""What ``trainer.*`` may set: the arguments of ``lightning.Trainer``."""


def system_from_config(cfg: DictConfig) -> SystemConfig:
    """The validated :class:`SystemConfig` of ``cfg.system``."""
    return checks.settings_of(
        "system", SystemConfig, OmegaConf.to_container(cfg.system, resolve=True)
    )


def build_datamodule(cfg: DictConfig, system: SystemConfig) -> ISACDataModule:
    """The data module of ``cfg.data`` and ``cfg.csi`` (validates them; draws nothing yet):
    over the operating points of ``data.operating_points`` when set."""
    data = checks.settings_of("data", DataConfig, OmegaConf.to_container(cfg.data, resolve=True))
    objective = checks.one_of("csi.objective", cfg.csi.get("objective", "model"), OBJECTIVES)
    channel = channel_of(cfg)
    if data.operating_points is not None:
        if target_of(cfg).model != "paper" or channel.model == "rician":
            raise checks.SettingsError(
                "data.operating_points (a universal network) trains on the paper's target "
                "model, target=paper, with channel=rayleigh, tr38901 or file"
            )
        return UniversalDataModule(
            system,
            data,
            beta=cfg.csi.beta,
            receiver=cfg.csi.receiver,
            channel=channel,
            objective=objective,
        )
    return ISACDataModule(
        system,
        data,
        beta=cfg.csi.beta,
        receiver=cfg.csi.receiver,
        target=target_of(cfg),
        channel=channel,
        objective=objective,
    )


def check_network_fits_data(module: ISACModule, datamodule: ISACDataModule) -> None:
    """Refuse a network that trains over operating points without any, and the reverse."""
    over_ranges = network_kind(module.hparams["model"]["network"]).trains_over_ranges
    if over_ranges and not isinstance(datamodule, UniversalDataModule):
        raise checks.SettingsError(
            f"model.network {module.name} trains over operating points: set "
            "data.operating_points (data=universal)"
        )
    if isinstance(datamodule, UniversalDataModule) and not over_ranges:
        raise checks.SettingsError(
            f"data.operating_points is set, but the {module.name} network serves one system; "
            "use a universal network (model=universal) or data=default"
        )


def build_module(cfg: DictConfig, system: SystemConfig) -> ISACModule:
    """The LightningModule of ``cfg.model`` and ``cfg.optim``, the run config as provenance."""
    return ISACModule(
        system.to_dict(),
        model=OmegaConf.to_container(cfg.model, resolve=True),
        optim=OmegaConf.to_container(cfg.optim, resolve=True),
        run_config=OmegaConf.to_container(cfg, resolve=True),
    )


def trainer_arguments(cfg: DictConfig) -> dict[str, Any]:
    """``cfg.trainer`` as keyword arguments of ``lightning.Trainer``: plain values only.

    Raises:
        checks.SettingsError: a key that is not a Trainer argument, or a value that is not
            a number, string, boolean, null or a list of those (a saved run cannot hand the
            Trainer an object to build).
    """
    arguments = dict(checks.plain_mapping("trainer", OmegaConf.to_container(cfg.trainer)))
    for name, value in arguments.items():
        if name not in TRAINER_ARGUMENTS:
            raise checks.SettingsError(f"trainer.{name} is not an argument of lightning.Trainer")
        values = value if isinstance(value, list) else [value]
        if not all(v is None or isinstance(v, bool | int | float | str) for v in values):
            raise checks.SettingsError(
                f"trainer.{name} must be a plain value (number, string, boolean, null or a "
                f"list of them), got {value!r}"
            )
    checks.positive_int("trainer.max_epochs", arguments.get("max_epochs"))
    return arguments


class RunCheckpoint(ModelCheckpoint):
    """Lightning's ModelCheckpoint whose saved state names its files relative to the run's
    ``checkpoints/`` directory, so that a copied or moved run resumes from its own files.

    A state saved with absolute paths (by an earlier version) is read the same way: a path
    in the directory it was saved from is taken as the file of that name here.
    """

    PATHS = ("best_model_path", "kth_best_model_path", "last_model_path")

    @property
    def state_key(self) -> str:
        # Lightning's own key, so that checkpoints written by either class restore
        return super().state_key.replace(type(self).__qualname__, "ModelCheckpoint", 1)

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state.update({key: Path(state[key]).name if state[key] else "" for key in self.PATHS})
        state["best_k_models"] = {Path(p).name: v for p, v in state["best_k_models"].items()}
        state["dirpath"] = "."
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        def here(path: str) -> str:
            return str(Path(self.dirpath) / Path(path).name) if path else ""

        state = dict(state_dict)
        state.update({key: here(state.get(key, "")) for key in self.PATHS if key in state})
        state["best_k_models"] = {here(p): v for p, v in state.get("best_k_models", {}).items()}
        state["dirpath"] = self.dirpath
        super().load_state_dict(state)


def build_trainer(
    cfg: DictConfig, run_dir: Path, *, interactive: bool, extra_callbacks: Sequence[Callback] = ()
) -> L.Trainer:
    """The Trainer: atomic checkpoints, early stopping and the logger under ``run_dir``."""
    arguments = trainer_arguments(cfg)
    if arguments.get("enable_progress_bar") is None:
        arguments["enable_progress_bar"] = interactive
    stopping = cfg.callbacks.early_stopping
    checks.non_negative_int("callbacks.early_stopping.patience", stopping.patience)
    callbacks = [
        EarlyStopping(
            monitor="val/loss", mode="min", patience=stopping.patience, min_delta=stopping.min_delta
        ),
        RunCheckpoint(
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
    arguments.setdefault("use_distributed_sampler", False)
    logger = cfg.get("logger")
    return L.Trainer(
        default_root_dir=str(run_dir),
        logger=build_logger(
            None if logger is None else OmegaConf.to_container(logger, resolve=True), run_dir
        ),
        callbacks=callbacks,
        plugins=[AtomicCheckpointIO()],
        enable_model_summary=interactive,
        **arguments,
    )


@dataclass(frozen=True)
class RunPlan:
    """What a run will do, settled before any work: its config (a resume's saved one), its
    directory, the checkpoint it resumes from (None for a new run) and its system."""

    cfg: DictConfig
    run_dir: Path
    resume_from: Path | None
    system: SystemConfig


def read_saved_run(run_dir: str | Path, setting: str = "run") -> DictConfig:
    """A run's saved ``config.yaml`` (:func:`~isac.files.read_run_config`) in today's form
    (:mod:`isac.learning.upgrade`), with every node that names something checked as a
    new run's is: the network by its registry key and options, the logger by its key,
    the Trainer's arguments as plain values.

    Raises:
        checks.SettingsError: the file is missing or damaged, or names code or an unknown
            network, logger, option or Trainer argument; the message names the run.
    """
    saved = OmegaConf.create(
        upgrade_run_config(OmegaConf.to_container(read_run_config(run_dir, setting)))
    )
    try:
        network_options(OmegaConf.to_container(saved.model).get("network"))
        logger_spec(OmegaConf.to_container(saved.logger) if "logger" in saved else None)
        if "trainer" in saved:
            trainer_arguments(saved)
    except checks.SettingsError as error:
        raise checks.SettingsError(f"{setting}={str(run_dir)!r}: config.yaml: {error}") from None
    return saved


def plan_run(cfg: DictConfig, run_dir: Path) -> RunPlan:
    """A new run in ``run_dir``, or ``cfg.resume``'s run from its ``cfg.resume_checkpoint``
    (last or best), with its saved config upgraded (:mod:`isac.learning.upgrade`).

    Raises:
        checks.SettingsError: the run to resume is not a run, or its files are damaged.
    """
    if not cfg.get("resume"):
        resolved = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
        resolved.resume = None
        return RunPlan(resolved, Path(run_dir), None, system_from_config(resolved))
    resume_dir = Path(cfg.resume)
    which = checks.one_of("resume_checkpoint", cfg.resume_checkpoint, CHECKPOINT_NAMES)
    saved = OmegaConf.to_container(read_saved_run(resume_dir, setting="resume"))
    start = checkpoint_path(resume_dir, which)
    other = "best" if which == "last" else "last"
    remedy = (
        f"resume from checkpoints/{other}.ckpt with `python train.py resume={resume_dir} "
        f"resume_checkpoint={other}`, or start a new run"
    )
    checkpoint = read_checkpoint(start, remedy)
    # settings the project gained after the run started take their defaults; the nodes
    # that name a registered class and its options are the run's own, whole
    defaults = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    merged = OmegaConf.merge(defaults, OmegaConf.create(saved))
    for whole in REGISTERED_NODES:
        if whole in saved:
            merged[whole] = saved[whole]
    merged.resume, merged.resume_checkpoint = str(resume_dir), which
    # the checkpoint must hold the run's own network: what it names is checked as any
    # checkpoint's is (a registered network, its weights fitting), then compared
    held = module_of(checkpoint, start, remedy)
    if held.hparams["model"]["network"] != OmegaConf.to_container(merged.model.network):
        raise checks.SettingsError(
            f"checkpoint {str(start)!r} holds a {held.name} network "
            f"{held.hparams['model']['network']}, not the run's {merged.model.name} network; "
            f"{remedy}"
        )
    return RunPlan(merged, resume_dir, start, system_from_config(merged))


@dataclass(frozen=True)
class TrainedRun:
    """A fitted run: its plan, the trained module and data, and its best checkpoint;
    ``is_global_zero`` is False in the processes of a data-parallel run but rank 0."""

    plan: RunPlan
    module: ISACModule
    datamodule: ISACDataModule
    best_checkpoint: Path
    is_global_zero: bool


def fit(
    plan: RunPlan, *, interactive: bool = False, extra_callbacks: Sequence[Callback] = ()
) -> TrainedRun:
    """Train (or resume) the run of ``plan`` until its callbacks stop it.

    Every setting is validated before any data are drawn or any epoch runs, the network's
    receiver and home point included (:meth:`~isac.learning.networks.Network.refusal`).
    """
    cfg, run_dir, system = plan.cfg, plan.run_dir, plan.system
    datamodule = build_datamodule(cfg, system)
    L.seed_everything(checks.int_in("seed", cfg.seed, 0, SEED_MAX), workers=True, verbose=False)
    module = build_module(cfg, system)
    check_network_fits_data(module, datamodule)
    refusal = module.refusal(system, Receiver(cfg.csi.receiver, cfg.csi.beta), target_of(cfg))
    if refusal is not None:
        raise checks.SettingsError(f"model {module.name}: {refusal}")
    trainer = build_trainer(cfg, run_dir, interactive=interactive, extra_callbacks=extra_callbacks)
    run_dir.mkdir(parents=True, exist_ok=True)
    if plan.resume_from is None:
        write_config(run_dir / CONFIG_FILE, cfg)
    with warnings.catch_warnings():
        for pattern in IGNORED_WARNINGS:
            warnings.filterwarnings("ignore", pattern)
        trainer.fit(
            module,
            datamodule=datamodule,
            ckpt_path=None if plan.resume_from is None else str(plan.resume_from),
        )
    return TrainedRun(
        plan,
        module,
        datamodule,
        Path(trainer.checkpoint_callback.best_model_path),
        trainer.is_global_zero,
    )
