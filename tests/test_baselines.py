"""Baselines and the global optimum: feasibility, ordering, and an independent cross-check
of the optimum by multi-start projected gradient ascent."""

from __future__ import annotations

import pytest
import torch
from helpers import CASES, instance, random_powers, scheme_inputs

from isac.checks import SettingsError
from isac.physics import rates
from isac.physics.system import SystemConfig
from isac.schemes.beams import zero_forcing_beams
from isac.schemes.optimum import golden_search_optimum, optimal_powers
from isac.schemes.registry import SCHEMES, Scheme, register, select_schemes
from isac.schemes.solvers import distinct_levels, multilevel_water_filling, water_filling_from
from isac.schemes.traditional import traditional_powers


def project_onto_budget(y: torch.Tensor, budget: float) -> torch.Tensor:
    """Euclidean projection onto {x >= 0, sum x <= budget} (sort-based, per row)."""
    clipped = y.clamp_min(0.0)
    inside = clipped.sum(-1) <= budget
    u = y.sort(dim=-1, descending=True).values
    cumulative = u.cumsum(-1) - budget
    k = torch.arange(1, y.shape[-1] + 1, dtype=y.dtype)
    count = (u - cumulative / k > 0).sum(-1, keepdim=True).clamp_min(1)
    threshold = cumulative.gather(-1, count - 1) / count
    return torch.where(inside[:, None], clipped, (y - threshold).clamp_min(0.0))


def projected_gradient_ascent(
    objective, start: torch.Tensor, budget: float, steps: int = 4000
) -> torch.Tensor:
    """Maximise ``objective`` over {x >= 0, sum x <= budget} from ``start``, with a
    per-instance backtracking step size (an independent local solver)."""
    x = start.clone()
    step = torch.full((x.shape[0], 1), budget, dtype=x.dtype)
    for _ in range(steps):
        x.requires_grad_(True)
        value = objective(x)
        (grad,) = torch.autograd.grad(value.sum(), x)
        with torch.no_grad():
            trial = project_onto_budget(x + step * grad, budget)
            better = objective(trial) >= value
            x = torch.where(better[:, None], trial, x).detach()
            step = torch.where(better[:, None], step * 1.2, step * 0.5)
    return x


@pytest.mark.parametrize(("settings", "seed"), CASES)
def test_optimum_matches_multistart_projected_gradient_ascent(settings, seed):
    system = SystemConfig(**settings)
    _, terms = instance(system, n=6, seed=seed)
    optimum = terms.wsnr(optimal_powers(terms, system), system)
    generator = torch.Generator().manual_seed(seed)
    n_starts = 5  # four random starts and zero power, run together as one batch
    starts = torch.cat(
        [
            random_powers(6, system.n_tx, system.sensing_power, generator)
            for _ in range(n_starts - 1)
        ]
        + [torch.zeros(6, system.n_tx, dtype=torch.float64)]
    )
    repeated = terms[torch.arange(6).repeat(n_starts)]
    local = projected_gradient_ascent(
        lambda x: repeated.wsnr(x, system), starts, system.sensing_power, steps=2000
    )
    best = repeated.wsnr(local, system).reshape(n_starts, 6).amax(dim=0)
    torch.testing.assert_close(optimum, best, rtol=1e-6, atol=0.0)
    assert (best <= optimum * (1 + 1e-9)).all()  # no start beats the optimum


def test_multilevel_water_filling_satisfies_kkt():
    system = SystemConfig(n_tx=6, n_rx=7, n_users=3, waveform_len=8, snr_s_db=15.0)
    _, terms = instance(system, n=16, seed=4)
    weight = terms.sensing_weight(system)
    nu_max = weight * terms.sigma_h.sum(-1)
    for fraction in (0.0, 0.05, 0.3, 0.9):
        nu = fraction * nu_max
        levels, counts = distinct_levels(terms.sigma_h, system.n_users)
        x = multilevel_water_filling(
            terms.sigma_t, levels, weight, nu, system.sensing_power, counts
        )
        x_full = multilevel_water_filling(
            terms.sigma_t, terms.sigma_h, weight, nu, system.sensing_power
        )
        torch.testing.assert_close(x, x_full, rtol=1e-9, atol=1e-9)
        assert (x >= 0).all() and (x.sum(-1) <= system.sensing_power * (1 + 1e-12)).all()
        # KKT: marginal utility minus price is equal (= lambda) on the support, <= off it
        gains = terms.sigma_t[..., None] * terms.sigma_h[..., None, :]
        marginal = weight[:, None] * (gains / (1 + gains * x[..., None])).sum(-1)
        reduced = marginal - nu[:, None] * terms.sigma_t
        support = x > 1e-9
        lam = torch.where(support, reduced, -torch.inf).amax(-1)
        spread = torch.where(support, (reduced - lam[:, None]).abs(), torch.zeros_like(x))
        assert spread.max() < 1e-8
        assert (torch.where(support, -torch.inf, reduced) <= lam[:, None] + 1e-9).all()
        full = x.sum(-1) > system.sensing_power * (1 - 1e-9)
        assert (lam[~full].abs() < 1e-8).all()  # budget slack -> lambda = 0
        assert (lam >= -1e-9).all()


@pytest.mark.parametrize(("settings", "seed"), CASES)
def test_every_registered_scheme_is_feasible_and_never_beats_the_optimum(settings, seed):
    system = SystemConfig(**settings)
    inputs = scheme_inputs(system, n=8, seed=seed)
    terms = inputs.terms
    optimum = terms.wsnr(optimal_powers(terms, system), system)
    for name in select_schemes(None, system)[0]:
        sigma_s = SCHEMES[name].design(inputs).sigma_s
        rates.check_power_budget(sigma_s, system.sensing_power)
        assert (terms.wsnr(sigma_s, system) <= optimum * (1 + 1e-9)).all(), name


@pytest.mark.parametrize(("settings", "seed"), CASES)
def test_traditional_converges_and_reaches_at_least_average(settings, seed):
    system = SystemConfig(**settings)
    scenario, terms = instance(system, n=8, seed=seed)
    result = traditional_powers(terms, scenario.H, scenario.p, system)
    assert result.converged.all()
    inputs = scheme_inputs(system, n=8, seed=seed)
    average = terms.wsnr(SCHEMES["average"].design(inputs).sigma_s, system)
    assert (terms.wsnr(result.sigma_s, system) >= average - 1e-12).all()
    assert (result.outer_iterations >= 1).all() and (result.inner_iterations >= 1).all()


def test_zero_forcing_beams_null_other_users_and_refuse_too_many_users():
    system = SystemConfig(n_tx=3, n_rx=5, n_users=4, waveform_len=4)
    scenario, _ = instance(system, n=3)
    W = zero_forcing_beams(scenario.H)
    eye = torch.eye(4, dtype=W.dtype).expand(3, -1, -1)
    torch.testing.assert_close(scenario.H.mT @ W, eye)
    crowded = SystemConfig(n_tx=3, n_rx=2, n_users=3, waveform_len=4)
    crowded_scenario, _ = instance(crowded, n=2)
    with pytest.raises(SettingsError, match=r"n_users <= system.n_rx, got n_users=3 > n_rx=2"):
        zero_forcing_beams(crowded_scenario.H)


def test_simple_baselines_closed_forms():
    system = SystemConfig(n_tx=4, n_rx=3, n_users=2, waveform_len=5, alpha=0.4)
    inputs = scheme_inputs(system, n=5)
    terms = inputs.terms
    average = SCHEMES["average"].design(inputs).sigma_s
    torch.testing.assert_close(average, torch.full_like(average, system.sensing_power / 4))
    zero = terms.wsnr(SCHEMES["zero_power"].design(inputs).sigma_s, system)
    torch.testing.assert_close(zero, torch.full_like(zero, 1 - system.alpha))
    waterfilling = SCHEMES["waterfilling"].design(inputs).sigma_s
    # it attains M_s when no users are present: Rs with sigma_h = 1/noise equals M_s
    free = rates.sensing_rate(
        waterfilling, terms.sigma_t, torch.ones(5, 3, dtype=torch.float64), system.waveform_len
    )
    torch.testing.assert_close(free, terms.max_rate_s)


def test_registry_selects_the_schemes_a_system_can_serve():
    crowded = SystemConfig(n_tx=8, n_rx=4, n_users=6, waveform_len=10)
    chosen, notes = select_schemes(None, crowded)
    assert "zfbf" not in chosen and chosen == [n for n in SCHEMES if n != "zfbf"]
    assert notes == [
        "skipped scheme zfbf: zero-forcing needs system.n_users <= system.n_rx, got 6 > 4"
    ]
    assert select_schemes(None, SystemConfig())[0] == list(SCHEMES)
    with pytest.raises(SettingsError, match=r"evaluation.schemes: scheme zfbf cannot run: zero"):
        select_schemes(["average", "zfbf"], crowded, setting="evaluation.schemes")
    with pytest.raises(SettingsError, match=r"schemes\[\] must be one of \['average', 'zfbf'"):
        select_schemes(["genetic"], crowded)
    with pytest.raises(ValueError, match="registered twice"):
        register(SCHEMES["average"])
    assert isinstance(SCHEMES["optimum"], Scheme) and SCHEMES["optimum"].beyond_paper


@pytest.mark.parametrize(("settings", "seed"), CASES)
def test_optimum_equals_the_first_method_and_warm_starts_change_nothing(settings, seed):
    system = SystemConfig(**settings)
    _, terms = instance(system, n=64, seed=seed)
    fast = terms.wsnr(optimal_powers(terms, system), system)
    first = terms.wsnr(golden_search_optimum(terms, system), system)
    torch.testing.assert_close(fast, first, rtol=1e-9, atol=0.0)
    # a water-filling warm-started from another price's solution is the cold one
    weight = terms.sensing_weight(system)
    levels, counts = distinct_levels(terms.sigma_h, system.n_users)
    nu_max = weight * terms.sigma_h.sum(-1)
    cold, cold_multiplier = water_filling_from(
        terms.sigma_t, levels, weight, 0.3 * nu_max, system.sensing_power, counts
    )
    other = water_filling_from(
        terms.sigma_t, levels, weight, 0.05 * nu_max, system.sensing_power, counts
    )
    warm, warm_multiplier = water_filling_from(
        terms.sigma_t, levels, weight, 0.3 * nu_max, system.sensing_power, counts, other
    )
    torch.testing.assert_close(warm, cold, rtol=1e-10, atol=1e-12 * system.sensing_power)
    torch.testing.assert_close(warm_multiplier, cold_multiplier, rtol=1e-8, atol=1e-15)
