"""What the Hydra entry points share: the sweep point of a job, the check that a sweep job
does not start data-parallel processes of its own, and the clean exit on bad settings.
The configs' defaults and resolvers are registered by :mod:`isac.config`."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.types import RunMode

from isac.checks import SettingsError


def is_interactive() -> bool:
    """A single run in a terminal (not a multirun sweep job, not piped)."""
    return HydraConfig.get().mode == RunMode.RUN and sys.stderr.isatty()


def _flatten(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return {
            k: v for name, item in value.items() for k, v in _flatten(f"{key}.{name}", item).items()
        }
    return {key: value}


def sweep_point() -> dict[str, Any]:
    """The settings this job of a multirun set, ``{dotted key: value}``; {} for a single run.

    Read from the job's overrides with Hydra's own parser, so ``system={n_tx:4}`` and
    ``system.n_tx=4`` both give ``{"system.n_tx": 4}``; Hydra's own settings are left out.
    """
    hydra_cfg = HydraConfig.get()
    if hydra_cfg.mode != RunMode.MULTIRUN:
        return {}
    point: dict[str, Any] = {}
    for override in OverridesParser.create().parse_overrides(list(hydra_cfg.overrides.task)):
        key = override.key_or_group
        if not key.startswith("hydra"):
            point.update(_flatten(key, override.value()))
    return point


def exit_on_settings_error(task: Callable[[], Any]) -> Any:
    """Run ``task``; a :class:`SettingsError` ends the program with its message, no traceback."""
    try:
        return task()
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


def check_processes_fit_the_job(trainer: Mapping[str, Any]) -> None:
    """Refuse, in a sweep job, a data-parallel strategy whose processes Lightning would
    start itself.

    Lightning starts the other processes of a DDP run by running the entry point again
    with the first process's run directory. A sweep job's directory is the sweep's, which
    that relaunch does not know, so every process would make a sweep of its own. Under
    SLURM (one task per device, ``SLURM_NTASKS`` set) Lightning starts nothing and a sweep
    job may use DDP.
    """
    if HydraConfig.get().mode != RunMode.MULTIRUN or "SLURM_NTASKS" in os.environ:
        return
    devices, nodes = trainer.get("devices", 1), trainer.get("num_nodes", 1)
    several = (isinstance(devices, int) and devices > 1) or (
        isinstance(devices, list | tuple) and len(devices) > 1
    )
    strategy = str(trainer.get("strategy", "auto"))
    if ("ddp" in strategy and "spawn" not in strategy) and (several or nodes > 1):
        raise SettingsError(
            f"trainer.strategy={strategy} with trainer.devices={devices} starts its processes "
            "by running train.py again, which a -m sweep job cannot do (each process would "
            "make a sweep of its own): run it without -m, or through hydra/launcher=slurm "
            "with one task per device (README)"
        )
