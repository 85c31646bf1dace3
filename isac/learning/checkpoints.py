"""Checkpoints: written atomically, read back safely, refused clearly when they do not fit.

Training saves through :class:`AtomicCheckpointIO`, so a run killed during a save
(even by ``kill -9``) keeps its previous ``last.ckpt`` whole. Reading goes through
:func:`read_checkpoint`, which loads with torch's safe ``weights_only=True`` and turns a
damaged file into one line that names it and says what to do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from isac import checks
from isac.files import write_atomically
from isac.learning.lit_module import ISACModule
from isac.learning.upgrade import upgrade_hyper_parameters
from isac.physics.receivers import Receiver
from isac.physics.system import SystemConfig
from isac.physics.targets import PAPER, TargetConfig


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint writer, saving to a temporary file beside the target, synced
    to disk and then renamed onto it (:func:`isac.files.write_atomically`)."""

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


def load_checkpoint(
    path: str | Path, remedy: str = "pick another checkpoint or train a new run"
) -> ISACModule:
    """Load a trained module, in eval mode, from its plain hyper-parameters (upgraded from
    an earlier version's form by :mod:`isac.learning.upgrade`) and weights.

    Raises:
        checks.SettingsError: the file is missing or damaged, names a network that is not
            registered, or its weights do not fit the network it names.
    """
    return module_of(read_checkpoint(path, remedy), path, remedy)


def module_of(checkpoint: dict[str, Any], path: str | Path, remedy: str) -> ISACModule:
    """The module of a read checkpoint (:func:`read_checkpoint`), in eval mode; raises as
    :func:`load_checkpoint`, naming ``path``."""
    hyper_parameters = checkpoint["hyper_parameters"]
    if not isinstance(hyper_parameters, dict):
        raise checks.SettingsError(
            f"checkpoint {str(path)!r} holds no hyper-parameters of this project; {remedy}"
        )
    try:
        module = ISACModule(**upgrade_hyper_parameters(hyper_parameters))
    except checks.SettingsError as error:
        raise checks.SettingsError(f"checkpoint {str(path)!r}: {error}") from None
    except TypeError as error:  # hyper-parameters of another shape
        raise checks.SettingsError(
            f"checkpoint {str(path)!r} holds no hyper-parameters of this project ({error}); "
            f"{remedy}"
        ) from None
    try:
        module.load_state_dict(checkpoint["state_dict"])
    except (RuntimeError, TypeError, AttributeError) as error:
        raise checks.SettingsError(
            f"checkpoint {str(path)!r}: its weights do not fit the {module.name} network it "
            f"names ({str(error).splitlines()[0]}); {remedy}"
        ) from None
    return module.eval()


def load_for(
    path: str | Path,
    system: SystemConfig,
    receiver: Receiver,
    target: TargetConfig = PAPER,
    remedy: str = "pick another checkpoint or train a new run",
) -> ISACModule:
    """:func:`load_checkpoint`, refused unless its network serves ``system``, ``receiver``
    and ``target`` (:meth:`~isac.learning.lit_module.ISACModule.refusal`: the target model
    it was trained for; a per-point network its trained sizes, a universal network its
    ranges).

    Raises:
        checks.SettingsError: as :func:`load_checkpoint`, or the network cannot serve them.
    """
    module = load_checkpoint(path, remedy)
    reason = module.refusal(system, receiver, target)
    if reason is not None:
        raise checks.SettingsError(f"checkpoint {str(path)!r} cannot design here: {reason}")
    return module
