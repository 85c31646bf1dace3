"""Operating points of a universal network: their ranges, draws, grids and conditioning.

An operating point is a system (alpha, SNR_s, SNR_c, K, N_t, N_r) and a CSI accuracy
beta. A universal network (:mod:`isac.learning.universal`) serves every point of its
:class:`OperatingRanges` with one set of weights; the data module draws training points
from them (:meth:`OperatingRanges.draw`) and fixes validation and test points on a seeded
Latin-hypercube grid (:meth:`OperatingRanges.grid`). The other settings (L, noise) are
the run's ``system``'s. docs/training.md, "One network for every operating point".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

import torch

from isac import checks
from isac.physics.system import SystemConfig

SIZE_RANGES = ("n_users", "n_tx", "n_rx")
UNIT_RANGES = ("alpha", "beta")


@dataclass(frozen=True)
class OperatingPoint:
    """One system and its CSI accuracy beta."""

    system: SystemConfig
    beta: float

    def settings(self) -> dict[str, float | int]:
        """Every setting of the point by name: the system's and ``beta``."""
        return {**self.system.to_dict(), "beta": self.beta}


@dataclass(frozen=True)
class OperatingRanges:
    """Closed ranges [min, max] of every setting of an operating point.

    Attributes:
        alpha, beta: in [0, 1]. snr_s_db, snr_c_db: finite, in dB.
        n_users, n_tx, n_rx: integers >= 1 (their maxima are the largest sizes served).
    """

    alpha: tuple[float, float]
    snr_s_db: tuple[float, float]
    snr_c_db: tuple[float, float]
    beta: tuple[float, float]
    n_users: tuple[int, int]
    n_tx: tuple[int, int]
    n_rx: tuple[int, int]

    @classmethod
    def from_config(
        cls, values: Mapping[str, Any], setting: str = "data.operating_points"
    ) -> OperatingRanges:
        """Validated ranges from ``{name: [min, max]}`` (every name of the dataclass).

        Raises:
            checks.SettingsError: a name is missing or unknown, a range is not two
                numbers, its minimum is above its maximum, or a value is out of its domain.
        """
        if not isinstance(values, Mapping):
            raise checks.SettingsError(
                f"{setting} must map each of {[f.name for f in fields(cls)]} to [min, max]"
            )
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(values) - set(names))
        missing = [name for name in names if name not in values]
        if unknown or missing:
            problem = f"{unknown[0]!r} is not one" if unknown else f"{missing[0]!r} is missing"
            raise checks.SettingsError(f"{setting}: {problem}; it needs ranges of {names}")
        ranges = {}
        for name in names:
            where = f"{setting}.{name}"
            pair = values[name]
            if isinstance(pair, str | bytes) or not hasattr(pair, "__len__") or len(pair) != 2:
                raise checks.SettingsError(f"{where} must be [min, max], got {pair!r}")
            if name in SIZE_RANGES:
                low, high = (checks.positive_int(where, value) for value in pair)
            elif name in UNIT_RANGES:
                low, high = (checks.in_unit_interval(where, value) for value in pair)
            else:
                low, high = (checks.finite_real(where, value) for value in pair)
            if low > high:
                raise checks.SettingsError(
                    f"{where} must be [min, max] with min <= max, got [{low}, {high}]"
                )
            ranges[name] = (low, high)
        return cls(**ranges)

    def to_dict(self) -> dict[str, list[float | int]]:
        """Plain lists, safe to store in a checkpoint."""
        return {f.name: list(getattr(self, f.name)) for f in fields(self)}

    def check_base(self, base: SystemConfig) -> None:
        """Refuse a base system whose waveform cannot serve the largest N_t (L > N_t)."""
        if base.waveform_len <= self.n_tx[1]:
            raise checks.SettingsError(
                f"system.waveform_len={base.waveform_len} must be > the largest n_tx "
                f"{self.n_tx[1]} of the operating points (Sec. II, L > N_t)"
            )

    def check_fixed_sizes(self, base: SystemConfig, reason: str) -> None:
        """Refuse ranges of N_r or K other than ``base``'s own, for ``reason``."""
        for name in ("n_rx", "n_users"):
            value = getattr(base, name)
            if getattr(self, name) != (value, value):
                raise checks.SettingsError(
                    f"data.operating_points.{name} must be [{value}, {value}] with {reason}, "
                    f"got {list(getattr(self, name))}"
                )

    def refusal(self, point: OperatingPoint) -> str | None:
        """None for a point inside the ranges; else the first setting outside, with its
        trained range, in one line."""
        values = point.settings()
        for f in fields(self):
            low, high = getattr(self, f.name)
            if not low <= values[f.name] <= high:
                prefix = "csi" if f.name == "beta" else "system"
                return (
                    f"{prefix}.{f.name}={values[f.name]} is outside the range "
                    f"[{low}, {high}] this universal network was trained for"
                )
        return None

    def condition(self, point: OperatingPoint) -> torch.Tensor:
        """real [N_CONDITIONS]: each setting of ``point`` mapped onto [0, 1] over its range
        (0.5 for a range of one value), the network's conditioning input."""
        values = point.settings()
        scaled = []
        for f in fields(self):
            low, high = getattr(self, f.name)
            scaled.append(0.5 if high == low else (values[f.name] - low) / (high - low))
        return torch.tensor(scaled, dtype=torch.float32)

    def _point(self, base: SystemConfig, unit: list[float]) -> OperatingPoint:
        """The point at unit coordinates ``unit`` (one per field, in [0, 1))."""
        values = {}
        for f, u in zip(fields(self), unit, strict=True):
            low, high = getattr(self, f.name)
            if f.name in SIZE_RANGES:  # each integer of [low, high] equally likely
                values[f.name] = min(low + int(u * (high - low + 1)), high)
            else:
                values[f.name] = low + u * (high - low)
        beta = values.pop("beta")
        return OperatingPoint(replace(base, **values), beta)

    def draw(self, base: SystemConfig, n: int, generator: torch.Generator) -> list[OperatingPoint]:
        """``n`` points drawn uniformly from the ranges (sizes uniform over their integers)."""
        unit = torch.rand((n, len(fields(self))), generator=generator, dtype=torch.float64)
        return [self._point(base, row.tolist()) for row in unit]

    def grid(self, base: SystemConfig, n: int, generator: torch.Generator) -> list[OperatingPoint]:
        """``n`` points of a Latin hypercube over the ranges: every setting takes each of
        ``n`` evenly spaced levels once (cell centres; integers spread over their values),
        with the levels of different settings paired by seeded permutations."""
        dims = len(fields(self))
        levels = (torch.arange(n, dtype=torch.float64) + 0.5) / n
        columns = [levels[torch.randperm(n, generator=generator)] for _ in range(dims)]
        return [self._point(base, list(row)) for row in torch.stack(columns, -1).tolist()]


N_CONDITIONS = len(fields(OperatingRanges))
