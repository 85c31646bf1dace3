"""The recover module, eqs. (31)-(32): from the powers sigma_s to the waveform S and beams w_k.

Torch tensors or numpy arrays alike, one sample or a batch: the design API's batched
pipeline and its one-sample numpy pipeline (:mod:`isac.designer.pipelines`) both call
these functions, so the physics is written once.
"""

from __future__ import annotations

import torch

from isac.physics import rates
from isac.physics.arrays import add_to_diagonal, array_namespace, device, solve_hermitian


def waveform_from_powers(sigma_s, U_T, waveform_len: int, U_s=None):
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
    xp = array_namespace(U_T)
    n_tx = sigma_s.shape[-1]
    amplitudes = xp.sqrt(xp.maximum(sigma_s, 0.0))
    S = xp.zeros((*sigma_s.shape[:-1], waveform_len, n_tx), dtype=U_T.dtype, device=device(U_T))
    S[..., :n_tx, :] = amplitudes[..., :, None] * U_T.mT.conj()
    return S if U_s is None else U_s @ S


def waveform_from_covariance(R_x, waveform_len: int):
    """A sensing waveform S with S^H S = R_x, for a covariance R_x complex [n, n_tx, n_tx]
    (targets at directions): S = [diag(sqrt(lambda)) V^H; 0] from R_x = V diag(lambda) V^H,
    largest power first. Returns (S complex [n, L, n_tx], lambda real [n, n_tx] descending:
    the powers sigma_s of S)."""
    eigenvalues, vectors = torch.linalg.eigh((R_x + R_x.mH) / 2)
    powers, vectors = eigenvalues.flip(-1).clamp_min(0.0), vectors.flip(-1)
    return waveform_from_powers(powers, vectors, waveform_len), powers


def mmse_beams(H, p, sigma_s, sigma_t, waveform_len: int, noise_power):
    """Receive beams w_k of eqs. (25)/(32), normalised so that sqrt(p_k) w_k^H h_k^* = 1 (20b).

    w_k = Omega_k^-1 h_k^* / (sqrt(p_k) h_k^T Omega_k^-1 h_k^*),
    Omega_k = sum_{i != k} p_i h_i^* h_i^T + (sigma_t . sigma_s / L + noise) I.

    Omega_k differs from Omega = Omega_k + p_k h_k^* h_k^T by a rank-one term, so by
    Sherman-Morrison Omega_k^-1 h_k^* is a positive multiple of Omega^-1 h_k^*, and the
    normalisation removes the multiple: w_k = Omega^-1 h_k^* / (sqrt(p_k) h_k^T Omega^-1 h_k^*).
    One Hermitian solve serves every user (docs/model.md, item 12). A user the BS does not
    receive (p_k h_k = 0: no normalisation exists) gets the beam 0, and rate 0.

    Args:
        H: complex [..., n_rx, n_users], the channels the beams are designed for
           (the estimate H_hat for what a real BS can form); a tensor or an array.
        p: real [..., n_users].
        sigma_s, sigma_t: real [..., n_tx].
        waveform_len: L.
        noise_power: sigma_n^2, a float or real [...] (the robust receiver's level).

    Returns:
        complex [..., n_rx, n_users], w_k as columns.
    """
    xp = array_namespace(H)
    level = rates.echo_interference(sigma_s, sigma_t, waveform_len) + noise_power
    # Omega = sum_i p_i h_i^* h_i^T + level I, Hermitian positive definite
    H_conj = H.conj()
    omega = (H_conj * p[..., None, :]) @ H.mT
    add_to_diagonal(omega, level)
    directions = solve_hermitian(omega, H_conj)  # column k: Omega^-1 h_k^*
    gains = (H * directions).sum(-2)  # h_k^T Omega^-1 h_k^*, real > 0 up to round-off
    scale = (xp.sqrt(p) * gains)[..., None, :]
    received = scale != 0
    return xp.where(received, directions / xp.where(received, scale, 1.0), 0.0)
