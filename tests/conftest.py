"""Shared helpers for the tests: random instances and feasible powers in float64."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch

from isac.physics.problem import ProblemTerms
from isac.physics.scenario import sample_scenario
from isac.physics.system import SystemConfig
from isac.schemes.registry import SCHEMES, SchemeInputs

ROOT = Path(__file__).resolve().parents[1]


def run_script(script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run an entry point of the repository (``train.py``, ``evaluate.py``) in a subprocess."""
    return subprocess.run(
        [sys.executable, str(ROOT / script), *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
    )


def random_powers(
    n: int, n_tx: int, budget: float, generator: torch.Generator, *, full: bool = False
) -> torch.Tensor:
    """float64 [n, n_tx] feasible, descending powers: random simplex points times a random
    fraction of ``budget`` (the full budget when ``full``), some entries exactly zero."""
    weights = torch.rand((n, n_tx), generator=generator, dtype=torch.float64) ** 3
    weights = weights * (torch.rand((n, n_tx), generator=generator, dtype=torch.float64) > 0.2)
    weights[:, 0] += 1e-3  # never all zero
    used = 1.0 if full else torch.rand((n, 1), generator=generator, dtype=torch.float64)
    powers = budget * used * weights / weights.sum(dim=-1, keepdim=True)
    return powers.sort(dim=-1, descending=True).values


def instance(system: SystemConfig, n: int = 8, seed: int = 0, beta: float = 1.0):
    """A float64 scenario and its problem terms."""
    scenario = sample_scenario(system, n, seed=seed, beta=beta, split="test")
    return scenario, ProblemTerms.from_scenario(scenario, system)


def scheme_inputs(system: SystemConfig, n: int = 8, seed: int = 0) -> SchemeInputs:
    """What a scheme sees for a float64 scenario under perfect CSI (H_hat = H)."""
    scenario, terms = instance(system, n=n, seed=seed)
    return SchemeInputs(terms, scenario.H, scenario.p, system)


def gated_prior(inputs: SchemeInputs) -> torch.Tensor:
    """What an untrained price-head network designs: the ``price_prior`` scheme's powers,
    or none where they score below sending no sensing power (WSNR 1 - alpha), the gate."""
    system = inputs.system
    prior = SCHEMES["price_prior"].design(inputs).sigma_s
    silent = inputs.terms.wsnr(prior, system) < 1.0 - system.alpha
    return torch.where(silent[:, None], 0.0, prior)
