"""Training on the realised objective (csi.objective=realised, isac.physics.realised): the
realised WSNR against an independent float64 numpy computation, its gradient, the fresh
errors of every epoch, the refusals, and a training run."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from helpers import TINY, config, robust_beams, run_script, water_filling_by_active_sets

from isac.checks import SettingsError
from isac.learning.data import ISACDataModule
from isac.learning.training import build_datamodule, system_from_config
from isac.physics.realised import RealisedTerms
from isac.physics.receivers import Receiver
from isac.physics.scenario import sample_scenario
from isac.physics.system import SystemConfig

SYSTEM = SystemConfig(n_tx=4, n_rx=4, n_users=3, waveform_len=6)


def numpy_realised_wsnr(H, H_hat, p, sigma_t, sigma_s, beta_beams, system):
    """The realised WSNR of one sample from its definition: beams of the receiver's model
    of H_hat (the robust LMMSE beams at ``beta_beams``; at 1, the naive ones), the
    SINR (7) on the true H with the echo, Rs (14) with H's interference, normalised by the
    true channel's M_s (water-filling without users) and M_c (genie MMSE, no echo)."""
    L, noise = system.waveform_len, system.noise_power
    echo = float(sigma_t @ sigma_s) / L

    def rate_c(W, level):
        gains = np.abs(H.T @ W) ** 2 * p[:, None]  # [i, k] = p_i |h_i^T w_k|^2
        signal = np.diag(gains)
        sinr = signal / (gains.sum(0) - signal + level * np.sum(np.abs(W) ** 2, axis=0))
        return np.mean(np.log2(1 + sinr))

    W = robust_beams(H_hat, p, echo + noise, beta_beams)
    covariance = (H * p) @ H.conj().T + noise * np.eye(system.n_rx)
    levels = np.linalg.eigvalsh(covariance)
    rate_s = np.sum(np.log2(1 + np.outer(sigma_t * sigma_s, 1 / levels))) / L
    M_s = system.n_rx * water_filling_by_active_sets(sigma_t / noise, system.sensing_power)
    M_s /= L * np.log(2)
    M_c = rate_c(robust_beams(H, p, noise, 1.0), noise)
    alpha = system.alpha
    return alpha * rate_s / M_s + (1 - alpha) * rate_c(W, echo + noise) / M_c


@pytest.mark.parametrize("kind", ("naive", "robust"))
def test_realised_wsnr_matches_its_definition_in_numpy(kind):
    beta = 0.4
    scenario = sample_scenario(SYSTEM, 5, beta=beta, seed=3, split="test")
    generator = torch.Generator().manual_seed(0)
    sigma_s = torch.rand((5, SYSTEM.n_tx), generator=generator, dtype=torch.float64)
    sigma_s = SYSTEM.sensing_power * sigma_s / sigma_s.sum(-1, keepdim=True)
    terms = RealisedTerms.from_channels(
        Receiver(kind, beta), scenario.H, scenario.H_hat, scenario.p, scenario.sigma_t, SYSTEM
    )
    wsnr = terms.wsnr(sigma_s, SYSTEM)
    for i in range(5):
        expected = numpy_realised_wsnr(
            scenario.H[i].numpy(),
            scenario.H_hat[i].numpy(),
            scenario.p[i].numpy(),
            scenario.sigma_t[i].numpy(),
            sigma_s[i].numpy(),
            beta if kind == "robust" else 1.0,
            SYSTEM,
        )
        assert float(wsnr[i]) == pytest.approx(expected, rel=1e-10)


def test_realised_wsnr_has_the_gradient_of_finite_differences():
    beta = 0.5
    scenario = sample_scenario(SYSTEM, 3, beta=beta, seed=1, split="test")
    terms = RealisedTerms.from_channels(
        Receiver("robust", beta), scenario.H, scenario.H_hat, scenario.p, scenario.sigma_t, SYSTEM
    )
    sigma_s = torch.full((3, SYSTEM.n_tx), 5.0, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: terms.wsnr(x, SYSTEM), (sigma_s,))


def realised_module(*overrides: str) -> ISACDataModule:
    cfg = config(*TINY, "csi.receiver=robust", "csi.beta=0.5", "csi.objective=realised", *overrides)
    return build_datamodule(cfg, system_from_config(cfg))


def test_every_epoch_scores_the_same_estimates_on_fresh_errors_of_its_own():
    module = realised_module()
    module._draw_errors(0)
    train = module.problem_set("train")
    H_hat, first = train.problem.H_hat.clone(), train.terms.H.clone()
    module._draw_errors(1)
    second = train.terms.H.clone()
    module._draw_errors(0)
    assert torch.equal(train.problem.H_hat, H_hat)
    assert torch.equal(train.terms.H, first)  # keyed to the epoch: a resume sees the same
    assert not torch.allclose(first, second)
    # the errors are those of the model: H - sqrt(beta) H_hat ~ CN(0, 1 - beta)
    error = second.to(torch.complex128) - 0.5**0.5 * H_hat.to(torch.complex128)
    assert error.abs().square().mean().item() == pytest.approx(0.5, rel=0.05)
    # validation keeps its set's own draw
    val = module.problem_set("val")
    assert isinstance(val.terms, RealisedTerms)


def test_a_universal_network_trains_on_the_realised_rates_of_every_point():
    """With data.operating_points every group scores the WSNR realised on its own draw of
    the true channel at its own beta, with the robust receiver's terms of that beta, and
    every epoch's fresh groups bring fresh errors."""
    module = realised_module(
        "model=universal",
        "data.operating_points.beta=[0.2,0.9]",
        "data.operating_points.n_users=[2,3]",
        "data.operating_points.n_tx=[3,4]",
        "data.operating_points.n_rx=[3,4]",
        "data.points_per_batch=4",
        "data.grid_points=4",
    )
    groups = module._training_groups(0)
    betas = {group.receiver.beta for group in groups}
    assert len(betas) == len(groups) and all(0.2 <= b <= 0.9 for b in betas)
    for index, group in enumerate(groups[:3]):
        assert isinstance(group.terms, RealisedTerms) and group.receiver.kind == "robust"
        scenario = sample_scenario(
            group.system, len(group), beta=group.receiver.beta, seed=0, split=f"train-0-{index}"
        )
        assert torch.equal(group.terms.H, scenario.H.to(group.terms.H.dtype))
    again = module._training_groups(1)
    assert not torch.equal(again[0].terms.H, groups[0].terms.H)
    assert all(isinstance(g.terms, RealisedTerms) for g in module.evaluation_sets("val"))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["csi.beta=1.0"], r"csi.objective=realised needs csi.beta in \[0, 1\)"),
        (["csi.receiver=genie"], r"csi.objective=realised needs csi.receiver=naive or robust"),
        (["target=directions"], r"csi.objective=realised serves target=paper"),
        (["csi.objective=oracle"], r"csi.objective must be one of \['model', 'realised'\]"),
    ],
)
def test_bad_objectives_are_refused_in_one_line(overrides, message):
    with pytest.raises(SettingsError, match=message):
        realised_module(*overrides)


@pytest.mark.slow
def test_pricenet_trains_on_the_realised_objective(tmp_path):
    run = run_script(
        "train.py",
        *TINY,
        "model=pricenet",
        "csi.receiver=robust",
        "csi.beta=0.3",
        "csi.objective=realised",
        "trainer.max_epochs=2",
        "evaluation.enabled=true",
        "evaluation.schemes=[optimum]",
        f"hydra.run.dir={tmp_path}",
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["objective"] == "realised"
    rows = metrics["evaluation"]
    # the test metric is the realised WSNR with the robust beams, the evaluation's
    assert metrics["test"]["wsnr"] == pytest.approx(rows["pricenet"]["wsnr_robust"], rel=1e-4)
    # starting from the exact layer at its prior price, it stays near the robust optimum
    assert rows["pricenet"]["wsnr"] >= rows["optimum"]["wsnr"] - 0.01
    # the draw oracle, a search over every power split of each draw, bounds every design
    # with the robust beams from above; the genie's beams do better than any
    table = tmp_path / "edge.csv"
    figure = tmp_path / "edge.png"
    edge = run_script(
        "scripts/realised_edge.py",
        str(tmp_path),
        "--out",
        str(table),
        "--figure",
        str(figure),
        cwd=tmp_path,
    )
    assert edge.returncode == 0, edge.stderr
    assert figure.stat().st_size > 0
    with table.open() as handle:
        wsnr = {row["design"]: float(row["wsnr"]) for row in csv.DictReader(handle)}
    assert wsnr["pricenet_realised"] == pytest.approx(metrics["test"]["wsnr"], rel=1e-4)
    for design in ("naive_powers_robust_beams", "robust", "pricenet_realised"):
        assert wsnr["draw_oracle"] >= wsnr[design] - 1e-6
    assert wsnr["genie"] > wsnr["draw_oracle"]
