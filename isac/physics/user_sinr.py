"""The users' MMSE SINRs of eq. (26) as functions of the echo-and-noise level, in two forms.

With the MMSE beam (25), user k's SINR is gamma_k(c) = g_k^H (G_k G_k^H + c I)^-1 g_k,
g_i = sqrt(p_i) h_i, G_k the other users' g_i as columns, and c = t/L + noise the level
of echo power t = sigma_t . sigma_s and noise (26). Every rate of (28) that involves the
users needs gamma_k at many c, so the channels are reduced once, in one of two exact forms:

- :class:`PartialFractionSinr` (the project's default): gamma_k(c) = sum_m b_km/(a_km + c)
  from each user's interference eigendecomposition (:func:`rates.interference_eigh`):
  K eigendecompositions per instance, and a sum of positive terms, accurate in float32.
- :class:`ResolventSinr`: 1 + gamma_k(c) = 1/(c D_k(c)), D_k(c) = [(G^H G + c I)^-1]_kk
  = sum_m w_km/(lambda_m + c), from one eigendecomposition G^H G = V diag(lambda) V^H of
  the K x K Gram matrix (w_km = |V_km|^2), the one sigma_h needs anyway. By Sherman-Morrison,
  gamma_k = q_k/(1 - q_k) with q_k = g_k^H (G G^H + c I)^-1 g_k = [G^H G (G^H G + c I)^-1]_kk,
  and 1 - q_k = c D_k(c) because each row of V has unit norm. About five times cheaper to
  set up at K = 5; ln(1 + gamma) = -ln(c D) loses relative accuracy where gamma << 1 in
  float32, so it is for float64 (the PriceNet layer, docs/training.md).

Both give the rate (26) and its derivatives in c, which the price of echo power needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from isac.physics import rates
from isac.physics.arrays import array_namespace, eigh_hermitian
from isac.physics.instances import PerInstance


def gram_eigen(H, p):
    """The eigendecomposition G^H G = V diag(lambda) V^H of the users' Gram matrix,
    G = H diag(sqrt p), as :class:`ResolventSinr` holds it: (lambda real [..., n_users]
    ascending, clamped at 0; w = |V|^2 real [..., n_users, n_users], w[k, m] = |V_km|^2).

    Tensors or arrays alike: the batch path and the one-sample path
    (:mod:`isac.designer.price_graph`) call it.

    Args:
        H: complex [..., n_rx, n_users]. p: real [..., n_users].
    """
    xp = array_namespace(H)
    scaled = H * xp.sqrt(p)[..., None, :]
    eigenvalues, vectors = eigh_hermitian(xp.conj(scaled).mT @ scaled)
    return xp.clip(eigenvalues, 0.0, None), xp.abs(vectors) ** 2


@dataclass(frozen=True)
class PartialFractionSinr(PerInstance):
    """gamma_k(c) = sum_m b_km/(a_km + c).

    Attributes:
        interference_eigenvalues: real [n, n_users, m], ``a`` of :func:`rates.interference_eigh`.
        signal_power: real [n, n_users, m], ``b``.
    """

    interference_eigenvalues: torch.Tensor
    signal_power: torch.Tensor

    @classmethod
    def from_channels(cls, H: torch.Tensor, p: torch.Tensor) -> PartialFractionSinr:
        """From channels H complex [n, n_rx, n_users] and powers p real [n, n_users]."""
        return cls(*rates.interference_eigh(H, p))

    def sinr(self, level: torch.Tensor) -> torch.Tensor:
        """real [n, n_users]: gamma_k at the levels c, real [n]."""
        return (self.signal_power / (self.interference_eigenvalues + level[:, None, None])).sum(-1)

    def log_sinr_derivatives(
        self, level: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """ln(1 + gamma_k) and its first and second derivatives in c, real [n, n_users] each.

        With gamma' = -sum b/(a + c)^2 and gamma'' = 2 sum b/(a + c)^3:
        d ln(1 + gamma)/dc = gamma'/(1 + gamma) and
        d^2 ln(1 + gamma)/dc^2 = (gamma'' (1 + gamma) - gamma'^2)/(1 + gamma)^2.
        """
        shifted = self.interference_eigenvalues + level[:, None, None]
        share = self.signal_power / shifted
        gamma = share.sum(dim=-1)
        first = -(share / shifted).sum(dim=-1)
        second = 2.0 * (share / shifted.square()).sum(dim=-1)
        return (
            torch.log1p(gamma),
            first / (1.0 + gamma),
            (second * (1.0 + gamma) - first.square()) / (1.0 + gamma).square(),
        )

    def log1p_sinr(self, level: torch.Tensor) -> torch.Tensor:
        """real [n, n_users]: ln(1 + gamma_k(c))."""
        return torch.log1p(self.sinr(level))


@dataclass(frozen=True)
class ResolventSinr(PerInstance):
    """1 + gamma_k(c) = 1/(c sum_m w_km/(lambda_m + c)), for float64.

    Attributes:
        gram_eigenvalues: real [n, n_users], lambda_m of G^H G (>= 0), ascending.
        weights: real [n, n_users, n_users], w_km = |V_km|^2 (user k, mode m).
    """

    gram_eigenvalues: torch.Tensor
    weights: torch.Tensor

    @classmethod
    def from_channels(cls, H: torch.Tensor, p: torch.Tensor) -> ResolventSinr:
        """From channels H complex [n, n_rx, n_users] and powers p real [n, n_users]."""
        return cls(*gram_eigen(H, p))

    def _resolvent_sums(self, level: torch.Tensor, powers: int) -> list[torch.Tensor]:
        """[sum_m w_km/(lambda_m + c)^j for j = 1..powers], real [n, n_users] each."""
        inverse = 1.0 / (self.gram_eigenvalues + level[:, None])  # [n, m]
        sums, term = [], self.weights
        for _ in range(powers):
            term = term * inverse[:, None, :]
            sums.append(term.sum(dim=-1))
        return sums

    def sinr(self, level: torch.Tensor) -> torch.Tensor:
        """real [n, n_users]: gamma_k at the levels c, real [n]."""
        (resolvent,) = self._resolvent_sums(level, 1)
        return 1.0 / (level[:, None] * resolvent) - 1.0

    def log1p_sinr(self, level: torch.Tensor) -> torch.Tensor:
        """real [n, n_users]: ln(1 + gamma_k(c)) = -ln(c D_k(c))."""
        (resolvent,) = self._resolvent_sums(level, 1)
        return -torch.log(level[:, None] * resolvent)

    def log_sinr_derivatives(
        self, level: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """ln(1 + gamma_k) = -ln c - ln D and its first and second derivatives in c,
        real [n, n_users] each: -1/c - D'/D and 1/c^2 - (D'' D - D'^2)/D^2, with
        D' = -sum w/(lambda + c)^2 and D'' = 2 sum w/(lambda + c)^3."""
        first_sum, second_sum, third_sum = self._resolvent_sums(level, 3)
        c = level[:, None]
        ratio = second_sum / first_sum  # -D'/D
        return (
            -torch.log(c * first_sum),
            ratio - 1.0 / c,
            1.0 / c.square() - (2.0 * third_sum / first_sum - ratio.square()),
        )


UserSinr = PartialFractionSinr | ResolventSinr
SINR_FORMS = {"partial_fractions": PartialFractionSinr, "resolvent": ResolventSinr}
