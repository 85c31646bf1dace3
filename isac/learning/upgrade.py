"""The one upgrade path for runs and checkpoints saved by earlier versions.

Three forms have been saved (docs/training.md, "Runs of earlier versions"):

- **v0**: a checkpoint's hyper-parameters name the network as a string (``network:
  isacnn``) with the optimiser settings beside it; a run's ``config.yaml`` has the
  optimiser settings under ``model`` and no ``model.network``;
- **v1**: the network and the logger are named by a class path (``_target_``);
- **v2** (today): both by a registry key (``kind``).

Each older form is turned into v2 here, and only here. Nothing a file holds is ever used
as a path or imported: a v1 class path is looked up in :data:`V1_NETWORKS` and
:data:`V1_LOGGERS`, tables of the classes the project itself wrote, and anything else is
refused; a v0 name must be a network of that version, whose model config is then read
from the project's own ``conf/model/``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from omegaconf import OmegaConf

from isac import checks
from isac.config import CONF_DIR, OptimConfig

V0_NETWORKS = ("isacnn", "fcnn")
"""The networks of v0, whose model configs were not saved with the run."""

V1_NETWORKS = {
    "isac.learning.networks.ISACNN": "isacnn",
    "isac.learning.networks.FCNN": "fcnn",
    "isac.learning.price_network.PriceNet": "pricenet",
    "isac.learning.universal.UniversalPriceNet": "universal",
}
"""v1 class paths of the project's networks, and their registry keys."""

V1_DROPPED_OPTIONS = ("receiver", "beta")
"""v1 options of PriceNet and the universal network that v2 takes from the problem batch
(its receiver and CSI accuracy; the run's ``csi`` still records them)."""

V1_LOGGERS = {
    None: "none",
    "lightning.pytorch.loggers.TensorBoardLogger": "tensorboard",
    "lightning.pytorch.loggers.tensorboard.TensorBoardLogger": "tensorboard",
}
"""v1 logger class paths the project's configs wrote, and their registry keys."""


def _refuse_target(setting: str, target: Any, known: Mapping[Any, str]) -> str:
    if target not in known:
        raise checks.SettingsError(
            f"{setting}._target_={target!r} names code, not one of the project's "
            f"{'networks' if 'network' in setting else 'loggers'}; a saved run may only name "
            f"{sorted(k for k in known if k)} (refused, nothing was run)"
        )
    return known[target]


def _v0_model(name: Any, setting: str) -> dict[str, Any]:
    if name not in V0_NETWORKS:
        raise checks.SettingsError(
            f"{setting} names network {name!r}; runs of that version trained only "
            f"{list(V0_NETWORKS)}"
        )
    model = OmegaConf.to_container(OmegaConf.load(CONF_DIR / "model" / f"{name}.yaml"))
    return {**model, "network": {"kind": name}}


def upgrade_model(model: Any, setting: str = "model") -> dict[str, Any]:
    """A saved model config (``name``, ``label``, ``style``, ``network``) in the v2 form.

    Raises:
        checks.SettingsError: it is not a mapping, or names a network by code.
    """
    if not isinstance(model, Mapping):
        raise checks.SettingsError(f"{setting} must be a mapping, got {type(model).__name__}")
    if "network" not in model:  # v0
        return _v0_model(model.get("name"), f"{setting}.name")
    network = model["network"]
    if not isinstance(network, Mapping) or "_target_" not in network:
        return dict(model)
    kind = _refuse_target(f"{setting}.network", network["_target_"], V1_NETWORKS)
    options = {
        name: value
        for name, value in network.items()
        if name != "_target_" and name not in V1_DROPPED_OPTIONS
    }
    return {**model, "network": {"kind": kind, **options}}


def upgrade_logger(logger: Any) -> dict[str, Any]:
    """A saved logger config in the v2 form (``kind`` and options).

    Raises:
        checks.SettingsError: it names a logger class the project never wrote.
    """
    if not isinstance(logger, Mapping) or "_target_" not in logger:
        return dict(logger) if isinstance(logger, Mapping) else {"kind": "none"}
    kind = _refuse_target("logger", logger["_target_"], V1_LOGGERS)
    return {"kind": kind, **{k: v for k, v in logger.items() if k != "_target_"}}


def upgrade_run_config(saved: dict[str, Any]) -> dict[str, Any]:
    """A run's saved ``config.yaml`` (as a plain dict) in the v2 form."""
    saved = dict(saved)
    model = saved.get("model")
    if isinstance(model, Mapping) and "network" not in model:  # v0: optim under model
        saved["optim"] = {f.name: model[f.name] for f in fields(OptimConfig) if f.name in model}
    if model is not None:
        saved["model"] = upgrade_model(model)
    if "logger" in saved:
        saved["logger"] = upgrade_logger(saved["logger"])
    return saved


def upgrade_hyper_parameters(hyper_parameters: Mapping[str, Any]) -> dict[str, Any]:
    """A checkpoint's hyper-parameters in the v2 form: ``system``, ``model``, ``optim`` and
    ``run_config``.

    Raises:
        checks.SettingsError: a network named by code, or a v0 name of no v0 network.
    """
    name = hyper_parameters.get("network")
    if name is not None and "model" not in hyper_parameters:  # v0
        return {
            "system": hyper_parameters.get("system"),
            "model": _v0_model(name, "checkpoint network"),
            "optim": {f.name: hyper_parameters.get(f.name) for f in fields(OptimConfig)},
            "run_config": hyper_parameters.get("run_config"),
        }
    return {
        **hyper_parameters,
        "model": upgrade_model(hyper_parameters.get("model"), "checkpoint model"),
    }
