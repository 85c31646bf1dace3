"""The design contract of every network, and ISACNN (Sec. IV) and the FC-NN baseline (Sec. V;
docs/model.md, item 9) with the Lambda head.

A network is a :class:`Network`: built as ``Network(system, **options)``, called on a
:class:`~isac.learning.problem_batch.ProblemBatch`, returning feasible powers sigma_s
[n, n_tx]; it says which systems and receivers it can serve (:meth:`Network.refusal`).
``isac.learning.network_registry`` names each by a key (docs/training.md, "Adding a
network").

ISACNN and FC-NN read only the problem's features (29), as in the paper: a trunk
extracts features, :class:`PowerHead` predicts (theta_s, eta_s) and its Lambda layer
turns them into sigma_s with sum(sigma_s) <= P_s by construction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from isac.learning.features import feature_count
from isac.physics.arrays import array_namespace
from isac.physics.receivers import Receiver
from isac.physics.system import SIZE_SETTINGS, SystemConfig

if TYPE_CHECKING:
    from isac.learning.problem_batch import ProblemBatch


class Network(nn.Module):
    """The base of every network: trained for ``system``, it serves the systems that agree
    with it on :attr:`trained_settings`, for any receiver, with the target models of
    :attr:`target_models`.

    Attributes:
        system: the system it was built (and trained) for.
        trained_settings: the :class:`SystemConfig` fields its weights are tied to.
    """

    trained_settings: tuple[str, ...] = SIZE_SETTINGS
    target_models: tuple[str, ...] = ("paper",)
    """The target models (:mod:`isac.physics.targets`) it designs for."""

    def __init__(self, system: SystemConfig) -> None:
        super().__init__()
        self.system = system

    def refusal(self, system: SystemConfig, receiver: Receiver) -> str | None:
        """None if the network can design for ``system`` and ``receiver``; else why not, in
        one line that names the setting and what it was trained for."""
        for name in self.trained_settings:
            trained, wanted = getattr(self.system, name), getattr(system, name)
            if trained != wanted:
                return (
                    f"it was trained for system.{name}={trained}, but system.{name}={wanted} "
                    f"was requested; use a network trained for {name}={wanted} or set "
                    f"system.{name}={trained}"
                )
        return None

    def forward(self, problem: ProblemBatch) -> torch.Tensor:
        """The design for the n problems of ``problem``: sigma_s, real [n, n_tx], for the
        paper's model; R_x, complex [n, n_tx, n_tx], with targets at directions."""
        raise NotImplementedError


def sigmoid(z):
    """1/(1 + e^-z) of a tensor, or of an array as 0.5 (1 + tanh(z/2)), which does not
    overflow where e^-z would in float32 (z < -88)."""
    if isinstance(z, np.ndarray):
        return 0.5 * (1.0 + np.tanh(0.5 * z))
    return torch.sigmoid(z)


def sort_descending(x):
    """``x`` sorted along its last axis, largest first (a tensor, or an array)."""
    if isinstance(x, np.ndarray):
        return np.sort(x, axis=-1)[..., ::-1]
    return x.sort(dim=-1, descending=True).values


def lambda_layer(logits, sensing_power: float):
    """The Lambda layer of Sec. IV-B, normalised in l1, not l2 (docs/model.md, item 1).

    sigma_s = P_s * eta * sort_desc(theta / sum(theta)) with (theta, eta) = sigmoid(logits):
    theta > 0 and eta in (0, 1), so sigma_s >= 0, sum(sigma_s) = eta P_s <= P_s, and
    sigma_s is descending to pair with the descending sigma_t as bound (13) requires.
    Where every theta underflows (logits below about -87 in float32), theta / sum(theta)
    is 0/0; its limit, the softmax of theta's logits, takes its place there
    (docs/model.md, item 1).

    Args:
        logits: real [..., n_tx + 1], theta's n_tx logits, then eta's. Tensors, or arrays
            (the design API's numpy program of a network).
        sensing_power: P_s.

    Returns:
        real [..., n_tx].
    """
    xp = array_namespace(logits)
    gates = sigmoid(logits)
    theta, eta = gates[..., :-1], gates[..., -1:]
    total = theta.sum(-1, keepdims=True)
    normal = total >= xp.finfo(theta.dtype).smallest_normal
    if xp is np and normal.all():
        # the numpy program's one sample: no limit needed, and sigmoid is monotone, so the
        # shares sort as theta does
        return (sensing_power * eta / total) * sort_descending(theta)
    theta_logits = logits[..., :-1]
    exponent = xp.exp(theta_logits - xp.max(theta_logits, axis=-1, keepdims=True))
    limit = exponent / xp.sum(exponent, axis=-1, keepdims=True)
    shares = xp.where(normal, theta / xp.where(normal, total, 1.0), limit)
    return sensing_power * eta * sort_descending(shares)


class PowerHead(nn.Module):
    """BN, two sigmoid FC heads (n_tx neurons for theta_s, 1 for eta_s), the Lambda layer."""

    def __init__(self, in_features: int, n_tx: int, sensing_power: float) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(in_features)
        self.theta = nn.Linear(in_features, n_tx)
        self.eta = nn.Linear(in_features, 1)
        self.sensing_power = sensing_power

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """real [n, in_features] -> sigma_s, real [n, n_tx]."""
        hidden = self.norm(hidden)
        logits = torch.cat([self.theta(hidden), self.eta(hidden)], dim=-1)
        return lambda_layer(logits, self.sensing_power)


class FeatureNetwork(Network):
    """A network of the paper: it reads only the features (29), ``head(trunk(features))``,
    and its Lambda layer's budget P_s is built in (so it serves only its own SNR_s and
    noise power)."""

    trained_settings = (*SIZE_SETTINGS, "snr_s_db", "noise_power")
    target_models = ("paper", "directions")  # with directions, its powers go along R_T's
    traceable = True  # no data-dependent control flow: export.py may trace it to ONNX

    def forward(self, problem: ProblemBatch) -> torch.Tensor:
        return problem.design_of(self.from_features(problem.features))

    def from_features(self, features: torch.Tensor) -> torch.Tensor:
        """real [n, 2 n_rx n_users + n_tx] -> sigma_s, real [n, n_tx]."""
        raise NotImplementedError


class ISACNN(FeatureNetwork):
    """ISACNN, Sec. IV-C: 3 convolutions (2, 4, 8 filters; kernels 5, 3, 3; 'same' padding),
    each preceded by BN and followed by ReLU, a flatten, and :class:`PowerHead`."""

    FILTERS = (2, 4, 8)
    KERNELS = (5, 3, 3)

    def __init__(self, system: SystemConfig) -> None:
        super().__init__(system)
        layers: list[nn.Module] = []
        channels = 1
        for filters, kernel in zip(self.FILTERS, self.KERNELS, strict=True):
            layers += [
                nn.BatchNorm1d(channels),
                nn.Conv1d(channels, filters, kernel, padding=kernel // 2),
                nn.ReLU(),
            ]
            channels = filters
        self.trunk = nn.Sequential(*layers, nn.Flatten())
        self.head = PowerHead(channels * feature_count(system), system.n_tx, system.sensing_power)

    def from_features(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(features[:, None, :]))


class FCNN(FeatureNetwork):
    """FC-NN baseline (Sec. V; docs/model.md, item 9): FC layers of 8, 4, 2 x n_tx neurons with
    BN before and ReLU after each, then :class:`PowerHead`, whose theta FC is the
    fourth layer of n_tx neurons (plus the 1-neuron eta FC that the Lambda layer needs)."""

    def __init__(self, system: SystemConfig) -> None:
        super().__init__(system)
        layers: list[nn.Module] = []
        width = feature_count(system)
        for multiple in (8, 4, 2):
            layers += [nn.BatchNorm1d(width), nn.Linear(width, multiple * system.n_tx), nn.ReLU()]
            width = multiple * system.n_tx
        self.trunk = nn.Sequential(*layers)
        self.head = PowerHead(width, system.n_tx, system.sensing_power)

    def from_features(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(features))
