"""The global optimum of problem (28) (docs/model.md, item 10; beyond the paper)."""

from __future__ import annotations

import torch

from isac.physics.problem import ProblemTerms
from isac.physics.system import SystemConfig
from isac.schemes.registry import Powers, SchemeInputs
from isac.schemes.solvers import (
    distinct_levels,
    multilevel_water_filling,
    powers_price_derivative,
    search_multiplier,
    water_filling_from,
)


def optimal_powers(
    terms: ProblemTerms, system: SystemConfig, grid_points: int = 32, newton_steps: int = 8
) -> torch.Tensor:
    """Globally optimal sigma_s of (28) for every instance, real [n, n_tx] (float64 inside).

    The search runs over the price nu of the echo power in [0, nu_max], where
    nu_max = w sum_j sigma_h,j prices every power to zero (see :mod:`isac.schemes.solvers`):
    ``grid_points`` equally spaced prices, each solved exactly by multi-level water-filling
    warm-started from its neighbour's solution, bracket the best one; safeguarded Newton
    steps on the stationarity condition inside that grid cell (:func:`refine_price`)
    then converge to its maximum. The best point seen is returned, so the result is never
    worse than the grid's best.
    """
    terms64 = terms.to(torch.float64)
    weight = terms64.sensing_weight(system)
    nu_max = terms64.full_price(system)
    levels, counts = distinct_levels(terms64.sigma_h, system.n_users)
    best_value = torch.full_like(nu_max, -torch.inf)
    best_index = torch.zeros_like(nu_max, dtype=torch.long)
    start = best = None
    for index in range(grid_points):
        nu = index / (grid_points - 1) * nu_max
        # the grid only ranks its cells: values to 1e-9 do that; the polish is exact
        x, multiplier = water_filling_from(
            terms64.sigma_t, levels, weight, nu, system.sensing_power, counts, start, 1e-9
        )
        start = (x, multiplier)
        value = terms64.wsnr(x, system)
        better = value > best_value
        best_value = torch.where(better, value, best_value)
        best_index = torch.where(better, index, best_index)
        best = (
            start
            if best is None
            else (
                torch.where(better[:, None], x, best[0]),
                torch.where(better, multiplier, best[1]),
            )
        )
    cell = nu_max / (grid_points - 1)
    x, _ = refine_price(
        terms64,
        system,
        best_index * cell,
        newton_steps,
        bounds=(
            (best_index - 1).clamp_min(0) * cell,
            (best_index + 1).clamp_max(grid_points - 1) * cell,
        ),
        start=best,  # the grid's solution at that price: no cold solve again
    )
    return x.to(terms.sigma_t.dtype)


def golden_search_optimum(terms: ProblemTerms, system: SystemConfig) -> torch.Tensor:
    """The global optimum by the project's first method, kept as a cross-check of
    :func:`optimal_powers`: the same 32-point grid, then 30 golden-section steps on the
    WSNR in the best cell (:func:`~isac.schemes.solvers.search_multiplier`), every point
    solved cold; its time against :func:`optimal_powers` is in docs/results.md ("A faster
    exact optimum"). Returns real [n, n_tx] (float64 inside)."""
    terms64 = terms.to(torch.float64)
    weight = terms64.sensing_weight(system)
    levels, counts = distinct_levels(terms64.sigma_h, system.n_users)
    x, _, _ = search_multiplier(
        lambda nu: multilevel_water_filling(
            terms64.sigma_t, levels, weight, nu, system.sensing_power, counts
        ),
        lambda x: terms64.wsnr(x, system),
        terms64.full_price(system),
    )
    return x.to(terms.sigma_t.dtype)


def prior_price(
    terms: ProblemTerms, system: SystemConfig
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A closed-form guess of the optimal price of echo power.

    The guess nu_0 is the price the communication term sets at the echo t_wf of the
    interference-unaware water-filling: nu_0 = -C'(t_wf) (:meth:`ProblemTerms.echo_price`),
    one step of the fixed point nu = -C'(t(x(nu))) from the full-budget sensing optimum.

    Returns:
        (nu_0, -C''(t_wf), t_wf), real [n] each: the price, its slope in t, and the echo.
    """
    echo = (terms.sigma_t * terms.sensing_optimum).sum(dim=-1)
    nu_0, nu_0_slope = terms.echo_price(echo, system)
    return nu_0, nu_0_slope, echo


def refine_price(
    terms: ProblemTerms,
    system: SystemConfig,
    nu: torch.Tensor,
    steps: int,
    bounds: tuple[torch.Tensor, torch.Tensor] | None = None,
    start: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Safeguarded Newton steps on the price nu of the echo power, from ``nu`` [n].

    A stationary point of WSNR(x(nu)) solves r(nu) = nu - P(t(x(nu))) = 0, P(t) = -C'(t)
    the price the communication term sets (:meth:`ProblemTerms.echo_price`); indeed
    dWSNR/dnu = -r(nu) t'(nu) with t' <= 0, so the WSNR rises with nu while r < 0.
    The start splits [0, nu_max] (nu_max prices all power away: zero sensing power) into
    a bracket [lo, hi] with r(lo) < 0 <= r(hi) where that holds, and every step takes
    Newton's step on r (r' = 1 - P'(t) t'(nu), t' from :func:`powers_price_derivative`)
    if it lands inside the bracket, else bisects it, then shrinks the bracket by the sign
    of r at the trial. The best point seen, zero sensing power included (WSNR 1 - alpha,
    no water-filling needed), is returned, so the result is never worse than the start.
    Each step costs one water-filling.

    Args:
        terms: problem terms [n]. system: the system settings.
        nu: real [n], the starting prices (e.g. a network's prediction).
        steps: the most steps (>= 0); it stops sooner once every price has settled.
        bounds: (low, high) real [n] each, an interval around ``nu`` to search in; by
            default [0, nu_max].
        start: (x, lambda) of a water-filling at or near ``nu`` to start the first solve
            from (:func:`~isac.schemes.solvers.water_filling_from`); only speed depends on it.

    Returns:
        (sigma_s real [n, n_tx], nu real [n]) of the best point, float64.
    """
    terms64 = terms.to(torch.float64)
    weight = terms64.sensing_weight(system)
    levels, counts = distinct_levels(terms64.sigma_h, system.n_users)
    nu_max = terms64.full_price(system)
    warm = start  # the last solution, to start the next water-filling from

    def solve(prices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x(prices), r and r' there."""
        nonlocal warm
        x, multiplier = water_filling_from(
            terms64.sigma_t, levels, weight, prices, system.sensing_power, counts, warm
        )
        warm = (x, multiplier)
        price, price_slope = terms64.echo_price((terms64.sigma_t * x).sum(dim=-1), system)
        dx = powers_price_derivative(
            x, terms64.sigma_t, levels, weight, system.sensing_power, counts
        )
        return x, prices - price, 1.0 - price_slope * (terms64.sigma_t * dx).sum(dim=-1)

    nu = torch.minimum(nu.double().clamp_min(0.0), nu_max)
    x, residual, derivative = solve(nu)
    best_x, best_nu, best_value = x, nu, terms64.wsnr(x, system)
    # zero sensing power (nu = nu_max) is a candidate that costs no water-filling
    zero_better = (1.0 - system.alpha) > best_value
    best_x = torch.where(zero_better[:, None], torch.zeros_like(x), best_x)
    best_nu = torch.where(zero_better, nu_max, best_nu)
    best_value = torch.where(
        zero_better, torch.full_like(best_value, 1.0 - system.alpha), best_value
    )
    floor, ceiling = (torch.zeros_like(nu), nu_max) if bounds is None else bounds
    rising = residual < 0
    low = torch.where(rising, nu, floor)
    high = torch.where(rising, ceiling, nu)
    for _ in range(steps):
        newton = nu - residual / derivative
        inside = torch.isfinite(newton) & (newton > low) & (newton < high)
        trial = torch.where(inside, newton, 0.5 * (low + high))
        if ((trial - nu).abs() <= 1e-13 * nu.abs()).all():
            break  # every price has settled: further steps change nothing
        nu = trial
        x, residual, derivative = solve(nu)
        rising = residual < 0
        low = torch.where(rising, nu, low)
        high = torch.where(rising, high, nu)
        value = terms64.wsnr(x, system)
        better = value > best_value
        best_x = torch.where(better[:, None], x, best_x)
        best_nu = torch.where(better, nu, best_nu)
        best_value = torch.where(better, value, best_value)
    return best_x, best_nu


def price_prior_design(inputs: SchemeInputs) -> Powers:
    """The registered ``price_prior`` scheme: exact water-filling at the prior price of
    :func:`prior_price`, no search and no training (an untrained PriceNet)."""
    terms64, system = inputs.terms.to(torch.float64), inputs.system
    nu_0, _, _ = prior_price(terms64, system)
    levels, counts = distinct_levels(terms64.sigma_h, system.n_users)
    x = multilevel_water_filling(
        terms64.sigma_t,
        levels,
        terms64.sensing_weight(system),
        torch.minimum(nu_0, terms64.full_price(system)),
        system.sensing_power,
        counts,
    )
    return Powers(x.to(inputs.terms.sigma_t.dtype))


def optimum_design(inputs: SchemeInputs) -> Powers:
    """The registered ``optimum`` scheme: :func:`optimal_powers` of the channel the BS knows."""
    return Powers(optimal_powers(inputs.terms, inputs.system))
