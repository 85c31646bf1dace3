"""The genie, naive and robust receivers (isac.physics.receivers) against independent float64
numpy computations: robust beams, the bound, its validity, and the scores of evaluation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import TINY, config, robust_beams

from isac.checks import SettingsError
from isac.designer import Designer
from isac.designer.timed import design_scheme
from isac.experiments.comparison import compare_schemes, score
from isac.learning.data import ProblemSet
from isac.learning.training import build_module
from isac.physics.problem import ProblemTerms
from isac.physics.receivers import Receiver, error_as_noise
from isac.physics.scenario import sample_scenario
from isac.physics.system import SystemConfig
from isac.schemes.optimum import optimal_powers

SYSTEM = SystemConfig(n_tx=4, n_rx=4, n_users=3, waveform_len=6)


def bound_sinr(w: np.ndarray, H_hat: np.ndarray, p: np.ndarray, k: int, level: float, beta: float):
    """The SINR of beam w [n_rx] for user k with the estimation error as noise, with
    ``level`` = t/L + noise: beta p_k |h_k^T w|^2 / (beta sum_{i != k} p_i |h_i^T w|^2 +
    ((1 - beta) sum_i p_i + level) ||w||^2), in this project's h^T w convention."""
    gains = np.abs(H_hat.T @ w) ** 2 * p
    error = (1 - beta) * p.sum() + level
    return beta * gains[k] / (beta * (gains.sum() - gains[k]) + error * np.vdot(w, w).real)


def one_instance(beta: float, seed: int = 5):
    scenario = sample_scenario(SYSTEM, 4, beta=beta, seed=seed, split="test")
    sigma_s = torch.full((4, SYSTEM.n_tx), SYSTEM.sensing_power / (2 * SYSTEM.n_tx))
    return scenario, sigma_s.double()


@pytest.mark.parametrize("beta", (0.3, 0.7))
def test_robust_beams_maximise_the_bound_and_match_numpy(beta):
    scenario, sigma_s = one_instance(beta)
    receiver = Receiver("robust", beta)
    design = design_scheme("average", scenario.R_T, scenario.H_hat, scenario.p, SYSTEM, receiver)
    generator = np.random.default_rng(0)
    for i in range(len(scenario)):
        H_hat, p = scenario.H_hat[i].numpy(), scenario.p[i].numpy()
        level = float(scenario.sigma_t[i] @ design.sigma_s[i]) / SYSTEM.waveform_len + 1.0
        expected = robust_beams(H_hat, p, level, beta)
        W = design.W[i].numpy()
        for k in range(SYSTEM.n_users):
            # the same direction (beams are defined up to a scale)
            cosine = abs(np.vdot(W[:, k], expected[:, k]))
            assert cosine == pytest.approx(
                np.linalg.norm(W[:, k]) * np.linalg.norm(expected[:, k]), rel=1e-9
            )
            best = bound_sinr(expected[:, k], H_hat, p, k, level, beta)
            naive = robust_beams(H_hat, p, level, 1.0)[:, k]
            assert best >= bound_sinr(naive, H_hat, p, k, level, beta) * (1 - 1e-12)
            for _ in range(200):
                w = generator.standard_normal(4) + 1j * generator.standard_normal(4)
                assert best >= bound_sinr(w, H_hat, p, k, level, beta) * (1 - 1e-12)


def test_robust_terms_are_the_bound_of_robust_beams_and_sense_the_estimates_covariance():
    beta = 0.4
    scenario, sigma_s = one_instance(beta)
    terms = ProblemTerms.for_receiver(
        Receiver("robust", beta), scenario.H_hat, scenario.p, scenario.sigma_t, SYSTEM
    )
    sinr = terms.sinr(sigma_s, SYSTEM)
    for i in range(len(scenario)):
        H_hat, p = scenario.H_hat[i].numpy(), scenario.p[i].numpy()
        level = float(scenario.sigma_t[i] @ sigma_s[i]) / SYSTEM.waveform_len + 1.0
        beams = robust_beams(H_hat, p, level, beta)
        for k in range(SYSTEM.n_users):
            expected = bound_sinr(beams[:, k], H_hat, p, k, level, beta)
            assert float(sinr[i, k]) == pytest.approx(expected, rel=1e-9)
        # the sensing rate sees H_hat's own covariance, not the expected one
        covariance = (H_hat * p) @ H_hat.conj().T + np.eye(SYSTEM.n_rx)
        expected_h = np.sort(1.0 / np.linalg.eigvalsh(covariance))[::-1]
        np.testing.assert_allclose(terms.sigma_h[i].numpy(), expected_h, rtol=1e-10)


def test_the_bound_never_exceeds_the_monte_carlo_mean_of_the_realised_rate():
    beta, draws = 0.5, 20000
    scenario, sigma_s = one_instance(beta)
    generator = np.random.default_rng(1)
    for i in range(len(scenario)):
        H_hat, p = scenario.H_hat[i].numpy(), scenario.p[i].numpy()
        level = float(scenario.sigma_t[i] @ sigma_s[i]) / SYSTEM.waveform_len + 1.0
        for beams in (robust_beams(H_hat, p, level, beta), robust_beams(H_hat, p, level, 1.0)):
            error = generator.standard_normal((draws, 4, 3)) + 1j * generator.standard_normal(
                (draws, 4, 3)
            )
            H = np.sqrt(beta) * H_hat + np.sqrt((1 - beta) / 2) * error
            gains = np.abs(np.einsum("drk,rj->dkj", H, beams)) ** 2 * p[None, :, None]
            signal = np.einsum("dkk->dk", gains)
            noise = level * np.sum(np.abs(beams) ** 2, axis=0)
            rate = np.log2(1 + signal / (gains.sum(axis=1) - signal + noise))
            mean, spread = rate.mean(axis=0), rate.std(axis=0) / np.sqrt(draws)
            for k in range(SYSTEM.n_users):
                bound = np.log2(1 + bound_sinr(beams[:, k], H_hat, p, k, level, beta))
                assert bound <= mean[k] + 4 * spread[k]


def test_at_beta_one_the_three_receivers_agree_and_robust_equals_naive():
    scenario, _ = one_instance(1.0)
    truth = ProblemTerms.from_scenario(scenario, SYSTEM)
    for name in ("average", "zfbf", "optimum"):
        robust = design_scheme(
            name, scenario.R_T, scenario.H_hat, scenario.p, SYSTEM, Receiver("robust", 1.0)
        )
        naive = design_scheme(
            name, scenario.R_T, scenario.H_hat, scenario.p, SYSTEM, Receiver("naive", 1.0)
        )
        np.testing.assert_allclose(robust.sigma_s.numpy(), naive.sigma_s.numpy(), atol=1e-12)
        np.testing.assert_allclose(robust.W.numpy(), naive.W.numpy(), atol=1e-12)
        receiver = Receiver("robust", 1.0)
        objective = ProblemTerms.for_receiver(
            receiver, scenario.H_hat, scenario.p, scenario.sigma_t, SYSTEM
        )
        scores = score(robust, scenario, truth, objective, SYSTEM, receiver)
        for key in ("rate_c_naive", "rate_c_robust", "rate_c_bound_naive", "rate_c_bound_robust"):
            np.testing.assert_allclose(scores[key], scores["rate_c_genie"], rtol=1e-9)


def test_evaluation_scores_every_receiver_and_the_realised_rate_in_numpy():
    beta = 0.5
    comparison = compare_schemes(
        SYSTEM,
        None,
        ["average", "optimum"],
        beta=beta,
        n_test=6,
        seed=2,
        repeats=1,
        receiver="robust",
    )
    scenario = comparison.scenario
    for name, design in comparison.designs.items():
        scores = comparison.scores[name]
        for i in range(6):
            H, H_hat, p = (x[i].numpy() for x in (scenario.H, scenario.H_hat, scenario.p))
            level = float(scenario.sigma_t[i] @ design.sigma_s[i].double()) / 6 + 1.0
            for kind, beams in (
                ("naive", robust_beams(H_hat, p, level, 1.0)),
                ("robust", robust_beams(H_hat, p, level, beta)),
                ("genie", robust_beams(H, p, level, 1.0)),
            ):
                gains = np.abs(H.T @ beams) ** 2 * p[:, None]
                signal = np.diag(gains)
                noise = level * np.sum(np.abs(beams) ** 2, axis=0)
                sinr = signal / (gains.sum(axis=0) - signal + noise)
                realised = np.log2(1 + sinr).mean()
                assert float(scores[f"rate_c_{kind}"][i]) == pytest.approx(realised, rel=1e-8)
            # the design's beams are the robust receiver's
            assert float(scores["rate_c_bs_beams"][i]) == pytest.approx(
                float(scores["rate_c_robust"][i]), rel=1e-6
            )
    optimum = comparison.rows[[r["scheme"] for r in comparison.rows].index("optimum")]
    assert optimum["objective_pct_of_optimum"] == pytest.approx(100.0)


def test_bad_receivers_are_refused_with_the_allowed_values():
    with pytest.raises(
        SettingsError, match=r"csi.receiver must be one of \['genie', 'naive', 'robust'\]"
    ):
        Receiver("oracle", 0.5)
    with pytest.raises(SettingsError, match=r"csi.beta must be a real number in \[0, 1\]"):
        Receiver("robust", 1.5)
    with pytest.raises(SettingsError, match=r"csi.receiver=robust needs csi.beta in \(0, 1\]"):
        Receiver("robust", 0.0)
    channel, noise = error_as_noise(
        torch.ones(1, 2, 2, dtype=torch.complex128), torch.ones(1, 2), SYSTEM, 0.0
    )
    assert channel.abs().max() == 0 and float(noise) == pytest.approx(3.0)


def test_a_robust_training_set_holds_the_robust_objective():
    small = SystemConfig(n_tx=4, n_rx=4, n_users=2, waveform_len=6)
    robust = ProblemSet(small, 5, beta=0.6, seed=1, split="val", receiver="robust")
    genie = ProblemSet(small, 5, beta=0.6, seed=1, split="val")
    scenario = sample_scenario(small, 5, beta=0.6, seed=1, split="val")
    np.testing.assert_array_equal(robust.problem.features.numpy(), genie.problem.features.numpy())
    expected_noise = 1.0 + 0.4 * scenario.p.sum(-1).numpy()
    np.testing.assert_allclose(robust.terms.comm_noise.numpy(), expected_noise, rtol=1e-6)
    np.testing.assert_allclose(genie.terms.comm_noise.numpy(), 1.0)


def test_a_network_for_the_robust_receiver_forms_robust_beams_one_sample_or_many():
    cfg = config(*TINY, "csi.receiver=robust", "csi.beta=0.5")
    small = SystemConfig(n_tx=4, n_rx=4, n_users=2, waveform_len=6)
    designer = Designer.from_module(build_module(cfg, small))
    assert designer.receiver == Receiver("robust", 0.5) and designer._single is not None
    scenario = sample_scenario(small, 3, beta=0.5, seed=4, split="test").to(torch.float32)
    batch = designer(scenario.R_T, scenario.H_hat, scenario.p)
    for i in range(3):
        one = designer(scenario.R_T[i], scenario.H_hat[i], scenario.p[i])
        np.testing.assert_allclose(one.W.numpy(), batch.W[i].numpy(), rtol=1e-4, atol=1e-5)
        H_hat = scenario.H_hat[i].numpy().astype(np.complex128)
        p = scenario.p[i].double().numpy()
        level = float(scenario.sigma_t[i].double() @ batch.sigma_s[i].double()) / 6 + 1.0
        expected = robust_beams(H_hat, p, level, 0.5)
        W = batch.W[i].numpy().astype(np.complex128)
        for k in range(2):
            cosine = abs(np.vdot(W[:, k], expected[:, k]))
            norms = np.linalg.norm(W[:, k]) * np.linalg.norm(expected[:, k])
            assert cosine == pytest.approx(norms, rel=1e-5)
    # a scheme's designer forms the robust beams too, for its own powers
    scheme = Designer.from_scheme("optimum", small, Receiver("robust", 0.5))
    out = scheme(scenario.R_T, scenario.H_hat, scenario.p)
    for i in range(3):
        H_hat = scenario.H_hat[i].numpy().astype(np.complex128)
        p = scenario.p[i].double().numpy()
        level = float(scenario.sigma_t[i].double() @ out.sigma_s[i].double()) / 6 + 1.0
        expected, W = robust_beams(H_hat, p, level, 0.5), out.W[i].numpy().astype(np.complex128)
        for k in range(2):
            norms = np.linalg.norm(W[:, k]) * np.linalg.norm(expected[:, k])
            assert abs(np.vdot(W[:, k], expected[:, k])) == pytest.approx(norms, rel=1e-5)


@pytest.mark.parametrize("power_scale", [1.0, 2.0])
def test_pricenet_for_the_robust_receiver_is_exact_at_any_user_powers(power_scale):
    # the exact layer solves the robust objective of the powers the problem carries, so
    # users away from system.user_power are served too
    cfg = config(*TINY, "model=pricenet", "csi.receiver=robust", "csi.beta=0.4")
    small = SystemConfig(n_tx=4, n_rx=4, n_users=2, waveform_len=6)
    module = build_module(cfg, small)
    assert module.receiver == Receiver("robust", 0.4)
    module.network.polish_steps = 30  # the prior, polished to the optimum of its objective
    designer = Designer.from_module(module)
    scenario = sample_scenario(small, 16, beta=0.4, seed=6, split="test")
    p = power_scale * scenario.p
    out = designer(scenario.R_T, scenario.H_hat, p)
    robust = Receiver("robust", 0.4)
    terms = ProblemTerms.for_receiver(robust, scenario.H_hat, p, scenario.sigma_t, small)
    optimum = optimal_powers(terms, small)
    np.testing.assert_allclose(
        terms.wsnr(out.sigma_s, small).numpy(), terms.wsnr(optimum, small).numpy(), rtol=1e-6
    )


def test_the_solvers_optimise_the_robust_objective():
    beta = 0.4
    scenario = sample_scenario(SYSTEM, 32, beta=beta, seed=8, split="test")
    robust = Receiver("robust", beta)
    terms = ProblemTerms.for_receiver(robust, scenario.H_hat, scenario.p, scenario.sigma_t, SYSTEM)
    value = {
        name: terms.wsnr(
            design_scheme(name, scenario.R_T, scenario.H_hat, scenario.p, SYSTEM, robust).sigma_s,
            SYSTEM,
        )
        for name in ("optimum", "traditional", "average", "waterfilling", "zfbf")
    }
    # the traditional AO-SCA reaches the global optimum of this objective too
    np.testing.assert_allclose(value["traditional"], value["optimum"], rtol=1e-6)
    for name in ("average", "waterfilling", "zfbf"):
        assert (value[name] <= value["optimum"] * (1 + 1e-9)).all()
