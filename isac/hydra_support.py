"""What the Hydra entry points share: resolvers and the clean exit on bad settings."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import OmegaConf

from isac.checks import SettingsError
from isac.training import CONFIG_FILE


def register_resolvers() -> None:
    """Register the resolvers the configs use.

    - ``${isac_if_set:value,a,b}``: ``a`` when ``value`` is set (not null or empty), else ``b``.
    - ``${isac_evaluation_dir:run,default}``: ``<run>/evaluation`` when ``run`` is a training
      run directory, else ``default`` (so a mistyped run creates nothing there).
    """
    OmegaConf.register_new_resolver(
        "isac_if_set", lambda value, yes, no: no if value in (None, "") else yes, replace=True
    )
    OmegaConf.register_new_resolver(
        "isac_evaluation_dir",
        lambda run, default: (
            str(Path(run) / "evaluation")
            if run not in (None, "") and (Path(run) / CONFIG_FILE).is_file()
            else default
        ),
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
