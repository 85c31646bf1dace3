"""The training loggers, each under a key (``logger.kind``), built from plain options.

As networks (:mod:`isac.learning.network_registry`), a logger is chosen by a key of
:data:`LOGGERS`, never by a class path, so a run's saved ``config.yaml`` cannot choose
what code a resume runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import CSVLogger, Logger, TensorBoardLogger

from isac import checks


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise checks.SettingsError(f"{name} must be a string, got {value!r}")
    return value


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise checks.SettingsError(f"{name} must be true or false, got {value!r}")
    return value


LOGGERS: dict[str, tuple[type[Logger] | None, dict[str, Callable[[str, Any], Any]]]] = {
    "tensorboard": (
        TensorBoardLogger,
        {"name": _text, "version": _text, "default_hp_metric": _flag},
    ),
    "csv": (CSVLogger, {"name": _text, "version": _text}),
    "none": (None, {}),
}
"""key -> (Lightning logger class or None, {option: validator})."""


def logger_spec(spec: Mapping[str, Any] | None) -> tuple[type[Logger] | None, dict[str, Any]]:
    """The registered logger class of ``spec`` (``kind``; None for ``none``) and its
    options, each checked by its validator.

    Raises:
        checks.SettingsError: an unknown kind or option, or a bad value.
    """
    if spec is not None and not isinstance(spec, Mapping):
        raise checks.SettingsError(f"logger must be a mapping with kind, got {spec!r}")
    spec = dict(spec or {"kind": "none"})
    kind = spec.pop("kind", None)
    if kind not in LOGGERS:
        raise checks.SettingsError(f"logger.kind must be one of {list(LOGGERS)}, got {kind!r}")
    cls, validators = LOGGERS[kind]
    options = {}
    for name, value in spec.items():
        if name not in validators:
            raise checks.SettingsError(
                f"logger.{name} is not an option of the {kind} logger "
                f"(options: {list(validators) or 'none'})"
            )
        options[name] = validators[name](f"logger.{name}", value)
    return cls, options


def build_logger(spec: Mapping[str, Any] | None, run_dir: Path) -> Logger | bool:
    """The logger of ``spec`` writing under ``run_dir`` (:func:`logger_spec`), or False
    for ``kind: none``."""
    cls, options = logger_spec(spec)
    return False if cls is None else cls(save_dir=str(run_dir), **options)
