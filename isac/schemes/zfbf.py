"""The ZFBF scheme of Fig. 7: zero-forcing receive beams with SIC, as in ref. [14].

The receiver first decodes the users with zero-forcing beams, treating the echo as
noise (SINR_k = p_k / ((t/L + noise) ||w_k||^2), no inter-user interference), then
cancels them and senses without communication interference (sigma_h = 1/noise on
all n_rx eigen-channels). Its powers maximise the WSNR of that model,

    alpha Rs_SIC(sigma_s)/M_s + (1 - alpha) Rc_ZF(t)/M_c,

found globally by the multiplier search of :mod:`isac.schemes.solvers` (the same
structure as (28)). The scheme is then scored like every other: Rs by eq. (14), Rc by
the SINR (7) of its zero-forcing beams (the ``zf`` rule of :mod:`isac.schemes.beams`);
docs/evaluation.md, "The schemes".
"""

from __future__ import annotations

import torch

from isac.physics import rates
from isac.schemes.beams import zero_forcing_beams
from isac.schemes.registry import Powers, SchemeInputs
from isac.schemes.solvers import multilevel_water_filling, search_multiplier


def zfbf_design(inputs: SchemeInputs) -> Powers:
    """ZFBF powers for the channels ``inputs.H`` [n, n_rx, n_users] the scheme sees.

    Raises:
        checks.SettingsError: n_users > n_rx, where no zero-forcing beams exist.
    """
    system = inputs.system
    H, p = inputs.H.to(torch.complex128), inputs.p.double()
    beams = zero_forcing_beams(H)
    terms64 = inputs.terms.to(torch.float64)
    signal, interference, beam_norm = rates.beam_terms(H, p, beams)
    free_levels = torch.full((len(terms64), 1), 1.0 / system.noise_power, dtype=torch.float64)
    free_counts = torch.full_like(free_levels, float(system.n_rx))
    weight = terms64.sensing_weight(system)

    def own_wsnr(x: torch.Tensor) -> torch.Tensor:
        rate_s = rates.sensing_rate(
            x, terms64.sigma_t, free_levels.expand(-1, system.n_rx), system.waveform_len
        )
        echo = rates.echo_interference(x, terms64.sigma_t, system.waveform_len)
        sinr = rates.sinr_fixed_beams(
            signal, torch.zeros_like(interference), beam_norm, echo, terms64.comm_noise
        )
        rate_c = torch.log1p(sinr).mean(dim=-1) / rates.LN2
        return rates.wsnr(rate_s, rate_c, terms64.max_rate_s, terms64.max_rate_c, system.alpha)

    x, _, _ = search_multiplier(
        lambda nu: multilevel_water_filling(
            terms64.sigma_t, free_levels, weight, nu, system.sensing_power, free_counts
        ),
        own_wsnr,
        weight * system.n_rx / system.noise_power,
    )
    return Powers(x.to(inputs.terms.sigma_t.dtype))
