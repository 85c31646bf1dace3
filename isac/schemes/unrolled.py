"""Multi-level water-filling in a fixed number of steps: PriceNet's layer as a graph.

:func:`~isac.schemes.solvers.multilevel_water_filling` iterates until it converges and
drops finished samples from its batch, which no static graph (ONNX) can hold. This
solves the same concave problem (*) of :mod:`isac.schemes.solvers` with a fixed number
of safeguarded Newton steps and no data-dependent control flow, so that it traces
(docs/export.md) and runs one sample in a few hundred graph nodes (docs/model.md, item 18).

With c_ij = sigma_t,i sigma_h,j, the substitution x_i = u_i / sigma_t,i turns the
stationarity of (*) on channel i, w sum_j m_j c_ij / (1 + c_ij x_i) = nu sigma_t,i + lambda,
into one function shared by every channel:

    phi(u_i) = y_i,  phi(u) = sum_j m_j / (1/sigma_h,j + u),  y_i = (nu + lambda/sigma_t,i)/w,

and channel i is active (u_i > 0) iff lambda < (w phi(0) - nu) sigma_t,i, its threshold.

- The powers at a multiplier lambda: 1/phi is increasing and concave (a parallel sum of
  the affine 1/sigma_h,j + u), so a Newton step on 1/phi(u) = 1/y from either side lands
  at or below the root, and from there they climb to it monotonically. The last iterate
  is thus a lower bound on u_i; one Newton step on phi itself (convex) from it lands at or
  above the root, an upper bound. The sum X(lambda) = sum_i x_i, decreasing in lambda,
  is known between the two sums.
- The scan: X at lambda = 0, at every threshold (where the set of active channels
  changes) and at the two multipliers the bounds phi(u) <= M/u and phi(u) >= M/(b + u)
  (M = sum_j m_j, b the largest 1/sigma_h,j) give for nu = 0, all at once,
  :data:`SCAN_STEPS` inner steps each. The bracket [low, high] of the root of X = P is
  the largest candidate certainly above the budget (by X's lower bound) and the smallest
  certainly below it (by its upper bound).
- :data:`OUTER_STEPS` safeguarded Newton steps on lambda from the bracket's low end,
  :data:`INNER_STEPS` inner steps each, warm-started (capped at M/y, as phi(u) <= M/u):
  Newton on 1/X far above the budget (X ~ c/lambda), on ln X above it, on X below it (X
  nearly linear next to a threshold); on X if that form leaves the bracket; bisection if
  both do. Only a certain side moves the bracket. Frozen once X is on the budget (or
  certainly under it at lambda = 0).

Finally powers above the budget are rescaled onto it, so they are always feasible. The
distance from the exact solver is in docs/results.md ("PriceNet and the universal network
as a graph").
"""

from __future__ import annotations

import torch

from isac.schemes.solvers import FAR_ABOVE_BUDGET

OUTER_STEPS = 8  # steps on the budget multiplier (docs/results.md: error against steps)
INNER_STEPS = 2  # Newton steps on each u_i per multiplier, warm-started
SCAN_STEPS = 3  # Newton steps on each u_i at the scan's candidates, from 0
SETTLED = 1e-13  # |X/P - 1| below which the multiplier is frozen
SMALLEST_TARGET = 1e-150  # phi(u) = 0 at nu = lambda = 0 has u = inf: a huge finite u instead


def unrolled_water_filling(
    sigma_t: torch.Tensor,
    levels: torch.Tensor,
    counts: torch.Tensor,
    weight: torch.Tensor,
    nu: torch.Tensor,
    budget: float,
    outer_steps: int = OUTER_STEPS,
    inner_steps: int = INNER_STEPS,
    scan_steps: int = SCAN_STEPS,
) -> torch.Tensor:
    """Feasible powers x(nu) of problem (*) (:mod:`isac.schemes.solvers`) in fixed steps.

    Args:
        sigma_t: real [n, n_tx] (>= 0). levels: real [n, m] (> 0), the distinct sigma_h.
        counts: real [n, m], their multiplicities (:func:`~isac.schemes.solvers.distinct_levels`).
        weight: real [n], w >= 0. nu: real [n], >= 0. budget: P >= 0.
        outer_steps, inner_steps, scan_steps: the fixed step counts (the module docstring).

    Returns:
        real [n, n_tx], x >= 0 with sum_i x_i <= P, aligned with ``sigma_t``.
    """
    tiny = torch.finfo(sigma_t.dtype).tiny
    # shapes [n, candidates, n_tx, levels]: the scan evaluates many multipliers at once
    reachable = (sigma_t > 0)[:, None, :]
    inverse_t = torch.where(reachable, 1.0 / sigma_t.clamp_min(tiny)[:, None, :], 0.0)
    inverse_levels, weighted_counts = (1.0 / levels)[:, None, None, :], counts[:, None, None, :]
    full_price = (weight * (levels * counts).sum(-1))[:, None, None]  # w phi(0)
    w = weight.clamp_min(tiny)[:, None, None]
    total_count = counts.sum(-1)[:, None, None]  # M
    inverse_t_squared = inverse_t.square()

    def phi(u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """phi(u) and -phi'(u), for u [n, C, n_tx]."""
        shares = 1.0 / (inverse_levels + u[..., None])
        weighted = shares * weighted_counts
        return weighted.sum(-1), (weighted * shares).sum(-1)

    def powers(multiplier: torch.Tensor, u: torch.Tensor, steps: int):
        """At multipliers [n, C, 1], from u [n, C, n_tx]: u's lower bound, X's lower and
        upper bounds and dX/dlambda, [n, C, 1] each."""
        price = nu[:, None, None] + multiplier * inverse_t
        active = reachable & (price < full_price)
        target = torch.where(active, (price / w).clamp_min(SMALLEST_TARGET), 1.0)
        u = torch.where(active, torch.minimum(u, total_count / target), 0.0)
        for _ in range(steps):
            value, slope = phi(u)
            u = (u + (value / target - 1.0) * value / slope).clamp_min(0.0)
        u = torch.where(active, u, 0.0)
        value, slope = phi(u)
        upper = u + torch.where(active, (value - target).clamp_min(0.0) / slope, 0.0)
        # du_i/dlambda = -(1/sigma_t,i) / (w (-phi'(u_i))) on the support
        derivative = torch.where(active, inverse_t_squared / (w * slope), 0.0)
        return (
            u,
            (inverse_t * u).sum(-1, keepdim=True),
            (inverse_t * upper).sum(-1, keepdim=True),
            -derivative.sum(-1, keepdim=True),
        )

    # the scan: lambda = 0, the thresholds, and the roots of the bounds n M w/lambda and
    # n M w/lambda - b sum_i 1/sigma_t,i of X at nu = 0 (n reachable channels)
    thresholds = ((full_price[:, :, 0] - nu[:, None]) * sigma_t).clamp_min(0.0)
    bound = reachable[:, 0].sum(-1, keepdim=True) * total_count[:, :, 0] * weight[:, None]
    offset = inverse_levels[:, 0, 0].amax(-1, keepdim=True) * inverse_t[:, 0].sum(-1, keepdim=True)
    zero = torch.zeros_like(thresholds[:, :1])
    candidates = torch.cat([zero, thresholds, bound / budget, bound / (budget + offset)], dim=-1)[
        ..., None
    ]
    scanned, total, ceiling, _ = powers(candidates, torch.zeros_like(candidates), scan_steps)
    low = torch.where(total > budget, candidates, 0.0).amax(1, keepdim=True)
    high = torch.where(ceiling < budget, candidates, torch.inf).amin(1, keepdim=True)
    # X at the ends (its lower bound at low, its upper bound at high: 0 at the largest
    # threshold, where no channel is active), and low's u as the warm start
    pick = (candidates == low).to(sigma_t.dtype)
    count = pick.sum(1, keepdim=True)  # >= 1 (low is a candidate, or 0)
    u = (pick * scanned).sum(1, keepdim=True) / count
    total_low = (pick * total).sum(1, keepdim=True) / count
    pick = (candidates == high).to(sigma_t.dtype)
    total_high = (pick * ceiling).sum(1, keepdim=True) / pick.sum(1, keepdim=True).clamp_min(1.0)
    high = torch.minimum(high, thresholds.amax(-1)[:, None, None])
    multiplier = low
    u, total, ceiling, derivative = powers(multiplier, u, inner_steps)
    for _ in range(outer_steps):
        above, below = total > budget, ceiling < budget
        low = torch.where(above, multiplier, low)
        total_low = torch.where(above, total, total_low)
        high = torch.where(below, multiplier, high)
        total_high = torch.where(below, ceiling, total_high)
        ratio = total / budget
        # Newton on 1/X, ln X or X: the step is -d X/X' with d = X/P - 1, ln(X/P), 1 - P/X
        distance = torch.where(
            ratio > FAR_ABOVE_BUDGET,
            ratio - 1.0,
            torch.where(ratio > 1.0, torch.log(ratio), 1.0 - 1.0 / ratio),
        )
        chosen = multiplier - distance * total / derivative
        # the secant through the bracket's ends: exact where X is linear (next to a
        # threshold), where Newton on 1/X overshoots the bracket
        secant = low + (total_low - budget) * (high - low) / (total_low - total_high)
        plain = multiplier - (total - budget) / derivative
        chosen_inside = (chosen > low) & (chosen < high)  # false for NaN too
        secant_inside = (secant > low) & (secant < high)
        plain_inside = (plain > low) & (plain < high)
        # from below the root (X above the budget) the secant; from above it, Newton on X;
        # else bisection (a secant from above would creep, one end fixed)
        fallback = torch.where(
            above & secant_inside,
            secant,
            torch.where(plain_inside, plain, 0.5 * (low + high)),
        )
        step = torch.where(chosen_inside, chosen, fallback)
        settled = ((multiplier == 0) & below) | ((ratio - 1.0).abs() <= SETTLED)
        # on neither side for certain (and no Newton step): the inner steps refine u here
        stay = settled | ~(chosen_inside | secant_inside | plain_inside | above | below)
        multiplier = torch.where(stay, multiplier, step)
        u, total, ceiling, derivative = powers(multiplier, u, inner_steps)
    x = (inverse_t * u)[:, 0]
    total = total[:, 0]
    return x * torch.where(total > budget, budget / total.clamp_min(tiny), 1.0)
