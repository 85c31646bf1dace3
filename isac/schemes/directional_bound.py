"""A certified upper bound on the optimum with targets at directions, for any number of targets.

The objective (28) with directions is WSNR(Z) = S(Z) + C(c(Z)) (docs/model.md, item 15):

- S(Z) = alpha Rs/M_s, concave in the covariance Z (r x r, Z >= 0, tr Z <= P_s);
- C(c) = (1 - alpha) Rc(c)/M_c, convex and decreasing in the targets' echo powers
  c_i = s_i^2 (A^H Z A)_ii / L (each user's 1 - q_k is concave in c: C (I + W C)^-1 is
  the parallel sum of C and W^-1), with c in the box [0, c_max], c_max,i = s_i^2 P_s
  ||a_i||^2 / L.

For any prices nu and any box B of echo powers, splitting c(Z) = c gives

    max {WSNR(Z) : c(Z) in B} <= h(nu) + max_{c in B} [C(c) + nu . c],
    h(nu) = max_Z S(Z) - nu . c(Z)   (the penalised problem, concave),

and as C + nu . c is convex, its maximum over B is at one of B's 2^M vertices. An upper
bound on h(nu) comes from any feasible Z by concavity: h(nu) <= phi(Z) + max over the
feasible set of <grad phi(Z), Z' - Z> = phi(Z) + P_s max(lambda_max(grad phi), 0) -
<grad phi, Z> (the Frank-Wolfe gap), phi = S - nu . c.

With nu = -grad C at B's centre, the vertex term exceeds C's tangent plane only by C's
curvature across B, so the bound tightens as boxes shrink: :func:`certified_gap` is a
branch and bound over the boxes of c, each round bounding every live box, dropping those
whose bound is within ``tolerance`` of the best value known, and halving the others
along their widest side (relative to c_max). Every penalised solve also yields a design,
whose WSNR can only raise the best value known. What is left when the rounds run out,
the largest bound minus the best value, is the certified gap: the optimum is at most
the best value plus the gap.
"""

from __future__ import annotations

import itertools

import torch

from isac.physics import rates
from isac.physics.directional import DirectionalTerms
from isac.physics.psd_ascent import frank_wolfe_bound, projected_ascent
from isac.physics.system import SystemConfig
from isac.schemes.directional import DesignSpace, DirectionalInputs, penalised_objective

ROUNDS = 30  # branch-and-bound rounds at most
PENALISED_STEPS = 150  # projected-gradient steps of each box's penalised problem
TOLERANCE = 1e-4  # a box is dropped within this share of the best value
MAX_BOXES = 200_000  # live boxes at most (over all samples); beyond, the rounds stop


def penalised_bound(
    inputs: DirectionalInputs,
    space: DesignSpace,
    prices: torch.Tensor,
    start: torch.Tensor,
    steps: int = PENALISED_STEPS,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(Z [n, r, r], an upper bound [n] on h(prices)): the penalised problem of the module
    docstring solved from ``start`` by ``steps`` projected-gradient steps, and its value at
    Z plus the Frank-Wolfe gap there."""
    budget = inputs.system.sensing_power
    penalised = penalised_objective(inputs.system)
    problem = (inputs.terms, space.A, prices)
    Z, _, _ = projected_ascent(penalised, start, budget, steps, problem)
    _, bound = frank_wolfe_bound(penalised, Z, budget, problem)
    return Z.detach(), bound


def communication_term(
    terms: DirectionalTerms, system: SystemConfig, echo: torch.Tensor
) -> torch.Tensor:
    """real [n]: C(c) = (1 - alpha) Rc(c)/M_c of the terms [n] at the echo powers c [n, M]."""
    return rates.per_maximum((1.0 - system.alpha) * terms.comm_rate_of_echo(echo), terms.max_rate_c)


def echo_range(inputs: DirectionalInputs, space: DesignSpace) -> torch.Tensor:
    """real [n, M]: c_max, the largest echo power of each target within the budget."""
    system = inputs.system
    reach = space.A.abs().square().sum(-2)  # ||a_i||^2 in the span's coordinates
    variances = inputs.terms.targets.variances
    return variances * reach * system.sensing_power / system.waveform_len


def certified_gap(
    inputs: DirectionalInputs,
    best: torch.Tensor,
    rounds: int = ROUNDS,
    tolerance: float = TOLERANCE,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(the best WSNR known [n], its certified gap [n] >= optimum - best) by the branch
    and bound of the module docstring, from the WSNR ``best`` [n] of a design (e.g. the
    reference optimum's)."""
    terms, system = inputs.terms, inputs.system
    space = DesignSpace.of(terms)
    n, M = terms.targets.A.shape[0], terms.targets.A.shape[-1]
    width = echo_range(inputs, space)
    best = best.clone().double()
    owner = torch.arange(n)
    bound = torch.full_like(best, torch.inf)
    low, high = torch.zeros_like(width), width.clone()
    Z = space.scaled_identity(system.sensing_power)
    dropped = torch.full_like(best, -torch.inf)  # the largest bound of a dropped box
    corners = torch.tensor(list(itertools.product((0.0, 1.0), repeat=M)), dtype=width.dtype)
    for round_ in range(rounds):
        boxes = DirectionalInputs(terms[owner], inputs.H[owner], inputs.p[owner], system)
        box_space = DesignSpace(space.U[owner], space.A[owner])
        centre = (low + high) / 2
        prices = boxes.terms.echo_prices(system, centre)
        Z, penalised = penalised_bound(boxes, box_space, prices, Z)
        # the vertex term: C + nu . c at every corner of every box
        vertices = low[:, None] + corners[None] * (high - low)[:, None]  # [B, 2^M, M]
        flat = vertices.reshape(-1, M)
        index = torch.arange(len(owner)).repeat_interleave(len(corners))
        vertex = communication_term(boxes.terms[index], system, flat)
        vertex = vertex + (prices[index] * flat).sum(-1)
        # a box's bound is also its parent's (both hold on it); the lower one is kept
        bound = torch.minimum(bound, penalised + vertex.reshape(len(owner), -1).amax(-1))
        # every solve is a design: its WSNR can raise the best value known
        achieved = boxes.terms.wsnr_of(box_space.gram(Z), system)
        best = best.scatter_reduce(0, owner, achieved, reduce="amax")
        live = bound > best[owner] + tolerance * best[owner].abs()
        dropped = dropped.scatter_reduce(0, owner[~live], bound[~live], reduce="amax")
        owner, low, high, Z, bound = owner[live], low[live], high[live], Z[live], bound[live]
        if len(owner) == 0 or 2 * len(owner) > MAX_BOXES or round_ == rounds - 1:
            break
        # halve every live box along its widest side, relative to c_max
        side = ((high - low) / width[owner].clamp_min(1e-300)).argmax(-1)
        middle = ((low + high) / 2).gather(-1, side[:, None])
        low = torch.cat([low, low.scatter(-1, side[:, None], middle)])
        high = torch.cat([high.scatter(-1, side[:, None], middle), high])
        owner, Z, bound = owner.repeat(2), Z.repeat(2, 1, 1), bound.repeat(2)
    remaining = torch.full_like(best, -torch.inf).scatter_reduce(0, owner, bound, reduce="amax")
    gap = (torch.maximum(remaining, dropped) - best).clamp_min(0.0)
    return best, gap
