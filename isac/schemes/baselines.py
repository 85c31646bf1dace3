"""Reference allocations of sigma_s that need no optimisation (docs/model.md, item 10).

Each design returns feasible, descending powers [n, n_tx] for a batch of instances,
to be scored with the same rates and WSNR as every other scheme.
"""

from __future__ import annotations

import torch

from isac.schemes.registry import Powers, SchemeInputs


def average_design(inputs: SchemeInputs) -> Powers:
    """Average scheme (Fig. 7): sigma_s,i = P_s / n_tx for every i."""
    system = inputs.system
    return Powers(torch.full_like(inputs.terms.sigma_t, system.sensing_power / system.n_tx))


def zero_power_design(inputs: SchemeInputs) -> Powers:
    """No sensing power: the communication optimum, WSNR = 1 - alpha."""
    return Powers(torch.zeros_like(inputs.terms.sigma_t))


def waterfilling_design(inputs: SchemeInputs) -> Powers:
    """The full budget water-filled over the sensing channel as if no users were present:
    the maximiser of M_s, eq. (38) solved exactly, which the problem terms hold."""
    return Powers(inputs.terms.sensing_optimum)
