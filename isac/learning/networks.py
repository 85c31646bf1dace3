"""ISACNN (Sec. IV) and the FC-NN baseline (Sec. V; docs/model.md, item 9), with the Lambda head.

Both networks map the feature vector F of eq. (29) to feasible powers sigma_s:
a trunk extracts features, :class:`PowerHead` predicts (theta_s, eta_s) and its
Lambda layer turns them into sigma_s with sum(sigma_s) <= P_s by construction.

A network is any ``nn.Module`` built as ``Network(system, **options)`` that maps
features [n, 2 n_rx n_users + n_tx] to sigma_s [n, n_tx]; ``conf/model/<name>.yaml``
names its class by ``_target_`` (docs/training.md, "Adding a network").
"""

from __future__ import annotations

import torch
from torch import nn

from isac.learning.features import feature_count
from isac.physics.system import SystemConfig


def lambda_layer(theta: torch.Tensor, eta: torch.Tensor, sensing_power: float) -> torch.Tensor:
    """The Lambda layer of Sec. IV-B, normalised in l1, not l2 (docs/model.md, item 1).

    sigma_s = P_s * eta * sort_desc(theta / sum(theta)): theta > 0 and eta in (0, 1)
    come from sigmoids, so sigma_s >= 0, sum(sigma_s) = eta P_s <= P_s, and sigma_s is
    descending to pair with the descending sigma_t as bound (13) requires.

    Args:
        theta: real [n, n_tx], positive. eta: real [n, 1], in (0, 1). sensing_power: P_s.

    Returns:
        real [n, n_tx].
    """
    shares = theta / theta.sum(dim=-1, keepdim=True)
    return sensing_power * eta * shares.sort(dim=-1, descending=True).values


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
        theta = torch.sigmoid(self.theta(hidden))
        eta = torch.sigmoid(self.eta(hidden))
        return lambda_layer(theta, eta, self.sensing_power)


class ISACNN(nn.Module):
    """ISACNN, Sec. IV-C: 3 convolutions (2, 4, 8 filters; kernels 5, 3, 3; 'same' padding),
    each preceded by BN and followed by ReLU, a flatten, and :class:`PowerHead`."""

    FILTERS = (2, 4, 8)
    KERNELS = (5, 3, 3)
    traceable = True  # no data-dependent control flow: export.py may trace it to ONNX

    def __init__(self, system: SystemConfig) -> None:
        super().__init__()
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

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """real [n, 2 n_rx n_users + n_tx] -> sigma_s, real [n, n_tx]."""
        return self.head(self.trunk(features[:, None, :]))


class FCNN(nn.Module):
    """FC-NN baseline (Sec. V; docs/model.md, item 9): FC layers of 8, 4, 2 x n_tx neurons with
    BN before and ReLU after each, then :class:`PowerHead`, whose theta FC is the
    fourth layer of n_tx neurons (plus the 1-neuron eta FC that the Lambda layer needs)."""

    traceable = True  # no data-dependent control flow: export.py may trace it to ONNX

    def __init__(self, system: SystemConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = feature_count(system)
        for multiple in (8, 4, 2):
            layers += [nn.BatchNorm1d(width), nn.Linear(width, multiple * system.n_tx), nn.ReLU()]
            width = multiple * system.n_tx
        self.trunk = nn.Sequential(*layers)
        self.head = PowerHead(width, system.n_tx, system.sensing_power)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """real [n, 2 n_rx n_users + n_tx] -> sigma_s, real [n, n_tx]."""
        return self.head(self.trunk(features))
