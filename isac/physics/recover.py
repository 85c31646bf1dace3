"""The recover module, eqs. (31)-(32): from the powers sigma_s to the waveform S and beams w_k."""

from __future__ import annotations

import torch

from isac.physics import rates


def waveform_from_powers(
    sigma_s: torch.Tensor,
    U_T: torch.Tensor,
    waveform_len: int,
    U_s: torch.Tensor | None = None,
) -> torch.Tensor:
    """Sensing waveform S = U_s Sigma_s U_T^H, eq. (31).

    Sigma_s = [diag(sqrt(sigma_s)), 0]^T is L x n_tx, so S^H S = U_T diag(sigma_s) U_T^H:
    the i-th power is sent along the i-th eigenvector of R_T, which makes bound (13)
    tight, and tr(S S^H) = sum(sigma_s).

    Args:
        sigma_s: real [..., n_tx], powers aligned with the columns of ``U_T``.
        U_T: complex [..., n_tx, n_tx], eigenvectors of R_T.
        waveform_len: L (> n_tx).
        U_s: complex [..., L, L], any unitary; the identity when None.

    Returns:
        complex [..., L, n_tx].
    """
    n_tx = sigma_s.shape[-1]
    amplitudes = sigma_s.clamp_min(0.0).sqrt().to(U_T.dtype)
    S = torch.zeros((*sigma_s.shape[:-1], waveform_len, n_tx), dtype=U_T.dtype, device=U_T.device)
    S[..., :n_tx, :] = amplitudes[..., :, None] * U_T.mH
    return S if U_s is None else U_s @ S


def mmse_beams(
    H: torch.Tensor,
    p: torch.Tensor,
    sigma_s: torch.Tensor,
    sigma_t: torch.Tensor,
    waveform_len: int,
    noise_power: float | torch.Tensor,
) -> torch.Tensor:
    """Receive beams w_k of eqs. (25)/(32), normalised so that sqrt(p_k) w_k^H h_k^* = 1 (20b).

    w_k = Omega_k^-1 h_k^* / (sqrt(p_k) h_k^T Omega_k^-1 h_k^*),
    Omega_k = sum_{i != k} p_i h_i^* h_i^T + (sigma_t . sigma_s / L + noise) I.

    Omega_k differs from Omega = Omega_k + p_k h_k^* h_k^T by a rank-one term, so by
    Sherman-Morrison Omega_k^-1 h_k^* is a positive multiple of Omega^-1 h_k^*, and the
    normalisation removes the multiple: w_k = Omega^-1 h_k^* / (sqrt(p_k) h_k^T Omega^-1 h_k^*).
    One Hermitian solve serves every user (docs/model.md, item 12).

    Args:
        H: complex [..., n_rx, n_users], the channels the beams are designed for
           (the estimate H_hat for what a real BS can form).
        p: real [..., n_users].
        sigma_s, sigma_t: real [..., n_tx].
        waveform_len: L.
        noise_power: sigma_n^2, a float or real [...] (the robust receiver's level).

    Returns:
        complex [..., n_rx, n_users], w_k as columns.
    """
    n_rx = H.shape[-2]
    level = rates.echo_interference(sigma_s, sigma_t, waveform_len) + noise_power
    identity = torch.eye(n_rx, dtype=H.dtype, device=H.device)
    # Omega = sum_i p_i h_i^* h_i^T + level I, Hermitian positive definite
    covariance = rates.received_user_covariance(H, p).conj()
    omega = covariance + level.to(H.dtype)[..., None, None] * identity
    directions = torch.linalg.solve(omega, H.conj())  # column k: Omega^-1 h_k^*
    gains = (H * directions).sum(dim=-2)  # h_k^T Omega^-1 h_k^*, real > 0 up to round-off
    return directions / (p.sqrt().to(H.dtype) * gains)[..., None, :]
