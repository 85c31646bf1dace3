"""The network's input, the feature vector F of eq. (29)."""

from __future__ import annotations

from isac.physics.arrays import array_namespace
from isac.physics.system import SystemConfig


def feature_count(system: SystemConfig) -> int:
    """Length of F, eq. (29): 2 N_r K + N_t."""
    return 2 * system.n_rx * system.n_users + system.n_tx


def input_features(H, p, sigma_t, noise_power: float):
    """Feature vector F of eq. (29): [Re(h_1^T) .. Re(h_K^T), Im(h_1^T) .. Im(h_K^T), sigma_t].

    The channels are the effective ones, sqrt(p_k / noise) h_k, so the features carry
    the users' SNR whatever the power control (docs/model.md, item 11). Torch tensors or
    numpy arrays alike (the design API's one-sample path runs in numpy), one sample or a
    batch.

    Args:
        H: complex [..., n_rx, n_users], the channels the BS knows (H_hat under imperfect CSI).
        p: real [..., n_users]. sigma_t: real [..., n_tx]. noise_power: sigma_n^2.

    Returns:
        real [..., 2 n_rx n_users + n_tx], in the real precision of H and sigma_t.
    """
    xp = array_namespace(H)
    effective = H * xp.sqrt(p / noise_power)[..., None, :]
    rows = effective.mT.reshape(*H.shape[:-2], -1)  # h_1^T, ..., h_K^T concatenated
    return xp.concat([rows.real, rows.imag, sigma_t], axis=-1)
