"""Bad input fails before any work, with a message naming the setting and its range."""

from __future__ import annotations

import pytest
import torch

from isac.physics.problem import ProblemTerms
from isac.physics.scenario import sample_scenario
from isac.physics.system import SystemConfig


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"n_tx": 0}, r"n_tx must be an integer >= 1"),
        ({"n_rx": -2}, r"n_rx must be an integer >= 1"),
        ({"n_users": 1.5}, r"n_users must be an integer >= 1"),
        ({"n_tx": 8, "waveform_len": 8}, r"waveform_len must be > n_tx = 8"),
        ({"alpha": 1.2}, r"alpha must be a real number in \[0, 1\]"),
        ({"alpha": -0.1}, r"alpha must be a real number in \[0, 1\]"),
        ({"snr_s_db": float("nan")}, r"snr_s_db must be a finite real number"),
        ({"noise_power": 0.0}, r"noise_power must be a finite real number > 0"),
    ],
)
def test_system_config_rejects_bad_settings(settings, message):
    with pytest.raises(ValueError, match=message):
        SystemConfig(**settings)


def test_sampler_rejects_bad_arguments():
    system = SystemConfig(n_tx=2, n_rx=2, n_users=1, waveform_len=3)
    with pytest.raises(ValueError, match=r"beta must be a real number in \[0, 1\]"):
        sample_scenario(system, 4, beta=1.5)
    with pytest.raises(ValueError, match=r"n must be an integer >= 1"):
        sample_scenario(system, 0)


def test_problem_terms_reject_mismatched_shapes_and_negative_power():
    system = SystemConfig(n_tx=2, n_rx=3, n_users=2, waveform_len=3)
    scenario = sample_scenario(system, 4)
    other = SystemConfig(n_tx=2, n_rx=4, n_users=2, waveform_len=3)
    with pytest.raises(ValueError, match=r"H must have shape \[4, 4, 2\], got \[4, 3, 2\]"):
        ProblemTerms.from_scenario(scenario, other)
    with pytest.raises(ValueError, match=r"p must be finite and >= 0"):
        ProblemTerms.from_channels(scenario.H, -scenario.p, scenario.sigma_t, system)
    with pytest.raises(ValueError, match=r"sigma_t must have shape"):
        ProblemTerms.from_channels(scenario.H, scenario.p, scenario.sigma_t[:, :1], system)
    assert torch.isfinite(ProblemTerms.from_scenario(scenario, system).max_rate_c).all()
