"""The traditional scheme of Fig. 7: alternating optimisation (AO) with successive convex
approximation (SCA), each step solved exactly (docs/model.md, item 10).

Outer (AO) loop: the beams take their closed form (25) at the current sigma_s.
Inner (SCA) loop, beams fixed: the communication rate with fixed beams is convex
in the echo power t = sigma_t . sigma_s, so its tangent at the current t is a
global lower bound; maximising alpha Rs/M_s plus that tangent is problem (*) of
:mod:`isac.schemes.solvers` with nu = -(1 - alpha)/M_c * slope, solved exactly by
multi-level water-filling. Every step can only increase (28), so the scheme
converges monotonically -- to a stationary point, not necessarily the optimum.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from isac.physics import rates
from isac.physics.problem import ProblemTerms
from isac.physics.recover import mmse_beams
from isac.physics.system import SystemConfig
from isac.schemes.registry import Powers, SchemeInputs
from isac.schemes.solvers import distinct_levels, multilevel_water_filling


@dataclass(frozen=True)
class TraditionalResult:
    """Powers and convergence record of the traditional scheme.

    Attributes:
        sigma_s: real [n, n_tx].
        outer_iterations: int [n], AO iterations until converged.
        inner_iterations: int [n], SCA steps in all.
        converged: bool [n], whether the tolerance was met within the iteration cap.
    """

    sigma_s: torch.Tensor
    outer_iterations: torch.Tensor
    inner_iterations: torch.Tensor
    converged: torch.Tensor


def fixed_beam_slope(
    signal: torch.Tensor,
    interference: torch.Tensor,
    beam_norm: torch.Tensor,
    echo_power: torch.Tensor,
    noise: torch.Tensor,
    system: SystemConfig,
) -> torch.Tensor:
    """real [n]: d Rc/dt of the rate (8) with fixed beams, t = sigma_t . sigma_s (bits/unit),
    at the noise level ``noise`` real [n] of the receiver's model."""
    denominator = interference + (echo_power + noise)[:, None] * beam_norm
    # d/dt ln(1 + s/d(t)) with d'(t) = ||w||^2 / L
    slope = -signal * beam_norm / (system.waveform_len * denominator * (denominator + signal))
    return slope.mean(dim=-1) / rates.LN2


def traditional_powers(
    terms: ProblemTerms,
    H: torch.Tensor,
    p: torch.Tensor,
    system: SystemConfig,
    tolerance: float = 1e-6,
    max_outer: int = 100,
    max_inner: int = 10,
) -> TraditionalResult:
    """Run AO-SCA from equal powers until the WSNR (28) improves by less than ``tolerance``
    (relative) in one outer iteration.

    Args:
        terms: problem terms of the channels the scheme sees.
        H: complex [n, n_rx, n_users], those channels. p: real [n, n_users].
        system: the system settings.
        tolerance: relative improvement below which an instance counts as converged.
        max_outer, max_inner: caps on AO iterations and on SCA steps per AO iteration.
    """
    terms = terms.to(torch.float64)
    H, p = H.to(torch.complex128), p.double()
    n = len(terms)
    weight = terms.sensing_weight(system)
    levels, counts = distinct_levels(terms.sigma_h, system.n_users)
    x = torch.full_like(terms.sigma_t, system.sensing_power / system.n_tx)
    value = terms.wsnr(x, system)
    active = torch.ones(n, dtype=torch.bool)
    outer = torch.zeros(n, dtype=torch.long)
    inner = torch.zeros(n, dtype=torch.long)
    for _ in range(max_outer):
        beams = mmse_beams(H, p, x, terms.sigma_t, system.waveform_len, terms.comm_noise)
        signal, interference, beam_norm = rates.beam_terms(H, p, beams)
        for _ in range(max_inner):
            echo = rates.echo_interference(x, terms.sigma_t, system.waveform_len)
            slope = fixed_beam_slope(
                signal, interference, beam_norm, echo, terms.comm_noise, system
            )
            nu = rates.per_maximum(-(1.0 - system.alpha) * slope, terms.max_rate_c)
            step = multilevel_water_filling(
                terms.sigma_t, levels, weight, nu, system.sensing_power, counts
            )
            moved = (step - x).abs().amax(dim=-1) > tolerance * system.sensing_power
            x = torch.where(active[:, None], step, x)
            inner += active
            if not (moved & active).any():
                break
        new_value = terms.wsnr(x, system)
        outer += active
        improved = new_value - value > tolerance * value.abs()
        value = new_value
        active &= improved
        if not active.any():
            break
    return TraditionalResult(
        sigma_s=x.to(terms.sigma_t.dtype),
        outer_iterations=outer,
        inner_iterations=inner,
        converged=~active,
    )


def traditional_design(inputs: SchemeInputs) -> Powers:
    """The registered ``traditional`` scheme, with its mean iteration counts for the table."""
    result = traditional_powers(inputs.terms, inputs.H, inputs.p, inputs.system)
    return Powers(
        result.sigma_s,
        {
            "outer_iterations": result.outer_iterations.double().mean().item(),
            "inner_iterations": result.inner_iterations.double().mean().item(),
            "converged_fraction": result.converged.double().mean().item(),
        },
    )
