"""One network for every operating point: ranges and their checks, the grid and the draws,
the untrained network as the gated prior at points of every size, training with mixed
points, resume, scoring at any point in range (and refusing others), serving a sweep's
points untrained, and data-parallel training (one run directory, rank-0 metrics,
different training data per rank, resume after a kill)."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from helpers import ROOT, Interrupt, config, evaluate_config, gated_prior, run_script, scheme_inputs

from isac.checks import SettingsError
from isac.designer import Designer
from isac.experiments.run_evaluation import evaluate
from isac.experiments.training_job import train
from isac.experiments.universal_scoring import score_universal
from isac.learning.checkpoints import load_checkpoint
from isac.learning.operating_points import OperatingPoint, OperatingRanges
from isac.learning.problem_batch import ProblemBatch
from isac.learning.training import build_datamodule, system_from_config
from isac.learning.universal import UniversalPriceNet
from isac.physics import rates
from isac.physics.receivers import Receiver
from isac.physics.system import SystemConfig

RANGES = {
    "alpha": [0.0, 1.0],
    "snr_s_db": [0.0, 20.0],
    "snr_c_db": [-10.0, 10.0],
    "beta": [0.5, 1.0],
    "n_users": [2, 3],
    "n_tx": [3, 4],
    "n_rx": [3, 5],
}
BASE = SystemConfig(n_tx=4, n_rx=4, n_users=2, waveform_len=6)
# a universal run on small systems: every range above, 4 points per batch, 8 grid points
UNIVERSAL = [
    "model=universal",
    "system.n_tx=4",
    "system.n_rx=4",
    "system.n_users=2",
    "system.waveform_len=6",
    *[f"data.operating_points.{name}=[{low},{high}]" for name, (low, high) in RANGES.items()],
    "data.n_train=256",
    "data.n_val=64",
    "data.n_test=64",
    "data.batch_size=64",
    "data.points_per_batch=4",
    "data.grid_points=8",
    "trainer.max_epochs=3",
    "logger=none",
]


def problem_at(point: OperatingPoint, inputs) -> ProblemBatch:
    """The problems of a scheme's inputs (H_hat = H) at ``point``, for the genie."""
    return ProblemBatch.from_estimate(
        inputs.H, inputs.p, inputs.terms.sigma_t, point.system, Receiver("genie", point.beta)
    )


def test_ranges_are_validated_with_the_setting_named():
    assert OperatingRanges.from_config(RANGES).n_rx == (3, 5)
    cases = [
        ({**RANGES, "alpha": [0.6, 0.2]}, "alpha must be \\[min, max\\] with min <= max"),
        ({**RANGES, "alpha": [0.0, 1.5]}, "alpha must be a real number in \\[0, 1\\]"),
        ({**RANGES, "n_users": [2, 3.5]}, "n_users must be an integer >= 1"),
        ({**RANGES, "snr_s_db": [0.0]}, "snr_s_db must be \\[min, max\\]"),
        ({**RANGES, "gamma": [0, 1]}, "'gamma' is not one"),
        ({k: v for k, v in RANGES.items() if k != "beta"}, "'beta' is missing"),
    ]
    for values, message in cases:
        with pytest.raises(SettingsError, match=message):
            OperatingRanges.from_config(values)
    with pytest.raises(SettingsError, match="waveform_len=6 must be > the largest n_tx 8"):
        OperatingRanges.from_config({**RANGES, "n_tx": [3, 8]}).check_base(BASE)


def test_points_outside_the_ranges_are_refused_naming_the_range():
    ranges = OperatingRanges.from_config(RANGES)
    assert ranges.refusal(OperatingPoint(replace(BASE, n_rx=5, alpha=0.9), 0.5)) is None
    outside = ranges.refusal(OperatingPoint(replace(BASE, n_users=4), 1.0))
    assert (
        outside
        == "system.n_users=4 is outside the range [2, 3] this universal network was trained for"
    )
    outside = ranges.refusal(OperatingPoint(BASE, 0.3))
    assert outside.startswith("csi.beta=0.3 is outside the range [0.5, 1.0]")


def test_draws_cover_the_ranges_and_the_grid_is_a_latin_hypercube():
    ranges = OperatingRanges.from_config(RANGES)
    points = ranges.draw(BASE, 400, torch.Generator().manual_seed(0))
    assert all(ranges.refusal(point) is None for point in points)
    assert {p.system.n_rx for p in points} == {3, 4, 5}
    assert {p.system.n_users for p in points} == {2, 3}
    grid = ranges.grid(BASE, 10, torch.Generator().manual_seed(1))
    # each continuous setting takes the 10 cell centres once
    centres = [(i + 0.5) / 10 for i in range(10)]
    for values, (low, high) in (
        ([p.system.alpha for p in grid], RANGES["alpha"]),
        ([p.system.snr_s_db for p in grid], RANGES["snr_s_db"]),
        ([p.beta for p in grid], RANGES["beta"]),
    ):
        expected = [low + c * (high - low) for c in centres]
        assert sorted(values) == pytest.approx(expected)
    # the integers are spread evenly: n_rx takes 3, 4 and 5 three or four times each
    counts = [sum(p.system.n_rx == n for p in grid) for n in (3, 4, 5)]
    assert sorted(counts) == [3, 3, 4]


@pytest.mark.parametrize(
    "point",
    [
        OperatingPoint(replace(BASE, alpha=0.3), 1.0),
        OperatingPoint(replace(BASE, n_tx=3, n_rx=5, n_users=3, alpha=0.8, snr_c_db=10.0), 0.7),
        OperatingPoint(replace(BASE, n_rx=3, n_users=3, alpha=0.1, snr_s_db=20.0), 1.0),
        OperatingPoint(replace(BASE, alpha=0.0), 1.0),  # no sensing power at all
        OperatingPoint(replace(BASE, alpha=1.0, snr_c_db=-10.0), 0.5),  # sensing only
    ],
)
def test_an_untrained_universal_network_is_the_gated_prior_at_every_point(point):
    network = UniversalPriceNet(BASE, RANGES).eval()
    system = point.system
    inputs = scheme_inputs(system, n=32, seed=3)
    with torch.no_grad():
        sigma_s = network(problem_at(point, inputs)).double()
    rates.check_power_budget(sigma_s, system.sensing_power)
    expected = gated_prior(inputs)
    torch.testing.assert_close(sigma_s, expected, rtol=1e-5, atol=1e-6 * system.sensing_power)
    if system.alpha == 0.0:
        assert (sigma_s == 0).all()
    if system.alpha == 1.0:  # the whole budget, water-filled over the sensing channel
        torch.testing.assert_close(
            sigma_s.sum(-1), torch.full((32,), system.sensing_power).double()
        )


def test_the_network_refuses_what_it_cannot_serve_naming_the_setting():
    network = UniversalPriceNet(BASE, RANGES)
    inside = replace(BASE, n_users=3, n_rx=5, alpha=0.9)
    assert network.refusal(inside, Receiver("naive", 0.8)) is None
    # outside the ranges: the range it left is named, before any fixed setting
    refusal = network.refusal(replace(BASE, n_users=4, waveform_len=7), Receiver("genie", 1.0))
    assert refusal.startswith("system.n_users=4 is outside the range [2, 3]")
    refusal = network.refusal(replace(BASE, waveform_len=7), Receiver("genie", 1.0))
    assert refusal.startswith("system.waveform_len=7 differs from this universal network's 6")
    # the receivers of the objective it learned: genie and naive, or robust
    refusal = network.refusal(BASE, Receiver("robust", 0.8))
    assert refusal.startswith("csi.receiver=robust is outside the receivers this universal")
    robust = UniversalPriceNet(BASE, RANGES, receiver="robust")
    assert robust.refusal(BASE, Receiver("robust", 0.8)) is None
    assert robust.refusal(BASE, Receiver("naive", 0.8)).startswith("csi.receiver=naive")
    assert network.refusal(BASE, Receiver("genie", 0.2)).startswith("csi.beta=0.2 is outside")


def test_ranks_draw_different_training_data_and_the_same_validation_data():
    cfg = config(*UNIVERSAL)
    system = system_from_config(cfg)
    sets = []
    for rank in (0, 1):
        datamodule = build_datamodule(cfg, system)
        datamodule.trainer = SimpleNamespace(world_size=2, global_rank=rank)
        train_loader = datamodule.train_dataloader()
        train_loader.batch_sampler.sampler.set_epoch(0)
        sets.append((next(iter(train_loader)), datamodule.evaluation_sets("val")))
    (train_0, val_0), (train_1, val_1) = sets
    first_0 = {group.problem.point for group in train_0}
    first_1 = {group.problem.point for group in train_1}
    assert first_0 != first_1
    assert [s.problem.point for s in val_0] == [s.problem.point for s in val_1]
    assert all(
        torch.equal(a.problem.features, b.problem.features)
        for a, b in zip(val_0, val_1, strict=True)
    )


def test_a_batch_can_draw_a_point_for_every_sample():
    cfg = config(*UNIVERSAL, "data.points_per_batch=64")  # groups of one sample
    datamodule = build_datamodule(cfg, system_from_config(cfg))
    loader = datamodule.train_dataloader()
    loader.batch_sampler.sampler.set_epoch(0)
    batch = next(iter(loader))
    assert [len(group) for group in batch] == [1] * 64
    assert len({group.problem.point for group in batch}) == 64


def test_universal_training_resumes_scores_any_point_and_serves_a_sweep(tmp_path):
    reference = train(config(*UNIVERSAL), tmp_path / "reference")
    assert reference["model"] == "universal" and reference["val"]["wsnr"] > 0
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(config(*UNIVERSAL), tmp_path / "crashed", extra_callbacks=[Interrupt(1)])
    resumed = train(config(f"resume={tmp_path / 'crashed'}"), tmp_path / "ignored")
    assert resumed["history"]["val_loss"] == reference["history"]["val_loss"]

    run = tmp_path / "reference"
    rows = {
        row["scheme"]: row
        for row in evaluate(
            evaluate_config(
                f"run={run}",
                "system.n_users=3",
                "system.n_rx=5",
                "system.alpha=0.8",
                "csi.beta=0.6",
                "data.n_test=64",
                "schemes=[optimum]",
            ),
            tmp_path / "eval",
        )
    }
    assert rows["universal"]["pct_of_optimum"] > 99.0  # the gated prior is near the optimum
    # the design API serves the same point with the same design
    point = OperatingPoint(replace(BASE, n_users=3, n_rx=5, alpha=0.8), 0.6)
    designer = Designer.from_run(run, system=point.system, receiver=Receiver("genie", 0.6))
    inputs = scheme_inputs(point.system, n=16, seed=8)
    sigma_s = designer(
        inputs.terms.sigma_t.diag_embed().cfloat(), inputs.H.cfloat(), inputs.p.float()
    )[0]
    module = load_checkpoint(run / "checkpoints" / "best.ckpt")
    with torch.no_grad():
        expected = module.network(problem_at(point, inputs)).float()
    torch.testing.assert_close(sigma_s, expected, rtol=1e-4, atol=1e-5)
    with pytest.raises(SettingsError, match=r"system.n_users=4 is outside the range \[2, 3\]"):
        evaluate(evaluate_config(f"run={run}", "system.n_users=4"), tmp_path / "refused")

    served = score_universal(
        config(
            "system.n_tx=3",
            "system.n_rx=3",
            "system.n_users=3",
            "system.waveform_len=6",
            "system.alpha=0.2",
            "data.n_val=64",
            "data.n_test=64",
            f"universal_run={run}",
            "evaluation.enabled=true",
            "evaluation.schemes=[optimum]",
        ),
        tmp_path / "job",
    )
    written = json.loads((tmp_path / "job" / "metrics.json").read_text())
    assert written["model"] == "universal" and written["system"]["n_users"] == 3
    assert written["evaluation"]["universal"]["wsnr"] == pytest.approx(served["test"]["wsnr"])
    with pytest.raises(SettingsError, match="universal_run must be a run of a universal"):
        score_universal(
            config(f"universal_run={_pricenet_run(tmp_path)}", "system.n_users=2"),
            tmp_path / "other",
        )


def _pricenet_run(tmp_path: Path) -> Path:
    overrides = [o for o in UNIVERSAL if not o.startswith(("model=", "data."))]
    train(config(*overrides, "model=pricenet", "trainer.max_epochs=1"), tmp_path / "pricenet")
    return tmp_path / "pricenet"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["data.operating_points.n_rx=[5,3]"], "n_rx must be \\[min, max\\] with min <= max"),
        (["data.points_per_batch=65"], "points_per_batch must be <= data.batch_size = 64"),
        (["data.grid_points=65"], "n_val must be >= data.grid_points = 65"),
        (["system.n_users=4"], r"system.n_users=4 is outside the range \[2, 3\]"),
        (["data.operating_points=null"], "model.network.ranges must map each of"),
        (["model=pricenet", "data=universal"], "use a universal network"),
        (["csi.receiver=robust", "csi.objective=realised"], r"needs csi.beta in \[0, 1\)"),
    ],
)
def test_bad_universal_settings_fail_before_any_work(overrides, message, tmp_path):
    with pytest.raises(SettingsError, match=message):
        train(config(*UNIVERSAL, *overrides), tmp_path / "run")
    assert not (tmp_path / "run" / "checkpoints").exists()


@pytest.mark.slow
def test_data_parallel_training_keeps_one_run_and_resumes_after_a_kill(tmp_path):
    run = tmp_path / "ddp"
    ddp = [
        *UNIVERSAL,
        "trainer.max_epochs=4",
        "trainer.devices=2",
        "trainer.strategy=ddp",
        "trainer.accelerator=cpu",
        f"hydra.run.dir={run}",
    ]
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "train.py"), *ddp],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 240
    while not (run / "checkpoints" / "last.ckpt").exists():
        assert process.poll() is None and time.monotonic() < deadline, "no checkpoint written"
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)  # both ranks, mid-run
    process.wait()
    assert not (run / "metrics.json").exists()
    saved = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["isac_history"]
    assert len(saved) < 4
    resumed = run_script("train.py", f"resume={run}", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    history = json.loads((run / "metrics.json").read_text())["history"]
    assert history["epoch"] == [0, 1, 2, 3]
    # continued, not restarted: the epochs before the kill keep their recorded times
    assert history["seconds"][: len(saved)] == [entry["seconds"] for entry in saved]
    # one run directory, one Hydra record and one metrics.json
    assert [p.name for p in tmp_path.iterdir()] == ["ddp"]
    dirs = sorted(p.name for p in run.iterdir() if p.is_dir())
    assert dirs == [".hydra", ".hydra-resume", "checkpoints"]  # none per rank
    assert len(list(run.rglob("metrics.json"))) == 1


@pytest.mark.slow
def test_a_sweep_is_served_by_one_universal_network_and_plotted(tmp_path):
    quick = ["preset=quick", "data.n_val=80", "data.n_test=80", "logger=none"]
    run = tmp_path / "universal"
    trained = run_script(
        "train.py",
        "model=universal",
        "data.grid_points=8",
        f"hydra.run.dir={run}",
        *quick,
        cwd=tmp_path,
    )
    assert trained.returncode == 0, trained.stderr
    served = run_script(
        "train.py",
        "-m",
        "experiment=fig9",
        "hydra/launcher=joblib",
        "system.n_tx=8",
        "system.n_users=2,3",
        f"universal_run={run}",
        *quick,
        cwd=tmp_path,
    )
    assert served.returncode == 0, served.stderr
    jobs = sorted((tmp_path / "outputs" / "sweeps" / "fig9" / "quick").glob("*/[0-9]*"))
    assert len(jobs) == 2
    for job in jobs:
        metrics = json.loads((job / "metrics.json").read_text())
        assert metrics["model"] == "universal" and metrics["universal_run"] == str(run)
        assert not (job / "checkpoints").exists()  # scored, not trained
    plot = run_script("figures.py", "figures=[fig9]", "sweep_preset=quick", cwd=tmp_path)
    assert plot.returncode == 0, plot.stderr
    with (tmp_path / "outputs" / "figures" / "quick" / "fig9.csv").open() as handle:
        schemes = {row["scheme"] for row in csv.DictReader(handle)}
    assert {"universal", "optimum"} <= schemes


@pytest.mark.slow
def test_a_sweep_job_may_not_start_data_parallel_processes_itself(tmp_path):
    refused = run_script(
        "train.py", "-m", *UNIVERSAL, "trainer.devices=2", "trainer.strategy=ddp", cwd=tmp_path
    )
    assert refused.returncode == 2
    assert "a -m sweep job cannot do" in refused.stderr
    # no training started: Hydra's own record of the job, no run files
    assert not list(tmp_path.rglob("checkpoints")) and not list(tmp_path.rglob("metrics.json"))
