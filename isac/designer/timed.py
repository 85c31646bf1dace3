"""Every scheme as a *design*, timed: from what the BS holds -- R_T, the channel estimate
H_hat and the user powers -- to the powers sigma_s, the waveform S (31) and the receive
beams W. A design's time covers all of it, the eigendecomposition of R_T included.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch

from isac.designer.pipelines import NetworkPipeline, eigen_inputs
from isac.learning.lit_module import ISACModule
from isac.physics import recover
from isac.physics.problem import ProblemTerms
from isac.physics.receivers import GENIE, Receiver
from isac.physics.system import SystemConfig
from isac.schemes.beams import BEAM_RULES
from isac.schemes.registry import SCHEMES, SchemeInputs

WARM_UP_CALLS = 20
BLOCK_CALLS = 25  # consecutive calls of one design in interleaved_median_ms


@dataclass(frozen=True)
class Design:
    """One scheme's output for a batch: real sigma_s [n, n_tx] (the powers of S, its squared
    singular values), complex S [n, L, n_tx] and W [n, n_rx, n_users] (from H_hat), the
    beam rule, the time it took, the scheme's extra information, the smallest eigenvalue
    of each R_T before clamping, real [n] (the design API's check that R_T is positive
    semidefinite reads it), and with targets at directions the transmit covariance
    R_x = S^H S [n, n_tx, n_tx] (None for the paper's model, where sigma_s is the design)."""

    sigma_s: torch.Tensor
    S: torch.Tensor
    W: torch.Tensor
    beam_rule: str
    seconds: float
    info: dict[str, float]
    lowest_eigenvalue: torch.Tensor
    covariance: torch.Tensor | None = None


def design_network(
    network: ISACModule,
    R_T: torch.Tensor,
    H_hat: torch.Tensor,
    p: torch.Tensor,
    system: SystemConfig,
    receiver: Receiver = GENIE,
) -> Design:
    """The learned scheme: EVD of R_T, features (29), network, recovery (31)-(32) with
    ``receiver``'s beams (:class:`~isac.designer.pipelines.NetworkPipeline`, run eagerly)."""
    start = time.perf_counter()
    with torch.inference_mode():
        pipeline = NetworkPipeline(network.network, system, receiver)
        sigma_s, S, W, lowest = pipeline(R_T, H_hat, p)
    return Design(sigma_s, S, W, "mmse", time.perf_counter() - start, {}, lowest)


def design_scheme(
    name: str,
    R_T: torch.Tensor,
    H_hat: torch.Tensor,
    p: torch.Tensor,
    system: SystemConfig,
    receiver: Receiver = GENIE,
) -> Design:
    """The registered scheme ``name``, from the same inputs as the network: its powers
    from the problem terms of ``receiver``'s model of H_hat (:meth:`Receiver.model`; H_hat
    as if exact, but for the robust receiver), the waveform (31) and its beam rule's beams
    for that model."""
    scheme = SCHEMES[name]
    start = time.perf_counter()
    sigma_t, U_T, lowest = eigen_inputs(R_T)
    channel, noise = receiver.model(H_hat, p, system)
    seen = ProblemTerms.for_receiver(receiver, H_hat, p, sigma_t, system)
    powers = scheme.design(SchemeInputs(seen, channel, p, system))
    S = recover.waveform_from_powers(powers.sigma_s, U_T, system.waveform_len)
    rule = BEAM_RULES[scheme.beam_rule]
    W = rule.form(channel, p, powers.sigma_s, sigma_t, system, noise.to(sigma_t.dtype))
    seconds = time.perf_counter() - start
    return Design(powers.sigma_s, S, W, scheme.beam_rule, seconds, powers.info, lowest)


def timed(design: Callable[[], Design], repeats: int) -> Design:
    """The design with the best time of ``repeats`` runs (the first also warms up)."""
    best = design()
    for _ in range(repeats - 1):
        again = design()
        if again.seconds < best.seconds:
            best = again
    return best


def median_ms(call: Callable[[int], object], count: int) -> float:
    """Median ms of ``call(i)`` over ``count`` calls on samples i = 0 .. count - 1, after
    :data:`WARM_UP_CALLS` calls and, every :data:`BLOCK_CALLS` samples, one untimed call
    (:func:`interleaved_median_ms` with one call); the latency of one call at batch size 1
    (Table I)."""
    return interleaved_median_ms({"call": call}, count)["call"]


def interleaved_median_ms(
    calls: Mapping[str, Callable[[int], object]], count: int
) -> dict[str, float]:
    """Median ms of each of ``calls`` as :func:`median_ms` times it, the calls taking
    turns in blocks of :data:`BLOCK_CALLS` samples (the first of each turn rotating), so
    that a machine whose speed drifts during the run slows them alike and their ratios
    hold (benchmarks/runtime_table.py). Each block starts with one untimed call, so that
    every timed call finds the state its own previous call left, as in a loop of it
    alone: taking turns sample by sample, the EVD-and-solve floor measured 2-3x slower
    after the other designs' calls than in a loop of its own."""
    names = list(calls)
    for i in range(min(WARM_UP_CALLS, count)):
        for name in names:
            calls[name](i)
    times: dict[str, list[float]] = {name: [] for name in names}
    for turn, first in enumerate(range(0, count, BLOCK_CALLS)):
        for k in range(len(names)):
            name = names[(turn + k) % len(names)]
            calls[name](first)
            for i in range(first, min(first + BLOCK_CALLS, count)):
                start = time.perf_counter()
                calls[name](i)
                times[name].append(time.perf_counter() - start)
    return {name: 1000.0 * statistics.median(times[name]) for name in names}
