"""Path-loss model of Sec. V and how it maps onto the noise-normalised units.

The paper draws users and targets beyond the cell radius d_0 = 200 m with

    PL_dB = 128.1 + 37.6 log10(d_km),        xi = 10^(-PL_dB / 10),

and defines the SNRs through the received powers:

    SNR_s = P_s xi_0 / sigma_n^2,            SNR_c = p_k xi_k / sigma_n^2 (equal for all k).

With this equal-SNR power control every rate depends on the powers and path losses
only through ``p_k xi_k / sigma_n^2`` and ``P_s xi_0 / sigma_n^2`` (the rates are
invariant to scaling all powers and the noise together), so the distances cancel.
The code therefore works in noise-normalised units: noise power 1, user powers
``p_k = SNR_c``, small-scale channels ``h_bar ~ CN(0, I)``, R_T eigenvalues ``U(0, 1)``
and the sensing budget ``P_s = SNR_s``. ``tests/test_scenario.py`` checks that a
scenario in physical units (dBm, metres) gives the same rates.
"""

from __future__ import annotations

import torch

CELL_RADIUS_M = 200.0
"""The cell radius d_0 of Table II, in metres."""


def path_loss_db(distance_m: torch.Tensor | float) -> torch.Tensor:
    """Path loss in dB at ``distance_m`` metres: 128.1 + 37.6 log10(d_km) (Sec. V)."""
    distance_km = torch.as_tensor(distance_m, dtype=torch.float64) / 1000.0
    return 128.1 + 37.6 * torch.log10(distance_km)


def path_loss_gain(distance_m: torch.Tensor | float) -> torch.Tensor:
    """Linear channel power gain xi = 10^(-PL_dB/10) at ``distance_m`` metres."""
    return 10.0 ** (-path_loss_db(distance_m) / 10.0)


def power_for_snr(snr_db: float, gain: torch.Tensor | float, noise_power: float) -> torch.Tensor:
    """Transmit power that gives received SNR ``snr_db`` through ``gain`` over ``noise_power``."""
    return 10.0 ** (snr_db / 10.0) * noise_power / torch.as_tensor(gain, dtype=torch.float64)


def dbm_to_watt(power_dbm: float) -> float:
    """Convert a power in dBm to watts."""
    return 10.0 ** (power_dbm / 10.0) / 1000.0
