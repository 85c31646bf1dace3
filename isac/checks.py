"""Input validation with messages that name the setting and its allowed range.

Every public entry point validates its settings before doing any work, so a bad
value fails fast with a message a user can act on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import fields
from numbers import Integral, Real
from typing import Any, TypeVar

import torch

T = TypeVar("T")


class SettingsError(ValueError):
    """A setting is outside its allowed range; the message names the setting and the range."""


def positive_int(name: str, value: object) -> int:
    """Return ``value`` as an int, or raise if it is not an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise SettingsError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def in_unit_interval(name: str, value: object) -> float:
    """Return ``value`` as a float, or raise if it is not a real number in [0, 1]."""
    if isinstance(value, bool) or not isinstance(value, Real) or not 0.0 <= float(value) <= 1.0:
        raise SettingsError(f"{name} must be a real number in [0, 1], got {value!r}")
    return float(value)


def finite_real(name: str, value: object) -> float:
    """Return ``value`` as a float, or raise if it is not a finite real number."""
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(float(value)):
        raise SettingsError(f"{name} must be a finite real number, got {value!r}")
    return float(value)


def positive_real(name: str, value: object) -> float:
    """Return ``value`` as a float, or raise if it is not a finite real number > 0."""
    number = finite_real(name, value)
    if number <= 0.0:
        raise SettingsError(f"{name} must be a finite real number > 0, got {value!r}")
    return number


def non_negative_tensor(name: str, tensor: torch.Tensor) -> None:
    """Raise if ``tensor`` holds a negative or non-finite entry."""
    if not torch.isfinite(tensor).all() or (tensor < 0).any():
        raise SettingsError(
            f"{name} must be finite and >= 0 (a power), got min {tensor.min().item()}"
        )


def shape(name: str, tensor: torch.Tensor, expected: tuple[int | None, ...]) -> None:
    """Raise if ``tensor`` does not have ``expected`` shape (``None`` matches any size)."""
    actual = tuple(tensor.shape)
    if len(actual) != len(expected) or any(
        e is not None and a != e for a, e in zip(actual, expected, strict=True)
    ):
        wanted = "[" + ", ".join("*" if e is None else str(e) for e in expected) + "]"
        raise SettingsError(f"{name} must have shape {wanted}, got {list(actual)}")


def positive_float_in(name: str, value: object, low: float, high: float) -> float:
    """Return ``value`` as a float, or raise if it is not a real number in (low, high)."""
    number = finite_real(name, value)
    if not low < number < high:
        raise SettingsError(f"{name} must be a real number in ({low:g}, {high:g}), got {value!r}")
    return number


def non_negative_int(name: str, value: object) -> int:
    """Return ``value`` as an int, or raise if it is not an integer >= 0."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 0:
        raise SettingsError(f"{name} must be an integer >= 0, got {value!r}")
    return int(value)


def int_in(name: str, value: object, low: int, high: int) -> int:
    """Return ``value`` as an int, or raise if it is not an integer in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, Integral) or not low <= value <= high:
        raise SettingsError(f"{name} must be an integer in [{low}, {high}], got {value!r}")
    return int(value)


def one_of(name: str, value: object, allowed: tuple[str, ...]) -> str:
    """Return ``value``, or raise if it is not one of ``allowed``."""
    if value not in allowed:
        raise SettingsError(f"{name} must be one of {list(allowed)}, got {value!r}")
    return str(value)


def plain_mapping(name: str, value: object) -> Mapping[str, Any]:
    """Return ``value``, or raise if it is not a mapping (a settings group)."""
    if not isinstance(value, Mapping):
        raise SettingsError(f"{name} must be a mapping of settings, got {value!r}")
    return value


def settings_of(group: str, cls: type[T], values: Mapping[str, Any]) -> T:
    """``cls(**values)`` for a settings dataclass, refusing keys it does not have.

    Raises:
        SettingsError: a key of ``values`` is not a field of ``cls``; the message names it
            as ``<group>.<key>`` and lists the allowed ones.
    """
    allowed = [f.name for f in fields(cls)]
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise SettingsError(f"{group}.{unknown[0]} is not a setting; {group} has {allowed}")
    return cls(**values)
