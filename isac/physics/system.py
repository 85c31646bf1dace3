"""System settings of the uplink ISAC model (Table II) and their validation."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from isac import checks

SIZE_SETTINGS = ("n_tx", "n_rx", "n_users")
"""The settings that fix the sizes of every array, and so of a network's input and output."""


@dataclass(frozen=True)
class SystemConfig:
    """The settings that define one uplink ISAC system; the defaults are Table II.

    This dataclass is the one source of the defaults: the Hydra group ``system/default``
    is registered from it (:mod:`isac.config`).

    Powers are in noise-normalised units (docs/model.md, item 6): the noise power is
    ``noise_power`` (1 by default), each user's received SNR is ``snr_c_db`` and the
    sensing budget is ``P_s = 10^(snr_s_db/10) * noise_power`` with the target
    path-loss folded into the eigenvalues of R_T (see :mod:`isac.physics.pathloss`).

    Attributes:
        n_tx: transmit antennas N_t.
        n_rx: receive antennas N_r.
        n_users: single-antenna users K.
        waveform_len: sensing waveform length L (> n_tx, Sec. II).
        alpha: sensing weight in eq. (9a)/(28), in [0, 1].
        snr_s_db: sensing SNR, ``10 log10(P_s xi_0 / noise)`` in dB.
        snr_c_db: communication SNR of every user, ``10 log10(p_k xi_k / noise)`` in dB.
        noise_power: noise power sigma_n^2 (linear, > 0).
    """

    n_tx: int = 16
    n_rx: int = 16
    n_users: int = 5
    waveform_len: int = 20
    alpha: float = 0.5
    snr_s_db: float = 10.0
    snr_c_db: float = 0.0
    noise_power: float = 1.0

    def __post_init__(self) -> None:
        checks.positive_int("n_tx", self.n_tx)
        checks.positive_int("n_rx", self.n_rx)
        checks.positive_int("n_users", self.n_users)
        checks.positive_int("waveform_len", self.waveform_len)
        if self.waveform_len <= self.n_tx:
            raise checks.SettingsError(
                f"waveform_len must be > n_tx = {self.n_tx} (Sec. II, L > N_t), "
                f"got {self.waveform_len}"
            )
        checks.in_unit_interval("alpha", self.alpha)
        checks.finite_real("snr_s_db", self.snr_s_db)
        checks.finite_real("snr_c_db", self.snr_c_db)
        checks.positive_real("noise_power", self.noise_power)

    @property
    def sensing_power(self) -> float:
        """The sensing power budget P_s (linear), eq. (9b)."""
        return 10.0 ** (self.snr_s_db / 10.0) * self.noise_power

    @property
    def user_power(self) -> float:
        """Each user's received power p_k xi_k (linear)."""
        return 10.0 ** (self.snr_c_db / 10.0) * self.noise_power

    def to_dict(self) -> dict[str, float | int]:
        """Plain-typed dict, safe to store in a checkpoint."""
        return asdict(self)
