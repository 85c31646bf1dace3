"""The designs shipped with the package load offline through the safe path, give the test
WSNR their metrics.json records, refuse an altered file, and the universal one refuses
what it does not serve on every entry point."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from helpers import config, evaluate_config

from isac.checks import SettingsError
from isac.designer import Designer
from isac.experiments.run_evaluation import evaluate
from isac.experiments.universal_scoring import score_universal
from isac.files import read_run_config
from isac.learning import pretrained
from isac.learning.checkpoints import load_checkpoint
from isac.learning.training import build_datamodule, system_from_config
from isac.physics.receivers import Receiver
from isac.physics.system import SystemConfig


@pytest.mark.parametrize("name", ["isacnn", "pricenet", "universal"])
def test_a_shipped_design_scores_its_recorded_test_wsnr(name):
    run = pretrained.pretrained_run(name)
    recorded = json.loads((run / "metrics.json").read_text())["test"]["wsnr"]
    cfg = read_run_config(run)
    module = load_checkpoint(run / "checkpoints" / "best.ckpt")
    assert module.name == name
    datamodule = build_datamodule(cfg, system_from_config(cfg))
    total, count = 0.0, 0
    with torch.no_grad():
        for problems in datamodule.evaluation_sets("test"):  # every grid point, universal
            batch = problems.all()
            wsnr = batch.terms.wsnr(module(batch.problem), problems.system)
            total, count = total + wsnr.double().sum().item(), count + len(batch)
    assert total / count == pytest.approx(recorded, rel=1e-6)


def test_the_designer_serves_the_shipped_designs_offline():
    assert Designer.from_pretrained("isacnn").single_sample_path == "numpy"
    point = SystemConfig(alpha=0.3, n_users=7)
    designer = Designer.from_pretrained("universal", point)
    assert designer.system == point and designer.name == "universal"
    with pytest.raises(SettingsError, match=r"pretrained must be one of \['isacnn', 'pricenet'"):
        Designer.from_pretrained("resnet")


def test_an_altered_shipped_file_is_refused(tmp_path, monkeypatch):
    copy = tmp_path / "pretrained"
    shutil.copytree(pretrained.PRETRAINED_DIR, copy)
    metrics = copy / "pricenet" / "metrics.json"
    metrics.write_text(metrics.read_text().replace('"model"', '"modell"', 1))
    monkeypatch.setattr(pretrained, "PRETRAINED_DIR", copy)
    assert pretrained.pretrained_run("isacnn") == copy / "isacnn"
    with pytest.raises(SettingsError, match=r"pricenet/metrics.json is missing or altered"):
        pretrained.pretrained_run("pricenet")


def test_the_universal_network_refuses_its_out_of_range_points_on_every_entry_point(tmp_path):
    run = pretrained.pretrained_run("universal")
    robust = "csi.receiver=robust"
    attempts = {
        "evaluate.py": lambda extra: evaluate(
            evaluate_config("pretrained=universal", extra, "data.n_test=8"), tmp_path / "e"
        ),
        "train.py universal_run=": lambda extra: score_universal(
            config(f"universal_run={run}", extra, "data.n_test=8", "data.n_val=8"), tmp_path / "j"
        ),
        "Designer": lambda extra: Designer.from_pretrained(
            "universal",
            SystemConfig(n_users=9) if "n_users" in extra else None,
            Receiver("robust", 0.5) if extra == robust else None,
        ),
    }
    for attempt in attempts.values():
        with pytest.raises(SettingsError, match=r"csi.receiver=robust is outside the receivers"):
            attempt(robust)
        with pytest.raises(SettingsError, match=r"system.n_users=9 is outside the range \[2, 8\]"):
            attempt("system.n_users=9")
