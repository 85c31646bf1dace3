"""The users' SINR forms (isac.physics.user_sinr) against a float64 numpy inverse of each
user's interference-plus-level matrix, their derivatives against finite differences, and
problem terms built on either form agreeing."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import CASES, instance

from isac.checks import SettingsError
from isac.physics.problem import ProblemTerms
from isac.physics.system import SystemConfig
from isac.physics.user_sinr import SINR_FORMS

# with more users than receive antennas too (K = 7 > N_r = 4), where the Gram matrix is singular
SIZES = [settings for settings, _ in CASES] + [{"n_tx": 5, "n_rx": 4, "n_users": 7}]


def brute_force_sinr(H: torch.Tensor, p: torch.Tensor, level: torch.Tensor) -> np.ndarray:
    """gamma_k = p_k h_k^H (sum_{i != k} p_i h_i h_i^H + c I)^-1 h_k, by numpy solves."""
    H, p, level = H.numpy(), p.numpy(), level.numpy()
    n, n_rx, n_users = H.shape
    out = np.zeros((n, n_users))
    for s in range(n):
        for k in range(n_users):
            A = level[s] * np.eye(n_rx, dtype=complex)
            for i in range(n_users):
                if i != k:
                    A += p[s, i] * np.outer(H[s, :, i], H[s, :, i].conj())
            h = H[s, :, k]
            out[s, k] = p[s, k] * np.real(h.conj() @ np.linalg.solve(A, h))
    return out


@pytest.mark.parametrize("form", sorted(SINR_FORMS))
@pytest.mark.parametrize("settings", SIZES)
def test_sinr_matches_a_brute_force_inverse(form, settings):
    scenario, _ = instance(SystemConfig(**settings), n=6, seed=4)
    level = torch.rand(6, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 5
    level = level + 0.05
    users = SINR_FORMS[form].from_channels(scenario.H, scenario.p)
    expected = brute_force_sinr(scenario.H, scenario.p, level)
    np.testing.assert_allclose(users.sinr(level).numpy(), expected, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(
        users.log1p_sinr(level).numpy(), np.log1p(expected), rtol=1e-9, atol=1e-12
    )


@pytest.mark.parametrize("form", sorted(SINR_FORMS))
@pytest.mark.parametrize("settings", SIZES)
def test_log_sinr_derivatives_match_finite_differences(form, settings):
    scenario, _ = instance(SystemConfig(**settings), n=8, seed=5)
    users = SINR_FORMS[form].from_channels(scenario.H, scenario.p)
    c = 0.2 + torch.rand(8, generator=torch.Generator().manual_seed(2), dtype=torch.float64) * 3
    value, first, second = users.log_sinr_derivatives(c)
    h = 1e-4
    up, down = users.log1p_sinr(c + h), users.log1p_sinr(c - h)
    torch.testing.assert_close(value, users.log1p_sinr(c), rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(first, (up - down) / (2 * h), rtol=1e-7, atol=1e-12)
    torch.testing.assert_close(second, (up - 2 * value + down) / h**2, rtol=1e-4, atol=1e-8)


@pytest.mark.parametrize("settings", SIZES)
def test_problem_terms_agree_in_both_forms(settings):
    system = SystemConfig(**settings)
    scenario, default = instance(system, n=8, seed=6)
    resolvent = ProblemTerms.from_channels(
        scenario.H, scenario.p, scenario.sigma_t, system, sinr_form="resolvent"
    )
    assert default.users.__class__.__name__ == "PartialFractionSinr"
    torch.testing.assert_close(resolvent.sigma_h, default.sigma_h, rtol=1e-10, atol=0)
    torch.testing.assert_close(resolvent.max_rate_c, default.max_rate_c, rtol=1e-10, atol=0)
    sigma_s = system.sensing_power * torch.softmax(torch.randn(8, system.n_tx).double(), -1)
    torch.testing.assert_close(
        resolvent.wsnr(sigma_s, system), default.wsnr(sigma_s, system), rtol=1e-10, atol=0
    )
    echo = (scenario.sigma_t * sigma_s).sum(-1)
    for ours, reference in zip(
        resolvent.echo_price(echo, system), default.echo_price(echo, system), strict=True
    ):
        torch.testing.assert_close(ours, reference, rtol=1e-8, atol=1e-14)


def test_an_unknown_sinr_form_is_refused():
    system = SystemConfig(n_tx=4, n_rx=4, n_users=2, waveform_len=6)
    scenario, _ = instance(system, n=2)
    with pytest.raises(SettingsError, match="sinr_form"):
        ProblemTerms.from_channels(
            scenario.H, scenario.p, scenario.sigma_t, system, sinr_form="cholesky"
        )
