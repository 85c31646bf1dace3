"""Multi-level water-filling in a fixed number of steps: PriceNet's layer as a graph.

:func:`~isac.schemes.solvers.multilevel_water_filling` iterates until it converges and
drops finished samples from its batch, which no static graph (ONNX) can hold. This
solves the same concave problem (*) of :mod:`isac.schemes.solvers` with a fixed number
of safeguarded Newton steps and no data-dependent control flow, so that it traces
(docs/export.md) and runs one sample in a few hundred graph nodes (docs/model.md, item 18).

With c_ij = sigma_t,i sigma_h,j, the substitution x_i = u_i / sigma_t,i turns the
stationarity of (*) on channel i, w sum_j m_j c_ij / (1 + c_ij x_i) = nu sigma_t,i + lambda,
into one function shared by every channel:

    phi(u_i) = y_i,   phi(u) = sum_j m_j / (1/sigma_h,j + u),   y_i = (nu + lambda/sigma_t,i)/w,

and channel i is active (u_i > 0) iff y_i < phi(0). 1/phi is increasing and concave (a
parallel sum of the affine 1/sigma_h,j + u), so Newton's method on 1/phi(u) = 1/y,
warm-started from the last lambda's u (clipped at 0), converges monotonically
(:data:`INNER_STEPS` per lambda). The budget multiplier lambda takes
:data:`OUTER_STEPS` Newton steps on ln X(lambda) = ln P, X = sum_i x_i, from lambda = 0,
safeguarded by the bracket [low, high] that every evaluation of X shrinks (bisection
where Newton leaves it, and at lambda = 0 far above the budget, where nu ~ 0 makes
X ~ c/lambda and Newton crawl), and frozen once X is on the budget (or under it at
lambda = 0). Finally powers above the budget are rescaled onto it, so they are always
feasible. Their distance from the exact layer is measured in docs/results.md
("PriceNet and the universal network as a graph"): none at the points of Fig. 7, but
on about 1 % of random hard problems the fixed steps stop short (a known limitation).
"""

from __future__ import annotations

import torch

from isac.schemes.solvers import FAR_ABOVE_BUDGET

OUTER_STEPS = 14  # steps on the budget multiplier (docs/results.md: error against steps)
INNER_STEPS = 2  # Newton steps on each u_i per multiplier, warm-started
SETTLED = 1e-13  # |X/P - 1| below which the multiplier is frozen
SMALLEST_TARGET = 1e-150  # phi(u) = 0 at nu = lambda = 0 has u = inf: a huge finite u instead


def _phi(inverse_levels: torch.Tensor, counts: torch.Tensor, u: torch.Tensor):
    """phi(u_i) and -phi'(u_i), real [n, n_tx] each, for 1/sigma_h,j and the levels' counts,
    real [n, 1, m] each."""
    shares = 1.0 / (inverse_levels + u[:, :, None])  # [n, n_tx, m]
    weighted = shares * counts
    return weighted.sum(dim=-1), (weighted * shares).sum(dim=-1)


def unrolled_water_filling(
    sigma_t: torch.Tensor,
    levels: torch.Tensor,
    counts: torch.Tensor,
    weight: torch.Tensor,
    nu: torch.Tensor,
    budget: float,
    outer_steps: int = OUTER_STEPS,
    inner_steps: int = INNER_STEPS,
) -> torch.Tensor:
    """Feasible powers x(nu) of problem (*) (:mod:`isac.schemes.solvers`) in fixed steps.

    Args:
        sigma_t: real [n, n_tx] (>= 0). levels: real [n, m] (> 0), the distinct sigma_h.
        counts: real [n, m], their multiplicities (:func:`~isac.schemes.solvers.distinct_levels`).
        weight: real [n], w >= 0. nu: real [n], >= 0. budget: P >= 0.
        outer_steps, inner_steps: the fixed step counts (the module docstring).

    Returns:
        real [n, n_tx], x >= 0 with sum_i x_i <= P, aligned with ``sigma_t``.
    """
    tiny = torch.finfo(sigma_t.dtype).tiny
    reachable = sigma_t > 0
    inverse_t = torch.where(reachable, 1.0 / sigma_t.clamp_min(tiny), 0.0)  # 1/sigma_t,i
    inverse_levels, counts = 1.0 / levels[:, None, :], counts[:, None, :]
    full_price = weight[:, None] * (levels[:, None, :] * counts).sum(dim=-1)  # w phi(0)
    w = weight[:, None].clamp_min(tiny)
    total_count = counts.sum(dim=-1)  # M = sum_j m_j, [n, 1]

    def powers(multiplier: torch.Tensor, u: torch.Tensor):
        """u at ``multiplier`` [n, 1] from ``u``, X and dX/dlambda there."""
        price = nu[:, None] + multiplier * inverse_t
        active = reachable & (price < full_price)
        target = torch.where(active, (price / w).clamp_min(SMALLEST_TARGET), 1.0)
        # phi(u) <= M/u, so u_i <= M/y_i: a warm start from far above (after a bracket's
        # jump) is capped there, close to the root where u is large
        u = torch.where(active, torch.minimum(u, total_count / target), 0.0)
        for _ in range(inner_steps):
            value, slope = _phi(inverse_levels, counts, u)
            u = (u + (value / target - 1.0) * value / slope).clamp_min(0.0)
        u = torch.where(active, u, 0.0)
        _, slope = _phi(inverse_levels, counts, u)
        # du_i/dlambda = -(1/sigma_t,i) / (w (-phi'(u_i))) on the support
        derivative = torch.where(active, inverse_t.square() / (w * slope), 0.0)
        return u, (inverse_t * u).sum(-1, keepdim=True), -derivative.sum(-1, keepdim=True)

    multiplier = torch.zeros_like(nu)[:, None]
    u, total, derivative = powers(multiplier, torch.zeros_like(sigma_t))
    low = multiplier
    high = ((full_price - nu[:, None]) * sigma_t.amax(-1, keepdim=True)).clamp_min(0.0)
    for _ in range(outer_steps):
        above = total > budget
        low = torch.where(above, multiplier, low)
        high = torch.where(above, high, multiplier)
        ratio = total / budget
        newton = multiplier - torch.log(ratio) * total / derivative
        # far above the budget at lambda = 0 (nu ~ 0: X ~ c/lambda) Newton on ln X crawls
        # up from 0; bisection instead
        crawl = (multiplier == 0) & (ratio > FAR_ABOVE_BUDGET)
        inside = (newton > low) & (newton < high) & ~crawl  # false for NaN too
        # under the budget at lambda = 0 (the inner steps go on refining u there), or on it
        settled = ((multiplier == 0) & ~above) | ((ratio - 1.0).abs() <= SETTLED)
        step = torch.where(inside, newton, 0.5 * (low + high))
        multiplier = torch.where(settled, multiplier, step)
        u, total, derivative = powers(multiplier, u)
    x = inverse_t * u
    scale = torch.where(total > budget, budget / total.clamp_min(tiny), 1.0)
    return x * scale
