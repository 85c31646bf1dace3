"""The files the project writes and reads back: names, atomic writes, damage reported in one line.

The bottom room of the package (docs/layout.md): it imports nothing of the project but
:mod:`isac.checks`. A training run's directory holds

    <run>/config.yaml              the resolved config (written once; a resume reuses it)
    <run>/checkpoints/best.ckpt    lowest validation loss
    <run>/checkpoints/last.ckpt    end of the latest epoch, for resuming
    <run>/tensorboard/             TensorBoard events
    <run>/metrics.json             final metrics (:mod:`isac.experiments.training_job`)
    <run>/evaluation/              what ``evaluate.py`` writes

Every file here is written atomically (a temporary file, then a rename), so a run killed
at any moment leaves either the old file or the new one, never half of one. A damaged
file read back gives one line that names it, says what is wrong and what to do.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import yaml
from filelock import FileLock
from omegaconf import DictConfig, OmegaConf

from isac import checks

CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.json"
CHECKPOINT_DIR = "checkpoints"
CHECKPOINT_NAMES = ("best", "last")


def checkpoint_path(run_dir: str | Path, which: str) -> Path:
    """``<run>/checkpoints/<which>.ckpt`` for ``which`` in best, last; else ``which`` as a path."""
    if which in CHECKPOINT_NAMES:
        return Path(run_dir) / CHECKPOINT_DIR / f"{which}.ckpt"
    return Path(which)


def write_atomically(path: str | Path, write: Callable[[IO[bytes]], None]) -> None:
    """Call ``write`` on a temporary file beside ``path``, flush it to disk, then rename it
    onto ``path``: readers see the old file or the whole new one, never a part. The file
    gets the permissions the umask gives a new file (a temporary file is private)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False)
    try:
        with handle:
            write(handle.file)  # the file itself: some writers test for its methods
            handle.flush()
            os.fchmod(handle.fileno(), 0o666 & ~current_umask())
            os.fsync(handle.fileno())
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


LOCK_FILE = ".lock"


@contextmanager
def locked(directory: str | Path) -> Iterator[None]:
    """Hold the lock of ``directory`` (``<directory>/.lock``, created if need be): writers
    that take it one after another never interleave their files there."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with FileLock(directory / LOCK_FILE):
        yield


def current_umask() -> int:
    """The process's umask (reading it means setting it, so it is set back at once)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: str | Path, data: Any) -> None:
    """``data`` as indented JSON at ``path``, atomically."""
    text = json.dumps(data, indent=2).encode()
    write_atomically(path, lambda handle: handle.write(text))


def write_csv(
    path: str | Path, rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None
) -> None:
    """``rows`` as CSV at ``path``, atomically; ``columns`` default to the first row's keys."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns or rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    text = buffer.getvalue().encode()
    write_atomically(path, lambda handle: handle.write(text))


def write_config(path: str | Path, cfg: DictConfig) -> None:
    """``cfg`` as YAML at ``path``, atomically."""
    text = OmegaConf.to_yaml(cfg).encode()
    write_atomically(path, lambda handle: handle.write(text))


RUN_CONFIG_KEYS = ("system", "csi.beta", "data.n_test", "data.seed", "model.name")
"""What every run's ``config.yaml`` holds, whatever version wrote it."""


def read_run_config(run_dir: str | Path, setting: str = "run") -> DictConfig:
    """The saved ``config.yaml`` of the training run in ``run_dir``.

    Raises:
        checks.SettingsError: ``run_dir`` holds no ``config.yaml``, or it cannot be read,
            lacks one of :data:`RUN_CONFIG_KEYS` (truncated) or holds an interpolation.
    """
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise checks.SettingsError(
            f"{setting}={str(run_dir)!r} is not a training run directory (no {CONFIG_FILE})"
        )
    try:
        cfg = OmegaConf.load(path)
    except (yaml.YAMLError, UnicodeDecodeError, OSError) as error:
        problem = str(error).splitlines()[0]
        cfg, reason = None, f"is not valid YAML ({problem})"
    else:
        reason = None if isinstance(cfg, DictConfig) and "system" in cfg else "holds no run config"
        missing = [] if reason else [k for k in RUN_CONFIG_KEYS if OmegaConf.select(cfg, k) is None]
        if missing:
            reason = f"lacks {missing[0]} (truncated or edited)"
        if reason is None and _has_interpolation(OmegaConf.to_container(cfg)):
            # a saved config holds resolved values; an interpolation would be evaluated
            reason = "holds an interpolation ${...}, which no saved run config has"
    if reason is not None:
        raise checks.SettingsError(
            f"{path} {reason}: it is written when the run starts; restore it from a copy "
            "of the run, or start a new run"
        )
    return cfg


def _has_interpolation(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_has_interpolation(item) for item in value.values())
    if isinstance(value, list):
        return any(_has_interpolation(item) for item in value)
    return isinstance(value, str) and "${" in value


def read_metrics(path: str | Path) -> dict[str, Any]:
    """A ``metrics.json``, or a one-line error naming it if it is not valid JSON."""
    try:
        return json.loads(Path(path).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise checks.SettingsError(
            f"{path} is not valid JSON ({error}); rerun that job, or delete the file and pass "
            "allow_incomplete=true to plot the others"
        ) from None
