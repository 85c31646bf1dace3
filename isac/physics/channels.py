"""The users' channel model: the paper's Rayleigh fading, or Rician users at directions.

- ``rayleigh`` (the default, Sec. V): h_k ~ CN(0, I), every user at SNR_c.
- ``rician``: a line-of-sight user at a direction phi_k drawn uniformly from a sector,
  h_k = sqrt(kappa/(1 + kappa)) e^(j psi_k) b(phi_k) + sqrt(1/(1 + kappa)) h_bar_k with
  h_bar_k the Rayleigh part and psi_k a uniform phase: the users then have directions,
  whose separation from the targets' (:mod:`isac.physics.targets`) sets how much sensing
  and communication share the receive space (docs/model.md, item 15).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from isac import checks
from isac.physics.targets import sector, steering

CHANNEL_MODELS = ("rayleigh", "rician")


@dataclass(frozen=True)
class ChannelConfig:
    """The users' channel model.

    Attributes:
        model: ``rayleigh`` or ``rician``.
        k_factor_db: the Rician K-factor kappa in dB (finite): the line of sight's power
            over the scattered power.
        center_deg, width_deg: the users' directions, uniform over [center - width/2,
            center + width/2] degrees, inside (-90, 90); their separation from the targets'
            is ``center_deg - target.center_deg``.
        spacing: the receive array's element spacing in wavelengths (> 0).
    """

    model: str = "rayleigh"
    k_factor_db: float = 10.0
    center_deg: float = 0.0
    width_deg: float = 120.0
    spacing: float = 0.5

    def __post_init__(self) -> None:
        checks.one_of("channel.model", self.model, CHANNEL_MODELS)
        checks.finite_real("channel.k_factor_db", self.k_factor_db)
        sector("channel", self.center_deg, self.width_deg)
        checks.positive_real("channel.spacing", self.spacing)

    @property
    def sector_deg(self) -> tuple[float, float]:
        """[min, max] of the users' directions, in degrees."""
        return (self.center_deg - self.width_deg / 2, self.center_deg + self.width_deg / 2)


RAYLEIGH = ChannelConfig()


def line_of_sight(
    config: ChannelConfig, rayleigh: torch.Tensor, generator: torch.Generator
) -> torch.Tensor:
    """The Rician channels of ``config`` from their Rayleigh part ``rayleigh``, complex
    [n, N_r, K] (float64): the directions and phases are drawn from ``generator``."""
    n, n_rx, n_users = rayleigh.shape
    low, high = (math.radians(v) for v in config.sector_deg)
    angles = low + (high - low) * torch.rand((n, n_users), generator=generator, dtype=torch.float64)
    phases = 2.0 * math.pi * torch.rand((n, n_users), generator=generator, dtype=torch.float64)
    direct = (
        steering(n_rx, angles, config.spacing)
        * torch.polar(torch.ones_like(phases), phases)[:, None, :]
    )
    kappa = 10.0 ** (config.k_factor_db / 10.0)
    return (kappa / (1.0 + kappa)) ** 0.5 * direct + (1.0 / (1.0 + kappa)) ** 0.5 * rayleigh
