"""Checkpoints: written atomically, read back safely, refused clearly when they do not fit.

Training saves through :class:`AtomicCheckpointIO`, so a run killed during a save
(even by ``kill -9``) keeps its previous ``last.ckpt`` whole. Reading goes through
:func:`read_checkpoint`, which loads with torch's safe ``weights_only=True`` and turns a
damaged file into one line that names it and says what to do.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO
from omegaconf import OmegaConf

from isac import checks
from isac.config import CONF_DIR, OptimConfig
from isac.experiments.runs import write_atomically
from isac.learning.lit_module import ISACModule
from isac.learning.operating_points import OperatingPoint
from isac.learning.universal import UniversalPriceNet
from isac.physics.system import SIZE_SETTINGS, SystemConfig


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint writer, saving to a temporary file beside the target, synced
    to disk and then renamed onto it (:func:`isac.experiments.runs.write_atomically`)."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any = None
    ) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options")
        write_atomically(path, lambda handle: torch.save(checkpoint, handle))


def read_checkpoint(path: str | Path, remedy: str) -> dict[str, Any]:
    """The contents of the checkpoint at ``path``, loaded with ``weights_only=True``.

    Args:
        path: a checkpoint written by training.
        remedy: what the user can do if it is missing or damaged, for the message.

    Raises:
        checks.SettingsError: the file is missing, damaged or not a checkpoint of this project.
    """
    path = Path(path)
    if not path.is_file():
        raise checks.SettingsError(f"checkpoint {str(path)!r} does not exist; {remedy}")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises RuntimeError, EOFError, UnpicklingError, ...
        problem = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise checks.SettingsError(
            f"checkpoint {str(path)!r} is damaged (truncated or not a checkpoint: {problem}); "
            f"{remedy}"
        ) from None
    if not isinstance(checkpoint, dict) or not {"hyper_parameters", "state_dict"} <= set(
        checkpoint
    ):
        raise checks.SettingsError(
            f"checkpoint {str(path)!r} is not a checkpoint of this project; {remedy}"
        )
    return checkpoint


def _upgrade(hyper_parameters: dict[str, Any]) -> dict[str, Any]:
    """Hyperparameters of an older checkpoint (``network`` a name, optimiser settings flat)
    in today's form, so that runs trained before still evaluate."""
    name = hyper_parameters.get("network")
    if not isinstance(name, str):
        return hyper_parameters
    optim = {f.name: hyper_parameters[f.name] for f in fields(OptimConfig)}
    return {
        "system": hyper_parameters["system"],
        "model": OmegaConf.to_container(OmegaConf.load(CONF_DIR / "model" / f"{name}.yaml")),
        "optim": optim,
        "run_config": hyper_parameters.get("run_config"),
    }


def load_checkpoint(
    path: str | Path,
    expected: SystemConfig | None = None,
    matching: tuple[str, ...] = SIZE_SETTINGS,
    remedy: str = "pick another checkpoint or train a new run",
    beta: float | None = None,
) -> ISACModule:
    """Load a trained module, in eval mode.

    Args:
        path: a checkpoint written by training.
        expected: if given, the system the caller will use; a checkpoint whose
            ``matching`` settings differ from it is refused. A universal network
            (:mod:`isac.learning.universal`) is instead bound to that system, and to
            ``beta`` (its trained home point's when None), if they lie in its ranges.
        matching: the :class:`SystemConfig` fields that must agree (by default the
            antenna and user counts, on which the network's sizes depend).
        remedy: what to do if the file is missing or damaged, for the message.
        beta: the CSI accuracy the caller will use (universal networks only).

    Raises:
        checks.SettingsError: the file is missing or damaged, or trained for another system
            (for a universal network: for ranges that do not hold the point).
    """
    checkpoint = read_checkpoint(path, remedy)
    module = ISACModule(**_upgrade(checkpoint["hyper_parameters"]))
    if isinstance(module.network, UniversalPriceNet):
        module.load_state_dict(checkpoint["state_dict"])
        return module.eval() if expected is None else bind(module.eval(), expected, beta)
    if expected is not None:
        for name in matching:
            trained, wanted = getattr(module.system, name), getattr(expected, name)
            if trained != wanted:
                raise checks.SettingsError(
                    f"checkpoint {str(path)!r} was trained for system.{name}={trained}, "
                    f"but system.{name}={wanted} was requested; use a checkpoint trained "
                    f"for {name}={wanted} or set system.{name}={trained}"
                )
    module.load_state_dict(checkpoint["state_dict"])
    return module.eval()


def bind(module: ISACModule, system: SystemConfig, beta: float | None = None) -> ISACModule:
    """A universal network's ``module`` bound to ``system`` and ``beta`` (its home point's
    when None): its ``network`` serves that point and ``system`` is it.

    Raises:
        checks.SettingsError: the point is outside the network's ranges.
    """
    home = module.network.point
    point = OperatingPoint(system, home.beta if beta is None else beta)
    module.network, module.system = module.network.at(point), system
    return module
