"""The network's input, the feature vector F of eq. (29)."""

from __future__ import annotations

import torch

from isac.physics.system import SystemConfig


def feature_count(system: SystemConfig) -> int:
    """Length of F, eq. (29): 2 N_r K + N_t."""
    return 2 * system.n_rx * system.n_users + system.n_tx


def input_features(
    H: torch.Tensor, p: torch.Tensor, sigma_t: torch.Tensor, noise_power: float
) -> torch.Tensor:
    """Feature vector F of eq. (29): [Re(h_1^T) .. Re(h_K^T), Im(h_1^T) .. Im(h_K^T), sigma_t].

    The channels are the effective ones, sqrt(p_k / noise) h_k, so the features carry
    the users' SNR whatever the power control (docs/model.md, item 11).

    Args:
        H: complex [n, n_rx, n_users], the channels the BS knows (H_hat under imperfect CSI).
        p: real [n, n_users]. sigma_t: real [n, n_tx]. noise_power: sigma_n^2.

    Returns:
        real [n, 2 n_rx n_users + n_tx].
    """
    effective = H * (p / noise_power).sqrt().to(H.dtype)[..., None, :]
    rows = effective.mT.reshape(H.shape[0], -1)  # h_1^T, ..., h_K^T concatenated
    return torch.cat([rows.real, rows.imag, sigma_t.to(rows.real.dtype)], dim=-1)


def channels_from_features(
    features: torch.Tensor, system: SystemConfig
) -> tuple[torch.Tensor, torch.Tensor]:
    """The inverse of :func:`input_features`: (effective channels, sigma_t) from F.

    Returns:
        (H_eff complex [n, n_rx, n_users] with columns sqrt(p_k / noise) h_k,
        sigma_t real [n, n_tx]), in the dtype of ``features``.
    """
    size = system.n_rx * system.n_users
    rows = torch.complex(features[:, :size], features[:, size : 2 * size])
    H_eff = rows.reshape(-1, system.n_users, system.n_rx).mT
    return H_eff, features[:, 2 * size :]
