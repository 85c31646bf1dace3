"""The package's layering, checked in fresh interpreters: physics and schemes import no
Lightning, and the figures entry point imports neither Lightning nor the solvers."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import ROOT

LIGHTNING = ("lightning", "pytorch_lightning", "lightning_fabric")
SOLVERS = (
    "isac.schemes.solvers",
    "isac.schemes.optimum",
    "isac.schemes.traditional",
    "isac.schemes.zfbf",
)


def modules_loaded_by(code: str) -> list[str]:
    """Every module in sys.modules after a fresh interpreter runs ``code``."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def offending(modules: list[str], banned: tuple[str, ...]) -> list[str]:
    return [m for m in modules if m in banned or m.startswith(tuple(f"{b}." for b in banned))]


@pytest.mark.parametrize("package", ["isac.physics", "isac.schemes"])
def test_physics_and_schemes_import_no_lightning(package):
    loaded = modules_loaded_by(
        "import importlib, pkgutil\n"
        f"import {package} as package\n"
        "for info in pkgutil.walk_packages(package.__path__, package.__name__ + '.'):\n"
        "    importlib.import_module(info.name)"
    )
    assert f"{package}.rates" in loaded or f"{package}.optimum" in loaded  # it did import
    assert offending(loaded, LIGHTNING) == []


def test_the_figures_entry_point_imports_neither_lightning_nor_solvers():
    loaded = modules_loaded_by(
        "import importlib.util\n"
        f"spec = importlib.util.spec_from_file_location('entry', {str(ROOT / 'figures.py')!r})\n"
        "spec.loader.exec_module(importlib.util.module_from_spec(spec))"
    )
    assert "isac.experiments.figures" in loaded and "isac.schemes.registry" in loaded
    assert offending(loaded, LIGHTNING + SOLVERS) == []
