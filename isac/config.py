"""The settings' defaults, in one place, and their registration with Hydra.

The settings that the library also uses outside Hydra have their defaults here, as
dataclasses, and nowhere else: :class:`~isac.physics.system.SystemConfig` (Table II),
:class:`CsiConfig`, :class:`DataConfig` and :class:`OptimConfig`. :func:`register`
stores them as the Hydra groups ``system/default``, ``csi/default``, ``data/default`` and
``optim/default``, which ``conf/config.yaml`` selects; ``python train.py --cfg job``
prints them. Settings only Hydra uses (trainer, callbacks, logger, model) are YAML files
in ``conf/``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf

from isac import checks
from isac.files import CONFIG_FILE
from isac.physics.channels import CHANNEL_MODELS, SET_FROM_DATA, ChannelConfig
from isac.physics.system import SystemConfig
from isac.physics.targets import TARGET_MODELS, TargetConfig

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"
"""The repository's Hydra config directory."""


@dataclass(frozen=True)
class CsiConfig:
    """Imperfect CSI (Sec. V): H = sqrt(beta) H_hat + E, E ~ CN(0, (1 - beta) I).

    Attributes:
        beta: CSI accuracy in [0, 1]; 1 is perfect CSI.
        receiver: how the BS forms its beams and what designs optimise, one of genie (the
            paper's metric: beams from the true H), naive (MMSE beams from H_hat as if
            exact) and robust (LMMSE beams for the estimation error;
            :mod:`isac.physics.receivers`).
        objective: what a network is trained for: ``model``, its receiver's objective
            (the paper's), or ``realised``, the WSNR realised on the true channel with
            the receiver's beams, under errors drawn afresh every epoch
            (:mod:`isac.physics.realised`; naive or robust receiver, beta < 1).
    """

    beta: float = 1.0
    receiver: str = "genie"
    objective: str = "model"


@dataclass(frozen=True)
class DataConfig:
    """The data sets (Sec. V: 8,000 training, 2,000 validation, 2,000 test samples).

    Attributes:
        n_train, n_val, n_test: sample counts.
        batch_size: training mini-batch size.
        eval_batch_size: validation and test batch size (results do not depend on it).
        seed: data seed; each split draws from its own stream of it.
        resample_train: draw a fresh training set every epoch instead of a fixed one.
        operating_points: null for one system (``system``, ``csi``); or ranges
            ``{setting: [min, max]}`` of :class:`~isac.learning.operating_points.OperatingRanges`,
            for a universal network (``data=universal``; docs/training.md).
        points_per_batch: with ranges, the operating points of a training batch: it holds
            ``batch_size / points_per_batch`` samples of each.
        grid_points: with ranges, the fixed validation and test points (a seeded Latin
            hypercube); ``n_val / grid_points`` and ``n_test / grid_points`` samples each.
        channel_file: the users' channels of ``channel=file`` (.npz, .mat or .h5; the test
            set is its last ``n_test`` rows, validation the ``n_val`` before them, training
            the first ``n_train``: docs/channels.md).
        chunk_rows: with ``channel=file`` in HDF5 (.h5 or .mat v7.3), read the training
            block a chunk of this many rows at a time, so that files larger than memory
            train; null holds the training set in memory.
    """

    n_train: int = 8000
    n_val: int = 2000
    n_test: int = 2000
    batch_size: int = 256
    eval_batch_size: int = 2000
    seed: int = 0
    resample_train: bool = False
    operating_points: dict | None = None
    points_per_batch: int = 8
    grid_points: int = 40
    channel_file: str | None = None
    chunk_rows: int | None = None


@dataclass(frozen=True)
class OptimConfig:
    """The optimiser of Sec. V: Adam with ReduceLROnPlateau on the validation loss.

    Attributes:
        learning_rate: Adam's initial learning rate.
        lr_factor: the plateau schedule's factor, in (0, 1).
        lr_patience: its patience in epochs.
        lr_threshold: the smallest decrease of the validation loss that counts as
            progress, absolute (docs/training.md, "Decisions the paper leaves open").
    """

    learning_rate: float = 1e-3
    lr_factor: float = 0.33
    lr_patience: int = 10
    lr_threshold: float = 1e-4


DEFAULT_GROUPS = {
    "system": SystemConfig,
    "csi": CsiConfig,
    "data": DataConfig,
    "optim": OptimConfig,
}

NAMED_OPTIONS = {
    "target": {model: asdict(TargetConfig(model=model)) for model in TARGET_MODELS},
    "channel": {
        model: {k: v for k, v in asdict(ChannelConfig()).items() if k not in SET_FROM_DATA}
        | {"model": model}
        for model in CHANNEL_MODELS
    },
}
"""Groups whose options are named by their model: ``target=paper|directions`` (the target
model, :mod:`isac.physics.targets`) and ``channel=rayleigh|rician|tr38901|file`` (the users'
channels, :mod:`isac.physics.channels`); each option's values are its dataclass's defaults,
but for the channel file and its blocks, which come from ``data``."""


def target_of(cfg: DictConfig) -> TargetConfig:
    """The validated target model of a config (the paper's where it has none: runs of
    earlier versions)."""
    values = cfg.get("target")
    if values is None:
        return TargetConfig()
    return checks.settings_of("target", TargetConfig, OmegaConf.to_container(values, resolve=True))


def channel_of(cfg: DictConfig) -> ChannelConfig:
    """The validated users' channel model of a config (Rayleigh where it has none); for
    ``channel=file``, with the file and its blocks' rows from ``cfg.data``."""
    values = cfg.get("channel")
    if values is None:
        return ChannelConfig()
    values = dict(OmegaConf.to_container(values, resolve=True))
    given = sorted(set(values) & set(SET_FROM_DATA))
    if given:
        raise checks.SettingsError(
            f"channel.{given[0]} is not a setting; the channel file is data.channel_file"
        )
    if values.get("model") == "file":
        data = cfg.get("data") or {}
        values["path"] = data.get("channel_file")
        values["split_rows"] = tuple(
            checks.positive_int(f"data.{name}", _or_default(data.get(name), name))
            for name in ("n_train", "n_val", "n_test")
        )
    return checks.settings_of("channel", ChannelConfig, values)


def _or_default(value: object, name: str) -> object:
    return getattr(DataConfig, name) if value is None else value


def _if_set(value: object, yes: object, no: object) -> object:
    return no if value in (None, "") else yes


def _evaluation_dir(run: object, default: str) -> str:
    if run not in (None, "") and (Path(str(run)) / CONFIG_FILE).is_file():
        return str(Path(str(run)) / "evaluation")
    return default


def register() -> None:
    """Register the default groups and the resolvers the configs use (idempotent).

    Resolvers:

    - ``${isac_if_set:value,a,b}``: ``a`` when ``value`` is set (not null or empty), else ``b``.
    - ``${isac_evaluation_dir:run,default}``: ``<run>/evaluation`` when ``run`` is a training
      run directory, else ``default`` (so a mistyped run creates nothing there).
    """
    store = ConfigStore.instance()
    for group, defaults in DEFAULT_GROUPS.items():
        # plain values, not a typed schema: the dataclasses validate when built, with
        # messages that name the setting and its range
        store.store(group=group, name="default", node=asdict(defaults()))
    for group, options in NAMED_OPTIONS.items():
        for name, node in options.items():
            store.store(group=group, name=name, node=node)
    OmegaConf.register_new_resolver("isac_if_set", _if_set, replace=True)
    OmegaConf.register_new_resolver("isac_evaluation_dir", _evaluation_dir, replace=True)


def compose_config(config_name: str = "config", overrides: list[str] | None = None) -> DictConfig:
    """Compose ``conf/<config_name>.yaml`` with ``overrides`` outside a Hydra app (tests,
    benchmarks, notebooks), as ``train.py`` or ``evaluate.py`` would see it."""
    register()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name=config_name, overrides=list(overrides or []))
