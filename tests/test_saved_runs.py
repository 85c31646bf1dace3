"""Runs saved by an earlier version (tests/data/runs_v1: ISACNN, PriceNet and a universal
network, whose configs named classes by ``_target_``) load through the upgrade path and
design what they designed then; an ISACNN run of that version resumes."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from helpers import ROOT, config

from isac.experiments.training_job import train
from isac.learning.checkpoints import load_checkpoint
from isac.learning.problem_batch import ProblemBatch
from isac.physics.receivers import GENIE
from isac.physics.scenario import sample_scenario
from isac.physics.system import SystemConfig

RUNS = ROOT / "tests" / "data" / "runs_v1"
SYSTEM = SystemConfig(n_tx=2, n_rx=2, n_users=2, waveform_len=4)


@pytest.mark.parametrize("name", ["isacnn", "pricenet", "universal"])
def test_a_checkpoint_of_the_earlier_version_designs_as_it_did(name):
    expected = np.load(RUNS / "expected_sigma_s.npz")[name]  # saved by that version
    module = load_checkpoint(RUNS / name / "checkpoints" / "best.ckpt")
    assert module.name == name
    scenario = sample_scenario(SYSTEM, 16, seed=5, split="test")
    problem = ProblemBatch.from_estimate(
        scenario.H_hat, scenario.p, scenario.sigma_t, SYSTEM, GENIE
    )
    with torch.no_grad():
        sigma_s = module(problem).double().numpy()
    # PriceNet's layer now reads H_hat in float64, not its float32 features: round-off
    np.testing.assert_allclose(sigma_s, expected, rtol=1e-5, atol=1e-6)


def test_a_run_of_the_earlier_version_resumes(tmp_path):
    run = tmp_path / "isacnn"
    shutil.copytree(RUNS / "isacnn", run)
    metrics = train(config(f"resume={run}", "resume_checkpoint=last"), tmp_path / "ignored")
    assert metrics["model"] == "isacnn" and metrics["epochs_trained"] == 1
    assert (run / "metrics.json").is_file()
