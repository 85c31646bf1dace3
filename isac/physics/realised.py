"""The WSNR a base station realises under imperfect CSI: its design and its beams come
from H_hat, the rates from the true channel H (docs/model.md, item 16).

With H = sqrt(beta) H_hat + E, the BS forms the MMSE beams W of its receiver's model of
H_hat (:meth:`~isac.physics.receivers.Receiver.model`) at the design's echo power, and
realises

- Rs (14) with the true users' interference: sigma_h of H P H^H + noise I;
- Rc = mean_k log2(1 + SINR_k) with the SINR (7)/(19) of the beams W on H;

normalised by the true channel's M_s and M_c, as the evaluation scores every design
(:func:`isac.experiments.comparison.score`). No closed form gives E[WSNR(H) | H_hat], but
the realised WSNR of one draw is differentiable in sigma_s, so a network can be trained
on it directly (``csi.objective=realised``, :mod:`isac.learning.data`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from isac import checks
from isac.physics import rates
from isac.physics.instances import PerInstance
from isac.physics.problem import ProblemTerms
from isac.physics.receivers import Receiver
from isac.physics.recover import mmse_beams
from isac.physics.system import SystemConfig

OBJECTIVES = ("model", "realised")
"""What a design is trained for: its receiver's model of H_hat, or the realised WSNR."""


@dataclass(frozen=True)
class RealisedTerms(PerInstance):
    """Per-instance quantities of the realised WSNR, with the interface of
    :class:`~isac.physics.problem.ProblemTerms` that training and its metrics use
    (``wsnr``, ``evaluate``).

    Attributes:
        truth: the terms of the true channel H: sigma_t, sigma_h, M_s and M_c.
        H: complex [n, n_rx, n_users], the true channel.
        p: real [n, n_users], the users' powers.
        beam_channel: complex [n, n_rx, n_users], the channel of the receiver's model of
            H_hat, which its beams are formed for.
        beam_noise: real [n], the noise level of that model.
    """

    truth: ProblemTerms
    H: torch.Tensor
    p: torch.Tensor
    beam_channel: torch.Tensor
    beam_noise: torch.Tensor

    @classmethod
    def from_channels(
        cls,
        receiver: Receiver,
        H: torch.Tensor,
        H_hat: torch.Tensor,
        p: torch.Tensor,
        sigma_t: torch.Tensor,
        system: SystemConfig,
    ) -> RealisedTerms:
        """The terms of the true channels H and estimates H_hat [n, n_rx, n_users], powers
        p [n, n_users] and R_T eigenvalues sigma_t [n, n_tx], for the beams of
        ``receiver`` (naive or robust: a genie's beams are H's own, and its objective is
        the model's); in float64."""
        if receiver.kind == "genie":
            raise ValueError("a genie's realised WSNR is its model's: use ProblemTerms")
        checks.shape("H_hat", H_hat, tuple(H.shape))
        H, H_hat, p = H.to(torch.complex128), H_hat.to(torch.complex128), p.double()
        channel, noise = receiver.model(H_hat, p, system)
        truth = ProblemTerms.from_channels(H, p, sigma_t.double(), system)
        return cls(truth, H, p, channel, noise)

    def __len__(self) -> int:
        return self.H.shape[0]

    def evaluate(self, sigma_s: torch.Tensor, system: SystemConfig) -> dict[str, torch.Tensor]:
        """Per-instance realised metrics of ``sigma_s`` [n, n_tx], with the keys of
        :meth:`ProblemTerms.evaluate`; differentiable in sigma_s.

        Returns:
            dict of real [n]: ``wsnr``, ``rate_s``, ``rate_c``, ``sum_rate_c``, ``power``.
        """
        truth = self.truth
        rate_s = truth.sensing_rate(sigma_s, system)
        W = mmse_beams(
            self.beam_channel, self.p, sigma_s, truth.sigma_t, system.waveform_len, self.beam_noise
        )
        echo = rates.echo_interference(sigma_s, truth.sigma_t, system.waveform_len)
        rate_c = rates.rate_c_fixed_beams(self.H, self.p, W, echo, truth.comm_noise)
        return truth.metrics_of(sigma_s, rate_s, rate_c, system)

    def wsnr(self, sigma_s: torch.Tensor, system: SystemConfig) -> torch.Tensor:
        """real [n]: the realised WSNR of ``sigma_s`` [n, n_tx]."""
        return self.evaluate(sigma_s, system)["wsnr"]
