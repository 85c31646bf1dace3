"""What a network designs from: a batch of problems as the base station sees them.

Every network is called on a :class:`ProblemBatch`, not on bare features, so that a
layer can read what it needs without rebuilding it:

- the features (29) of the channel estimate, which ISACNN and FC-NN read, as the paper's;
- the estimate H_hat itself, the user powers and the eigenvalues of R_T, and from them
  the problem terms of the receiver's model of H_hat (:attr:`ProblemBatch.terms`,
  computed on first use), which PriceNet's exact water-filling layer solves;
- the operating point (the system and the receiver at its CSI accuracy), which a
  network that serves many points (:mod:`isac.learning.universal`) is conditioned on;
- with targets at directions (:mod:`isac.physics.directional`), the targets, whose
  problem terms are then :class:`~isac.physics.directional.DirectionalTerms` and whose
  design is a transmit covariance R_x: a network of powers (ISACNN, FC-NN) sends them
  along the eigenvectors of the targets' transmit covariance (:meth:`ProblemBatch.design_of`).

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
from isac.physics.directional import DirectionalTargets, DirectionalTerms
from isac.physics.problem import ProblemTerms
from isac.physics.receivers import Receiver
from isac.physics.system import SystemConfig
from isac.physics.user_sinr import gram_eigen


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
        targets: the targets at directions, or None for the paper's model.
        U_T: complex [n, n_tx, n_tx], the eigenvectors of R_T matching sigma_t (with
            targets at directions), or None.
    """

    features: torch.Tensor
    sigma_t: torch.Tensor
    H_hat: torch.Tensor
    p: torch.Tensor
    system: SystemConfig
    receiver: Receiver
    targets: DirectionalTargets | None = None
    U_T: torch.Tensor | None = None

    @classmethod
    def from_estimate(
        cls,
        H_hat: torch.Tensor,
        p: torch.Tensor,
        sigma_t: torch.Tensor,
        system: SystemConfig,
        receiver: Receiver,
        dtype: torch.dtype = torch.float32,
        targets: DirectionalTargets | None = None,
        U_T: torch.Tensor | None = None,
    ) -> ProblemBatch:
        """The problems of H_hat [n, n_rx, n_users], p [n, n_users] and sigma_t [n, n_tx]
        (and, with directions, the targets and U_T), with their features (29) in ``dtype``."""
        features = input_features(H_hat, p, sigma_t, system.noise_power).to(dtype)
        return cls(features, sigma_t, H_hat, p, system, receiver, targets, U_T)

    @property
    def target_model(self) -> str:
        """``paper`` or ``directions``."""
        return "paper" if self.targets is None else "directions"

    def design_of(self, sigma_s: torch.Tensor) -> torch.Tensor:
        """The batch's design of powers sigma_s [n, n_tx] along R_T's eigenvectors: sigma_s
        itself for the paper's model, R_x = U_T diag(sigma_s) U_T^H [n, n_tx, n_tx] with
        directions."""
        if self.U_T is None:
            return sigma_s
        U_T = self.U_T.to(torch.complex128 if sigma_s.dtype == torch.float64 else torch.complex64)
        return (U_T * sigma_s.to(U_T.dtype)[..., None, :]) @ U_T.mH

    @property
    def point(self) -> OperatingPoint:
        """The operating point of the batch: its system and CSI accuracy."""
        return OperatingPoint(self.system, self.receiver.beta)

    @cached_property
    def terms(self) -> ProblemTerms | DirectionalTerms:
        """The problem terms (28) of the receiver's model of H_hat (:meth:`Receiver.model`;
        a genie designs from H_hat as ``naive`` does), in float64, the users' SINRs in the
        resolvent form of one Gram eigendecomposition: the objective the BS itself can
        compute, which an exact layer solves. Computed on first use, without gradient."""
        with torch.no_grad():
            H_hat, p = self.H_hat.to(torch.complex128), self.p.double()
            if self.targets is not None:
                return DirectionalTerms.for_receiver(
                    self.receiver, H_hat, p, self.targets, self.system
                )
            return ProblemTerms.from_user_eigen(
                self.receiver, self.sigma_t.double(), *gram_eigen(H_hat, p), p, self.system
            )

    def __len__(self) -> int:
        return self.features.shape[0]

    def __getitem__(self, index: torch.Tensor | slice) -> ProblemBatch:
        part = ProblemBatch(
            self.features[index],
            self.sigma_t[index],
            self.H_hat[index],
            self.p[index],
            self.system,
            self.receiver,
            None if self.targets is None else self.targets[index],
            None if self.U_T is None else self.U_T[index],
        )
        return self._carry_terms(part, lambda terms: terms[index])

    def to(self, device: torch.device | str) -> ProblemBatch:
        moved = ProblemBatch(
            self.features.to(device),
            self.sigma_t.to(device),
            self.H_hat.to(device),
            self.p.to(device),
            self.system,
            self.receiver,
            None if self.targets is None else self.targets.to(device),
            None if self.U_T is None else self.U_T.to(device),
        )
        return self._carry_terms(moved, lambda terms: terms.to(device))

    def _carry_terms(self, other: ProblemBatch, part) -> ProblemBatch:
        """``other`` with ``part`` of this batch's terms, when they are computed and the
        targets are at directions: their M_s is a search, done once per data set, not per
        mini-batch (the paper's terms are cheap, and recomputed as they always were)."""
        if self.targets is not None and "terms" in self.__dict__:
            other.__dict__["terms"] = part(self.__dict__["terms"])
        return other
