"""What several test modules share: configs, tiny runs, random instances and independent
float64 references. Test modules import this module, never each other."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import lightning as L
import numpy as np
import torch
from omegaconf import DictConfig

from isac.config import compose_config
from isac.files import checkpoint_path
from isac.learning.checkpoints import load_checkpoint
from isac.learning.lit_module import ISACModule
from isac.learning.pretrained import pretrained_run
from isac.physics.problem import ProblemTerms
from isac.physics.scenario import sample_scenario
from isac.physics.system import SystemConfig
from isac.schemes.registry import SCHEMES, SchemeInputs

ROOT = Path(__file__).resolve().parents[1]

TINY_EPOCHS = 6
TINY = [
    "system.n_tx=4",
    "system.n_rx=4",
    "system.n_users=2",
    "system.waveform_len=6",
    "data.n_train=512",
    "data.n_val=256",
    "data.n_test=256",
    "data.batch_size=64",
    f"trainer.max_epochs={TINY_EPOCHS}",
    "logger=none",
]
"""A system and data small enough for a training run of seconds."""

CASES = [  # (system settings, seed): small systems of every shape, for the solvers
    ({"n_tx": 4, "n_rx": 4, "n_users": 2, "waveform_len": 6, "alpha": 0.5}, 0),
    ({"n_tx": 6, "n_rx": 5, "n_users": 5, "waveform_len": 8, "alpha": 0.8, "snr_c_db": 10.0}, 1),
    ({"n_tx": 5, "n_rx": 8, "n_users": 3, "waveform_len": 7, "alpha": 0.3, "snr_s_db": 20.0}, 2),
    (
        {
            "n_tx": 3,
            "n_rx": 2,
            "n_users": 1,
            "waveform_len": 4,
            "alpha": 0.9,
            "snr_s_db": -5.0,
            "snr_c_db": 15.0,
        },
        3,
    ),
]


def pretrained_module(name: str) -> ISACModule:
    """The shipped network ``name`` (its best checkpoint), in eval mode."""
    return load_checkpoint(checkpoint_path(pretrained_run(name), "best")).eval()


def config(*overrides: str) -> DictConfig:
    """``train.py``'s config with ``overrides``."""
    return compose_config("config", list(overrides))


def evaluate_config(*overrides: str) -> DictConfig:
    """``evaluate.py``'s config with ``overrides``."""
    return compose_config("evaluate", list(overrides))


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


class Interrupt(L.Callback):
    """Stops training abruptly after ``epoch`` finished (its checkpoints are written)."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_epoch_end(self, trainer, module) -> None:
        if trainer.current_epoch == self.epoch:
            raise RuntimeError("simulated crash")


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


def numpy_mmse_beams(H: np.ndarray, p: np.ndarray, echo: float, L: float, noise: float):
    """The beams (25) for channels H by direct inversion, one user at a time, unnormalised
    (the SINR ignores scale): the float64 reference of the project's one-solve beams."""
    n_rx, n_users = H.shape
    beams = []
    for k in range(n_users):
        R_k = sum(p[i] * np.outer(H[:, i], H[:, i].conj()) for i in range(n_users) if i != k)
        R_k = R_k + (echo / L + noise) * np.eye(n_rx)
        beams.append(np.linalg.solve(R_k, H[:, k]).conj())  # w_k with h_k^T w_k the signal
    return np.stack(beams, axis=1)


def robust_beams(H_hat: np.ndarray, p: np.ndarray, level: float, beta: float) -> np.ndarray:
    """(beta H_hat^* P H_hat^T + ((1 - beta) sum p + level) I)^-1 h_hat_k^*, as columns: the
    robust LMMSE beams by direct inversion (beta = 1: the MMSE beams of H_hat)."""
    n_rx = H_hat.shape[0]
    omega = beta * (H_hat.conj() * p) @ H_hat.T + ((1 - beta) * p.sum() + level) * np.eye(n_rx)
    return np.linalg.solve(omega, H_hat.conj())


def water_filling_by_active_sets(gains: np.ndarray, budget: float) -> float:
    """Brute force: the best value of sum log(1 + g x) over every active set whose
    stationary point is feasible (x > 0 on the set)."""
    best = 0.0
    for size in range(1, len(gains) + 1):
        for active in itertools.combinations(range(len(gains)), size):
            g = gains[list(active)]
            level = (budget + np.sum(1.0 / g)) / size
            x = level - 1.0 / g
            if np.all(x >= 0):
                best = max(best, float(np.sum(np.log1p(g * x))))
    return best
