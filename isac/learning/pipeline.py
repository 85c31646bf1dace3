"""The online design of a learned network, from what the BS holds to the waveform and beams.

Pre-processing (Sec. IV-A: the EVD of R_T), the features (29), the network, and the
recovery of S (31) and W (32), in two forms (:class:`isac.designer.Designer`):

- :class:`NetworkPipeline`, a torch module for a batch (and any network);
- :class:`SingleSamplePipeline`, the same steps in numpy for one sample, where torch's
  per-operation dispatch would cost several times the arithmetic.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from isac.learning.features import feature_count, input_features
from isac.learning.numpy_network import compile_network
from isac.physics import recover
from isac.physics.receivers import GENIE, Receiver
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
        receiver: whose MMSE beams W are (:meth:`Receiver.model` of H_hat).

    Shapes of :meth:`forward`: R_T complex [n, n_tx, n_tx], H_hat complex
    [n, n_rx, n_users], p real [n, n_users]; returns sigma_s real [n, n_tx], S complex
    [n, L, n_tx], W complex [n, n_rx, n_users] and real [n], in the inputs' precision.
    """

    def __init__(
        self, network: nn.Module, system: SystemConfig, receiver: Receiver = GENIE
    ) -> None:
        super().__init__()
        self.network = network
        self.system = system
        self.receiver = receiver
        self.dtype = next(network.parameters()).dtype

    def forward(
        self, R_T: torch.Tensor, H_hat: torch.Tensor, p: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        system = self.system
        sigma_t, U_T, lowest = eigen_inputs(R_T)
        features = input_features(H_hat, p, sigma_t, system.noise_power)
        sigma_s = self.network(features.to(self.dtype)).to(sigma_t.dtype)
        S = recover.waveform_from_powers(sigma_s, U_T, system.waveform_len)
        channel, noise = self.receiver.model(H_hat, p, system)
        W = recover.mmse_beams(channel, p, sigma_s, sigma_t, system.waveform_len, noise)
        return sigma_s, S, W, lowest


class SingleSamplePipeline:
    """(R_T, H_hat, p) -> (sigma_s, S, W, smallest eigenvalue of R_T) for one sample, in numpy.

    The same design as :class:`NetworkPipeline` -- eqs. (29), (31) and (32) as in
    :func:`~isac.learning.features.input_features`, :func:`~isac.physics.recover.
    waveform_from_powers` and :func:`~isac.physics.recover.mmse_beams` -- for a network
    that :func:`~isac.learning.numpy_network.compile_network` compiles. The EVD runs in
    torch, whose Hermitian EVD of one 16 x 16 matrix takes about 60 % of numpy's.

    Args:
        network: in eval mode. system: the system it was trained for.
        receiver: whose MMSE beams W are (:meth:`Receiver.model` of H_hat).

    Raises:
        NotCompilable: the network cannot be compiled.

    Shapes of :meth:`__call__`: numpy R_T complex [n_tx, n_tx], H_hat complex
    [n_rx, n_users], p real [n_users], of one precision; returns sigma_s real [n_tx],
    S complex [L, n_tx], W complex [n_rx, n_users] and the eigenvalue, in it.
    """

    def __init__(
        self, network: nn.Module, system: SystemConfig, receiver: Receiver = GENIE
    ) -> None:
        self.network = compile_network(network, feature_count(system))
        self.waveform_len = system.waveform_len
        self.noise_power = system.noise_power
        self.robust_beta = receiver.beta if receiver.kind == "robust" else None

    def __call__(
        self, R_T: np.ndarray, H_hat: np.ndarray, p: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.floating]:
        eigenvalues, eigenvectors = torch.linalg.eigh(torch.from_numpy(R_T))
        eigenvalues, eigenvectors = eigenvalues.numpy(), eigenvectors.numpy()
        sigma_t = np.maximum(eigenvalues[::-1], 0.0)
        rows = (H_hat * np.sqrt(p / self.noise_power)).T.ravel()  # h_1^T, ..., h_K^T
        features = np.concatenate((rows.real, rows.imag, sigma_t)).astype(np.float32, copy=False)
        sigma_s = self.network(features).astype(sigma_t.dtype, copy=False)
        n_tx = sigma_s.shape[0]
        S = np.zeros((self.waveform_len, n_tx), dtype=eigenvectors.dtype)
        # U_T^H with U_T's columns reversed (descending eigenvalues) is U^H's rows reversed
        S[:n_tx] = np.sqrt(sigma_s)[:, None] * eigenvectors.conj().T[::-1]
        # the receiver's model (Receiver.model): H_hat and the noise, or for the robust
        # receiver sqrt(beta) H_hat and the noise plus (1 - beta) sum_i p_i
        channel, noise = H_hat, self.noise_power
        if self.robust_beta is not None:
            channel = H_hat * np.sqrt(self.robust_beta)
            noise = noise + (1.0 - self.robust_beta) * p.sum()
        # Omega = sum_i p_i h_i^* h_i^T + level I, then one solve for all users (item 12)
        H_conj = channel.conj()
        omega = (H_conj * p) @ channel.T
        omega.flat[:: omega.shape[0] + 1] += sigma_t @ sigma_s / self.waveform_len + noise
        directions = np.linalg.solve(omega, H_conj)
        gains = (channel * directions).sum(axis=0)
        return sigma_s, S, directions / (np.sqrt(p) * gains), eigenvalues[0]
