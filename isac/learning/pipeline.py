"""The online design of a learned network, from what the BS holds to the waveform and beams.

Pre-processing (Sec. IV-A: the EVD of R_T), the features (29), the network, and the
recovery of S (31) and W (32), as one module, so that the same code runs eagerly on a
batch and, traced once, on a single sample (:class:`isac.designer.Designer`).
"""

from __future__ import annotations

import torch
from torch import nn

from isac.learning.features import input_features
from isac.physics import recover
from isac.physics.system import SystemConfig


def eigen_inputs(R_T: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pre-processing (Sec. IV-A) of R_T, complex [n, n_tx, n_tx].

    Returns:
        (sigma_t real [n, n_tx] descending and clamped at 0, U_T complex [n, n_tx, n_tx]
        its eigenvectors as columns, the smallest eigenvalue before clamping real [n]).
    """
    eigenvalues, eigenvectors = torch.linalg.eigh(R_T)
    return eigenvalues.flip(-1).clamp_min(0.0), eigenvectors.flip(-1), eigenvalues[..., 0]


class NetworkPipeline(nn.Module):
    """(R_T, H_hat, p) -> (sigma_s, S, W, smallest eigenvalue of R_T), for a batch.

    Args:
        network: maps features [n, 2 n_rx n_users + n_tx] to sigma_s [n, n_tx]
            (:mod:`isac.learning.networks`), in eval mode.
        system: the system it was trained for.

    Shapes of :meth:`forward`: R_T complex [n, n_tx, n_tx], H_hat complex
    [n, n_rx, n_users], p real [n, n_users]; returns sigma_s real [n, n_tx], S complex
    [n, L, n_tx], W complex [n, n_rx, n_users] and real [n], in the inputs' precision.
    """

    def __init__(self, network: nn.Module, system: SystemConfig) -> None:
        super().__init__()
        self.network = network
        self.waveform_len = system.waveform_len
        self.noise_power = system.noise_power
        self.dtype = next(network.parameters()).dtype

    def forward(
        self, R_T: torch.Tensor, H_hat: torch.Tensor, p: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        sigma_t, U_T, lowest = eigen_inputs(R_T)
        features = input_features(H_hat, p, sigma_t, self.noise_power)
        sigma_s = self.network(features.to(self.dtype)).to(sigma_t.dtype)
        S = recover.waveform_from_powers(sigma_s, U_T, self.waveform_len)
        W = recover.mmse_beams(H_hat, p, sigma_s, sigma_t, self.waveform_len, self.noise_power)
        return sigma_s, S, W, lowest
