"""Train the shipped designs with the default commands and write them into the package.

    python scripts/make_pretrained.py                       # train all three, then write them
    python scripts/make_pretrained.py --only isacnn         # one of them
    python scripts/make_pretrained.py --run universal=outputs/train/<run>   # package a run

Each design is trained by ``python train.py <overrides>`` into
``outputs/pretrained_runs/<name>/`` (removed first), then written to
``isac/pretrained/<name>/``: its ``config.yaml`` and ``metrics.json``, and its best
checkpoint reduced to the plain hyper-parameters and the weights. The SHA-256 of every
file goes into ``isac/pretrained/manifest.json`` (:mod:`isac.learning.pretrained`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import torch

from isac.files import CHECKPOINT_DIR, CONFIG_FILE, METRICS_FILE, write_atomically, write_json
from isac.learning.checkpoints import read_checkpoint
from isac.learning.pretrained import MANIFEST, PRETRAINED_DIR, sha256

ROOT = Path(__file__).resolve().parents[1]
DESIGNS = {  # name: the overrides of its default training command
    "isacnn": [],
    "pricenet": ["model=pricenet"],
    "universal": ["model=universal"],
}


def train(name: str, runs_dir: Path) -> Path:
    """``python train.py`` for design ``name`` into ``runs_dir/name``, a fresh run."""
    run = runs_dir / name
    shutil.rmtree(run, ignore_errors=True)
    command = [sys.executable, str(ROOT / "train.py"), *DESIGNS[name], f"hydra.run.dir={run}"]
    print(" ".join(command), flush=True)
    subprocess.run(command, cwd=ROOT, check=True)
    return run


def package(name: str, run: Path) -> dict[str, str]:
    """Write run ``run`` as the shipped design ``name``; returns its files' checksums."""
    out = PRETRAINED_DIR / name
    shutil.rmtree(out, ignore_errors=True)
    (out / CHECKPOINT_DIR).mkdir(parents=True)
    for file in (CONFIG_FILE, METRICS_FILE):
        shutil.copyfile(run / file, out / file)
    checkpoint = read_checkpoint(run / CHECKPOINT_DIR / "best.ckpt", "train the run again")
    slim = {key: checkpoint[key] for key in ("hyper_parameters", "state_dict")}
    write_atomically(out / CHECKPOINT_DIR / "best.ckpt", lambda handle: torch.save(slim, handle))
    files = (CONFIG_FILE, METRICS_FILE, f"{CHECKPOINT_DIR}/best.ckpt")
    return {file: sha256(out / file) for file in files}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=list(DESIGNS), default=list(DESIGNS))
    parser.add_argument("--runs-dir", type=Path, default=ROOT / "outputs" / "pretrained_runs")
    parser.add_argument(
        "--run", nargs="*", default=[], help="name=<run dir>: package that run, untrained"
    )
    args = parser.parse_args()
    given = dict(item.split("=", 1) for item in args.run)
    manifest_path = PRETRAINED_DIR / MANIFEST
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    for name in args.only:
        run = Path(given[name]) if name in given else train(name, args.runs_dir)
        manifest[name] = package(name, run)
        test = json.loads((run / METRICS_FILE).read_text())["test"]["wsnr"]
        print(f"{name}: test WSNR {test:.7f} -> {PRETRAINED_DIR / name}", flush=True)
    write_json(manifest_path, dict(sorted(manifest.items())))


if __name__ == "__main__":
    main()
