"""The target model: the paper's analysis model (Remark 1), or targets at directions, eq. (2).

- ``paper`` (the default): every column of the target response G has the transmit
  correlation R_T, and the receive side is uncorrelated (R_g = I_Nr (x) R_T). The design
  is n_tx powers along R_T's eigenvectors (Sec. III).
- ``directions``: G = sum_i beta_i a(theta_i) b(theta_i)^T, eq. (2), with M targets at
  directions theta_i seen through uniform linear arrays of N_t and N_r elements, and
  independent reflection coefficients beta_i ~ CN(0, s_i^2) (Swerling-I-like). The base
  station knows the directions, as a tracking radar does. The design is a transmit
  covariance R_x = S^H S (docs/model.md, item 15; :mod:`isac.physics.directional`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from isac import checks

TARGET_MODELS = ("paper", "directions")


@dataclass(frozen=True)
class TargetConfig:
    """The target model and, for ``directions``, its targets.

    Attributes:
        model: ``paper`` or ``directions``.
        n_targets: M, the number of targets (>= 1).
        center_deg, width_deg: the sector the directions are drawn from, uniformly and
            independently per target and sample, in degrees from broadside:
            [center - width/2, center + width/2], inside (-90, 90).
        variances: s_i^2 > 0 of the reflection coefficients, one per target or one for all.
            The default 1/(2M) each makes E[tr(sum_i s_i^2 a_i a_i^H)] = N_t/2, the
            paper's E[tr R_T] (eigenvalues U(0, 1)).
        spacing: the arrays' element spacing in wavelengths (> 0; 0.5 is half a wavelength).
    """

    model: str = "paper"
    n_targets: int = 1
    center_deg: float = 0.0
    width_deg: float = 120.0
    variances: tuple[float, ...] = field(default_factory=tuple)
    spacing: float = 0.5

    def __post_init__(self) -> None:
        checks.one_of("target.model", self.model, TARGET_MODELS)
        checks.positive_int("target.n_targets", self.n_targets)
        sector("target", self.center_deg, self.width_deg)
        variances = tuple(self.variances)
        if len(variances) not in (0, 1, self.n_targets):
            raise checks.SettingsError(
                f"target.variances must hold one value or n_targets = {self.n_targets}, "
                f"got {len(variances)}"
            )
        for value in variances:
            checks.positive_real("target.variances[]", value)
        object.__setattr__(self, "variances", tuple(float(v) for v in variances))
        checks.positive_real("target.spacing", self.spacing)

    def variance_per_target(self) -> tuple[float, ...]:
        """s_i^2 of each of the M targets."""
        if not self.variances:
            return (1.0 / (2 * self.n_targets),) * self.n_targets
        if len(self.variances) == 1:
            return self.variances * self.n_targets
        return self.variances

    @property
    def sector_deg(self) -> tuple[float, float]:
        """[min, max] of the directions, in degrees."""
        return (self.center_deg - self.width_deg / 2, self.center_deg + self.width_deg / 2)


def sector(group: str, center_deg: object, width_deg: object) -> None:
    """Refuse a sector [center - width/2, center + width/2] outside (-90, 90) degrees."""
    center = checks.finite_real(f"{group}.center_deg", center_deg)
    width = checks.finite_real(f"{group}.width_deg", width_deg)
    if width < 0 or not -90.0 < center - width / 2 <= center + width / 2 < 90.0:
        raise checks.SettingsError(
            f"{group}: the sector center_deg +- width_deg/2 = [{center - width / 2:g}, "
            f"{center + width / 2:g}] degrees must lie inside (-90, 90) with width_deg >= 0"
        )


PAPER = TargetConfig()


def steering(n: int, angles: torch.Tensor, spacing: float) -> torch.Tensor:
    """Steering vectors of a uniform linear array of ``n`` elements, as columns.

    a(theta)_m = exp(j 2 pi spacing m sin(theta)), m = 0..n-1 (||a||^2 = n).

    Args:
        angles: real [..., M], directions in radians from broadside.
        spacing: element spacing in wavelengths.

    Returns:
        complex [..., n, M] (complex128 for float64 angles).
    """
    elements = torch.arange(n, dtype=angles.dtype, device=angles.device)
    phase = 2.0 * math.pi * spacing * elements[:, None] * torch.sin(angles)[..., None, :]
    return torch.polar(torch.ones_like(phase), phase)
