"""The transformation of Sec. III is exact (docs/model.md, item 5).

The original model (eqs. (4)-(9a), built from Kronecker products and log-dets) is
evaluated on the recovered (S, w_k) of eqs. (31)-(32) and compared with the
transformed objective (28); it is itself checked against numpy.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import instance, random_powers

from isac.physics import original_model, rates, recover
from isac.physics.scenario import haar_unitary
from isac.physics.system import SystemConfig

SIZES = [  # (n_tx, n_rx, n_users, L)
    (4, 4, 1, 5),
    (3, 4, 4, 6),  # n_users = n_rx
    (5, 3, 2, 9),  # n_rx < n_tx
    (6, 8, 5, 8),
    (4, 3, 5, 6),  # more users than receive antennas
]
SNRS_DB = [(-20.0, -20.0), (0.0, 10.0), (10.0, 0.0), (40.0, 40.0), (40.0, -20.0)]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("snrs", SNRS_DB)
def test_original_objective_on_recovered_design_equals_28(size, snrs):
    n_tx, n_rx, n_users, waveform_len = size
    system = SystemConfig(
        n_tx=n_tx,
        n_rx=n_rx,
        n_users=n_users,
        waveform_len=waveform_len,
        alpha=0.3,
        snr_s_db=snrs[0],
        snr_c_db=snrs[1],
    )
    scenario, terms = instance(system, n=6, seed=sum(size))
    generator = torch.Generator().manual_seed(7)
    sigma_s = random_powers(6, n_tx, system.sensing_power, generator)
    U_s = haar_unitary(6, waveform_len, generator)  # (31) holds for any unitary U_s

    S = recover.waveform_from_powers(sigma_s, scenario.U_T, waveform_len, U_s)
    W = recover.mmse_beams(
        scenario.H, scenario.p, sigma_s, scenario.sigma_t, waveform_len, system.noise_power
    )
    original = original_model.objective(
        S,
        W,
        scenario.R_T,
        scenario.H,
        scenario.p,
        system.noise_power,
        system.alpha,
        terms.max_rate_s,
        terms.max_rate_c,
    )
    transformed = terms.wsnr(sigma_s, system)
    torch.testing.assert_close(original, transformed, rtol=1e-9, atol=0.0)
    torch.testing.assert_close(
        original_model.sinr(S, W, scenario.R_T, scenario.H, scenario.p, system.noise_power),
        terms.sinr(sigma_s, system),
        rtol=1e-9,
        atol=0.0,
    )
    # the recovered waveform spends exactly sum(sigma_s), constraint (9b) <=> (15)
    torch.testing.assert_close(
        torch.linalg.matrix_norm(S).square(), sigma_s.sum(-1), rtol=1e-12, atol=1e-12
    )


def test_original_sensing_rate_matches_numpy_reference():
    system = SystemConfig(n_tx=3, n_rx=2, n_users=2, waveform_len=4, snr_c_db=5.0)
    scenario, _ = instance(system, n=3, seed=3)
    rng = np.random.default_rng(0)
    for b in range(3):
        S = rng.standard_normal((4, 3)) + 1j * rng.standard_normal((4, 3))
        H, p, R_T = (scenario.H[b].numpy(), scenario.p[b].numpy(), scenario.R_T[b].numpy())
        R_I = np.kron(H @ np.diag(p) @ H.conj().T, np.eye(4)) + np.eye(8)
        S_tilde = np.kron(np.eye(2), S)
        R_g = np.kron(np.eye(2), R_T)
        reference = (
            np.log2(
                np.linalg.det(
                    np.eye(8) + np.linalg.solve(R_I, S_tilde @ R_g @ S_tilde.conj().T)
                ).real
            )
            / 4
        )
        ours = original_model.sensing_rate(
            torch.from_numpy(S), scenario.R_T[b], scenario.H[b], scenario.p[b], 1.0
        )
        assert ours.item() == pytest.approx(reference, rel=1e-10)


def test_original_sinr_matches_direct_formula():
    system = SystemConfig(n_tx=3, n_rx=4, n_users=3, waveform_len=5)
    scenario, _ = instance(system, n=1, seed=4)
    rng = np.random.default_rng(1)
    S = rng.standard_normal((5, 3)) + 1j * rng.standard_normal((5, 3))
    W = rng.standard_normal((4, 3)) + 1j * rng.standard_normal((4, 3))
    H, p, R_T = scenario.H[0].numpy(), scenario.p[0].numpy(), scenario.R_T[0].numpy()
    echo = np.trace(S @ R_T @ S.conj().T).real / 5
    for k in range(3):
        w = W[:, k]
        terms = [p[i] * abs(H[:, i] @ w) ** 2 for i in range(3)]
        expected = terms[k] / (sum(terms) - terms[k] + (echo + 1.0) * np.vdot(w, w).real)
        ours = original_model.sinr(
            torch.from_numpy(S),
            torch.from_numpy(W),
            scenario.R_T[0],
            scenario.H[0],
            scenario.p[0],
            1.0,
        )[k]
        assert ours.item() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("size", SIZES)
def test_bound_13_random_waveforms_never_beat_the_recovered_waveform(size):
    n_tx, n_rx, n_users, waveform_len = size
    system = SystemConfig(n_tx=n_tx, n_rx=n_rx, n_users=n_users, waveform_len=waveform_len)
    n = 64
    scenario, terms = instance(system, n=1, seed=11)
    generator = torch.Generator().manual_seed(3)
    shape = (n, waveform_len, n_tx, 2)
    S = torch.view_as_complex(torch.randn(shape, generator=generator, dtype=torch.float64))
    S = S * (system.sensing_power / torch.linalg.matrix_norm(S).square())[:, None, None] ** 0.5
    sigma_s = torch.linalg.svdvals(S).square()  # descending
    H, p, R_T = (x.expand(n, *x.shape[1:]) for x in (scenario.H, scenario.p, scenario.R_T))
    random_rate = original_model.sensing_rate(S, R_T, H, p, system.noise_power)
    bound = rates.sensing_rate(sigma_s, terms.sigma_t, terms.sigma_h, waveform_len)  # (14)
    recovered = original_model.sensing_rate(
        recover.waveform_from_powers(sigma_s, scenario.U_T.expand(n, -1, -1), waveform_len),
        R_T,
        H,
        p,
        system.noise_power,
    )
    torch.testing.assert_close(recovered, bound, rtol=1e-9, atol=0.0)
    assert (random_rate <= bound * (1 + 1e-12)).all()
    assert (random_rate < bound * (1 - 1e-6)).float().mean() > 0.9  # and usually strictly


def test_mmse_beams_are_never_beaten_by_random_beams():
    system = SystemConfig(n_tx=4, n_rx=5, n_users=4, waveform_len=6, snr_c_db=10.0)
    scenario, terms = instance(system, n=1, seed=5)
    generator = torch.Generator().manual_seed(9)
    sigma_s = random_powers(1, 4, system.sensing_power, generator)
    S = recover.waveform_from_powers(sigma_s, scenario.U_T, 6)
    optimal = terms.sinr(sigma_s, system)
    n = 256
    W = torch.view_as_complex(torch.randn((n, 5, 4, 2), generator=generator, dtype=torch.float64))
    random_sinr = original_model.sinr(
        S.expand(n, -1, -1),
        W,
        scenario.R_T.expand(n, -1, -1),
        scenario.H.expand(n, -1, -1),
        scenario.p.expand(n, -1),
        1.0,
    )
    assert (random_sinr <= optimal * (1 + 1e-12)).all()
