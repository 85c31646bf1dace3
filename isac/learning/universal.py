"""UniversalPriceNet (beyond the paper): one set of weights for every operating point.

PriceNet (:mod:`isac.learning.price_network`) already separates what depends on the
sizes from what it learns: the problem terms, the prior price and the exact
water-filling handle any K, N_t and N_r, and the MLP sees six scale-free summaries. So
one network serves a whole range of systems once its MLP also knows the operating point
(:class:`~isac.learning.operating_points.OperatingPoint`), which every problem batch
carries (:attr:`~isac.learning.problem_batch.ProblemBatch.point`):

- the point's settings, each scaled onto [0, 1] over its trained range, enter the MLP
  beside the summaries and modulate both hidden layers FiLM-style (a per-unit scale
  1 + gamma and shift b from a small MLP of the point; Perez et al., AAAI 2018);
- the summaries are clipped and scaled by fixed constants instead of BatchNorm, whose
  batch statistics would differ between the points of a mixed batch;
- :meth:`UniversalPriceNet.refusal` refuses a point outside the trained ranges, as every
  network refuses what it cannot serve.

Every group of a batch carries its own receiver's problem terms at its own beta, so one
network trains for the robust receiver, or on the realised objective, over a range of
beta as it does for the genie (docs/training.md, "One network for every operating point");
it then serves the receivers of the objective it learned.

The last layers start at zero: an untrained network is the gated prior at every point.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from isac.learning.operating_points import N_CONDITIONS, OperatingPoint, OperatingRanges
from isac.learning.price_network import N_SUMMARIES, PriceNet
from isac.physics.receivers import Receiver
from isac.physics.system import SystemConfig

SERVED_RECEIVERS = {"genie": ("genie", "naive"), "naive": ("genie", "naive"), "robust": ("robust",)}
"""The receivers a universal network serves, by the one it was trained for: the genie's and
the naive receiver's designs both take H_hat as exact (their objectives are one), the
robust receiver's is another objective, and the price head learned one of them."""
SUMMARY_CLIP = 20.0  # the summaries are logarithms; -69 marks a vanishing price (alpha = 0)
SUMMARY_SCALE = 5.0  # brings their usual range, about [-10, 10], near [-2, 2]
FILM_LAYERS = 2


class UniversalPriceNet(PriceNet):
    """PriceNet conditioned on the operating point, for every point of ``ranges``.

    Args:
        system: the run's system, the home point (its L and noise are every point's).
        ranges: ``{setting: [min, max]}`` of :class:`OperatingRanges` (the model config
            takes them from ``data.operating_points``).
        receiver: the receiver it trains for (the model config takes it from
            ``csi.receiver``; networks of earlier runs, without it, the genie's).
        hidden: width of the hidden layers (>= 1).
        polish_steps: Newton steps on the price after the network, at inference (>= 0).
    """

    def __init__(
        self,
        system: SystemConfig,
        ranges: Mapping[str, Any],
        receiver: str = "genie",
        hidden: int = 64,
        polish_steps: int = 0,
    ) -> None:
        super().__init__(system, hidden, polish_steps)
        self.ranges = OperatingRanges.from_config(ranges, "model.network.ranges")
        self.ranges.check_base(system)
        self.served_receivers = SERVED_RECEIVERS[receiver]

    def _build_head(self, hidden: int) -> None:
        self.inputs = nn.Linear(N_SUMMARIES + N_CONDITIONS, hidden)
        self.middle = nn.Linear(hidden, hidden)
        self.film = nn.Sequential(
            nn.Linear(N_CONDITIONS, hidden), nn.ReLU(), nn.Linear(hidden, 2 * FILM_LAYERS * hidden)
        )
        self.head = nn.Linear(hidden, 1)
        for layer in (self.film[-1], self.head):  # no modulation, and the prior, at the start
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def _correction(self, summaries: torch.Tensor, point: OperatingPoint) -> torch.Tensor:
        condition = self.ranges.condition(point).to(summaries)
        scaled = summaries.clamp(-SUMMARY_CLIP, SUMMARY_CLIP) / SUMMARY_SCALE
        x = torch.cat([scaled, condition.expand(summaries.shape[0], -1)], dim=-1)
        scale_1, shift_1, scale_2, shift_2 = self.film(condition).chunk(2 * FILM_LAYERS)
        hidden = torch.relu((1.0 + scale_1) * self.inputs(x) + shift_1)
        hidden = torch.relu((1.0 + scale_2) * self.middle(hidden) + shift_2)
        return self.head(hidden)[:, 0]

    def refusal(self, system: SystemConfig, receiver: Receiver) -> str | None:
        """None for a point inside the trained ranges with the network's L and noise and a
        receiver of the objective it was trained on (:data:`SERVED_RECEIVERS`); else why
        not, naming the setting and its range."""
        if receiver.kind not in self.served_receivers:
            return (
                f"csi.receiver={receiver.kind} is outside the receivers this universal "
                f"network was trained for, {list(self.served_receivers)}; train one with "
                f"csi.receiver={receiver.kind}"
            )
        outside = self.ranges.refusal(OperatingPoint(system, receiver.beta))
        if outside is not None:
            return outside
        for name in ("waveform_len", "noise_power"):
            trained, wanted = getattr(self.system, name), getattr(system, name)
            if trained != wanted:
                return (
                    f"system.{name}={wanted} differs from this universal network's {trained}; "
                    f"its operating points vary {list(self.ranges.to_dict())} only"
                )
        return None
