"""Rates, M_s, M_c and WSNR against independent float64 references, precision and gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import instance, random_powers, water_filling_by_active_sets

from isac.physics import rates
from isac.physics.problem import ProblemTerms
from isac.physics.scenario import sample_scenario
from isac.physics.system import SystemConfig
from isac.physics.waterfilling import water_filling


@pytest.mark.parametrize("seed", range(6))
def test_water_filling_matches_active_set_enumeration(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 7))
    gains = rng.uniform(0.01, 3.0, size=n) ** 2
    budget = float(10 ** rng.uniform(-2, 2))
    powers = water_filling(torch.from_numpy(gains), budget).numpy()
    assert powers.min() >= 0 and powers.sum() == pytest.approx(budget, rel=1e-12)
    value = float(np.sum(np.log1p(gains * powers)))
    assert value == pytest.approx(water_filling_by_active_sets(gains, budget), rel=1e-12)


def test_water_filling_batched_zero_budget_and_zero_gain():
    gains = torch.tensor([[2.0, 0.0, 1.0], [1.0, 1.0, 1.0]], dtype=torch.float64)
    powers = water_filling(gains, torch.tensor([3.0, 0.0], dtype=torch.float64))
    # first row: levels 0.5 + ... -> both positive gains active, the zero gain gets nothing
    torch.testing.assert_close(powers[0], torch.tensor([1.75, 0.0, 1.25], dtype=torch.float64))
    assert (powers[1] == 0).all()


@pytest.mark.parametrize(("n_rx", "n_users"), [(6, 4), (3, 5), (4, 1), (4, 4)])
def test_comm_rate_and_sigma_h_match_direct_matrix_inverse(n_rx, n_users):
    system = SystemConfig(n_tx=4, n_rx=n_rx, n_users=n_users, waveform_len=5, snr_c_db=12.0)
    scenario, terms = instance(system, n=3, seed=2)
    sigma_s = random_powers(3, 4, system.sensing_power, torch.Generator().manual_seed(0))
    ours = terms.comm_rate(sigma_s, system)
    for b in range(3):
        H, p = scenario.H[b].numpy(), scenario.p[b].numpy()
        level = float(scenario.sigma_t[b] @ sigma_s[b]) / 5 + 1.0
        sinrs = []
        for k in range(n_users):
            R_k = level * np.eye(n_rx) + sum(
                p[i] * np.outer(H[:, i].conj(), H[:, i]) for i in range(n_users) if i != k
            )
            sinrs.append((p[k] * H[:, k] @ np.linalg.solve(R_k, H[:, k].conj())).real)
        assert ours[b].item() == pytest.approx(np.mean(np.log2(1 + np.array(sinrs))), rel=1e-12)
        R_H = np.linalg.inv(H @ np.diag(p) @ H.conj().T + np.eye(n_rx))
        expected = np.sort(np.linalg.eigvalsh(R_H))[::-1]
        np.testing.assert_allclose(terms.sigma_h[b].numpy(), expected, rtol=1e-12)


def test_sensing_rate_matches_double_sum():
    system = SystemConfig(n_tx=3, n_rx=2, n_users=1, waveform_len=7)
    _, terms = instance(system, n=1)
    sigma_s = torch.tensor([[5.0, 3.0, 2.0]], dtype=torch.float64)
    st, sh = terms.sigma_t[0].tolist(), terms.sigma_h[0].tolist()
    expected = (
        sum(np.log2(1 + st[i] * [5.0, 3.0, 2.0][i] * sh[j]) for i in range(3) for j in range(2)) / 7
    )
    assert terms.sensing_rate(sigma_s, system).item() == pytest.approx(expected, rel=1e-13)


def test_max_sensing_rate_is_water_filling_without_users():
    system = SystemConfig(n_tx=4, n_rx=3, n_users=2, waveform_len=6, snr_s_db=3.0)
    _, terms = instance(system, n=2)
    for b in range(2):
        best = water_filling_by_active_sets(terms.sigma_t[b].numpy(), system.sensing_power)
        assert terms.max_rate_s[b].item() == pytest.approx(3 * best / (6 * np.log(2)), rel=1e-12)


@pytest.mark.parametrize("snrs", [(-20.0, -20.0), (10.0, 0.0), (40.0, 40.0)])
def test_maxima_bound_the_rates_and_wsnr_is_one_at_alpha_zero(snrs):
    system = SystemConfig(
        n_tx=6, n_rx=5, n_users=3, waveform_len=8, alpha=0.0, snr_s_db=snrs[0], snr_c_db=snrs[1]
    )
    _, terms = instance(system, n=16, seed=1)
    generator = torch.Generator().manual_seed(1)
    for full in (False, True):
        sigma_s = random_powers(16, 6, system.sensing_power, generator, full=full)
        metrics = terms.evaluate(sigma_s, system)
        assert (metrics["rate_s"] <= terms.max_rate_s * (1 + 1e-12)).all()
        assert (metrics["rate_c"] <= terms.max_rate_c * (1 + 1e-12)).all()
        assert (metrics["wsnr"] <= 1 + 1e-12).all()
    no_power = torch.zeros(16, 6, dtype=torch.float64)
    torch.testing.assert_close(
        terms.wsnr(no_power, system), torch.ones(16, dtype=torch.float64), rtol=1e-14, atol=1e-14
    )


@pytest.mark.parametrize("snrs", [(-20.0, -20.0), (40.0, 40.0), (40.0, -20.0), (-20.0, 40.0)])
def test_float32_agrees_with_float64_and_stays_finite(snrs):
    system = SystemConfig(alpha=0.5, snr_s_db=snrs[0], snr_c_db=snrs[1])  # Table II sizes
    scenario = sample_scenario(system, 64, seed=5)
    generator = torch.Generator().manual_seed(2)
    sigma_s = random_powers(64, system.n_tx, system.sensing_power, generator)
    results = {}
    for dtype in (torch.float32, torch.float64):
        terms = ProblemTerms.from_scenario(scenario.to(dtype), system)
        results[dtype] = terms.evaluate(sigma_s.to(dtype), system)
    for name, value64 in results[torch.float64].items():
        value32 = results[torch.float32][name]
        assert torch.isfinite(value32).all(), name
        torch.testing.assert_close(value32.double(), value64, rtol=1e-4, atol=1e-6)


def test_gradients_flow_and_match_finite_differences():
    system = SystemConfig(n_tx=4, n_rx=4, n_users=2, waveform_len=6, snr_s_db=20.0)
    _, terms = instance(system, n=3)
    sigma_s = random_powers(3, 4, system.sensing_power, torch.Generator().manual_seed(4))
    sigma_s = (sigma_s + 0.1).requires_grad_()
    assert torch.autograd.gradcheck(lambda x: terms.wsnr(x, system), (sigma_s,))
    terms.wsnr(sigma_s, system).sum().backward()
    assert torch.isfinite(sigma_s.grad).all() and (sigma_s.grad.abs() > 0).any()


def test_power_budget_check():
    budget = 10.0
    rates.check_power_budget(torch.tensor([[6.0, 4.0], [1.0, 0.0]]), budget)
    with pytest.raises(ValueError, match="exceeds the power budget"):
        rates.check_power_budget(torch.tensor([[6.0, 4.1]]), budget)
    with pytest.raises(ValueError, match=">= 0"):
        rates.check_power_budget(torch.tensor([[-1.0, 4.0]]), budget)
