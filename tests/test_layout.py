"""The package's layering: every room imports only rooms below it, read from the source
(every import statement, those inside functions too) and checked in fresh interpreters;
physics and schemes import no Lightning, and the figures entry point imports neither
Lightning nor the solvers."""

from __future__ import annotations

import ast
import json
import subprocess
import sys

from helpers import ROOT

ROOMS = (
    ("isac.checks", "isac.files"),
    ("isac.physics", "isac.config"),
    ("isac.schemes",),
    ("isac.learning",),
    ("isac.designer",),
    ("isac.experiments",),
    ("isac.hydra_support",),
)
"""The rooms of docs/layout.md, lowest first; a module belongs to the room of its prefix."""

LIGHTNING = ("lightning", "pytorch_lightning", "lightning_fabric")
SOLVERS = (
    "isac.schemes.solvers",
    "isac.schemes.optimum",
    "isac.schemes.traditional",
    "isac.schemes.zfbf",
)


def room_of(module: str) -> int | None:
    """The index of ``module``'s room in :data:`ROOMS`, None outside the package."""
    for index, prefixes in enumerate(ROOMS):
        if any(module == p or module.startswith(f"{p}.") for p in prefixes):
            return index
    return None


def package_modules() -> dict[str, ast.Module]:
    """Every module of the package by name, parsed."""
    modules = {}
    for path in sorted((ROOT / "isac").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = ast.parse(path.read_text(), filename=str(path))
    return modules


def imported_names(tree: ast.Module) -> set[str]:
    """The project modules a parsed module imports, anywhere in it."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in names if name == "isac" or name.startswith("isac.")}


def test_every_module_belongs_to_a_room_and_imports_no_higher_room():
    modules = package_modules()
    homeless = [name for name in modules if name != "isac" and room_of(name) is None]
    assert homeless == []
    upward = []
    for name, tree in modules.items():
        for imported in imported_names(tree):
            # ``from isac.x import y`` names y as a module only where y is one
            target = imported if imported in modules else imported.rpartition(".")[0]
            if room_of(target) is not None and room_of(target) > (room_of(name) or 0):
                upward.append(f"{name} imports {target}")
    assert upward == []


def modules_loaded_by(code: str) -> list[str]:
    """Every module a fresh interpreter has loaded after running ``code``."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def offending(modules: list[str], banned: tuple[str, ...]) -> list[str]:
    return [m for m in modules if m in banned or m.startswith(tuple(f"{b}." for b in banned))]


ROOM_BY_ROOM = """
import importlib, json, pkgutil, sys
for prefixes in {rooms!r}:
    for name in prefixes:
        module = importlib.import_module(name)
        for info in pkgutil.walk_packages(getattr(module, '__path__', []), name + '.'):
            importlib.import_module(info.name)
    print(json.dumps(sorted(sys.modules)))
"""


def test_each_room_loads_no_higher_room_in_a_fresh_interpreter():
    # the rooms are imported lowest first: any module of a higher room loaded after room R's
    # imports was loaded by them
    process = subprocess.run(
        [sys.executable, "-c", ROOM_BY_ROOM.format(rooms=ROOMS)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert process.returncode == 0, process.stderr
    snapshots = [json.loads(line) for line in process.stdout.splitlines()]
    assert len(snapshots) == len(ROOMS)
    for index, modules in enumerate(snapshots):
        assert any(room_of(m) == index for m in modules)  # it did import its room
        higher = [m for m in modules if (room_of(m) or 0) > index]
        assert higher == [], ROOMS[index]
        if index <= room_of("isac.schemes"):
            assert offending(modules, LIGHTNING) == [], ROOMS[index]


def test_the_figures_entry_point_imports_neither_lightning_nor_solvers():
    script = "figures.py"
    modules = modules_loaded_by(
        "import importlib.util\n"
        f"spec = importlib.util.spec_from_file_location('entry', {str(ROOT / script)!r})\n"
        "spec.loader.exec_module(importlib.util.module_from_spec(spec))"
    )
    assert "isac.experiments.figures" in modules and "isac.schemes.registry" in modules
    assert offending(modules, LIGHTNING + SOLVERS) == []
