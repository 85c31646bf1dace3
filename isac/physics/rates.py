"""The rates and the objective of the transformed problem, eqs. (14), (19), (28), (39).

All functions are batched over leading dimensions and differentiable in ``sigma_s``.
Shapes use ``...`` for batch dimensions. Powers are linear, in the units of
:mod:`isac.physics.pathloss`. A noise level is a float or real [...], one per instance
(the robust receiver's grows with the users' powers, :mod:`isac.physics.receivers`).
The communication rate (26) and M_c (40) are computed from the users' SINR forms of
:mod:`isac.physics.user_sinr` (:class:`~isac.physics.problem.ProblemTerms`).
"""

from __future__ import annotations

import math

import torch

from isac.physics.waterfilling import water_filling

LN2 = math.log(2.0)


def received_user_covariance(H, p):
    """complex [..., n_rx, n_rx]: sum_k p_k h_k h_k^H = H diag(p) H^H.

    Args:
        H: complex [..., n_rx, n_users], channels h_k as columns (a tensor or an array).
        p: real [..., n_users], user powers p_k.
    """
    return (H * p[..., None, :]) @ H.mT.conj()


def interference_eigh(H: torch.Tensor, p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigen-structure of each user's interference for eq. (26).

    The SINR of user k with the MMSE beam (25) is
    gamma_k = p_k h_k^T (A_k + c I)^-1 h_k^*,  A_k = sum_{i != k} p_i h_i^* h_i^T,
    c = sigma_t . sigma_s / L + noise. With conj(A_k) = V diag(a) V^H (A_k and its
    conjugate share eigenvalues) this is gamma_k = sum_m b_m / (a_m + c),
    b_m = p_k |v_m^H h_k|^2: a sum of a few fractions, cheap for every new sigma_s.

    conj(A_k) = G_k G_k^H with G_k = [sqrt(p_i) h_i]_{i != k} has rank <= n_users - 1.
    With fewer users than antennas its nonzero eigen-pairs come from the
    (n_users - 1)-square Gram matrix G_k^H G_k, and the null space, where a = 0,
    collects the rest of the signal power in one term: m = n_users terms in all.
    Otherwise the n_rx-square matrix is decomposed: m = n_rx.

    Args:
        H: complex [..., n_rx, n_users].
        p: real [..., n_users].

    Returns:
        (a, b): real [..., n_users, m] each, interference eigenvalues (>= 0) and the
        signal power p_k |v_m^H h_k|^2 along each eigenvector.
    """
    n_rx, n_users = H.shape[-2:]
    if n_users - 1 >= n_rx:
        covariance = received_user_covariance(H, p)
        h = H.mT  # [..., n_users, n_rx], row k is h_k^T
        own = p.to(H.dtype)[..., None, None] * (h[..., :, None] * h.conj()[..., None, :])
        eigenvalues, eigenvectors = torch.linalg.eigh(covariance[..., None, :, :] - own)
        projections = (eigenvectors.conj() * h[..., :, None]).sum(dim=-2)  # v_m^H h_k
        return eigenvalues.clamp_min(0.0), p[..., None] * projections.abs().square()
    scaled = H * p.sqrt().to(H.dtype)[..., None, :]  # g_i = sqrt(p_i) h_i
    gram = scaled.mH @ scaled  # [..., i, j] = g_i^H g_j
    total = torch.diagonal(gram, dim1=-2, dim2=-1).real  # p_k ||h_k||^2
    if n_users == 1:
        return torch.zeros_like(total)[..., None], total[..., None]
    others = torch.tensor(
        [[i for i in range(n_users) if i != k] for k in range(n_users)], device=H.device
    )
    eigenvalues, eigenvectors = torch.linalg.eigh(
        gram[..., others[:, :, None], others[:, None, :]]
    )  # [..., k, m], [..., k, i, m]
    cross = gram[..., others, torch.arange(n_users, device=H.device)[:, None]]  # g_i^H g_k
    projections = (eigenvectors.conj() * cross[..., :, None]).sum(dim=-2)
    eigenvalues = eigenvalues.clamp_min(torch.finfo(total.dtype).tiny)
    # |u_m^H g_k|^2 with u_m = G_k v_m / sqrt(a_m)
    signal = projections.abs().square() / eigenvalues
    null = (total - signal.sum(dim=-1)).clamp_min(0.0)
    return (
        torch.cat([eigenvalues, torch.zeros_like(null)[..., None]], dim=-1),
        torch.cat([signal, null[..., None]], dim=-1),
    )


def sigma_h(H: torch.Tensor, p: torch.Tensor, noise_power: float | torch.Tensor) -> torch.Tensor:
    """real [..., n_rx]: eigenvalues of R_H = (H diag(p) H^H + noise I)^-1, descending (III-A).

    H diag(p) H^H has rank <= n_users: with fewer users than antennas its nonzero
    eigenvalues come from the n_users-square Gram matrix and the rest are 0.
    ``noise_power`` is a float or real [...], one level per instance.
    """
    n_rx, n_users = H.shape[-2:]
    if n_users >= n_rx:
        user_eigenvalues = torch.linalg.eigvalsh(received_user_covariance(H, p))
    else:
        scaled = H * p.sqrt().to(H.dtype)[..., None, :]
        user_eigenvalues = torch.linalg.eigvalsh(scaled.mH @ scaled)
    return sigma_h_from_user_eigenvalues(user_eigenvalues, n_rx, noise_power)


def sigma_h_from_user_eigenvalues(
    eigenvalues: torch.Tensor, n_rx: int, noise_power: float | torch.Tensor
) -> torch.Tensor:
    """real [..., n_rx]: sigma_h from the ascending eigenvalues [..., r] of H diag(p) H^H or
    of its Gram matrix diag(sqrt p) H^H H diag(sqrt p), which share their nonzero ones: the
    largest min(r, n_rx), and zeros for the n_rx - r dimensions no user reaches."""
    top = eigenvalues[..., -n_rx:].clamp_min(0.0)
    missing = n_rx - top.shape[-1]
    if missing > 0:
        top = torch.cat([top.new_zeros((*top.shape[:-1], missing)), top], dim=-1)
    # ascending eigenvalues, so sigma_h descends
    noise = torch.as_tensor(noise_power, dtype=top.dtype, device=top.device)
    return 1.0 / (top + noise[..., None])


def sensing_rate(
    sigma_s: torch.Tensor, sigma_t: torch.Tensor, sigma_h: torch.Tensor, waveform_len: int
) -> torch.Tensor:
    """Sensing rate, eq. (14), bits/s/Hz: (1/L) sum_i sum_j log2(1 + sigma_t,i sigma_s,i sigma_h,j).

    Args:
        sigma_s: real [..., n_tx], waveform powers aligned with ``sigma_t``.
        sigma_t: real [..., n_tx], eigenvalues of R_T.
        sigma_h: real [..., n_rx], eigenvalues of R_H.
        waveform_len: L.

    Returns:
        real [...].
    """
    snr = (sigma_t * sigma_s)[..., :, None] * sigma_h[..., None, :]
    return torch.log1p(snr).sum(dim=(-2, -1)) / (waveform_len * LN2)


def echo_interference(sigma_s, sigma_t, waveform_len: int):
    """real [...]: echo power per receive antenna, tr(S R_T S^H)/L = sigma_t . sigma_s / L, (19)
    (tensors or arrays)."""
    return (sigma_t * sigma_s).sum(-1) / waveform_len


def beam_terms(
    H: torch.Tensor, p: torch.Tensor, W: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The parts of the SINR (7) that fixed beams W determine.

    Args:
        H: complex [..., n_rx, n_users]. p: real [..., n_users].
        W: complex [..., n_rx, n_users], beams w_k as columns.

    Returns:
        (signal, interference, beam_norm), real [..., n_users] each:
        p_k |h_k^T w_k|^2, sum_{i != k} p_i |h_i^T w_k|^2 and ||w_k||^2.
    """
    received = p[..., :, None] * (H.mT @ W).abs().square()  # [..., i, k] = p_i |h_i^T w_k|^2
    signal = torch.diagonal(received, dim1=-2, dim2=-1)
    return signal, received.sum(dim=-2) - signal, W.abs().square().sum(dim=-2)


def sinr_fixed_beams(
    signal: torch.Tensor,
    interference: torch.Tensor,
    beam_norm: torch.Tensor,
    echo_power: torch.Tensor,
    noise_power: float | torch.Tensor,
) -> torch.Tensor:
    """real [..., n_users]: the SINR (7)/(19) of fixed beams, from :func:`beam_terms`; 0 for
    a zero beam (a user the receiver does not decode)."""
    total = interference + (echo_power + noise_power)[..., None] * beam_norm
    decoded = total > 0
    return torch.where(decoded, signal / torch.where(decoded, total, 1.0), 0.0)


def rate_c_fixed_beams(
    H: torch.Tensor,
    p: torch.Tensor,
    W: torch.Tensor,
    echo_power: torch.Tensor,
    noise_power: float | torch.Tensor,
) -> torch.Tensor:
    """real [...]: Rc, bits/s/Hz per user, of fixed beams W [..., n_rx, n_users] on the
    channel H [..., n_rx, n_users] at echo power ``echo_power`` [...] per receive antenna:
    mean_k log2(1 + SINR_k) with the SINR (7)/(19) of :func:`sinr_fixed_beams`."""
    sinr = sinr_fixed_beams(*beam_terms(H, p, W), echo_power, noise_power)
    return torch.log1p(sinr).mean(dim=-1) / LN2


def sensing_optimum_powers(
    sigma_t: torch.Tensor, sensing_power: float, noise_power: float
) -> torch.Tensor:
    """The powers of M_s, eq. (38): the budget water-filled, exactly, over the sensing
    channel's gains sigma_t / noise as if no users were present, real [..., n_tx]."""
    return water_filling(sigma_t / noise_power, sensing_power)


def max_sensing_rate(
    sigma_t: torch.Tensor, powers: torch.Tensor, n_rx: int, waveform_len: int, noise_power: float
) -> torch.Tensor:
    """M_s, eq. (39): the sensing rate with no users present at its optimal ``powers``
    [..., n_tx] (:func:`sensing_optimum_powers`).

    Returns:
        real [...].
    """
    gains = sigma_t / noise_power
    return n_rx * torch.log1p(gains * powers).sum(dim=-1) / (waveform_len * LN2)


def wsnr(
    rate_s: torch.Tensor,
    rate_c: torch.Tensor,
    max_rate_s: torch.Tensor,
    max_rate_c: torch.Tensor,
    alpha: float,
) -> torch.Tensor:
    """Weighted sum of normalised rates, eq. (28): alpha Rs/M_s + (1 - alpha) Rc/M_c.

    A rate whose maximum is 0 is 0 for every design (no user reaches the BS: M_c = 0; no
    target echoes: M_s = 0), so its normalised term is 0 (docs/model.md, item 14)."""
    return per_maximum(alpha * rate_s, max_rate_s) + per_maximum((1.0 - alpha) * rate_c, max_rate_c)


def per_maximum(value: torch.Tensor, maximum: torch.Tensor) -> torch.Tensor:
    """real [...]: value / maximum where maximum > 0, else 0 (a rate that cannot be anything
    but 0, normalised by its maximum 0: docs/model.md, item 14)."""
    positive = maximum > 0
    return torch.where(positive, value / torch.where(positive, maximum, 1.0), 0.0)


def power_budget_excess(sigma_s: torch.Tensor, sensing_power: float) -> torch.Tensor:
    """real [...]: how far sum(sigma_s) exceeds P_s, relative to P_s (<= 0 when feasible), (15)."""
    return (sigma_s.sum(dim=-1) - sensing_power) / max(
        sensing_power, torch.finfo(sigma_s.dtype).tiny
    )


def check_power_budget(sigma_s: torch.Tensor, sensing_power: float, rtol: float = 1e-5) -> None:
    """Raise ``ValueError`` if sigma_s is negative or exceeds the budget (15) by over ``rtol``."""
    if (sigma_s < 0).any():
        raise ValueError(f"sigma_s must be >= 0, got min {sigma_s.min().item():.3g}")
    worst = power_budget_excess(sigma_s, sensing_power).max().item()
    if worst > rtol:
        raise ValueError(
            f"sigma_s exceeds the power budget P_s = {sensing_power:.6g} by {worst:.3g} (relative)"
        )
