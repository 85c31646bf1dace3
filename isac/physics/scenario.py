"""Seeded, batched sampling of uplink ISAC scenarios (Sec. II, Sec. V, docs/model.md, items 6-8).

All sampling happens on the CPU in float64 from a ``torch.Generator`` keyed to
``(seed, split)``, so the same seed gives the same numbers on any machine and any
device; results are cast afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch

from isac import checks
from isac.physics.channel_sources import file_channels, tr38901_channels
from isac.physics.channels import RAYLEIGH, ChannelConfig, line_of_sight
from isac.physics.directional import DirectionalTargets
from isac.physics.streams import split_generator
from isac.physics.system import SystemConfig
from isac.physics.targets import PAPER, TargetConfig


@dataclass(frozen=True)
class Scenario:
    """A batch of ``n`` scenario instances in noise-normalised units.

    Attributes:
        H: complex [n, n_rx, n_users], true small-scale channels h_k (columns), CN(0, I).
        H_hat: complex [n, n_rx, n_users], the BS's estimate H_hat; H = sqrt(beta) H_hat + E.
        p: real [n, n_users], user receive powers p_k (path loss folded in, docs/model.md, item 6).
        sigma_t: real [n, n_tx], eigenvalues of R_T, descending.
        U_T: complex [n, n_tx, n_tx], eigenvectors of R_T (columns, matching sigma_t).
        targets: the targets at directions (``target=directions``), whose transmit
            covariance sum_i s_i^2 a_i a_i^H is then R_T; None for the paper's model.
    """

    H: torch.Tensor
    H_hat: torch.Tensor
    p: torch.Tensor
    sigma_t: torch.Tensor
    U_T: torch.Tensor
    targets: DirectionalTargets | None = None

    @property
    def R_T(self) -> torch.Tensor:
        """complex [n, n_tx, n_tx]: R_T = U_T diag(sigma_t) U_T^H (ref. [31])."""
        return (self.U_T * self.sigma_t.to(self.U_T.dtype)[..., None, :]) @ self.U_T.mH

    def __len__(self) -> int:
        return self.H.shape[0]

    def to(self, dtype: torch.dtype) -> Scenario:
        """Cast to real ``dtype`` (float32/float64), complex fields to the matching complex type."""
        complex_dtype = torch.complex64 if dtype == torch.float32 else torch.complex128

        def cast(value):
            if value is None or isinstance(value, DirectionalTargets):
                return None if value is None else value.to(dtype)
            return value.to(complex_dtype if value.is_complex() else dtype)

        return Scenario(**{f.name: cast(getattr(self, f.name)) for f in fields(self)})


def complex_gaussian(shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    """complex128 samples of CN(0, 1): real and imaginary parts N(0, 1/2)."""
    parts = torch.randn((*shape, 2), generator=generator, dtype=torch.float64)
    return torch.view_as_complex(parts * 0.5**0.5)


def true_channel(H_hat: torch.Tensor, error: torch.Tensor, beta: float) -> torch.Tensor:
    """H = sqrt(beta) H_hat + sqrt(1 - beta) E (Sec. V), for an estimate H_hat and a
    CN(0, 1) draw E of its shape: the error's power is 1 - beta."""
    return beta**0.5 * H_hat + (1.0 - beta) ** 0.5 * error


def haar_unitary(n: int, size: int, generator: torch.Generator) -> torch.Tensor:
    """complex128 [n, size, size] Haar-distributed unitaries.

    Ref. [31] takes the singular vectors of an i.i.d. complex Gaussian matrix; the
    QR factor with the phases of R's diagonal moved into Q has the same (Haar)
    distribution and, unlike an SVD, is unique, so it is identical across LAPACKs.
    """
    Q, R = torch.linalg.qr(complex_gaussian((n, size, size), generator))
    diagonal = torch.diagonal(R, dim1=-2, dim2=-1)
    return Q * (diagonal / diagonal.abs())[..., None, :]


def descending_eigen(R_T: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """R_T's eigenvalues, descending and clamped at 0 (round-off), and eigenvectors, for a
    Hermitian PSD complex [n, N_t, N_t]: real [n, N_t] and complex [n, N_t, N_t]."""
    eigenvalues, U_T = torch.linalg.eigh(R_T)
    return eigenvalues.flip(-1).clamp_min(0.0), U_T.flip(-1)


def sample_scenario(
    system: SystemConfig,
    n: int,
    *,
    beta: float = 1.0,
    seed: int = 0,
    split: str = "train",
    dtype: torch.dtype = torch.float64,
    targets: TargetConfig = PAPER,
    channel: ChannelConfig = RAYLEIGH,
) -> Scenario:
    """Sample ``n`` instances of ``system`` with CSI accuracy ``beta``.

    Channels are Rayleigh, h_bar ~ CN(0, I), with equal-SNR power control
    (p_k = SNR_c, Sec. V). Imperfect CSI (Sec. V, docs/model.md, item 8):
    H = sqrt(beta) H_hat + E with H_hat ~ CN(0, I) and E ~ CN(0, (1 - beta) I), so
    the true channel is CN(0, I) for every beta; the same random numbers are drawn
    for every beta, so sweeps over beta differ only by it. R_T has i.i.d. U(0, 1)
    eigenvalues (times xi_0, which is 1 in noise-normalised units) and Haar
    eigenvectors (ref. [31]).

    Args:
        system: the system settings.
        n: number of instances (>= 1).
        beta: CSI accuracy in [0, 1]; 1 is perfect CSI.
        seed: base seed; ``(seed, split)`` selects the random stream.
        split: name of the data split, e.g. "train", "val", "test".
        dtype: real dtype of the result (sampling is always float64).
        targets: the target model (:mod:`isac.physics.targets`): for ``directions`` the
            targets are drawn from a stream of their own, and R_T is their transmit
            covariance.
        channel: the users' channel model (:mod:`isac.physics.channels`): for ``rician``
            the directions and phases come from a stream of their own and the Rayleigh
            draws are the scattered part; ``tr38901`` drops (and their powers) take the
            place of the Rayleigh estimates, and a channel ``file`` gives H, and H_hat, p
            and R_T where it has them (:mod:`isac.physics.channel_sources`).

    The paper's model and Rayleigh users draw exactly what they always did: the other
    models only add streams keyed to ``(seed, split)``, so every channel source sees the
    same R_T and errors for the same seed.
    """
    n = checks.positive_int("n", n)
    beta = checks.in_unit_interval("beta", beta)
    generator = split_generator(seed, split)
    shape = (n, system.n_rx, system.n_users)
    H_hat = complex_gaussian(shape, generator)
    error = complex_gaussian(shape, generator)
    H = true_channel(H_hat, error, beta)
    sigma_t = torch.rand((n, system.n_tx), generator=generator, dtype=torch.float64)
    sigma_t = sigma_t.sort(dim=-1, descending=True).values
    U_T = haar_unitary(n, system.n_tx, generator)
    p = torch.full((n, system.n_users), system.user_power, dtype=torch.float64)
    if channel.model == "rician":
        H_hat = line_of_sight(channel, H_hat, split_generator(seed, f"{split}:users"))
        H = true_channel(H_hat, error, beta)
    elif channel.model == "tr38901":
        H_hat, p = tr38901_channels(channel, system, n, seed=seed, split=split)
        H = true_channel(H_hat, error, beta)
    elif channel.model == "file":
        given = file_channels(channel, system, n, beta=beta, seed=seed, split=split)
        H = given["H"]
        H_hat = given.get("H_hat", H)
        p = given.get("p", p)
        if "R_T" in given:
            sigma_t, U_T = descending_eigen(given["R_T"])
    drawn = None
    if targets.model == "directions":
        drawn = DirectionalTargets.draw(
            targets, system, n, split_generator(seed, f"{split}:targets")
        )
        sigma_t, U_T = descending_eigen(drawn.transmit_covariance())
    scenario = Scenario(H=H, H_hat=H_hat, p=p, sigma_t=sigma_t, U_T=U_T, targets=drawn)
    return scenario.to(dtype)
