"""The trained designs shipped with the package: ISACNN and PriceNet at Table II, and the
universal network.

Each lives in ``isac/pretrained/<name>/`` as a run directory of its own (``config.yaml``,
``metrics.json`` and ``checkpoints/best.ckpt``, the weights and plain hyper-parameters
only), listed with the SHA-256 of every file in ``isac/pretrained/manifest.json``. It
loads through the same path as any run (:func:`~isac.learning.checkpoints.load_checkpoint`:
a registered network, ``weights_only=True``) once its files match their checksums, so a
damaged or altered file is refused before it is read. ``scripts/make_pretrained.py``
trains them with the default commands and writes them here (docs/training.md,
"Pretrained designs").
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from isac import checks

PRETRAINED_DIR = Path(__file__).resolve().parents[1] / "pretrained"
MANIFEST = "manifest.json"


def manifest() -> dict[str, dict[str, str]]:
    """``{name: {relative file path: sha256}}`` of the shipped designs."""
    path = PRETRAINED_DIR / MANIFEST
    if not path.is_file():
        raise checks.SettingsError(f"{path} is missing: reinstall the package")
    return json.loads(path.read_text())


def sha256(path: Path) -> str:
    """The hex SHA-256 of the file at ``path``."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def pretrained_run(name: str) -> Path:
    """The run directory of the shipped design ``name``, its files checked against the
    manifest.

    Raises:
        checks.SettingsError: ``name`` is not shipped, or a file is missing or altered.
    """
    files = manifest()
    checks.one_of("pretrained", name, tuple(files))
    run = PRETRAINED_DIR / name
    for relative, expected in files[name].items():
        path = run / relative
        if not path.is_file() or sha256(path) != expected:
            raise checks.SettingsError(
                f"pretrained {name}: {path} is missing or altered (its SHA-256 differs from "
                f"{MANIFEST}); reinstall the package or rerun scripts/make_pretrained.py"
            )
    return run
