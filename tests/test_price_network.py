"""PriceNet and its parts: the implicit gradient of the exact
water-filling layer (float64 finite differences), Newton polishing of the price to the
optimum, the untrained network as its closed-form prior, training, resume and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import (
    CASES,
    TINY,
    Interrupt,
    config,
    evaluate_config,
    gated_prior,
    instance,
    scheme_inputs,
)

from isac.checks import SettingsError
from isac.experiments.run_evaluation import evaluate
from isac.experiments.training_job import train
from isac.learning.price_network import PriceNet
from isac.learning.problem_batch import ProblemBatch
from isac.physics import rates
from isac.physics.receivers import GENIE
from isac.physics.system import SystemConfig
from isac.schemes.optimum import optimal_powers, prior_price, refine_price
from isac.schemes.solvers import distinct_levels, water_filling_in_price

# PriceNet costs an eigendecomposition and a water-filling per sample: smaller sets
PRICENET = [
    "model=pricenet",
    "optim.lr_patience=2",
    "data.n_train=128",
    "data.n_val=64",
    "data.n_test=64",
    "data.batch_size=32",
]


def problem_of(inputs) -> ProblemBatch:
    """The problems of a scheme's inputs (H_hat = H) as a network sees them, at the genie."""
    return ProblemBatch.from_estimate(
        inputs.H, inputs.p, inputs.terms.sigma_t, inputs.system, GENIE
    )


@pytest.mark.parametrize(("settings", "seed"), CASES)
def test_water_filling_layer_gradient_matches_finite_differences(settings, seed):
    system = SystemConfig(**settings)
    _, terms = instance(system, n=64, seed=seed)
    weight = terms.sensing_weight(system)
    levels, counts = distinct_levels(terms.sigma_h, system.n_users)
    nu_max = weight * terms.sigma_h.sum(-1)
    generator = torch.Generator().manual_seed(seed)
    nu = (0.02 + 0.9 * torch.rand(64, generator=generator, dtype=torch.float64)) * nu_max
    nu.requires_grad_(True)

    def wsnr(prices: torch.Tensor) -> torch.Tensor:
        x = water_filling_in_price(
            prices, terms.sigma_t, levels, weight, system.sensing_power, counts
        )
        return terms.wsnr(x, system)

    value = wsnr(nu)
    (gradient,) = torch.autograd.grad(value.sum(), nu)
    h = 1e-5 * nu.detach()
    with torch.no_grad():
        central = (wsnr(nu + h) - wsnr(nu - h)) / (2 * h)
    # relative to the gradient's natural size WSNR/nu where the gradient itself is ~0 (the
    # whole budget on one eigen-channel): there the differences are round-off
    scale = value.detach() / nu.detach()
    error = (gradient - central).abs() / (central.abs() + 1e-6 * scale)
    assert error.median() < 1e-8 and error.max() < 1e-4, error.max()


@pytest.mark.parametrize(
    "settings",
    [
        *(settings for settings, _ in CASES),
        {
            "n_tx": 8,
            "n_rx": 4,
            "n_users": 6,
            "waveform_len": 10,
            "alpha": 0.8,
            "snr_c_db": 20.0,
            "snr_s_db": 25.0,
        },  # overloaded: zero power often optimal
        {"alpha": 0.1},
    ],
)
def test_polishing_the_prior_price_reaches_the_optimum_on_every_sample(settings):
    system = SystemConfig(**settings)
    _, terms = instance(system, n=64, seed=7)
    optimum = terms.wsnr(optimal_powers(terms, system), system)
    nu_0, _, _ = prior_price(terms, system)
    polished, _ = refine_price(terms, system, nu_0, 6)
    rates.check_power_budget(polished, system.sensing_power)
    assert (terms.wsnr(polished, system) >= optimum * (1 - 1e-6)).all()


@pytest.mark.parametrize(("settings", "seed"), CASES)
def test_an_untrained_pricenet_is_its_gated_prior_and_feasible(settings, seed):
    system = SystemConfig(**settings)
    inputs = scheme_inputs(system, n=32, seed=seed)
    network = PriceNet(system).eval()
    with torch.no_grad():
        sigma_s = network(problem_of(inputs)).double()
    rates.check_power_budget(sigma_s, system.sensing_power)
    expected = gated_prior(inputs)
    torch.testing.assert_close(sigma_s, expected, rtol=1e-5, atol=1e-6 * system.sensing_power)
    assert (inputs.terms.wsnr(sigma_s, system) >= 1.0 - system.alpha - 1e-6).all()


@pytest.mark.parametrize(("alpha", "expected"), [(0.0, "zero"), (1.0, "full")])
def test_pricenet_at_the_ends_of_alpha(alpha, expected):
    system = SystemConfig(n_tx=4, n_rx=4, n_users=2, waveform_len=6, alpha=alpha)
    inputs = scheme_inputs(system, n=16)
    with torch.no_grad():
        sigma_s = PriceNet(system).eval()(problem_of(inputs)).double()
    assert torch.isfinite(sigma_s).all()
    if expected == "zero":  # only communication counts: no sensing power at all
        assert (sigma_s == 0).all()
    else:  # only sensing counts: the whole budget
        full = torch.full((16,), system.sensing_power, dtype=torch.float64)
        torch.testing.assert_close(sigma_s.sum(-1), full, rtol=1e-6, atol=0)


def test_pricenet_trains_resumes_and_evaluates_with_polish(tmp_path):
    overrides = (*TINY, *PRICENET, "trainer.max_epochs=4")
    reference = train(config(*overrides), tmp_path / "reference")
    assert reference["model"] == "pricenet"
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(config(*overrides), tmp_path / "crashed", extra_callbacks=[Interrupt(1)])
    resumed = train(config(f"resume={tmp_path / 'crashed'}"), tmp_path / "ignored")
    assert resumed["history"]["val_loss"] == reference["history"]["val_loss"]
    assert resumed["test"] == reference["test"]

    rows = {
        row["scheme"]: row
        for row in evaluate(
            evaluate_config(f"run={tmp_path / 'reference'}", "polish_steps=6", "schemes=[optimum]"),
            tmp_path / "eval",
        )
    }
    data = np.load(tmp_path / "eval" / "predictions.npz")
    # polished, the design matches the optimum on every test sample
    np.testing.assert_allclose(data["wsnr__pricenet"], data["wsnr__optimum"], rtol=1e-6)
    assert rows["pricenet"]["pct_of_optimum"] == pytest.approx(100.0, abs=1e-4)


def test_bad_pricenet_settings_are_refused(tmp_path):
    with pytest.raises(SettingsError, match=r"model.network.polish_steps must be an integer >= 0"):
        train(config(*TINY, *PRICENET, "model.network.polish_steps=-1"), tmp_path / "run")
    with pytest.raises(SettingsError, match=r"model.network.hidden must be an integer >= 1"):
        train(config(*TINY, *PRICENET, "model.network.hidden=0"), tmp_path / "run")
    assert not (tmp_path / "run").exists()

    isacnn_run, pricenet_run = tmp_path / "isacnn", tmp_path / "pricenet"
    train(config(*TINY, *PRICENET[2:], "trainer.max_epochs=1"), isacnn_run)
    train(config(*TINY, *PRICENET, "trainer.max_epochs=1"), pricenet_run)
    for overrides, message in [
        ([f"run={pricenet_run}", "polish_steps=-1"], r"polish_steps must be an integer >= 0"),
        ([f"run={pricenet_run}", "leader_steps=-1"], r"leader_steps must be an integer >= 0"),
        (
            [f"run={pricenet_run}", "leader_steps=5"],
            r"leader_steps applies to networks that polish several hypotheses",
        ),
        (
            [f"run={pricenet_run}", "newton_steps=5"],
            r"newton_steps applies to networks that polish several hypotheses",
        ),
        ([f"run={pricenet_run}", "newton_steps=-1"], r"newton_steps must be an integer >= 0"),
        (
            [f"run={isacnn_run}", "polish_steps=2"],
            r"polish_steps applies to networks that polish their design",
        ),
        (
            [f"run={isacnn_run}", f"checkpoint={pricenet_run / 'checkpoints' / 'best.ckpt'}"],
            r"holds a pricenet network, but run .* trained isacnn",
        ),
    ]:
        with pytest.raises(SettingsError, match=message):
            evaluate(evaluate_config(*overrides), tmp_path / "eval")
