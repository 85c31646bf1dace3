"""The global optimum of problem (28) (docs/model.md, item 10; beyond the paper)."""

from __future__ import annotations

import torch

from isac.physics.problem import ProblemTerms
from isac.physics.system import SystemConfig
from isac.schemes.registry import Powers, SchemeInputs
from isac.schemes.solvers import distinct_levels, multilevel_water_filling, search_multiplier


def optimal_powers(
    terms: ProblemTerms, system: SystemConfig, grid_points: int = 32, refine_steps: int = 30
) -> torch.Tensor:
    """Globally optimal sigma_s of (28) for every instance, real [n, n_tx] (float64 inside).

    The search runs over the price nu of the echo power in [0, nu_max], where
    nu_max = w sum_j sigma_h,j prices every power to zero; see :mod:`isac.schemes.solvers`.
    """
    terms64 = terms.to(torch.float64)
    weight = terms64.sensing_weight(system)
    nu_max = weight * terms64.sigma_h.sum(dim=-1)
    levels, counts = distinct_levels(terms64.sigma_h, system.n_users)
    x, _, _ = search_multiplier(
        lambda nu: multilevel_water_filling(
            terms64.sigma_t, levels, weight, nu, system.sensing_power, counts
        ),
        lambda x: terms64.wsnr(x, system),
        nu_max,
        grid_points=grid_points,
        refine_steps=refine_steps,
    )
    return x.to(terms.sigma_t.dtype)


def optimum_design(inputs: SchemeInputs) -> Powers:
    """The registered ``optimum`` scheme: :func:`optimal_powers` of the channel the BS knows."""
    return Powers(optimal_powers(inputs.terms, inputs.system))
