"""How the base station receives the users under imperfect CSI: genie, naive and robust.

The channel is H = sqrt(beta) H_hat + E with E ~ CN(0, (1 - beta) I) independent of the
estimate H_hat (Sec. V). A receiver is the communication model its beams are designed
for -- a channel and a noise level -- and the beams are the MMSE beams (25)/(32) of that
model (docs/model.md, item 13):

- ``genie``: the true channel H and the noise, the paper's metric. No base station can
  form these beams; it designs with H_hat, as ``naive``.
- ``naive``: H_hat and the noise, as if the estimate were exact.
- ``robust``: sqrt(beta) H_hat and the noise plus the estimation error's power,
  noise + (1 - beta) sum_i p_i. Its MMSE beams are the robust LMMSE beams
  w_k ~ (beta H_hat^* P H_hat^T + ((1 - beta) sum_i p_i + t/L + noise) I)^-1 h_hat_k^*,
  and the SINR (7) of that model is the rate bound that treats the estimation error as
  uncorrelated noise (Bjornson, Hoydis and Sanguinetti, Massive MIMO Networks, 2017,
  Thm. 4.1). It is a function of the echo power t alone, so the problem terms (28), the
  optimum, the traditional solver and the learned designs all carry over.

The sensing rate sees the users' interference H P H^H + noise I of the model's channel,
the true H for the genie and H_hat for naive, and for robust, whose model scales the
estimate, H_hat's own covariance H_hat P H_hat^H + noise I
(:meth:`Receiver.sensing_channel`). The robust objective is thus the error-as-noise bound
for Rc and H_hat's covariance for Rs. The covariance the BS expects,
beta H_hat P H_hat^H + ((1 - beta) sum_i p_i + noise) I, spreads the users over all N_r
dimensions and hides the N_r - K that every realisation leaves free; its optimum realises
less than the naive design (docs/model.md, item 13, and docs/results.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from isac import checks
from isac.physics.arrays import array_namespace, device
from isac.physics.system import SystemConfig

RECEIVERS = ("genie", "naive", "robust")


@dataclass(frozen=True)
class Receiver:
    """A receiver of :data:`RECEIVERS` at CSI accuracy ``beta``.

    Raises:
        checks.SettingsError: ``kind`` is not a receiver, beta is outside [0, 1], or
            the robust receiver at beta = 0.
    """

    kind: str = "genie"
    beta: float = 1.0

    def __post_init__(self) -> None:
        checks.one_of("csi.receiver", self.kind, RECEIVERS)
        checks.in_unit_interval("csi.beta", self.beta)
        if self.kind == "robust" and self.beta == 0.0:
            raise checks.SettingsError(
                "csi.receiver=robust needs csi.beta in (0, 1]: at beta = 0 the estimate "
                "carries no information and the robust beams are undefined"
            )

    def model(self, H_hat, p, system: SystemConfig, H=None):
        """The communication model of this receiver: (channel, noise level).

        Args:
            H_hat: complex [..., n_rx, n_users], the estimate (a tensor or an array).
            p: real [..., n_users].
            H: the true channel, which only ``genie`` uses; without it (at the BS), a
                genie designs with H_hat as ``naive`` does.

        Returns:
            (complex [..., n_rx, n_users], real [...]): the channel its beams are designed
            for and the noise level that goes with it, in the dtypes of H_hat and p.
        """
        if self.kind == "robust":
            return error_as_noise(H_hat, p, system, self.beta)
        return (H if self.kind == "genie" and H is not None else H_hat), self._noise(p, system)

    def _noise(self, p, system: SystemConfig):
        """real [...]: the noise level of this receiver's model for powers p [..., n_users]."""
        if self.kind == "robust":
            return error_noise(p, system, self.beta)
        xp = array_namespace(p)
        return xp.full(p.shape[:-1], system.noise_power, dtype=p.dtype, device=device(p))

    def sensing_channel(self, H_hat):
        """The users' channel whose interference H P H^H + noise I the sensing rate of this
        receiver's objective sees, where it is not the channel of :meth:`model`: H_hat for
        the robust receiver, whose model scales it by sqrt(beta); None for the others.

        Args:
            H_hat: complex [..., n_rx, n_users], the estimate.
        """
        return H_hat if self.kind == "robust" else None

    def gram_model(self, eigenvalues, p, system: SystemConfig):
        """:meth:`model` on the eigenvalues of the Gram matrix of H_hat diag(sqrt p), real
        [..., n_users] (:func:`~isac.physics.user_sinr.gram_eigen`; the eigenvectors are
        the model's too): (beta lambda for robust, whose channel is sqrt(beta) H_hat, else
        lambda; the noise level of :meth:`model`, real [...])."""
        scale = self.beta if self.kind == "robust" else 1.0
        return scale * eigenvalues, self._noise(p, system)


def error_noise(p, system: SystemConfig, beta: float):
    """real [...]: noise + (1 - beta) sum_i p_i, the noise level of :func:`error_as_noise`
    for powers p real [..., n_users]."""
    return system.noise_power + (1.0 - beta) * p.sum(-1)


def error_as_noise(H_hat, p, system: SystemConfig, beta: float):
    """(sqrt(beta) H_hat, noise + (1 - beta) sum_i p_i): the model in which the estimation
    error counts as uncorrelated noise. The SINR (7) of any beams formed from H_hat in this
    model is the rate the BS can count on (the bound of the module docstring), at any
    beta in [0, 1] (0 at beta = 0).

    Args:
        H_hat: complex [..., n_rx, n_users] (a tensor or an array). p: real [..., n_users].
        beta: in [0, 1].

    Returns:
        (complex [..., n_rx, n_users], real [...]).
    """
    return H_hat * beta**0.5, error_noise(p, system, beta)


GENIE = Receiver()  # the paper's metric, at perfect CSI
