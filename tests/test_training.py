"""Training: configs compose, a short run learns and stays feasible, resume is exact (from
last or best), checkpoints are written atomically and load safely, damaged files give one
clear line, bad settings fail first, and the Hydra CLI works end to end."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers import ROOT, TINY, TINY_EPOCHS, Interrupt, config, evaluate_config, run_script
from omegaconf import OmegaConf

from isac.checks import SettingsError
from isac.experiments.run_evaluation import evaluate
from isac.experiments.training_job import train
from isac.learning.checkpoints import load_checkpoint, load_for
from isac.learning.features import input_features
from isac.learning.training import (
    build_datamodule,
    build_module,
    build_trainer,
    system_from_config,
)
from isac.physics import rates
from isac.physics.problem import ProblemTerms
from isac.physics.receivers import GENIE, Receiver
from isac.physics.scenario import sample_scenario


@pytest.mark.parametrize(
    "overrides",
    [
        [],
        ["model=fcnn"],
        ["logger=none"],
        ["preset=quick"],
        *[
            [f"experiment={path.stem}"]
            for path in sorted((ROOT / "conf" / "experiment").glob("*.yaml"))
        ],
        ["csi.beta=0.7"],
        ["system.n_users=8", "system.n_rx=8"],
        ["model=universal", "data=universal_channels", "channel=uma"],
        [
            "model=universal",
            "data=universal_realised",
            "csi.receiver=robust",
            "csi.objective=realised",
            "csi.beta=0.5",
        ],
    ],
)
def test_every_config_composes_and_instantiates(overrides, tmp_path):
    cfg = config(*overrides)
    system = system_from_config(cfg)
    assert build_datamodule(cfg, system).n_train == cfg.data.n_train
    module = build_module(cfg, system)
    assert module.name == cfg.model.name
    trainer = build_trainer(cfg, tmp_path, interactive=False)
    assert trainer.max_epochs == cfg.trainer.max_epochs


def test_defaults_follow_the_paper():
    cfg = config()
    assert (cfg.system.n_tx, cfg.system.n_rx, cfg.system.n_users, cfg.system.waveform_len) == (
        16,
        16,
        5,
        20,
    )
    assert (cfg.system.alpha, cfg.system.snr_s_db, cfg.system.snr_c_db) == (0.5, 10.0, 0.0)
    assert (cfg.data.n_train, cfg.data.n_val, cfg.data.n_test, cfg.data.batch_size) == (
        8000,
        2000,
        2000,
        256,
    )
    assert (cfg.optim.learning_rate, cfg.optim.lr_factor, cfg.optim.lr_patience) == (1e-3, 0.33, 10)
    assert cfg.trainer.max_epochs == 500 and cfg.callbacks.early_stopping.patience == 20


@pytest.mark.parametrize("model", ["isacnn", "fcnn"])
def test_short_training_learns_and_every_prediction_is_feasible(model, tmp_path):
    cfg = config(*TINY, f"model={model}", "logger=tensorboard", "trainer.max_epochs=8")
    metrics = train(cfg, tmp_path)
    history = metrics["history"]
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert min(history["val_loss"]) < history["val_loss"][0]
    assert metrics["test"]["wsnr"] > metrics["test_reference"]["zero_power"]["wsnr"]
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))

    # metrics.json on disk agrees with the best checkpoint rescored from scratch in float64
    system = system_from_config(cfg)
    network = load_for(tmp_path / "checkpoints" / "best.ckpt", system, GENIE).network
    scenario = sample_scenario(system, cfg.data.n_test, seed=cfg.data.seed, split="test")
    features = input_features(scenario.H_hat, scenario.p, scenario.sigma_t, system.noise_power)
    with torch.no_grad():
        sigma_s = network.from_features(features.float()).double()
    rates.check_power_budget(sigma_s, system.sensing_power)
    assert (sigma_s[:, :-1] >= sigma_s[:, 1:]).all()
    rescored = ProblemTerms.from_scenario(scenario, system).evaluate(sigma_s, system)
    saved = json.loads((tmp_path / "metrics.json").read_text())["test"]
    for key in ("wsnr", "rate_s", "rate_c"):
        assert saved[key] == pytest.approx(rescored[key].mean().item(), rel=1e-5)
    assert saved["power_fraction"] == pytest.approx(
        rescored["power"].mean().item() / system.sensing_power, rel=1e-5
    )


def test_imperfect_csi_trains_and_is_scored_on_the_true_channel(tmp_path):
    cfg = config(*TINY, "csi.beta=0.3", "trainer.max_epochs=2")
    metrics = train(cfg, tmp_path)
    system = system_from_config(cfg)
    module = load_for(tmp_path / "checkpoints" / "best.ckpt", system, Receiver("genie", 0.3))
    scenario = sample_scenario(system, cfg.data.n_test, beta=0.3, seed=cfg.data.seed, split="test")
    data = build_datamodule(cfg, system)
    with torch.no_grad():
        sigma_s = module(data.problem_set("test").problem).double()
    true_wsnr = ProblemTerms.from_scenario(scenario, system).wsnr(sigma_s, system).mean()
    assert metrics["test"]["wsnr"] == pytest.approx(true_wsnr.item(), rel=1e-5)
    believed = ProblemTerms.from_channels(scenario.H_hat, scenario.p, scenario.sigma_t, system)
    assert abs(believed.wsnr(sigma_s, system).mean().item() - true_wsnr.item()) > 1e-4


def test_post_training_evaluation_agrees_with_the_training_metrics(tmp_path):
    cfg = config(
        *TINY,
        "trainer.max_epochs=2",
        "evaluation.enabled=true",
        "evaluation.schemes=[average,optimum]",
    )
    metrics = train(cfg, tmp_path)
    rows = metrics["evaluation"]
    assert list(rows) == ["isacnn", "average", "optimum"]
    # the evaluation redesigns from R_T and H_hat in float32 and scores each design anew;
    # training scored the same checkpoint from its precomputed float64 terms
    for scheme, reference in (
        ("isacnn", metrics["test"]),
        ("average", metrics["test_reference"]["average"]),
    ):
        for key in ("wsnr", "rate_s", "rate_c"):
            assert rows[scheme][key] == pytest.approx(reference[key], rel=1e-4)
    assert rows["optimum"]["wsnr"] >= max(rows["isacnn"]["wsnr"], rows["average"]["wsnr"])
    # the share of the optimum, from training's own test metrics (another code path)
    for scheme, wsnr in (
        ("isacnn", metrics["test"]["wsnr"]),
        ("average", metrics["test_reference"]["average"]["wsnr"]),
    ):
        expected = 100.0 * wsnr / rows["optimum"]["wsnr"]
        assert rows[scheme]["pct_of_optimum"] == pytest.approx(expected, rel=1e-4)
    assert rows["isacnn"]["ms_per_sample"] > 0


def test_interrupted_run_resumes_to_the_same_metrics(tmp_path):
    # lr_patience 0 makes the plateau scheduler act, so its state must survive the resume
    overrides = (*TINY, "optim.lr_patience=0", "optim.lr_factor=0.5", "optim.lr_threshold=0.0045")
    reference = train(config(*overrides), tmp_path / "reference")
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(config(*overrides), tmp_path / "crashed", extra_callbacks=[Interrupt(4)])
    assert (tmp_path / "crashed" / "checkpoints" / "last.ckpt").is_file()
    assert not (tmp_path / "crashed" / "metrics.json").exists()
    # as saved by an earlier version: no post-training evaluation (it takes the default), and
    # the network named by model.name with the optimiser settings beside it
    saved = OmegaConf.load(tmp_path / "crashed" / "config.yaml")
    del saved["evaluation"]
    saved.model = {"name": "isacnn", **saved.optim}
    del saved["optim"]
    OmegaConf.save(saved, tmp_path / "crashed" / "config.yaml")
    resumed = train(config(f"resume={tmp_path / 'crashed'}"), tmp_path / "ignored")
    assert not (tmp_path / "ignored").exists()
    assert resumed["history"]["lr"] == reference["history"]["lr"]
    assert min(reference["history"]["lr"]) < 1e-3  # the scheduler did reduce the rate
    for key in ("val", "test"):
        assert resumed[key] == reference[key]
    assert resumed["history"]["val_loss"] == reference["history"]["val_loss"]


def test_checkpoint_loads_safely_and_reproduces_validation(tmp_path):
    metrics = train(config(*TINY, "trainer.max_epochs=3"), tmp_path)
    for name in ("best.ckpt", "last.ckpt"):
        raw = torch.load(tmp_path / "checkpoints" / name, weights_only=True)
        assert raw["hyper_parameters"]["system"]["n_tx"] == 4
    # metrics.json's validation metrics come from the reloaded best checkpoint; the history
    # from the in-memory network during training: the two must agree
    best_val_loss = metrics["history"]["val_loss"][metrics["best_epoch"]]
    assert metrics["val"]["loss"] == pytest.approx(best_val_loss, abs=1e-6)
    # hyperparameters as an earlier version stored them load into the same network
    raw = torch.load(tmp_path / "checkpoints" / "best.ckpt", weights_only=True)
    hparams = raw["hyper_parameters"]
    raw["hyper_parameters"] = {
        "system": hparams["system"],
        "network": "isacnn",
        **hparams["optim"],
        "run_config": hparams["run_config"],
    }
    torch.save(raw, tmp_path / "old.ckpt")
    old, new = (
        load_checkpoint(tmp_path / "old.ckpt"),
        load_checkpoint(tmp_path / "checkpoints" / "best.ckpt"),
    )
    features = torch.randn(16, 4 * 2 * 2 + 4)
    assert old.name == "isacnn"
    assert torch.equal(old.network.from_features(features), new.network.from_features(features))
    other = system_from_config(config("system.n_rx=8"))
    with pytest.raises(SettingsError, match=r"trained for system.n_tx=4, but system.n_tx=16"):
        load_for(tmp_path / "checkpoints" / "best.ckpt", other, GENIE)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("system.alpha=1.5", r"alpha must be a real number in \[0, 1\]"),
        ("system.waveform_len=4", r"waveform_len must be > n_tx = 4"),
        ("csi.beta=-0.1", r"csi.beta must be a real number in \[0, 1\]"),
        ("data.n_train=0", r"data.n_train must be an integer >= 1"),
        ("model.network.kind=isac.nowhere.Net", r"model.network.kind must be one of"),
        ("+model.network._target_=os.system", r"model.network._target_ is not an option"),
        ("optim.lr_factor=1.5", r"optim.lr_factor must be a real number in \(0, 1\)"),
        ("trainer.max_epochs=0", r"trainer.max_epochs must be an integer >= 1"),
        ("logger.kind=wandb", r"logger.kind must be one of \['tensorboard', 'csv', 'none'\]"),
        ("+trainer.bogus=1", r"trainer.bogus is not an argument of lightning.Trainer"),
        ("+trainer.plugins={a:1}", r"trainer.plugins must be a plain value"),
        ("evaluation.schemes=[bogus]", r"evaluation.schemes\[\] must be one of"),
        ("evaluation.schemes=[zfbf]", r"scheme zfbf cannot run: zero-forcing needs system.n_u"),
        ("resume_checkpoint=first", r"resume_checkpoint must be one of \['best', 'last'\]"),
        ("+optim.momentum=0.9", r"optim.momentum is not a setting; optim has \['learning_rate'"),
        ("+data.workers=4", r"data.workers is not a setting; data has \['n_train'"),
        ("evaluation.repeats=0", r"evaluation.repeats must be an integer >= 1"),
    ],
)
def test_bad_settings_fail_before_any_work(override, message, tmp_path):
    fewer_receivers = ["system.n_rx=1"] if "zfbf" in override else []
    resuming = [f"resume={tmp_path}"] if override.startswith("resume") else []
    with pytest.raises(SettingsError, match=message):
        train(config(*TINY, *fewer_receivers, *resuming, override), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_resume_of_a_directory_without_a_run_is_refused(tmp_path):
    with pytest.raises(SettingsError, match=r"resume=.* is not a training run directory"):
        train(config(f"resume={tmp_path}"), tmp_path / "run")


def test_results_do_not_depend_on_the_evaluation_batch_size(tmp_path):
    one_batch = train(config(*TINY, "trainer.max_epochs=2"), tmp_path / "one")
    ragged = train(config(*TINY, "trainer.max_epochs=2", "data.eval_batch_size=37"), tmp_path / "n")
    assert ragged["history"]["val_loss"] == pytest.approx(one_batch["history"]["val_loss"], 1e-6)
    assert ragged["history"]["train_loss"] == one_batch["history"]["train_loss"]
    for split in ("val", "test"):
        assert ragged[split] == pytest.approx(one_batch[split], rel=1e-6)


def crash_and_damage(tmp_path: Path, name: str) -> Path:
    """A run interrupted after epoch 2, with checkpoints/<name>.ckpt then cut in half."""
    run_dir = tmp_path / "crashed"
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(config(*TINY), run_dir, extra_callbacks=[Interrupt(2)])
    damaged = run_dir / "checkpoints" / f"{name}.ckpt"
    damaged.write_bytes(damaged.read_bytes()[: damaged.stat().st_size // 2])
    return run_dir


def test_a_damaged_last_checkpoint_is_named_and_resume_from_best_works(tmp_path):
    run_dir = crash_and_damage(tmp_path, "last")
    with pytest.raises(SettingsError) as refused:
        train(config(f"resume={run_dir}"), tmp_path / "ignored")
    message = str(refused.value)
    assert "\n" not in message and "last.ckpt' is damaged (truncated or not a checkpoint" in message
    assert f"resume={run_dir} resume_checkpoint=best`, or start a new run" in message
    resumed = train(config(f"resume={run_dir}", "resume_checkpoint=best"), tmp_path / "ignored")
    assert resumed["epochs_trained"] == TINY_EPOCHS
    assert not (tmp_path / "ignored").exists()


def test_a_damaged_best_checkpoint_or_config_is_named_when_evaluating(tmp_path):

    run_dir = crash_and_damage(tmp_path, "best")
    with pytest.raises(SettingsError, match=r"best.ckpt' is damaged .*checkpoint=last"):
        evaluate(evaluate_config(f"run={run_dir}", "data.n_test=8"), tmp_path / "eval")
    rows = evaluate(
        evaluate_config(f"run={run_dir}", "checkpoint=last", "data.n_test=8", "schemes=[]"),
        tmp_path / "eval",
    )
    assert [row["scheme"] for row in rows] == ["isacnn"]
    (run_dir / "config.yaml").write_text("system: [unclosed\n")
    for attempt in (
        lambda: evaluate(evaluate_config(f"run={run_dir}"), tmp_path / "eval"),
        lambda: train(config(f"resume={run_dir}"), tmp_path / "ignored"),
    ):
        with pytest.raises(SettingsError, match=r"config.yaml is not valid YAML .*start a new run"):
            attempt()


def test_checkpoints_are_written_atomically(tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    last = run_dir / "checkpoints" / "last.ckpt"
    real_save, calls, before = torch.save, [], {}

    def dies_in_the_third_save(checkpoint, handle):  # epoch 0 saved best and last
        calls.append(checkpoint)
        if len(calls) == 3:
            before["last"] = last.read_bytes()
            handle.write(b"half a checkpoint")
            raise RuntimeError("died while saving")
        real_save(checkpoint, handle)

    monkeypatch.setattr(torch, "save", dies_in_the_third_save)
    with pytest.raises(RuntimeError, match="died while saving"):
        train(config(*TINY, "trainer.max_epochs=2"), run_dir)
    monkeypatch.undo()
    assert last.read_bytes() == before["last"]  # the old checkpoint is untouched ...
    assert sorted(p.name for p in last.parent.iterdir()) == ["best.ckpt", "last.ckpt"]  # no debris
    assert torch.load(last, weights_only=True)["epoch"] == 0  # ... and loads


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return run_script("train.py", *args, cwd=cwd)


@pytest.mark.slow
def test_kill_9_during_a_save_leaves_a_loadable_checkpoint_that_resumes(tmp_path):
    run_dir = tmp_path / "run"
    tiny = [o for o in TINY if not o.startswith("trainer.max_epochs")]
    # the third save (the first of epoch 1) kills the process after writing part of it
    killer = tmp_path / "sitecustomize.py"
    killer.write_text(
        "import os, signal, torch\n"
        "_save, _calls = torch.save, [0]\n"
        "def save(obj, f, *a, **k):\n"
        "    _calls[0] += 1\n"
        "    if _calls[0] == 3:\n"
        "        f.write(b'partial'); f.flush(); os.kill(os.getpid(), signal.SIGKILL)\n"
        "    return _save(obj, f, *a, **k)\n"
        "torch.save = save\n"
    )
    killed = subprocess.run(
        [
            sys.executable,
            str(ROOT / "train.py"),
            *tiny,
            "trainer.max_epochs=3",
            f"hydra.run.dir={run_dir}",
        ],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    saved_epoch = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["epoch"]
    assert saved_epoch == 0  # the first epoch's checkpoint survived whole
    resumed = run_cli(f"resume={run_dir}", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["epochs_trained"] == 3


@pytest.mark.slow
def test_cli_multirun_resume_and_clean_errors(tmp_path):
    tiny = [o for o in TINY if not o.startswith("trainer.max_epochs")] + ["trainer.max_epochs=2"]
    sweep = run_cli("-m", *tiny, "csi.beta=1.0,0.5", cwd=tmp_path)
    assert sweep.returncode == 0, sweep.stderr
    jobs = sorted((tmp_path / "outputs" / "multirun").glob("*/*/[0-9]*"))
    assert [job.name for job in jobs] == ["0", "1"]
    betas = [json.loads((job / "metrics.json").read_text())["beta"] for job in jobs]
    assert betas == [1.0, 0.5]

    run_dir = tmp_path / "single"
    single = run_cli(*tiny, f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert single.returncode == 0, single.stderr
    resumed = run_cli(f"resume={run_dir}", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert (run_dir / ".hydra-resume").is_dir() and (run_dir / ".hydra").is_dir()

    refused = run_cli(f"resume={run_dir}", "system.alpha=0.2", cwd=tmp_path)
    assert refused.returncode == 2 and "drop the other overrides" in refused.stderr
    bad = run_cli("system.alpha=2", cwd=tmp_path)
    assert bad.returncode == 2
    assert "alpha must be a real number in [0, 1]" in bad.stderr
    assert "Traceback" not in bad.stderr
