"""Timed designs with targets at directions: from what the BS holds -- the targets'
directions and strengths, the channel estimate H_hat and the user powers -- to the
transmit covariance R_x, the waveform S (S^H S = R_x) and the MMSE beams with the
targets' echo (:mod:`isac.physics.directional`).

The design API (:class:`~isac.designer.Designer`) takes R_T, the paper's model; with
directions the designs run here, for evaluation (:mod:`isac.experiments.comparison`).
"""

from __future__ import annotations

import time

import torch

from isac.designer.pipelines import eigen_inputs
from isac.designer.timed import Design
from isac.learning.lit_module import ISACModule
from isac.learning.problem_batch import ProblemBatch
from isac.physics.directional import (
    DirectionalTargets,
    DirectionalTerms,
    directional_beams,
    echo_of_gram,
    gram_of,
)
from isac.physics.receivers import Receiver
from isac.physics.recover import waveform_from_covariance
from isac.physics.system import SystemConfig
from isac.schemes.directional import DirectionalInputs
from isac.schemes.registry import SCHEMES


def _recover(
    R_x: torch.Tensor,
    targets: DirectionalTargets,
    H_hat: torch.Tensor,
    p: torch.Tensor,
    system: SystemConfig,
    receiver: Receiver,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(sigma_s, S, W) of the covariance R_x: the waveform's powers, the waveform, and the
    receiver's MMSE beams with the echo of R_x, in the precision of H_hat."""
    R_x = R_x.to(H_hat.dtype)
    S, sigma_s = waveform_from_covariance(R_x, system.waveform_len)
    targets = targets.to(H_hat.real.dtype)
    echo = echo_of_gram(gram_of(R_x, targets.A), targets.variances, system.waveform_len)
    channel, noise = receiver.model(H_hat, p, system)
    return sigma_s, S, directional_beams(channel, p, echo, targets, noise)


def design_network_directional(
    network: ISACModule,
    targets: DirectionalTargets,
    H_hat: torch.Tensor,
    p: torch.Tensor,
    system: SystemConfig,
    receiver: Receiver,
) -> Design:
    """A trained network with directions: its problems (the targets' transmit covariance
    as R_T for the features (29), the targets for a network that reads them), its R_x,
    and the recovery."""
    start = time.perf_counter()
    # no_grad, not inference_mode: a network that reads the targets searches with autograd
    with torch.no_grad():
        targets = targets.to(H_hat.real.dtype)
        sigma_t, U_T, lowest = eigen_inputs(targets.transmit_covariance())
        dtype = next(network.network.parameters()).dtype
        problem = ProblemBatch.from_estimate(
            H_hat, p, sigma_t, system, receiver, dtype, targets, U_T
        )
        R_x = network(problem)
        sigma_s, S, W = _recover(R_x, targets, H_hat, p, system, receiver)
    seconds = time.perf_counter() - start
    return Design(sigma_s, S, W, "mmse", seconds, {}, lowest, R_x.to(H_hat.dtype))


def design_scheme_directional(
    name: str,
    targets: DirectionalTargets,
    H_hat: torch.Tensor,
    p: torch.Tensor,
    system: SystemConfig,
    receiver: Receiver,
) -> Design:
    """The registered scheme ``name`` with directions: its R_x for the terms of
    ``receiver``'s model of H_hat, and the recovery."""
    start = time.perf_counter()
    terms = DirectionalTerms.for_receiver(receiver, H_hat, p, targets, system)
    channel, _ = receiver.model(H_hat, p, system)
    powers = SCHEMES[name].design(DirectionalInputs(terms, channel, p, system))
    sigma_s, S, W = _recover(powers.sigma_s, targets, H_hat, p, system, receiver)
    seconds = time.perf_counter() - start
    lowest = torch.zeros(len(terms), dtype=sigma_s.dtype)
    return Design(sigma_s, S, W, "mmse", seconds, powers.info, lowest, powers.sigma_s)
