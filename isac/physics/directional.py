"""Targets at directions, eq. (2): the sensing and communication rates of a transmit
covariance R_x = S^H S (docs/model.md, item 15).

With G = sum_i beta_i a_i b_i^T, beta_i ~ CN(0, s_i^2) independent, vec(G) has the
covariance R_g = sum_i s_i^2 (b_i (x) a_i)(b_i (x) a_i)^H and the sensing MI (4), with
R_I = Q (x) I_L and Q = H diag(p) H^H + noise I, reduces to an M x M determinant:

    Rs = (1/L) log2 det(I_M + D^1/2 [(B^H Q^-1 B) o (A^H R_x A)] D^1/2),        D = diag(s^2)

(the columns c_i = b_i (x) S a_i of (I (x) S) R_g^1/2 have Gram entries
(b_i^H Q^-1 b_j)(a_i^H R_x a_j) in the metric of R_I). The echo reaches the receive array
with the covariance sum_i c_i b_i b_i^H, c_i = s_i^2 a_i^H R_x a_i / L, the echo power of
target i: the users' MMSE SINRs (25)-(26) take it in place of the paper's white echo t/L.
Only R_x's part in the span of the transmit steering vectors A matters, so designs are
R_x = U Z U^H with U an orthonormal basis of that span and Z r x r (r = min(M, N_t)).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from isac import checks
from isac.physics import rates
from isac.physics.instances import PerInstance
from isac.physics.log_det_barrier import log_det_optimum
from isac.physics.psd_ascent import Ascent, projected_ascent
from isac.physics.receivers import Receiver
from isac.physics.system import SystemConfig
from isac.physics.targets import TargetConfig, steering

SENSING_SEARCH_STEPS = 40  # projected-gradient steps for M_s; the samples still moving then
# (flat problems, most with three targets) go on to the barrier method (docs/model.md)


@dataclass(frozen=True)
class DirectionalTargets(PerInstance):
    """The targets of n samples.

    Attributes:
        angles: real [n, M], directions in radians.
        variances: real [n, M], s_i^2 of the reflection coefficients.
        A: complex [n, N_t, M], transmit steering vectors a_i as columns.
        B: complex [n, N_r, M], receive steering vectors b_i as columns.
    """

    angles: torch.Tensor
    variances: torch.Tensor
    A: torch.Tensor
    B: torch.Tensor

    @classmethod
    def at(
        cls, angles: torch.Tensor, variances: torch.Tensor, system: SystemConfig, spacing: float
    ) -> DirectionalTargets:
        """Targets at ``angles`` [n, M] (radians) with ``variances`` [n, M]."""
        return cls(
            angles,
            variances,
            steering(system.n_tx, angles, spacing),
            steering(system.n_rx, angles, spacing),
        )

    @classmethod
    def draw(
        cls, config: TargetConfig, system: SystemConfig, n: int, generator: torch.Generator
    ) -> DirectionalTargets:
        """n samples of ``config``'s targets, directions uniform over its sector."""
        low, high = (torch.deg2rad(torch.tensor(v, dtype=torch.float64)) for v in config.sector_deg)
        unit = torch.rand((n, config.n_targets), generator=generator, dtype=torch.float64)
        variances = torch.tensor(config.variance_per_target(), dtype=torch.float64)
        return cls.at(low + (high - low) * unit, variances.expand(n, -1), system, config.spacing)

    def transmit_covariance(self) -> torch.Tensor:
        """complex [n, N_t, N_t]: sum_i s_i^2 a_i a_i^H, the transmit side of E[G G^H]/N_r,
        the R_T a design for the paper's model sees."""
        return (self.A * self.variances.to(self.A.dtype)[..., None, :]) @ self.A.mH

    def basis(self) -> torch.Tensor:
        """complex [n, N_t, r]: an orthonormal basis U of the span of A, r = min(M, N_t)."""
        Q, _ = torch.linalg.qr(self.A)
        return Q


@dataclass(frozen=True)
class DirectionalTerms(PerInstance):
    """Per-instance terms of the WSNR with targets at directions.

    Sensing: ``weights`` Psi = D^1/2 B^H Q^-1 B D^1/2, so Rs = log2 det(I + Psi o (A^H R_x
    A)) / L. Communication: with Omega_0 = sum_j p_j h_j^* h_j^T + noise I, an echo c
    adds B^* C B^T, C = diag(c), and by Woodbury user k's q_k = p_k h_k^T Omega(c)^-1 h_k^*
    is ``base_q``_k - u_k^H C (I + W C)^-1 u_k, u_k = sqrt(p_k) B^T Omega_0^-1 h_k^*
    (``couplings``), W = B^T Omega_0^-1 B^* (``echo_gram``); its MMSE SINR
    (26) is q_k / (1 - q_k) (Sherman-Morrison, docs/model.md, item 12).

    Attributes:
        targets: the targets (A, B, s^2).
        weights: complex [n, M, M], Psi.
        base_q: real [n, K]. couplings: complex [n, K, M]. echo_gram: complex [n, M, M].
        sensing_design: complex [n, r, r], the sensing optimum without users: Z of
            R_x = U Z U^H, U = ``targets.basis()``, the maximiser of M_s.
        max_rate_s: real [n], M_s: Rs at the sensing optimum without users.
        max_rate_c: real [n], M_c: Rc without echo.
        comm_noise: real [n], the noise level of the users' model (the receiver's).
    """

    targets: DirectionalTargets
    weights: torch.Tensor
    base_q: torch.Tensor
    couplings: torch.Tensor
    echo_gram: torch.Tensor
    sensing_design: torch.Tensor
    max_rate_s: torch.Tensor
    max_rate_c: torch.Tensor
    comm_noise: torch.Tensor

    @classmethod
    def from_channels(
        cls,
        H: torch.Tensor,
        p: torch.Tensor,
        targets: DirectionalTargets,
        system: SystemConfig,
        comm_noise: torch.Tensor | None = None,
        interference: torch.Tensor | None = None,
    ) -> DirectionalTerms:
        """The terms of channels H [n, N_r, K], powers p [n, K] and ``targets``, in float64
        (whatever their precision), with ``comm_noise`` real [n] (the noise when None) the
        noise level of the users' model and ``interference`` (H when None) the channel
        whose users the sensing rate sees, as :meth:`ProblemTerms.from_channels` takes them."""
        n = H.shape[0]
        checks.shape("H", H, (n, system.n_rx, system.n_users))
        checks.shape("p", p, (n, system.n_users))
        H, p = H.to(torch.complex128), p.double()
        targets = targets.to(torch.float64)
        noise = (
            torch.full((n,), system.noise_power, dtype=torch.float64, device=H.device)
            if comm_noise is None
            else comm_noise.double()
        )
        identity = torch.eye(system.n_rx, dtype=H.dtype, device=H.device)
        users = rates.received_user_covariance(H, p)
        seen = users
        if interference is not None:
            checks.shape("interference", interference, (n, system.n_rx, system.n_users))
            seen = rates.received_user_covariance(interference.to(H.dtype), p)
        Q = seen + system.noise_power * identity  # H P H^H + noise I
        B, scale = targets.B, targets.variances.sqrt().to(H.dtype)
        gram = B.mH @ torch.linalg.solve(Q, B)  # B^H Q^-1 B
        weights = scale[..., :, None] * gram * scale[..., None, :]
        omega = users.conj() + noise.to(H.dtype)[:, None, None] * identity  # Omega_0
        inverse_h = torch.linalg.solve(omega, H.conj())  # column k: Omega_0^-1 h_k^*
        base_q = p * (H * inverse_h).sum(-2).real
        couplings = p.sqrt().to(H.dtype)[..., None] * (B.mT @ inverse_h).mT  # [n, K, M]
        echo_gram = B.mT @ torch.linalg.solve(omega, B.conj())
        free = sensing_weights_without_users(targets, system.noise_power)
        sensing_design, max_rate_s = sensing_optimum(free, targets, system)
        terms = cls(
            targets=targets,
            weights=weights,
            base_q=base_q,
            couplings=couplings,
            echo_gram=echo_gram,
            sensing_design=sensing_design,
            max_rate_s=max_rate_s,
            max_rate_c=torch.zeros(n, dtype=torch.float64, device=H.device),
            comm_noise=noise,
        )
        zero_echo = torch.zeros_like(targets.variances)
        return cls(**{**terms.__dict__, "max_rate_c": terms.comm_rate_of_echo(zero_echo)})

    @classmethod
    def for_receiver(
        cls,
        receiver: Receiver,
        H_hat: torch.Tensor,
        p: torch.Tensor,
        targets: DirectionalTargets,
        system: SystemConfig,
        H: torch.Tensor | None = None,
    ) -> DirectionalTerms:
        """The terms of ``receiver``'s model of H_hat (and of the true channel ``H`` for a
        genie), as :meth:`ProblemTerms.for_receiver`."""
        channel, noise = receiver.model(H_hat, p, system, H)
        return cls.from_channels(
            channel, p, targets, system, noise, receiver.sensing_channel(H_hat)
        )

    def __len__(self) -> int:
        return self.base_q.shape[0]

    def sensing_rate(self, R_x: torch.Tensor, system: SystemConfig) -> torch.Tensor:
        """real [n]: Rs of R_x [n, N_t, N_t], bits/s/Hz."""
        return self.sensing_rate_of(gram_of(R_x, self.targets.A), system)

    def sensing_rate_of(self, gram: torch.Tensor, system: SystemConfig) -> torch.Tensor:
        """real [n]: Rs of the Gram matrix A^H R_x A [n, M, M] (all Rs depends on)."""
        return log_det_rate(self.weights, gram, system.waveform_len)

    def echo_of(self, gram: torch.Tensor, system: SystemConfig) -> torch.Tensor:
        """real [n, M]: the echo powers c_i = s_i^2 (A^H R_x A)_ii / L of the Gram matrix."""
        return echo_of_gram(gram, self.targets.variances, system.waveform_len)

    def comm_rate_of_echo(self, echo: torch.Tensor) -> torch.Tensor:
        """real [n]: Rc (26) at the echo powers c [n, M], bits/s/Hz per user."""
        c = echo.clamp_min(0.0).to(self.echo_gram.dtype)
        M = echo.shape[-1]
        identity = torch.eye(M, dtype=c.dtype, device=c.device)
        inner = identity + self.echo_gram * c[..., None, :]  # I + W C
        solved = torch.linalg.solve(inner, self.couplings.mT)  # [n, M, K]: (I + W C)^-1 u_k
        # u_k^H C (I + W C)^-1 u_k, real: C (I + W C)^-1 = (C^-1 + W)^-1 is Hermitian
        correction = (self.couplings.conj() * c[..., None, :] * solved.mT).sum(-1).real
        remainder = (1.0 - self.base_q + correction).clamp_min(torch.finfo(echo.dtype).tiny)
        return -torch.log(remainder).mean(-1) / rates.LN2  # log2(1 + g) = -log2(1 - q)

    def echo_prices(self, system: SystemConfig, echo: torch.Tensor) -> torch.Tensor:
        """real [n, M]: nu_i = -d[(1 - alpha) Rc/M_c]/dc_i at the echo powers ``echo``
        [n, M], the price the users set on each target's echo (>= 0: more echo never
        helps them)."""
        with torch.enable_grad():
            echo = echo.detach().requires_grad_(True)
            comm = rates.per_maximum(
                (1.0 - system.alpha) * self.comm_rate_of_echo(echo), self.max_rate_c
            )
            (slope,) = torch.autograd.grad(comm.sum(), echo)
        return (-slope).clamp_min(0.0)

    def comm_rate(self, R_x: torch.Tensor, system: SystemConfig) -> torch.Tensor:
        """real [n]: Rc (26) of R_x [n, N_t, N_t], bits/s/Hz per user."""
        return self.comm_rate_of_echo(self.echo_of(gram_of(R_x, self.targets.A), system))

    def wsnr_of(self, gram: torch.Tensor, system: SystemConfig) -> torch.Tensor:
        """real [n]: the objective (28) of the Gram matrix A^H R_x A [n, M, M]."""
        return rates.wsnr(
            self.sensing_rate_of(gram, system),
            self.comm_rate_of_echo(self.echo_of(gram, system)),
            self.max_rate_s,
            self.max_rate_c,
            system.alpha,
        )

    def wsnr(self, R_x: torch.Tensor, system: SystemConfig) -> torch.Tensor:
        """real [n]: the objective (28) of R_x [n, N_t, N_t]."""
        return self.wsnr_of(gram_of(R_x, self.targets.A), system)

    def evaluate(self, R_x: torch.Tensor, system: SystemConfig) -> dict[str, torch.Tensor]:
        """Per-instance metrics of R_x [n, N_t, N_t], as :meth:`ProblemTerms.evaluate`."""
        gram = gram_of(R_x, self.targets.A)
        rate_s = self.sensing_rate_of(gram, system)
        rate_c = self.comm_rate_of_echo(self.echo_of(gram, system))
        return {
            "wsnr": rates.wsnr(rate_s, rate_c, self.max_rate_s, self.max_rate_c, system.alpha),
            "rate_s": rate_s,
            "rate_c": rate_c,
            "sum_rate_c": system.n_users * rate_c,
            "power": torch.diagonal(R_x, dim1=-2, dim2=-1).real.sum(-1),
        }


def echo_of_gram(gram: torch.Tensor, variances: torch.Tensor, waveform_len: int) -> torch.Tensor:
    """real [n, M]: c_i = s_i^2 (A^H R_x A)_ii / L, the echo power of each target per
    received sample (eq. (19) with directions), from the Gram matrix A^H R_x A."""
    return variances * torch.diagonal(gram, dim1=-2, dim2=-1).real / waveform_len


def gram_of(R_x: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
    """complex [n, M, M]: A^H R_x A, all the objective depends on R_x [n, N_t, N_t] by (with
    R_x = U Z U^H and A in U's coordinates, of Z alike)."""
    return A.mH @ R_x.to(A.dtype) @ A


def span_wsnr(system: SystemConfig) -> Callable[..., torch.Tensor]:
    """The objective (28) as :func:`~isac.physics.psd_ascent.projected_ascent` searches it:
    (Z [m, r, r], the terms [m], A in the span's coordinates [m, r, M]) -> real [m]."""

    def wsnr(Z: torch.Tensor, terms: DirectionalTerms, A: torch.Tensor) -> torch.Tensor:
        return terms.wsnr_of(gram_of(Z, A), system)

    return wsnr


def log_det_rate(weights: torch.Tensor, gram: torch.Tensor, waveform_len: int) -> torch.Tensor:
    """real [n]: log2 det(I + weights o gram) / L for the Gram matrix A^H R_x A."""
    kernel = weights * gram
    identity = torch.eye(kernel.shape[-1], dtype=kernel.dtype, device=kernel.device)
    matrix = identity + (kernel + kernel.mH) / 2  # Hermitian to round-off
    return torch.linalg.slogdet(matrix).logabsdet / (waveform_len * rates.LN2)


def sensing_weights_without_users(targets: DirectionalTargets, noise_power: float) -> torch.Tensor:
    """complex [n, M, M]: Psi of a receiver that hears only the echo, D^1/2 B^H B D^1/2 /
    noise (Q = noise I), the weights of M_s."""
    scale = targets.variances.sqrt().to(targets.B.dtype)
    return scale[..., :, None] * (targets.B.mH @ targets.B) * scale[..., None, :] / noise_power


def span_sensing_rate(system: SystemConfig) -> Callable[..., torch.Tensor]:
    """Rs as :func:`~isac.physics.psd_ascent.projected_ascent` searches it: (Z [m, r, r],
    the weights Psi [m, M, M], A in the span's coordinates [m, r, M]) -> real [m]."""

    def rate(Z: torch.Tensor, weights: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
        return log_det_rate(weights, gram_of(Z, A), system.waveform_len)

    return rate


def sensing_search(
    free_weights: torch.Tensor, reduced: torch.Tensor, system: SystemConfig, steps: int
) -> Ascent:
    """M_s's projected gradient search: ``steps`` steps on Rs of the weights
    ``free_weights`` [n, M, M] over Z (R_x = U Z U^H, A in U's coordinates ``reduced``
    [n, r, M]) from the full budget spread over the span of A."""
    n, r = reduced.shape[0], reduced.shape[-2]
    start = torch.eye(r, dtype=reduced.dtype, device=reduced.device).expand(n, r, r)
    start = start * (system.sensing_power / r)
    return projected_ascent(
        span_sensing_rate(system), start, system.sensing_power, steps, (free_weights, reduced)
    )


def sensing_optimum(
    free_weights: torch.Tensor, targets: DirectionalTargets, system: SystemConfig
) -> tuple[torch.Tensor, torch.Tensor]:
    """(Z [n, r, r], M_s real [n]): the sensing optimum with directions and its rate, Rs
    at its optimum without users (the weights D^1/2 B^H B D^1/2 / noise of a receiver
    that hears only the echo), over R_x = U Z U^H, U = ``targets.basis()``. The problem is
    concave: :data:`SENSING_SEARCH_STEPS` projected gradient steps from the full budget
    spread over the span of A settle most samples; those still moving go on to the
    barrier method (:func:`~isac.physics.log_det_barrier.log_det_optimum`), certified
    to a duality gap, which keeps its design where it scores higher."""
    reduced = targets.basis().mH @ targets.A  # A in the span's coordinates, [n, r, M]
    Z, value, moving = sensing_search(free_weights, reduced, system, SENSING_SEARCH_STEPS)
    if len(moving):
        weights, A = free_weights[moving], reduced[moving]
        finished = log_det_optimum(weights, A, system.sensing_power)
        finished_value = span_sensing_rate(system)(finished, weights, A)
        better = finished_value > value[moving]
        Z[moving[better]], value[moving[better]] = finished[better], finished_value[better]
    return Z, value


def directional_beams(
    H: torch.Tensor,
    p: torch.Tensor,
    echo: torch.Tensor,
    targets: DirectionalTargets,
    noise_power: torch.Tensor | float,
) -> torch.Tensor:
    """The MMSE beams (25) with the targets' echo, normalised by (20b), complex [n, N_r, K]:
    w_k = Omega^-1 h_k^* / (sqrt(p_k) h_k^T Omega^-1 h_k^*), Omega = sum_i p_i h_i^* h_i^T +
    sum_i c_i b_i^* b_i^T + noise I (one solve for every user, docs/model.md, item 12; a
    user the BS does not receive gets the beam 0).

    Args:
        H: complex [n, N_r, K]. p: real [n, K]. echo: real [n, M], the echo powers c_i.
        noise_power: a float or real [n].
    """
    B = targets.B.to(H.dtype)
    H_conj = H.conj()
    omega = (H_conj * p.to(H.dtype)[..., None, :]) @ H.mT
    omega = omega + (B.conj() * echo.to(H.dtype)[..., None, :]) @ B.mT
    noise = torch.as_tensor(noise_power, dtype=p.dtype, device=p.device)
    identity = torch.eye(H.shape[-2], dtype=H.dtype, device=H.device)
    omega = omega + noise.to(H.dtype)[..., None, None] * identity
    directions = torch.linalg.solve(omega, H_conj)
    scale = (p.sqrt().to(H.dtype) * (H * directions).sum(-2))[..., None, :]
    received = scale != 0
    return torch.where(received, directions / torch.where(received, scale, 1.0), 0.0)
