"""Fixtures shared by the test modules (plain helpers live in ``helpers.py``).

The tests' tensors are tiny, so torch's intra-op thread pool costs more than it saves,
and the pytest-xdist workers (``-n auto`` in pyproject.toml) already use every core: each
worker, and every process the tests start, runs torch on one thread.
"""

from __future__ import annotations

import os

os.environ["OMP_NUM_THREADS"] = "1"  # before torch is imported, here and in subprocesses

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from helpers import TINY, config  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

from isac.experiments.training_job import train  # noqa: E402

# the property tier (tests/test_properties.py): seeded, and bounded in the default run
settings.register_profile(
    "fast",
    max_examples=6,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough",
    max_examples=2000,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fast"))


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> Path:
    """A tiny ISACNN run, trained once per session: 2 epochs of TINY, 64 test samples.
    Tests may read it and evaluate it (evaluate.py adds its evaluation/ directory); none
    may change or remove its files."""
    run_dir = tmp_path_factory.mktemp("trained_run")
    train(config(*TINY, "trainer.max_epochs=2", "data.n_test=64"), run_dir)
    return run_dir
