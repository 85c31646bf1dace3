"""Exact solvers for the concave sub-problems of (28) and the 1-D multiplier search.

With the communication term replaced by a linear price nu on the echo power
t = sigma_t . sigma_s, problem (28) becomes the concave problem

    max_x  w sum_i sum_j ln(1 + sigma_t,i sigma_h,j x_i) - nu sigma_t . x
    s.t.   sum_i x_i <= P,  x >= 0,                                            (*)

solved exactly by :func:`multilevel_water_filling`. This is each SCA step of the
traditional scheme (the tangent of the convex communication term gives nu), and,
searching over nu, the global optimum (docs/model.md, item 10): at the optimum x*, the
KKT conditions of (28) are those of (*) with nu = -d/dt [(1 - alpha) Rc(t)/M_c] at
t(x*) >= 0, so x* is the solution of (*) for some nu in [0, nu_max], and

    max (28) = max over nu of (28) at x(nu).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

NEWTON_STEPS = 8  # Newton on 1/S converges to machine precision in about 4 steps
NEWTON_TOLERANCE = 1e-8  # relative step after which the next would be at round-off (quadratic)
NEAR_BUDGET = 1e-8  # relative distance to the budget within which a stalled search is done
MULTIPLIER_STEPS = 60  # safeguarded Newton/bisection steps on the budget multiplier
FAR_ABOVE_BUDGET = 10.0  # X/P above which the multiplier's Newton steps are on 1/X, not ln X
GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


def _level_sums(
    inverse_gains: torch.Tensor, counts: torch.Tensor, x: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """S_i(x_i) = sum_j m_j/(1/c_ij + x_i) and sum_j m_j/(1/c_ij + x_i)^2, real [n, n_tx] each.

    Args:
        inverse_gains: real [n, n_tx, m], 1/c_ij (inf where c_ij = 0: no share).
        counts: real [n, m, 1], multiplicity m_j of each level.
        x: real [n, n_tx].
    """
    # c/(1 + c x) = 1/(1/c + x), and the weighted sums over j as matrix products: the
    # fewest passes over [n, n_tx, m] (this runs in every step of every water-filling)
    shares = (inverse_gains + x[..., None]).reciprocal_()
    total = (shares @ counts)[..., 0]
    return total, (shares.square_() @ counts)[..., 0]


def _powers_for_prices(
    inverse_gains: torch.Tensor,
    counts: torch.Tensor,
    weight: torch.Tensor,
    marginal_at_zero: torch.Tensor,
    prices: torch.Tensor,
    start: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Solve w S_i(x_i) = kappa_i, S_i(x) = sum_j m_j c_ij / (1 + c_ij x), for every i.

    S_i is decreasing and convex, and 1/S_i(x) is increasing and concave in x (a
    parallel sum of the affine functions 1/c_ij + x), so Newton's method on
    1/S_i(x) - w/kappa_i, from any x >= 0 clipped at 0, converges monotonically.

    Args:
        inverse_gains: real [n, n_tx, m], 1/c_ij, c_ij = sigma_t,i sigma_h,j over m
            distinct levels sigma_h,j.
        counts: real [n, m, 1], multiplicity m_j of each level.
        weight: real [n], w >= 0. marginal_at_zero: real [n, n_tx], w S_i(0).
        prices: real [n, n_tx], kappa_i >= 0. start: real [n, n_tx], warm start.

    Returns:
        (x, dx/dkappa): real [n, n_tx] each; x = 0 and dx/dkappa = 0 where w S_i(0) <= kappa_i.
    """
    active = marginal_at_zero > prices
    target = weight[:, None] / prices.clamp_min(torch.finfo(prices.dtype).tiny)
    x = torch.where(active, start, torch.zeros_like(start))
    for _ in range(NEWTON_STEPS):
        total, squares = _level_sums(inverse_gains, counts, x)
        step = (1.0 / total - target) * total.square() / squares
        updated = torch.where(active, (x - step).clamp_min(0.0), x)
        # quadratic convergence: a step at round-off means the next would change nothing
        settled = ((updated - x).abs() <= NEWTON_TOLERANCE * updated).all()
        x = updated
        if settled:
            break
    # -d(w S_i)/dx at the last iterate but one, which settled x differs from at round-off:
    # only the Newton steps of the budget multiplier use it, and they are safeguarded
    slope = weight[:, None] * squares
    derivative = torch.where(
        active, -1.0 / slope.clamp_min(torch.finfo(x.dtype).tiny), torch.zeros_like(x)
    )
    return x, derivative


def multilevel_water_filling(
    sigma_t: torch.Tensor,
    sigma_h: torch.Tensor,
    weight: torch.Tensor,
    nu: torch.Tensor,
    budget: float,
    counts: torch.Tensor | None = None,
) -> torch.Tensor:
    """Exact solution of the concave problem (*) in the module docstring.

    Each x_i is a water-filling over n_rx levels (one per sigma_h,j) at price
    kappa_i = nu sigma_t,i + lambda; the budget multiplier lambda >= 0 solves
    sum_i x_i(lambda) = P by Newton steps on the reciprocal 1/sum_i x_i, nearly affine
    in lambda, safeguarded by bisection.

    Args:
        sigma_t: real [n, n_tx] (> 0). sigma_h: real [n, m] (> 0), the levels.
        weight: real [n], w >= 0. nu: real [n], >= 0. budget: P >= 0.
        counts: real [n, m], how often each level occurs in sigma_h (all 1 when None);
            see :func:`distinct_levels`.

    Returns:
        real [n, n_tx], feasible powers aligned with ``sigma_t``.
    """
    x, _ = water_filling_from(sigma_t, sigma_h, weight, nu, budget, counts)
    return x


def water_filling_from(
    sigma_t: torch.Tensor,
    sigma_h: torch.Tensor,
    weight: torch.Tensor,
    nu: torch.Tensor,
    budget: float,
    counts: torch.Tensor | None = None,
    start: tuple[torch.Tensor, torch.Tensor] | None = None,
    tolerance: float = 1e-13,
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`multilevel_water_filling` from a warm start, returning its multiplier too.

    Args:
        sigma_t, sigma_h, weight, nu, budget, counts: as for :func:`multilevel_water_filling`.
        start: (x [n, n_tx], lambda [n]) as this function returned them for a nearby
            problem (e.g. the previous nu of a sweep), or None for a cold start. Only the
            speed depends on it.
        tolerance: how close to the budget sum_i x_i must come before the final rescaling
            onto it, relative to max(P, 1); looser is faster and still feasible.

    Returns:
        (x real [n, n_tx], lambda real [n]): the powers and the budget multiplier.
    """
    gains = sigma_t[..., :, None] * sigma_h[..., None, :]
    counts = _counts_column(sigma_h, counts)
    inverse_gains = gains.reciprocal()
    base_prices = nu[:, None] * sigma_t
    marginal_at_zero = weight[:, None] * (gains @ counts)[..., 0]

    def solve(prices: torch.Tensor, start: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return _powers_for_prices(inverse_gains, counts, weight, marginal_at_zero, prices, start)

    warm_x = torch.zeros_like(sigma_t) if start is None else start[0]
    unconstrained, dx = solve(base_prices, warm_x)
    over_budget = ~(unconstrained.sum(dim=-1) <= budget)  # also true for inf or nan
    # Newton on X(lambda) = sum_i x_i(lambda) = P, from lambda = 0 or the warm start, in
    # one of two forms. Far above the budget (X > FAR_ABOVE_BUDGET P), on 1/X: X behaves
    # like c/(lambda + a), so 1/X is nearly affine and one step comes close where Newton
    # on X crawls. Nearer, on ln X: 1/X overshoots there, often to where every power is
    # priced away (X = 0), from where only bisection returns; ln(c/(lambda + a)) is
    # convex, so its Newton steps approach the root from below. The bracket [low, high]
    # (X > P at low, X <= P at high) catches any overshoot by bisection.
    low = torch.zeros_like(nu)
    high = (marginal_at_zero - base_prices).amax(dim=-1).clamp_min(0.0)
    multiplier, x = low.clone(), unconstrained
    if start is not None:
        # at lambda >= high every power is priced away: start below it
        multiplier = torch.where(over_budget & (start[1] < high), start[1], low)
        x, dx = solve(base_prices + multiplier[:, None], warm_x)
    tolerance = tolerance * max(budget, 1.0)
    # the samples still searching, as rows of the full batch; a finished one leaves the
    # batch, so the last iterations of a few slow samples cost little
    rows = torch.arange(len(nu), device=nu.device)
    state = {
        "inverse_gains": inverse_gains,
        "counts": counts,
        "weight": weight,
        "marginal": marginal_at_zero,
        "base": base_prices,
        "low": low,
        "high": high,
        "multiplier": multiplier,
        "x": x,
        "dx": dx,
    }
    multiplier_out, x_out = multiplier.clone(), x.clone()
    for _ in range(MULTIPLIER_STEPS):
        total = state["x"].sum(dim=-1)
        above = ~(total <= budget)  # an infinite or undefined X (lambda = 0, nu = 0) too
        state["low"] = torch.where(above, state["multiplier"], state["low"])
        state["high"] = torch.where(above, state["high"], state["multiplier"])
        # the steps on 1/X and on ln X are -(X/P - 1) X/X' and -ln(X/P) X/X', with
        # X' = sum_i dx_i/dkappa_i < 0
        ratio = total / budget
        distance = torch.where(ratio > FAR_ABOVE_BUDGET, ratio - 1.0, torch.log(ratio))
        newton = state["multiplier"] - distance * total / state["dx"].sum(dim=-1)
        near = (total - budget).abs() <= NEAR_BUDGET * max(budget, 1.0)
        moves = (newton - state["multiplier"]).abs() > 1e-14 * state["multiplier"].abs()
        inside = (newton > state["low"]) & (newton < state["high"])
        # far from the budget, a Newton step that does not move (X ~ 0 near the top of the
        # bracket) gives way to bisection
        usable = torch.isfinite(newton) & inside & (moves | near)
        step = torch.where(usable, newton, 0.5 * (state["low"] + state["high"]))
        # done: on the budget; or, near it, stalled at round-off (an ill-conditioned X may
        # never come closer than the tolerance); or never over it
        stalled = (step - state["multiplier"]).abs() <= 1e-14 * state["multiplier"].abs()
        done = ((total - budget).abs() <= tolerance) | (stalled & near) | ~over_budget[rows]
        x_out[rows], multiplier_out[rows] = state["x"], state["multiplier"]
        if done.all():
            break
        if done.any():
            keep = ~done
            rows, step = rows[keep], step[keep]
            state = {name: value[keep] for name, value in state.items()}
        state["multiplier"] = step
        # warm start from the last powers (Newton on 1/S_i converges from any finite start)
        state["x"], state["dx"] = _powers_for_prices(
            state["inverse_gains"],
            state["counts"],
            state["weight"],
            state["marginal"],
            state["base"] + step[:, None],
            torch.where(state["x"].isfinite(), state["x"], 0.0),
        )
    else:
        x_out[rows], multiplier_out[rows] = state["x"], state["multiplier"]
    # X is within the tolerance of the budget: rescale onto it exactly
    total = x_out.sum(dim=-1).clamp_min(torch.finfo(x_out.dtype).tiny)
    constrained = x_out * (budget / total)[:, None]
    return (
        torch.where(over_budget[:, None], constrained, unconstrained),
        torch.where(over_budget, multiplier_out, 0.0),
    )


def powers_price_derivative(
    x: torch.Tensor,
    sigma_t: torch.Tensor,
    sigma_h: torch.Tensor,
    weight: torch.Tensor,
    budget: float,
    counts: torch.Tensor | None = None,
) -> torch.Tensor:
    """real [n, n_tx]: dx/dnu of the solution x(nu) of problem (*), by implicit differentiation.

    On the support (x_i > 0), w S_i(x_i) = nu sigma_t,i + lambda, so
    dx_i/dnu = -(sigma_t,i + dlambda/dnu) / (w D_i) with D_i = -S_i'(x_i) > 0; off it
    dx_i/dnu = 0. Where the budget binds, sum_i dx_i = 0 fixes dlambda/dnu; elsewhere
    lambda = 0. (Valid wherever the support does not change, i.e. almost everywhere.)

    Args:
        x: real [n, n_tx], the solution of :func:`multilevel_water_filling` at nu.
        sigma_t, sigma_h, weight, budget, counts: as for :func:`multilevel_water_filling`.
    """
    inverse_gains = (sigma_t[..., :, None] * sigma_h[..., None, :]).reciprocal()
    _, squares = _level_sums(inverse_gains, _counts_column(sigma_h, counts), x)
    curvature = weight[:, None] * squares
    active = x > 0
    inverse = torch.where(active, 1.0 / curvature.clamp_min(torch.finfo(x.dtype).tiny), 0.0)
    binding = active.any(dim=-1) & (x.sum(dim=-1) >= budget * (1.0 - 1e-9))
    total = inverse.sum(dim=-1).clamp_min(torch.finfo(x.dtype).tiny)
    dlambda = torch.where(binding, -(sigma_t * inverse).sum(dim=-1) / total, 0.0)
    return -(sigma_t + dlambda[:, None]) * inverse


class _WaterFillingInPrice(torch.autograd.Function):
    """x(nu) of problem (*), differentiable in nu through :func:`powers_price_derivative`."""

    @staticmethod
    def forward(ctx, nu, sigma_t, sigma_h, weight, budget, counts):
        x = multilevel_water_filling(sigma_t, sigma_h, weight, nu, budget, counts)
        ctx.save_for_backward(x, sigma_t, sigma_h, weight, counts)
        ctx.budget = budget
        return x

    @staticmethod
    def backward(ctx, grad_x):
        x, sigma_t, sigma_h, weight, counts = ctx.saved_tensors
        dx = powers_price_derivative(x, sigma_t, sigma_h, weight, ctx.budget, counts)
        return (grad_x * dx).sum(dim=-1), None, None, None, None, None


def water_filling_in_price(
    nu: torch.Tensor,
    sigma_t: torch.Tensor,
    sigma_h: torch.Tensor,
    weight: torch.Tensor,
    budget: float,
    counts: torch.Tensor,
) -> torch.Tensor:
    """:func:`multilevel_water_filling` as a layer: exact powers [n, n_tx] for prices nu [n],
    with the gradient in nu by implicit differentiation (no unrolled iterations)."""
    return _WaterFillingInPrice.apply(nu, sigma_t, sigma_h, weight, budget, counts)


def _counts_column(sigma_h: torch.Tensor, counts: torch.Tensor | None) -> torch.Tensor:
    """real [n, m, 1]: the levels' multiplicities (all 1 when None) as a column."""
    return (torch.ones_like(sigma_h) if counts is None else counts)[:, :, None]


def distinct_levels(sigma_h: torch.Tensor, n_users: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Compress sigma_h [n, n_rx] to its distinct levels and their counts, both [n, m].

    H diag(p) H^H has rank <= n_users, so for n_rx > n_users the n_rx - n_users
    largest sigma_h all equal 1/noise: one level with that count, m = n_users + 1.
    """
    n_rx = sigma_h.shape[-1]
    if n_rx <= n_users:
        return sigma_h, torch.ones_like(sigma_h)
    free = n_rx - n_users
    levels = torch.cat([sigma_h[:, :free].mean(dim=-1, keepdim=True), sigma_h[:, free:]], -1)
    counts = torch.ones_like(levels)
    counts[:, 0] = free
    return levels, counts


class _Best:
    """The best (x, value, nu) seen so far, per instance."""

    def __init__(self) -> None:
        self.x = self.value = self.nu = None

    def offer(self, x: torch.Tensor, value: torch.Tensor, nu: torch.Tensor) -> None:
        if self.value is None:
            self.x, self.value, self.nu = x, value, nu
            return
        better = value > self.value
        self.x = torch.where(better[:, None], x, self.x)
        self.value = torch.where(better, value, self.value)
        self.nu = torch.where(better, nu, self.nu)


def search_multiplier(
    solve: Callable[[torch.Tensor], torch.Tensor],
    value: Callable[[torch.Tensor], torch.Tensor],
    nu_max: torch.Tensor,
    grid_points: int = 32,
    refine_steps: int = 30,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Maximise ``value(solve(nu))`` over nu in [0, nu_max], per instance.

    A grid of ``grid_points`` values brackets the best one, then golden-section
    search refines inside the bracket; the best point ever evaluated is returned,
    so the result is never worse than the grid's best.

    Args:
        solve: nu [n] -> x [n, n_tx]. value: x -> real [n]. nu_max: real [n] >= 0.

    Returns:
        (x, value, nu) of the best point, real [n, n_tx], [n], [n].
    """
    best = _Best()

    def evaluate(nu: torch.Tensor) -> torch.Tensor:
        x = solve(nu)
        current = value(x)
        best.offer(x, current, nu)
        return current

    grid = torch.linspace(0.0, 1.0, grid_points, dtype=nu_max.dtype, device=nu_max.device)
    index = torch.stack([evaluate(fraction * nu_max) for fraction in grid], dim=-1).argmax(-1)
    step = nu_max / (grid_points - 1)
    low = (index - 1).clamp_min(0) * step
    high = (index + 1).clamp_max(grid_points - 1) * step
    inner = [high - GOLDEN * (high - low), low + GOLDEN * (high - low)]
    inner_values = [evaluate(nu) for nu in inner]
    for _ in range(refine_steps):
        keep_left = inner_values[0] >= inner_values[1]  # the maximum lies in [low, inner[1]]
        high = torch.where(keep_left, inner[1], high)
        low = torch.where(keep_left, low, inner[0])
        new = torch.where(keep_left, high - GOLDEN * (high - low), low + GOLDEN * (high - low))
        new_value = evaluate(new)
        inner = [torch.where(keep_left, new, inner[1]), torch.where(keep_left, inner[0], new)]
        inner_values = [
            torch.where(keep_left, new_value, inner_values[1]),
            torch.where(keep_left, inner_values[0], new_value),
        ]
    return best.x, best.value, best.nu
