"""Receive-beam rules: how a scheme turns its powers and a channel into the beams w_k.

A :class:`BeamRule` forms beams from any channel: from the estimate H_hat, they are the
beams the BS really uses; from the true channel H, they give the paper's metric. Rules
whose rate on a channel has a closed form in the problem terms say so, and scoring uses it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from isac import checks
from isac.physics import recover
from isac.physics.problem import ProblemTerms
from isac.physics.system import SystemConfig


def zero_forcing_beams(H: torch.Tensor) -> torch.Tensor:
    """complex [..., n_rx, n_users]: W = H^* (H^T H^*)^-1, so h_i^T w_k = 1 if i = k else 0.

    Where the users' channels are linearly dependent (a zero channel, say), H^T H^* is
    singular and W is the pseudo-inverse of H^T instead: a user with no channel gets the
    beam 0.

    Raises:
        checks.SettingsError: n_users > n_rx, where no zero-forcing beams exist.
    """
    n_rx, n_users = H.shape[-2:]
    if n_users > n_rx:
        raise checks.SettingsError(
            f"zero-forcing needs system.n_users <= system.n_rx, got n_users={n_users} > "
            f"n_rx={n_rx}; leave out the zfbf scheme or add receive antennas"
        )
    inverse, info = torch.linalg.inv_ex(H.mT @ H.conj())
    beams = H.conj() @ inverse
    singular = info != 0
    if singular.any():
        beams[singular] = torch.linalg.pinv(H[singular].mT)
    return beams


def _mmse(
    H: torch.Tensor,
    p: torch.Tensor,
    sigma_s: torch.Tensor,
    sigma_t: torch.Tensor,
    system: SystemConfig,
    noise: torch.Tensor,
) -> torch.Tensor:
    return recover.mmse_beams(H, p, sigma_s, sigma_t, system.waveform_len, noise)


def _zero_forcing(
    H: torch.Tensor,
    p: torch.Tensor,
    sigma_s: torch.Tensor,
    sigma_t: torch.Tensor,
    system: SystemConfig,
    noise: torch.Tensor,
) -> torch.Tensor:
    # the inverse of a near-singular H^T H^* loses digits in complex64
    return zero_forcing_beams(H.to(torch.complex128)).to(H.dtype)


@dataclass(frozen=True)
class BeamRule:
    """A rule for the receive beams.

    Attributes:
        form: ``(H, p, sigma_s, sigma_t, system, noise) -> W``, complex [n, n_rx, n_users],
            the beams for channels H [n, n_rx, n_users], powers sigma_s [n, n_tx] and the
            noise level real [n] of the receiver's model (:meth:`Receiver.model`).
        closed_form_rate: ``(terms, sigma_s, system) -> Rc`` [n], the rate of the beams
            this rule forms from the channel of ``terms``, or None where there is none.
    """

    form: Callable[..., torch.Tensor]
    closed_form_rate: Callable[[ProblemTerms, torch.Tensor, SystemConfig], torch.Tensor] | None


BEAM_RULES: dict[str, BeamRule] = {
    "mmse": BeamRule(_mmse, ProblemTerms.comm_rate),  # (25)/(32); its rate is (26)
    "zf": BeamRule(_zero_forcing, None),
}
