"""Training: configs compose, a short run learns and stays feasible, resume is exact,
checkpoints load safely, bad settings fail first, and the Hydra CLI works end to end."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import lightning as L
import pytest
import torch
from conftest import ROOT, run_script
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

from isac import rates
from isac.checks import SettingsError
from isac.hydra_support import register_resolvers
from isac.lit_module import load_checkpoint
from isac.problem import ProblemTerms
from isac.scenario import sample_scenario
from isac.training import build_datamodule, build_module, build_trainer, system_from_config, train

TINY = [
    "system.n_tx=4",
    "system.n_rx=4",
    "system.n_users=2",
    "system.waveform_len=6",
    "data.n_train=512",
    "data.n_val=256",
    "data.n_test=256",
    "data.batch_size=64",
    "trainer.max_epochs=6",
    "logger=none",
]


def config(*overrides: str) -> DictConfig:
    register_resolvers()
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


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
    ],
)
def test_every_config_composes_and_instantiates(overrides, tmp_path):
    cfg = config(*overrides)
    system = system_from_config(cfg)
    assert build_datamodule(cfg, system).n_train == cfg.data.n_train
    module = build_module(cfg, system)
    assert module.hparams.network == cfg.model.name
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
    assert (cfg.model.learning_rate, cfg.model.lr_factor, cfg.model.lr_patience) == (1e-3, 0.33, 10)
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
    assert json.loads((tmp_path / "metrics.json").read_text()) == metrics

    system = system_from_config(cfg)
    network = load_checkpoint(tmp_path / "checkpoints" / "best.ckpt", expected=system)
    data = build_datamodule(cfg, system)
    with torch.no_grad():
        sigma_s = network(data.problem_set("test").features)
    rates.check_power_budget(sigma_s, system.sensing_power)
    assert (sigma_s[:, :-1] >= sigma_s[:, 1:]).all()


def test_imperfect_csi_trains_and_is_scored_on_the_true_channel(tmp_path):
    cfg = config(*TINY, "csi.beta=0.3", "trainer.max_epochs=2")
    metrics = train(cfg, tmp_path)
    system = system_from_config(cfg)
    network = load_checkpoint(tmp_path / "checkpoints" / "best.ckpt", expected=system)
    scenario = sample_scenario(system, cfg.data.n_test, beta=0.3, seed=cfg.data.seed, split="test")
    data = build_datamodule(cfg, system)
    with torch.no_grad():
        sigma_s = network(data.problem_set("test").features).double()
    true_wsnr = ProblemTerms.from_scenario(scenario, system).wsnr(sigma_s, system).mean()
    assert metrics["test"]["wsnr"] == pytest.approx(true_wsnr.item(), rel=1e-5)
    believed = ProblemTerms.from_channels(scenario.H_est, scenario.p, scenario.sigma_t, system)
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
    assert rows["optimum"]["pct_of_optimum"] == pytest.approx(100.0)
    assert rows["isacnn"]["ms_per_sample"] > 0


class Interrupt(L.Callback):
    """Stops training abruptly after ``epoch`` finished (its checkpoints are written)."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_epoch_end(self, trainer, module) -> None:
        if trainer.current_epoch == self.epoch:
            raise RuntimeError("simulated crash")


def test_interrupted_run_resumes_to_the_same_metrics(tmp_path):
    # lr_patience 0 makes the plateau scheduler act, so its state must survive the resume
    overrides = (*TINY, "model.lr_patience=0", "model.lr_factor=0.5", "model.lr_threshold=0.0045")
    reference = train(config(*overrides), tmp_path / "reference")
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(config(*overrides), tmp_path / "crashed", extra_callbacks=[Interrupt(4)])
    assert (tmp_path / "crashed" / "checkpoints" / "last.ckpt").is_file()
    assert not (tmp_path / "crashed" / "metrics.json").exists()
    # as if saved before the post-training evaluation existed: it resumes with the default
    saved = OmegaConf.load(tmp_path / "crashed" / "config.yaml")
    del saved["evaluation"]
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
    other = system_from_config(config("system.n_rx=8"))
    with pytest.raises(SettingsError, match=r"trained for system.n_tx=4, but system.n_tx=16"):
        load_checkpoint(tmp_path / "checkpoints" / "best.ckpt", expected=other)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("system.alpha=1.5", r"alpha must be a real number in \[0, 1\]"),
        ("system.waveform_len=4", r"waveform_len must be > n_tx = 4"),
        ("csi.beta=-0.1", r"csi.beta must be a real number in \[0, 1\]"),
        ("data.n_train=0", r"data.n_train must be an integer >= 1"),
        ("model.name=resnet", r"model.name must be one of"),
        ("model.lr_factor=1.5", r"model.lr_factor must be a real number in \(0, 1\)"),
        ("trainer.max_epochs=0", r"trainer.max_epochs must be an integer >= 1"),
        ("logger.kind=wandb", r"logger.kind must be one of"),
        ("evaluation.schemes=[bogus]", r"evaluation.schemes\[\] must be one of"),
        ("evaluation.schemes=[zfbf]", r"zfbf scheme needs system.n_users <= system.n_rx"),
        ("evaluation.repeats=0", r"evaluation.repeats must be an integer >= 1"),
    ],
)
def test_bad_settings_fail_before_any_work(override, message, tmp_path):
    fewer_receivers = ["system.n_rx=1"] if "zfbf" in override else []
    with pytest.raises(SettingsError, match=message):
        train(config(*TINY, *fewer_receivers, override), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_resume_of_a_directory_without_a_run_is_refused(tmp_path):
    with pytest.raises(SettingsError, match=r"must be a training run directory"):
        train(config(f"resume={tmp_path}"), tmp_path / "run")


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return run_script("train.py", *args, cwd=cwd)


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
