"""What the Hydra entry points share: resolvers and the clean exit on bad settings."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import OmegaConf

from isac.checks import SettingsError


def register_resolvers() -> None:
    """``${isac_if_resume:resume,a,b}``: ``a`` when ``resume`` is set, else ``b``."""
    OmegaConf.register_new_resolver(
        "isac_if_resume", lambda resume, yes, no: no if resume in (None, "") else yes,
        replace=True,
    )


def is_interactive() -> bool:
    """A single run in a terminal (not a multirun sweep job, not piped)."""
    return HydraConfig.get().mode == RunMode.RUN and sys.stderr.isatty()


def exit_on_settings_error(task: Callable[[], Any]) -> Any:
    """Run ``task``; a :class:`SettingsError` ends the program with its message, no traceback."""
    try:
        return task()
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
