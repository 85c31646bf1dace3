"""The transformed problem (28) for a batch of instances, with its per-sample terms precomputed.

Everything of (28) that does not depend on sigma_s -- sigma_h, the users' SINRs as
functions of the echo level (:mod:`isac.physics.user_sinr`), M_s and M_c -- is computed
once per instance by
:meth:`ProblemTerms.from_scenario`; evaluating the rates for a new sigma_s then
costs O(n_tx n_rx + n_users min(n_users, n_rx)) per instance, no matrix algebra.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from isac import checks
from isac.physics import rates
from isac.physics.instances import PerInstance
from isac.physics.receivers import Receiver
from isac.physics.scenario import Scenario
from isac.physics.system import SystemConfig
from isac.physics.user_sinr import SINR_FORMS, ResolventSinr, UserSinr


@dataclass(frozen=True)
class ProblemTerms(PerInstance):
    """Per-instance quantities of problem (28), computed from the *true* channel.

    Attributes:
        sigma_t: real [n, n_tx], eigenvalues of R_T, descending.
        sigma_h: real [n, n_rx], eigenvalues of R_H, descending.
        users: the users' MMSE SINRs as functions of the echo-and-noise level
            (:mod:`isac.physics.user_sinr`).
        max_rate_s: real [n], M_s of eq. (39).
        max_rate_c: real [n], M_c of eq. (40).
        comm_noise: real [n], the noise level of the communication rate (26): the noise,
            or for the robust receiver the noise plus the estimation error's power
            (:mod:`isac.physics.receivers`).
        sensing_optimum: real [n, n_tx], the powers of M_s: the budget water-filled over
            sigma_t / noise as if no users were present (38), which the water-filling
            scheme and PriceNet's prior price use too.
    """

    sigma_t: torch.Tensor
    sigma_h: torch.Tensor
    users: UserSinr
    max_rate_s: torch.Tensor
    max_rate_c: torch.Tensor
    comm_noise: torch.Tensor
    sensing_optimum: torch.Tensor

    @classmethod
    def from_channels(
        cls,
        H: torch.Tensor,
        p: torch.Tensor,
        sigma_t: torch.Tensor,
        system: SystemConfig,
        comm_noise: torch.Tensor | None = None,
        sinr_form: str = "partial_fractions",
        interference: torch.Tensor | None = None,
    ) -> ProblemTerms:
        """Precompute the terms for channels ``H`` [n, n_rx, n_users], powers ``p`` [n, n_users]
        and R_T eigenvalues ``sigma_t`` [n, n_tx]; the result has ``sigma_t``'s dtype.

        ``comm_noise`` (real [n]; the noise when None) is the noise level of the users'
        model in the communication rate. ``interference`` (complex [n, n_rx, n_users]; H
        when None) is the channel whose users the sensing rate sees, through sigma_h of
        its covariance plus the noise (:meth:`Receiver.sensing_channel`). ``sinr_form`` picks
        the users' SINR form (:data:`~isac.physics.user_sinr.SINR_FORMS`); ``resolvent``
        is for float64 only and takes sigma_h from the same eigendecomposition when the
        sensing rate sees H.

        The eigendecompositions always run in float64: in float32 the (near-)zero
        eigenvalues of a strong user covariance carry an absolute error of about
        eps * ||H diag(p) H^H||, which at 40 dB is comparable to the noise.
        """
        n = H.shape[0]
        checks.shape("H", H, (n, system.n_rx, system.n_users))
        checks.shape("p", p, (n, system.n_users))
        checks.shape("sigma_t", sigma_t, (n, system.n_tx))
        checks.non_negative_tensor("p", p)
        checks.non_negative_tensor("sigma_t", sigma_t)
        checks.one_of("sinr_form", sinr_form, tuple(SINR_FORMS))
        H64, p64, sigma_t64 = H.to(torch.complex128), p.double(), sigma_t.double()
        if comm_noise is None:
            noise64 = torch.full((n,), system.noise_power, dtype=torch.float64, device=H.device)
        else:
            checks.shape("comm_noise", comm_noise, (n,))
            noise64 = comm_noise.double()
        users = SINR_FORMS[sinr_form].from_channels(H64, p64)
        if interference is not None:
            checks.shape("interference", interference, (n, system.n_rx, system.n_users))
            sigma_h = rates.sigma_h(interference.to(torch.complex128), p64, system.noise_power)
        elif isinstance(users, ResolventSinr):
            sigma_h = rates.sigma_h_from_user_eigenvalues(
                users.gram_eigenvalues, system.n_rx, system.noise_power
            )
        else:
            sigma_h = rates.sigma_h(H64, p64, system.noise_power)
        return cls.from_parts(sigma_t64, sigma_h, users, noise64, system).to(sigma_t.dtype)

    @classmethod
    def from_parts(
        cls,
        sigma_t: torch.Tensor,
        sigma_h: torch.Tensor,
        users: UserSinr,
        comm_noise: torch.Tensor,
        system: SystemConfig,
    ) -> ProblemTerms:
        """The terms of eigenvalues sigma_t [n, n_tx] and sigma_h [n, n_rx], the users'
        SINR form and the noise level of their rate, comm_noise [n]: M_s (39) and M_c (40)
        follow."""
        powers = rates.sensing_optimum_powers(sigma_t, system.sensing_power, system.noise_power)
        return cls(
            sigma_t=sigma_t,
            sigma_h=sigma_h,
            users=users,
            max_rate_s=rates.max_sensing_rate(
                sigma_t, powers, system.n_rx, system.waveform_len, system.noise_power
            ),
            max_rate_c=users.log1p_sinr(comm_noise).mean(dim=-1) / rates.LN2,  # (40)
            comm_noise=comm_noise,
            sensing_optimum=powers,
        )

    @classmethod
    def from_user_eigen(
        cls,
        receiver: Receiver,
        sigma_t: torch.Tensor,
        user_eigenvalues: torch.Tensor,
        user_weights: torch.Tensor,
        p: torch.Tensor,
        system: SystemConfig,
    ) -> ProblemTerms:
        """The terms of ``receiver``'s model of H_hat, as :meth:`for_receiver` gives them in
        the resolvent form, from the eigendecomposition of H_hat's Gram matrix
        (:func:`~isac.physics.user_sinr.gram_eigen`: eigenvalues [n, K], |V|^2 [n, K, K]),
        sigma_t [n, n_tx] and p [n, K], in their dtype: one eigendecomposition serves the
        users' SINRs (:meth:`Receiver.gram_model`) and sigma_h of H_hat's users, which the
        sensing rate of every receiver's model sees at the BS."""
        eigenvalues, noise = receiver.gram_model(user_eigenvalues, p, system)
        sigma_h = rates.sigma_h_from_user_eigenvalues(
            user_eigenvalues, system.n_rx, system.noise_power
        )
        users = ResolventSinr(eigenvalues, user_weights)
        return cls.from_parts(sigma_t, sigma_h, users, noise, system)

    @classmethod
    def for_receiver(
        cls,
        receiver: Receiver,
        H_hat: torch.Tensor,
        p: torch.Tensor,
        sigma_t: torch.Tensor,
        system: SystemConfig,
        H: torch.Tensor | None = None,
        sinr_form: str = "partial_fractions",
    ) -> ProblemTerms:
        """The terms of ``receiver``'s model (:meth:`Receiver.model`) of H_hat (and of the
        true channel ``H`` for a genie): the objective a design for that receiver
        maximises. Its sensing rate sees :meth:`Receiver.sensing_channel`."""
        channel, noise = receiver.model(H_hat, p, system, H)
        return cls.from_channels(
            channel, p, sigma_t, system, noise, sinr_form, receiver.sensing_channel(H_hat)
        )

    @classmethod
    def from_scenario(cls, scenario: Scenario, system: SystemConfig) -> ProblemTerms:
        """Terms of the true channel ``scenario.H`` (the loss always uses the true channel)."""
        return cls.from_channels(scenario.H, scenario.p, scenario.sigma_t, system)

    def __len__(self) -> int:
        return self.sigma_t.shape[0]

    def sensing_rate(self, sigma_s: torch.Tensor, system: SystemConfig) -> torch.Tensor:
        """real [n]: eq. (14) for ``sigma_s`` [n, n_tx]."""
        return rates.sensing_rate(sigma_s, self.sigma_t, self.sigma_h, system.waveform_len)

    def _level(self, sigma_s: torch.Tensor, system: SystemConfig) -> torch.Tensor:
        """real [n]: c = sigma_t . sigma_s / L + noise, the echo-and-noise level of (26)."""
        return rates.echo_interference(sigma_s, self.sigma_t, system.waveform_len) + self.comm_noise

    def comm_rate(self, sigma_s: torch.Tensor, system: SystemConfig) -> torch.Tensor:
        """real [n]: eq. (26) for ``sigma_s`` [n, n_tx], bits/s/Hz per user."""
        return self.users.log1p_sinr(self._level(sigma_s, system)).mean(dim=-1) / rates.LN2

    def sinr(self, sigma_s: torch.Tensor, system: SystemConfig) -> torch.Tensor:
        """real [n, n_users]: gamma_k^opt of eq. (26) for ``sigma_s`` [n, n_tx]."""
        return self.users.sinr(self._level(sigma_s, system))

    def evaluate(self, sigma_s: torch.Tensor, system: SystemConfig) -> dict[str, torch.Tensor]:
        """Per-instance metrics of ``sigma_s`` [n, n_tx]: rates, WSNR (28) and power used.

        Returns:
            dict of real [n]: ``wsnr``, ``rate_s``, ``rate_c``, ``sum_rate_c`` (K Rc), ``power``.
        """
        return self.metrics_of(
            sigma_s, self.sensing_rate(sigma_s, system), self.comm_rate(sigma_s, system), system
        )

    def metrics_of(
        self,
        sigma_s: torch.Tensor,
        rate_s: torch.Tensor,
        rate_c: torch.Tensor,
        system: SystemConfig,
    ) -> dict[str, torch.Tensor]:
        """The metrics of :meth:`evaluate` for the rates ``rate_s`` and ``rate_c`` (real
        [n]) of ``sigma_s``, the WSNR normalised by these terms' M_s and M_c."""
        return {
            "wsnr": rates.wsnr(rate_s, rate_c, self.max_rate_s, self.max_rate_c, system.alpha),
            "rate_s": rate_s,
            "rate_c": rate_c,
            "sum_rate_c": system.n_users * rate_c,
            "power": sigma_s.sum(dim=-1),
        }

    def echo_price(
        self, echo: torch.Tensor, system: SystemConfig
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The price of echo power that the communication term of (28) sets at echo ``echo``.

        With C(t) = (1 - alpha) Rc(t)/M_c, the KKT conditions of (28) at the optimum x*
        are those of ``max alpha Rs(x)/M_s - nu t(x)`` over the budget with nu = -C'(t*)
        (docs/evaluation.md, "Global optimum").

        Args:
            echo: real [n], t = sigma_t . sigma_s.

        Returns:
            (-C'(t), -C''(t)), real [n] each: the price and its derivative in t.
        """
        level = echo / system.waveform_len + self.comm_noise
        _, first, second = self.users.log_sinr_derivatives(level)
        # Rc = mean_k ln(1 + gamma_k(c)) / ln 2 and dc/dt = 1/L
        slope = first.mean(dim=-1) / (system.waveform_len * rates.LN2)
        curvature = second.mean(dim=-1) / (system.waveform_len**2 * rates.LN2)
        scale = rates.per_maximum(torch.full_like(slope, 1.0 - system.alpha), self.max_rate_c)
        return -scale * slope, -scale * curvature

    def sensing_weight(self, system: SystemConfig) -> torch.Tensor:
        """real [n]: w with alpha Rs/M_s = w sum_ij ln(1 + ...), i.e. alpha / (M_s L ln 2).

        The weight of the sensing term of (28) in natural-log units, as the solvers of
        :mod:`isac.schemes.solvers` take it.
        """
        return rates.per_maximum(
            torch.full_like(self.max_rate_s, system.alpha),
            self.max_rate_s * system.waveform_len * rates.LN2,
        )

    def full_price(self, system: SystemConfig) -> torch.Tensor:
        """real [n]: nu_max = w sum_j sigma_h,j, the price of echo power at and above which
        the concave problem of :mod:`isac.schemes.solvers` spends no power at all."""
        return self.sensing_weight(system) * self.sigma_h.sum(dim=-1)

    def wsnr(self, sigma_s: torch.Tensor, system: SystemConfig) -> torch.Tensor:
        """real [n]: the objective (28) for ``sigma_s`` [n, n_tx]."""
        return rates.wsnr(
            self.sensing_rate(sigma_s, system),
            self.comm_rate(sigma_s, system),
            self.max_rate_s,
            self.max_rate_c,
            system.alpha,
        )
