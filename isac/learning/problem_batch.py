"""What a network designs from: a batch of problems as the base station sees them.

Every network is called on a :class:`ProblemBatch`, not on bare features, so that a
layer can read what it needs without rebuilding it:

- the features (29) of the channel estimate, which ISACNN and FC-NN read, as the paper's;
- the estimate H_hat itself, the user powers and the eigenvalues of R_T, and from them
  the problem terms of the receiver's model of H_hat (:attr:`ProblemBatch.terms`,
  computed on first use), which PriceNet's exact water-filling layer solves;
- the operating point (the system and the receiver at its CSI accuracy), which a
  network that serves many points (:mod:`isac.learning.universal`) is conditioned on.

Training (:mod:`isac.learning.data`) and the design pipelines
(:mod:`isac.designer.pipelines`) build problem batches the same way,
:meth:`ProblemBatch.from_estimate`, so a network sees the same problem in both.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import torch

from isac.learning.features import input_features
from isac.learning.operating_points import OperatingPoint
from isac.physics.problem import ProblemTerms
from isac.physics.receivers import Receiver
from isac.physics.system import SystemConfig


@dataclass(frozen=True)
class ProblemBatch:
    """n problems of one operating point, as the BS knows them.

    Attributes:
        features: real [n, 2 n_rx n_users + n_tx], eq. (29) of H_hat, in the network's dtype.
        sigma_t: real [n, n_tx], the eigenvalues of R_T, descending.
        H_hat: complex [n, n_rx, n_users], the channel estimate.
        p: real [n, n_users], the users' receive powers.
        system: the system of every problem of the batch.
        receiver: the receiver the design is for (:mod:`isac.physics.receivers`), at the
            batch's CSI accuracy.
    """

    features: torch.Tensor
    sigma_t: torch.Tensor
    H_hat: torch.Tensor
    p: torch.Tensor
    system: SystemConfig
    receiver: Receiver

    @classmethod
    def from_estimate(
        cls,
        H_hat: torch.Tensor,
        p: torch.Tensor,
        sigma_t: torch.Tensor,
        system: SystemConfig,
        receiver: Receiver,
        dtype: torch.dtype = torch.float32,
    ) -> ProblemBatch:
        """The problems of H_hat [n, n_rx, n_users], p [n, n_users] and sigma_t [n, n_tx],
        with their features (29) in ``dtype``."""
        features = input_features(H_hat, p, sigma_t, system.noise_power).to(dtype)
        return cls(features, sigma_t, H_hat, p, system, receiver)

    @property
    def point(self) -> OperatingPoint:
        """The operating point of the batch: its system and CSI accuracy."""
        return OperatingPoint(self.system, self.receiver.beta)

    @cached_property
    def terms(self) -> ProblemTerms:
        """The problem terms (28) of the receiver's model of H_hat (:meth:`Receiver.model`;
        a genie designs from H_hat as ``naive`` does), in float64, the users' SINRs in the
        resolvent form of one Gram eigendecomposition: the objective the BS itself can
        compute, which an exact layer solves. Computed on first use, without gradient."""
        with torch.no_grad():
            H_hat, p = self.H_hat.to(torch.complex128), self.p.double()
            channel, noise = self.receiver.model(H_hat, p, self.system)
            return ProblemTerms.from_channels(
                channel, p, self.sigma_t.double(), self.system, noise, sinr_form="resolvent"
            )

    def __len__(self) -> int:
        return self.features.shape[0]

    def __getitem__(self, index: torch.Tensor | slice) -> ProblemBatch:
        return ProblemBatch(
            self.features[index],
            self.sigma_t[index],
            self.H_hat[index],
            self.p[index],
            self.system,
            self.receiver,
        )

    def to(self, device: torch.device | str) -> ProblemBatch:
        return ProblemBatch(
            self.features.to(device),
            self.sigma_t.to(device),
            self.H_hat.to(device),
            self.p.to(device),
            self.system,
            self.receiver,
        )
