"""The untransformed model of Sec. II, eqs. (4)-(9a), for any waveform S and beams w_k.

Nothing here uses the transformation of Sec. III: the sensing rate is the log-det of
the full L N_r x L N_r covariance of eq. (4), the SINR is eq. (7) with the trace of
S R_T S^H (docs/model.md, item 3). It is the independent reference against which
the transformed problem (28) is checked (docs/model.md, item 5), and how any scheme's
(S, w_k) -- including beams designed from imperfect CSI -- is scored on the true
channel.
"""

from __future__ import annotations

import torch

from isac.physics import rates


def batched_kron(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """Kronecker product over the last two dims: [..., m, n] x [..., p, q] -> [..., m p, n q]."""
    m, n = A.shape[-2:]
    p, q = B.shape[-2:]
    product = torch.einsum("...ij,...kl->...ikjl", A, B)
    return product.reshape(*product.shape[:-4], m * p, n * q)


def sensing_rate(
    S: torch.Tensor, R_T: torch.Tensor, H: torch.Tensor, p: torch.Tensor, noise_power: float
) -> torch.Tensor:
    """Sensing rate, eqs. (4)-(5): log2|S~ R_g S~^H + R_I| - log2|R_I|, over L.

    S~ = I_Nr (x) S, R_g = I_Nr (x) R_T, R_I = (H diag(p) H^H) (x) I_L + noise I.

    Args:
        S: complex [..., L, n_tx]. R_T: complex [..., n_tx, n_tx].
        H: complex [..., n_rx, n_users]. p: real [..., n_users].

    Returns:
        real [...], bits/s/Hz.
    """
    waveform_len = S.shape[-2]
    n_rx = H.shape[-2]
    eye_rx = torch.eye(n_rx, dtype=S.dtype, device=S.device).expand(*S.shape[:-2], n_rx, n_rx)
    eye_len = torch.eye(waveform_len, dtype=S.dtype, device=S.device)
    S_tilde = batched_kron(eye_rx, S)
    R_g = batched_kron(eye_rx, R_T.expand(*S.shape[:-2], *R_T.shape[-2:]))
    R_I = batched_kron(rates.received_user_covariance(H, p), eye_len.expand(*S.shape[:-2], -1, -1))
    R_I = R_I + noise_power * torch.eye(R_I.shape[-1], dtype=S.dtype, device=S.device)
    echo = S_tilde @ R_g @ S_tilde.mH
    total = 0.5 * (echo + echo.mH) + R_I  # symmetrised against round-off before logdet
    mutual_information = torch.linalg.slogdet(total).logabsdet - torch.linalg.slogdet(R_I).logabsdet
    return mutual_information / (waveform_len * rates.LN2)


def sinr(
    S: torch.Tensor,
    W: torch.Tensor,
    R_T: torch.Tensor,
    H: torch.Tensor,
    p: torch.Tensor,
    noise_power: float,
) -> torch.Tensor:
    """SINR of every user, eq. (7), with ||S R_T S^H|| read as the trace (erratum 3).

    Args:
        S: complex [..., L, n_tx]. W: complex [..., n_rx, n_users], beams w_k as columns.
        R_T: complex [..., n_tx, n_tx]. H: complex [..., n_rx, n_users]. p: real [..., n_users].

    Returns:
        real [..., n_users].
    """
    waveform_len = S.shape[-2]
    echo = torch.diagonal(S @ R_T @ S.mH, dim1=-2, dim2=-1).sum(dim=-1).real / waveform_len
    return rates.sinr_fixed_beams(*rates.beam_terms(H, p, W), echo, noise_power)


def comm_rate(
    S: torch.Tensor,
    W: torch.Tensor,
    R_T: torch.Tensor,
    H: torch.Tensor,
    p: torch.Tensor,
    noise_power: float,
) -> torch.Tensor:
    """Communication rate, eq. (8): (1/K) sum_k log2(1 + gamma_k). Returns real [...]."""
    return torch.log1p(sinr(S, W, R_T, H, p, noise_power)).mean(dim=-1) / rates.LN2


def objective(
    S: torch.Tensor,
    W: torch.Tensor,
    R_T: torch.Tensor,
    H: torch.Tensor,
    p: torch.Tensor,
    noise_power: float,
    alpha: float,
    max_rate_s: torch.Tensor,
    max_rate_c: torch.Tensor,
) -> torch.Tensor:
    """The original objective (9a): alpha R_s(S)/M_s + (1 - alpha) R_c(w_k, S)/M_c; real [...]."""
    return rates.wsnr(
        sensing_rate(S, R_T, H, p, noise_power),
        comm_rate(S, W, R_T, H, p, noise_power),
        max_rate_s,
        max_rate_c,
        alpha,
    )
