"""Runs and checkpoints from others never run code; nothing a user ran is lost or mixed
up (copied and moved runs, concurrent evaluations, the umask); bad files and inputs are
one line naming them."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from helpers import ROOT, TINY, TINY_EPOCHS, Interrupt, config, evaluate_config

from isac.checks import SettingsError
from isac.designer import Designer
from isac.experiments.export import export_onnx
from isac.experiments.run_evaluation import evaluate
from isac.experiments.training_job import train
from isac.experiments.universal_scoring import score_universal
from isac.files import write_json

# ---- nothing from a file chooses code ---------------------------------------------------


def payloads(marker: Path) -> dict[str, dict]:
    """Hydra ``_target_`` nodes that act when instantiated: a file written by
    ``pathlib.Path.write_text``, a process spawned, and code passed to ``builtins.exec``;
    each leaves a file named after it beside ``marker``."""
    return {
        "write_text": {
            "_target_": "pathlib.Path.write_text",
            "_args_": [{"_target_": "pathlib.Path", "_args_": [f"{marker}.write_text"]}, "ran"],
        },
        "subprocess": {"_target_": "subprocess.run", "args": ["touch", f"{marker}.subprocess"]},
        "exec": {
            "_target_": "builtins.exec",
            "_args_": [f"open({str(marker) + '.exec'!r}, 'w').write('ran')"],
        },
    }


def ran(marker: Path) -> list[str]:
    return sorted(p.name for p in marker.parent.glob(f"{marker.name}.*"))


def instantiate_naively(node):
    """What a loader that trusts ``_target_`` does: import the target and call it on the
    node's arguments (Hydra's own instantiate blocks some targets, not all)."""
    if not isinstance(node, dict) or "_target_" not in node:
        return node
    parts = node["_target_"].split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for name in parts[split:]:
            target = getattr(target, name)
        break
    args = [instantiate_naively(a) for a in node.get("_args_", [])]
    kwargs = {k: instantiate_naively(v) for k, v in node.items() if not k.startswith("_")}
    return target(*args, **kwargs)


def test_the_payloads_act_when_instantiated(tmp_path):
    # what the tests below refuse is real: instantiated, each payload acts
    marker = tmp_path / "marker"
    for payload in payloads(marker).values():
        instantiate_naively(payload)
    assert ran(marker) == ["marker.exec", "marker.subprocess", "marker.write_text"]


def crafted_runs(trained_run: Path, tmp_path: Path, marker: Path) -> dict[str, Path]:
    """Copies of a trained run, each with one payload in one place of its checkpoints
    (both) or its config.yaml."""
    runs = {}
    original = torch.load(trained_run / "checkpoints" / "best.ckpt", weights_only=True)

    def craft(name: str, edit_checkpoint=None, edit_config=None) -> None:
        run = tmp_path / name
        shutil.copytree(trained_run, run)
        if edit_checkpoint is not None:
            for which in ("best", "last"):
                checkpoint = torch.load(run / "checkpoints" / f"{which}.ckpt", weights_only=True)
                edit_checkpoint(checkpoint["hyper_parameters"])
                torch.save(checkpoint, run / "checkpoints" / f"{which}.ckpt")
        if edit_config is not None:
            saved = yaml.safe_load((run / "config.yaml").read_text())
            edit_config(saved)
            (run / "config.yaml").write_text(yaml.safe_dump(saved))
        runs[name] = run

    for kind, payload in payloads(marker).items():
        craft(f"ckpt-network-{kind}", lambda h, p=payload: h["model"].update(network=p))
        craft(
            f"ckpt-option-{kind}",
            lambda h, p=payload: h["model"]["network"].update(extra=p),
        )
        craft(
            f"config-network-{kind}", edit_config=lambda c, p=payload: c["model"].update(network=p)
        )
        craft(f"config-logger-{kind}", edit_config=lambda c, p=payload: c.update(logger=p))
        craft(
            f"config-trainer-{kind}",
            edit_config=lambda c, p=payload: c["trainer"].update(plugins=p),
        )
    # an earlier version's form whose network name is a path to a YAML file of the attacker
    (tmp_path / "evil.yaml").write_text(yaml.safe_dump({"network": payloads(marker)["exec"]}))
    craft(
        "ckpt-v0-path",
        lambda h: h.update(network="../../evil", **{k: v for k, v in h.pop("optim").items()}),
    )
    craft("config-interpolation", edit_config=lambda c: c["model"].update(label="${oc.env:HOME}"))
    assert original["hyper_parameters"]["model"]["network"] == {"kind": "isacnn"}
    return runs


READING_CONFIG = {  # entry points that read a run's config.yaml (and its checkpoints)
    "evaluate.py run=": lambda run, out: evaluate(evaluate_config(f"run={run}"), out),
    "train.py universal_run=": lambda run, out: score_universal(
        config(*TINY, f"universal_run={run}"), out
    ),
    "train.py resume=": lambda run, out: train(config(f"resume={run}"), out),
}
READING_CHECKPOINTS = {  # entry points that read only a checkpoint
    "export.py run=": lambda run, out: export_onnx(run, out_dir=out),
    "Designer.from_run": lambda run, out: Designer.from_run(run),
    "Designer.from_checkpoint": lambda run, out: Designer.from_checkpoint(
        run / "checkpoints" / "best.ckpt"
    ),
}


def test_crafted_runs_are_refused_before_anything_runs_on_every_entry_point(trained_run, tmp_path):
    marker = tmp_path / "marker"
    runs = crafted_runs(trained_run, tmp_path / "runs", marker)
    for run_name, run in runs.items():
        entries = READING_CONFIG | ({} if run_name.startswith("config") else READING_CHECKPOINTS)
        for entry, call in entries.items():
            with pytest.raises(SettingsError) as refused:
                call(run, tmp_path / "out")
            assert "\n" not in str(refused.value), (run_name, entry)
            assert ran(marker) == [], (run_name, entry)


def test_the_copy_of_a_run_of_this_version_still_loads(trained_run, tmp_path):
    # the same checkpoints, untouched, pass every entry point that only reads them
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    assert Designer.from_run(run).name == "isacnn"
    rows = evaluate(evaluate_config(f"run={run}", "schemes=[average]"), tmp_path / "eval")
    assert [row["scheme"] for row in rows] == ["isacnn", "average"]


# ---- nothing a user ran is lost or mixed up ---------------------------------------------


def interrupted_run(tmp_path: Path) -> Path:
    """A TINY run interrupted after epoch 2 (its checkpoints written, no metrics.json)."""
    run = tmp_path / "interrupted"
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(config(*TINY), run, extra_callbacks=[Interrupt(2)])
    return run


@pytest.mark.parametrize("how", ["cp -a", "mv"])
def test_a_copied_or_moved_run_resumes_evaluates_and_exports_from_its_own_files(how, tmp_path):
    original = interrupted_run(tmp_path)
    before = {p.name: p.read_bytes() for p in (original / "checkpoints").iterdir()}
    moved = tmp_path / "elsewhere" / "run"
    moved.parent.mkdir()
    subprocess.run([*how.split(), str(original), str(moved)], check=True)
    metrics = train(config(f"resume={moved}"), tmp_path / "ignored")
    assert metrics["epochs_trained"] == TINY_EPOCHS  # continued to the end, not restarted
    assert (moved / metrics["best_checkpoint"]).is_file()
    assert metrics["best_checkpoint"] == "checkpoints/best.ckpt"
    if how == "cp -a":  # the original is untouched
        assert {p.name: p.read_bytes() for p in (original / "checkpoints").iterdir()} == before
        assert not (original / "metrics.json").exists()
    else:
        assert not original.exists()
    rows = evaluate(evaluate_config(f"run={moved}", "schemes=[]"), tmp_path / "eval")
    assert rows[0]["scheme"] == "isacnn"
    pytest.importorskip("onnx")
    onnx_path, _ = export_onnx(moved, out_dir=tmp_path / "export")
    assert onnx_path.is_file()


def test_concurrent_evaluations_of_one_run_leave_one_whole_consistent_set(trained_run, tmp_path):
    # two evaluations of different test sets write into one directory at once: the lock
    # keeps the later one's three files together, each written atomically
    out = tmp_path / "evaluation"
    errors = []

    def run(cfg) -> None:
        try:
            evaluate(cfg, out)
        except Exception as error:  # reported below
            errors.append(error)

    configs = [  # composed here: Hydra's composition is not thread-safe
        evaluate_config(f"run={trained_run}", f"data.n_test={n}", "schemes=[average]")
        for n in (24, 40)
    ]
    threads = [threading.Thread(target=run, args=(cfg,)) for cfg in configs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    table = json.loads((out / "evaluation.json").read_text())
    n_test = table["settings"]["n_test"]
    with np.load(out / "predictions.npz") as data:  # whole: np.load checks the CRCs
        assert data["H"].shape[0] == n_test
        for row in table["table"]:
            assert data[f"wsnr__{row['scheme']}"].mean() == pytest.approx(row["wsnr"], rel=1e-12)
    csv_rows = (out / "evaluation.csv").read_text().splitlines()
    assert len(csv_rows) == 1 + len(table["table"])
    assert not list(out.glob(".*.npz.*")) and not list(out.glob(".*.json.*"))  # no debris


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_files_respect_the_umask(umask, mode, tmp_path):
    previous = os.umask(umask)
    try:
        write_json(tmp_path / "metrics.json", {"a": 1})
    finally:
        os.umask(previous)
    assert (tmp_path / "metrics.json").stat().st_mode & 0o777 == mode


# ---- one line for every bad file or input -----------------------------------------------


def test_another_networks_checkpoint_in_a_run_is_refused_on_resume(tmp_path):
    run = interrupted_run(tmp_path)
    other = tmp_path / "other"
    train(config(*TINY, "model=fcnn", "trainer.max_epochs=1"), other)
    shutil.copyfile(other / "checkpoints" / "last.ckpt", run / "checkpoints" / "last.ckpt")
    with pytest.raises(SettingsError) as refused:
        train(config(f"resume={run}"), tmp_path / "ignored")
    message = str(refused.value)
    assert "\n" not in message
    assert "holds a fcnn network {'kind': 'fcnn'}, not the run's isacnn network" in message
    assert "resume_checkpoint=best" in message


def test_a_truncated_config_is_refused_when_evaluating(trained_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    lines = (run / "config.yaml").read_text().splitlines()
    (run / "config.yaml").write_text("\n".join(lines[: len(lines) // 3]) + "\n")
    with pytest.raises(SettingsError, match=r"config.yaml lacks .* \(truncated or edited\)"):
        evaluate(evaluate_config(f"run={run}"), tmp_path / "eval")


def test_a_seed_outside_lightnings_range_is_refused(tmp_path):
    for seed in (-1, 2**32):
        with pytest.raises(SettingsError, match=r"seed must be an integer in \[0, 4294967295\]"):
            train(config(*TINY, f"seed={seed}"), tmp_path / "run")
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_the_design_api_refuses_empty_batches_and_unsupported_precisions(trained_run):
    designer = Designer.from_run(trained_run)
    n_tx, n_rx, n_users = designer.system.n_tx, designer.system.n_rx, designer.system.n_users
    R = torch.eye(n_tx, dtype=torch.complex64)
    H = torch.ones(n_rx, n_users, dtype=torch.complex64)
    p = torch.ones(n_users)
    with pytest.raises(SettingsError, match="a batch of at least one, got a batch of 0"):
        designer(R[None][:0], H[None][:0], p[None][:0])
    with warnings.catch_warnings():  # torch warns that complex32 is experimental
        warnings.simplefilter("ignore")
        half = R.to(torch.complex32)
    with pytest.raises(
        SettingsError, match="R_T must be complex64 or complex128, got torch.complex32"
    ):
        designer(half, H, p)
    with pytest.raises(
        SettingsError, match="H_hat must be complex64 or complex128, got complex256"
    ):
        designer(R.numpy(), H.numpy().astype(np.clongdouble), p.numpy())
    with pytest.raises(SettingsError, match="p must be float32 or float64, got torch.float16"):
        designer(R[None], H[None], p[None].half())


@pytest.mark.slow
def test_two_evaluate_processes_on_one_run_leave_a_consistent_set(trained_run, tmp_path):
    # as a user would: two evaluate.py processes at once, three times
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    for attempt in range(3):
        processes = [
            subprocess.Popen(
                [sys.executable, str(ROOT / "evaluate.py"), f"run={run}", f"data.n_test={n}"],
                cwd=tmp_path,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for n in (24 + attempt, 40 + attempt)
        ]
        for process in processes:
            assert process.wait(timeout=600) == 0, process.stderr.read()
        out = run / "evaluation"
        table = json.loads((out / "evaluation.json").read_text())
        with np.load(out / "predictions.npz") as data:
            assert data["H"].shape[0] == table["settings"]["n_test"]
            for row in table["table"]:
                mean = data[f"wsnr__{row['scheme']}"].mean()
                assert mean == pytest.approx(row["wsnr"], rel=1e-12)
