"""PriceNet (beyond the paper): a scalar price head and an exact water-filling layer.

At the optimum of (28), sigma_s solves the concave problem
``max alpha Rs(x)/M_s - nu t(x)`` over the budget for one price nu >= 0 of the echo power
t = sigma_t . x (docs/evaluation.md, "Global optimum"), and multi-level water-filling
solves that problem exactly for any nu. So the network only predicts nu:

1. the problem terms of the receiver's model of the channel the BS knows (sigma_h, M_s,
   M_c and the users' SINRs in the resolvent form of one Gram eigendecomposition,
   :mod:`isac.physics.user_sinr`; no gradient needed), which the problem batch carries
   (:attr:`~isac.learning.problem_batch.ProblemBatch.terms`);
2. a closed-form prior nu_0: the price the communication term sets at the echo of the
   interference-unaware water-filling (:func:`~isac.schemes.optimum.prior_price`; scored
   alone as the ``price_prior`` scheme);
3. a small MLP on scalar summaries of the problem predicts a correction z, and
   nu = nu_max sigmoid(z + logit(nu_0/nu_max)) (:func:`price_from_correction`): about
   nu_0 exp(z) for small prices, and towards nu_max, where every power is priced away,
   the head can approach zero sensing power with the gradient kept;
4. :func:`~isac.schemes.solvers.water_filling_in_price` turns nu into feasible powers,
   differentiable in nu by implicit differentiation;
5. optionally, when not training, ``polish_steps`` safeguarded Newton steps on nu
   (:func:`~isac.schemes.optimum.refine_price`).

The last layer starts at zero, so an untrained PriceNet is the prior nu_0. It trains with
loss (30) like ISACNN.
"""

from __future__ import annotations

import torch
from torch import nn

from isac import checks
from isac.learning.networks import Network
from isac.learning.operating_points import OperatingPoint
from isac.learning.problem_batch import ProblemBatch
from isac.physics.problem import ProblemTerms
from isac.physics.system import SystemConfig
from isac.schemes.optimum import prior_price, refine_price
from isac.schemes.solvers import distinct_levels, water_filling_in_price
from isac.schemes.unrolled import unrolled_water_filling

N_SUMMARIES = 6
LOG_FLOOR = 1e-30  # keeps the logarithms of vanishing prices finite (alpha = 0 or 1)
SHARE_MARGIN = 1e-9  # a prior at or above nu_max starts just below it: logit(1) is inf


def price_summaries(
    terms: ProblemTerms, system: SystemConfig
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The prior price, the largest useful price and the MLP's inputs, from problem terms.

    Returns:
        (nu_0 real [n], nu_max real [n], summaries real [n, N_SUMMARIES]): logarithms of
        nu_0/nu_max, of the price at zero echo over nu_max, of 1 + t_wf/(L noise), of M_s
        and M_c, and the elasticity of the price at t_wf (:func:`prior_price`).
    """
    nu_0, nu_0_slope, echo = prior_price(terms, system)
    nu_max = terms.full_price(system)
    price_at_zero, _ = terms.echo_price(torch.zeros_like(echo), system)

    def log(value: torch.Tensor) -> torch.Tensor:
        return value.clamp_min(LOG_FLOOR).log()

    summaries = torch.stack(
        [
            log(nu_0) - log(nu_max),
            log(price_at_zero) - log(nu_max),
            torch.log1p(echo / (system.waveform_len * system.noise_power)),
            log(terms.max_rate_s),
            log(terms.max_rate_c),
            nu_0_slope * echo / nu_0.clamp_min(LOG_FLOOR),
        ],
        dim=-1,
    )
    return nu_0, nu_max, summaries


def price_from_correction(
    correction: torch.Tensor, nu_0: torch.Tensor, nu_max: torch.Tensor
) -> torch.Tensor:
    """The price nu = nu_max sigmoid(z + logit(nu_0/nu_max)) for a head's correction z [n].

    nu_0 at z = 0, and inside (0, nu_max) for every z with d nu/dz = nu (1 - nu/nu_max) > 0:
    for nu << nu_max it is nu_0 exp(z), and near nu_max (no sensing power) the loss keeps
    a gradient, where clipping at nu_max would leave none (a head that overshoots there
    once stays: docs/training.md, "PriceNet").
    """
    share = (nu_0 / nu_max.clamp_min(LOG_FLOOR)).clamp(LOG_FLOOR, 1.0 - SHARE_MARGIN)
    return nu_max * torch.sigmoid(correction + torch.logit(share))


class PriceNet(Network):
    """A price head on scalar summaries of the problem, then exact water-filling.

    The exact layer solves the objective of the problem batch's system and receiver
    (:attr:`~isac.learning.problem_batch.ProblemBatch.terms`): the receiver's model of
    H_hat, with the users' powers the batch carries.

    Args:
        system: the system settings it is trained for (sizes, P_s, alpha, L, noise).
        hidden: width of the two hidden layers (>= 1).
        polish_steps: Newton steps on the price after the network, at inference (>= 0).
    """

    def __init__(self, system: SystemConfig, hidden: int = 32, polish_steps: int = 0) -> None:
        super().__init__(system)
        hidden = checks.positive_int("model.network.hidden", hidden)
        self.polish_steps = checks.non_negative_int("model.network.polish_steps", polish_steps)
        self._build_head(hidden)

    def _build_head(self, hidden: int) -> None:
        """The MLP from the summaries to the correction z; its last layer starts at zero,
        so the price starts at the prior nu_0."""
        self.norm = nn.BatchNorm1d(N_SUMMARIES)
        self.trunk = nn.Sequential(
            nn.Linear(N_SUMMARIES, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU()
        )
        self.head = nn.Linear(hidden, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def _correction(self, summaries: torch.Tensor, point: OperatingPoint) -> torch.Tensor:
        """real [n, N_SUMMARIES] summaries of problems at ``point`` -> real [n] correction z
        of the prior price."""
        return self.head(self.trunk(self.norm(summaries)))[:, 0]

    def forward(self, problem: ProblemBatch) -> torch.Tensor:
        return self.design(problem.terms, problem.point, problem.features.dtype)

    def design(
        self,
        terms: ProblemTerms,
        point: OperatingPoint,
        dtype: torch.dtype = torch.float32,
        unrolled: bool = False,
    ) -> torch.Tensor:
        """sigma_s real [n, n_tx] in ``dtype`` for the problem terms [n] at ``point``.

        ``unrolled``: the water-filling in the fixed steps of
        :func:`~isac.schemes.unrolled.unrolled_water_filling`, no polish: the static graph
        of :mod:`isac.designer.price_graph` (ONNX and the one-sample path), not for training.
        """
        system = point.system
        with torch.no_grad():
            nu_0, nu_max, summaries = price_summaries(terms, system)
            levels, counts = distinct_levels(terms.sigma_h, system.n_users)
        correction = self._correction(summaries.to(dtype), point)
        nu = price_from_correction(correction.double(), nu_0, nu_max)
        weight = terms.sensing_weight(system)
        if unrolled:
            sigma_s = unrolled_water_filling(
                terms.sigma_t, levels, counts, weight, nu, system.sensing_power
            )
            sigma_s = zero_power_gate(sigma_s, terms, system)
        elif self.polish_steps and not self.training:
            sigma_s, _ = refine_price(terms, system, nu.detach(), self.polish_steps)
        else:
            sigma_s = water_filling_in_price(
                nu, terms.sigma_t, levels, weight, system.sensing_power, counts
            )
            sigma_s = zero_power_gate(sigma_s, terms, system)
        return sigma_s.to(dtype)


def zero_power_gate(
    sigma_s: torch.Tensor, terms: ProblemTerms, system: SystemConfig
) -> torch.Tensor:
    """sigma_s [n, n_tx], or no sensing power where that scores higher: WSNR 1 - alpha.

    The WSNR along the price is not concave: where sensing pays little, it has an
    interior maximum and another at nu_max (zero power), with a valley between. Without
    the gate, the samples whose best is zero power pull the shared head towards nu_max
    and the others fall into that basin with them. With it, a sample where zero power
    wins has no gradient, and the head learns the interior maxima; the check costs one
    evaluation of (28), no water-filling.
    """
    silent = terms.wsnr(sigma_s.detach(), system) < 1.0 - system.alpha
    return torch.where(silent[:, None], torch.zeros_like(sigma_s), sigma_s)
