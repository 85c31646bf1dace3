"""Reference allocations of sigma_s that need no optimisation (design.md item 10).

Each function returns feasible, descending powers [n, n_tx] for a batch of
instances, to be scored with the same rates and WSNR as every other scheme.
"""

from __future__ import annotations

import torch

from isac.problem import ProblemTerms
from isac.system import SystemConfig
from isac.waterfilling import water_filling


def average_powers(terms: ProblemTerms, system: SystemConfig) -> torch.Tensor:
    """Average scheme (Fig. 7): sigma_s,i = P_s / n_tx for every i."""
    return torch.full_like(terms.sigma_t, system.sensing_power / system.n_tx)


def zero_powers(terms: ProblemTerms, system: SystemConfig) -> torch.Tensor:
    """No sensing power: the communication optimum, WSNR = 1 - alpha."""
    return torch.zeros_like(terms.sigma_t)


def waterfilling_powers(terms: ProblemTerms, system: SystemConfig) -> torch.Tensor:
    """The full budget water-filled over the sensing channel as if no users were present:
    the maximiser of M_s, eq. (38) solved exactly."""
    return water_filling(terms.sigma_t / system.noise_power, system.sensing_power)


SIMPLE_BASELINES = {
    "average": average_powers,
    "zero_power": zero_powers,
    "waterfilling": waterfilling_powers,
}
