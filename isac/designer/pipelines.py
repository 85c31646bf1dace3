"""The online design of a learned network, from what the BS holds to the waveform and beams.

Pre-processing (Sec. IV-A: the EVD of R_T), the features (29), the network, and the
recovery of S (31) and W (32), in two forms (:class:`isac.designer.Designer`):

- :class:`NetworkPipeline`, torch, for a batch (and any network): the network is called
  on a :class:`~isac.learning.problem_batch.ProblemBatch`;
- :class:`SingleSamplePipeline`, numpy, for one sample of a network that compiles to a
  numpy program (:mod:`isac.designer.numpy_program`), where torch's per-operation
  dispatch would cost several times the arithmetic.

Both call the same functions for everything but the network: :func:`eigen_inputs`,
:func:`~isac.learning.features.input_features` and :func:`recover_design`, which are
written once for tensors and arrays alike.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from isac.designer.numpy_program import compile_network
from isac.learning.features import input_features
from isac.learning.problem_batch import ProblemBatch
from isac.physics import recover
from isac.physics.arrays import eigh_hermitian
from isac.physics.receivers import GENIE, Receiver
from isac.physics.system import SystemConfig


def eigen_inputs(R_T):
    """Pre-processing (Sec. IV-A) of R_T, complex [..., n_tx, n_tx], a tensor or an array.

    A tensor's EVD runs in torch; an array's in LAPACK's ?heevd through the same library
    numpy calls (:func:`~isac.physics.arrays.eigh_hermitian`). For one 16 x 16 matrix
    both take about 25 us, but after torch's EVD the numpy steps that follow it on the
    one-sample path ran about 20 us slower each (docs/evaluation.md, "The design API").

    Returns:
        (sigma_t real [..., n_tx] descending and clamped at 0, U_T complex
        [..., n_tx, n_tx] its eigenvectors as columns, the smallest eigenvalue before
        clamping, real [...]), of the type of R_T.
    """
    eigenvalues, eigenvectors = eigh_hermitian(R_T)
    if isinstance(R_T, np.ndarray):
        sigma_t = np.maximum(eigenvalues[..., ::-1], 0.0)
        return sigma_t, eigenvectors[..., ::-1], eigenvalues[..., 0]
    return eigenvalues.flip(-1).clamp_min(0.0), eigenvectors.flip(-1), eigenvalues[..., 0]


def recover_design(sigma_s, sigma_t, U_T, H_hat, p, system: SystemConfig, receiver: Receiver):
    """The waveform S (31) and the receiver's MMSE beams W (32) for the powers sigma_s.

    Args:
        sigma_s, sigma_t: real [..., n_tx]. U_T: complex [..., n_tx, n_tx].
        H_hat: complex [..., n_rx, n_users]. p: real [..., n_users]. Tensors or arrays.
        receiver: whose beams (:meth:`Receiver.model` of H_hat).

    Returns:
        (S complex [..., L, n_tx], W complex [..., n_rx, n_users]).
    """
    S = recover.waveform_from_powers(sigma_s, U_T, system.waveform_len)
    channel, noise = receiver.model(H_hat, p, system)
    W = recover.mmse_beams(channel, p, sigma_s, sigma_t, system.waveform_len, noise)
    return S, W


class NetworkPipeline(nn.Module):
    """(R_T, H_hat, p) -> (sigma_s, S, W, smallest eigenvalue of R_T), for a batch.

    Args:
        network: a network (:mod:`isac.learning.networks`), in eval mode.
        system: the system it designs for.
        receiver: the receiver the design is for: its objective and its beams.

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
        sigma_t, U_T, lowest = eigen_inputs(R_T)
        problem = ProblemBatch.from_estimate(
            H_hat, p, sigma_t, self.system, self.receiver, self.dtype
        )
        sigma_s = self.network(problem).to(sigma_t.dtype)
        S, W = recover_design(sigma_s, sigma_t, U_T, H_hat, p, self.system, self.receiver)
        return sigma_s, S, W, lowest


class SingleSamplePipeline:
    """(R_T, H_hat, p) -> (sigma_s, S, W, smallest eigenvalue of R_T) for one sample, in numpy.

    The same design as :class:`NetworkPipeline`, through the same functions, for a network
    that :func:`~isac.designer.numpy_program.compile_network` compiles.

    Args:
        network: in eval mode. system: the system it designs for.
        receiver: the receiver whose beams W are.

    Raises:
        NotCompilable: the network cannot be compiled.

    Shapes of :meth:`__call__`: numpy R_T complex [n_tx, n_tx], H_hat complex
    [n_rx, n_users], p real [n_users], of one precision; returns sigma_s real [n_tx],
    S complex [L, n_tx], W complex [n_rx, n_users] and the eigenvalue, in it.
    """

    def __init__(
        self, network: nn.Module, system: SystemConfig, receiver: Receiver = GENIE
    ) -> None:
        self.program = compile_network(network, system)
        self.system = system
        self.receiver = receiver

    def __call__(
        self, R_T: np.ndarray, H_hat: np.ndarray, p: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.floating]:
        sigma_t, U_T, lowest = eigen_inputs(R_T)
        features = input_features(H_hat, p, sigma_t, self.system.noise_power)
        sigma_s = self.program(features.astype(np.float32, copy=False))
        sigma_s = sigma_s.astype(sigma_t.dtype, copy=False)
        S, W = recover_design(sigma_s, sigma_t, U_T, H_hat, p, self.system, self.receiver)
        return sigma_s, S, W, lowest
