"""Targets at directions, eq. (2) (docs/model.md, item 15).

Every formula is checked against a brute-force float64 evaluation of the vectorised
model (4) in numpy, the echo covariance against a Monte-Carlo average, the paper's model
as the special case of orthogonal "targets", the reference optimum against exhaustive
searches, and every bad input is refused with a message naming the setting.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from helpers import TINY, config, run_script

from isac import checks
from isac.config import target_of
from isac.designer.pipelines import eigen_inputs
from isac.learning.direction_network import DirectionNet
from isac.learning.problem_batch import ProblemBatch
from isac.learning.training import build_datamodule
from isac.physics import rates, recover
from isac.physics.channels import ChannelConfig
from isac.physics.directional import (
    DirectionalTargets,
    DirectionalTerms,
    directional_beams,
    gram_of,
    log_det_rate,
    sensing_weights_without_users,
)
from isac.physics.problem import ProblemTerms
from isac.physics.psd_ascent import frank_wolfe_bound
from isac.physics.receivers import GENIE
from isac.physics.scenario import sample_scenario
from isac.physics.system import SystemConfig
from isac.physics.targets import TargetConfig, steering
from isac.schemes.directional import (
    DesignSpace,
    DirectionalInputs,
    certified_single_target,
    multistart_optimum,
)
from isac.schemes.registry import SCHEMES, select_schemes

SYSTEM = SystemConfig(
    n_tx=4, n_rx=3, n_users=2, waveform_len=5, alpha=0.4, snr_s_db=10.0, snr_c_db=10.0
)
RICIAN = ChannelConfig(model="rician", width_deg=30.0)


def targets_of(n_targets: int, **settings) -> TargetConfig:
    return TargetConfig(model="directions", n_targets=n_targets, **settings)


def draw(system: SystemConfig, n_targets: int, n: int = 6, seed: int = 0, **settings):
    """A float64 scenario with targets at directions and Rician users, and its terms."""
    scenario = sample_scenario(
        system,
        n,
        seed=seed,
        split="test",
        targets=targets_of(n_targets, **settings),
        channel=RICIAN,
    )
    terms = DirectionalTerms.from_channels(scenario.H, scenario.p, scenario.targets, system)
    return scenario, terms


def random_covariances(n: int, n_tx: int, budget: float, seed: int) -> torch.Tensor:
    """complex128 [n, n_tx, n_tx]: random PSD covariances of random rank and trace <= budget."""
    generator = torch.Generator().manual_seed(seed)
    X = torch.view_as_complex(
        torch.randn((n, n_tx, n_tx, 2), generator=generator, dtype=torch.float64)
    )
    X = X * (torch.rand((n, 1, n_tx), generator=generator, dtype=torch.float64) > 0.4)
    R = X @ X.mH
    trace = torch.diagonal(R, dim1=-2, dim2=-1).real.sum(-1).clamp_min(1e-12)
    used = torch.rand(n, generator=generator, dtype=torch.float64)
    return R * (budget * used / trace)[:, None, None]


def brute_force_sensing_rate(S, A, B, variances, H, p, noise, L) -> float:
    """(4) on the full N_r L-dimensional vectorised model, in numpy: vec(Y) = (I (x) S)
    vec(G) + ..., R_g = sum_i s_i^2 (b_i (x) a_i)(b_i (x) a_i)^H, R_I = (H P H^H) (x) I_L
    + noise I."""
    n_rx = B.shape[0]
    S_tilde = np.kron(np.eye(n_rx), S)
    R_g = sum(
        s2 * np.outer(np.kron(B[:, i], A[:, i]), np.kron(B[:, i], A[:, i]).conj())
        for i, s2 in enumerate(variances)
    )
    R_I = np.kron(H @ np.diag(p) @ H.conj().T, np.eye(L)) + noise * np.eye(n_rx * L)
    _, with_echo = np.linalg.slogdet(S_tilde @ R_g @ S_tilde.conj().T + R_I)
    _, without = np.linalg.slogdet(R_I)
    return (with_echo - without) / (L * np.log(2.0))


def brute_force_comm_rate(H, p, echo_covariance, noise) -> float:
    """(26) with each user's MMSE SINR p_k h_k^H Omega_k^-1 h_k by direct inversion."""
    n_rx, n_users = H.shape
    rates_k = []
    for k in range(n_users):
        omega = sum(p[j] * np.outer(H[:, j], H[:, j].conj()) for j in range(n_users) if j != k)
        omega = omega + echo_covariance + noise * np.eye(n_rx)
        sinr = p[k] * (H[:, k].conj() @ np.linalg.solve(omega, H[:, k])).real
        rates_k.append(np.log2(1.0 + sinr))
    return float(np.mean(rates_k))


@pytest.mark.parametrize("n_targets", [1, 2, 3])
def test_rates_match_the_vectorised_model(n_targets):
    system = SYSTEM
    scenario, terms = draw(system, n_targets, seed=n_targets)
    R_x = random_covariances(6, system.n_tx, system.sensing_power, seed=n_targets)
    S, powers = recover.waveform_from_covariance(R_x, system.waveform_len)
    torch.testing.assert_close(S.mH @ S, R_x, rtol=0.0, atol=1e-12)  # S^H S = R_x
    sensing = terms.sensing_rate(R_x, system)
    comm = terms.comm_rate(R_x, system)
    targets = scenario.targets
    for b in range(6):
        A, B = targets.A[b].numpy(), targets.B[b].numpy()
        variances = targets.variances[b].numpy()
        H, p = scenario.H[b].numpy(), scenario.p[b].numpy()
        expected_s = brute_force_sensing_rate(
            S[b].numpy(), A, B, variances, H, p, system.noise_power, system.waveform_len
        )
        R = R_x[b].numpy()
        echo = sum(
            variances[i]
            * (A[:, i].conj() @ R @ A[:, i]).real
            / system.waveform_len
            * np.outer(B[:, i], B[:, i].conj())
            for i in range(n_targets)
        )
        expected_c = brute_force_comm_rate(H, p, echo, system.noise_power)
        assert sensing[b].item() == pytest.approx(expected_s, rel=1e-10, abs=1e-13)
        assert comm[b].item() == pytest.approx(expected_c, rel=1e-10)


def test_echo_covariance_matches_a_monte_carlo_average():
    system = SystemConfig(n_tx=3, n_rx=4, n_users=1, waveform_len=4)
    scenario, terms = draw(system, 2, n=1, seed=5)
    R_x = random_covariances(1, system.n_tx, system.sensing_power, seed=5)
    S, _ = recover.waveform_from_covariance(R_x, system.waveform_len)
    A, B = scenario.targets.A[0].numpy(), scenario.targets.B[0].numpy()
    s2 = scenario.targets.variances[0].numpy()
    rng = np.random.default_rng(0)
    draws = 200_000
    beta = (rng.standard_normal((draws, 2)) + 1j * rng.standard_normal((draws, 2))) * np.sqrt(
        s2 / 2
    )
    # the echo rows y_l^T = G^T s_l^T, G = sum_i beta_i a_i b_i^T, for every draw and l
    G = np.einsum("di,ti,ri->dtr", beta, A, B)
    echo = np.einsum("dtr,lt->dlr", G, S[0].numpy())
    sample = np.einsum("dlr,dls->rs", echo, echo.conj()) / (draws * system.waveform_len)
    gram = scenario.targets.A[0].mH @ R_x[0] @ scenario.targets.A[0]
    c = terms.echo_of(gram[None], system)[0].numpy()  # c_i = s_i^2 a_i^H R_x a_i / L
    expected = sum(c[i] * np.outer(B[:, i], B[:, i].conj()) for i in range(2))
    scale = np.abs(expected).max()
    assert np.abs(sample - expected).max() < 0.02 * scale  # ~ 5 standard errors


def test_mmse_beams_with_the_echo_reach_the_rate_of_26():
    system = SYSTEM
    scenario, terms = draw(system, 2, seed=11)
    R_x = random_covariances(6, system.n_tx, system.sensing_power, seed=11)
    gram = scenario.targets.A.mH @ R_x @ scenario.targets.A
    echo = terms.echo_of(gram, system)
    W = directional_beams(scenario.H, scenario.p, echo, scenario.targets, system.noise_power)
    signal, interference, beam_norm = rates.beam_terms(scenario.H, scenario.p, W)
    leak = (scenario.targets.B.mT @ W).abs().square()
    total = interference + (echo[..., :, None] * leak).sum(-2) + system.noise_power * beam_norm
    achieved = torch.log2(1.0 + signal / total).mean(-1)
    torch.testing.assert_close(achieved, terms.comm_rate(R_x, system), rtol=1e-10, atol=0.0)


def test_the_papers_model_is_the_special_case_of_orthogonal_targets():
    """R_g = I (x) R_T is sum over (receive antenna r, eigenvector j) of lambda_j
    (e_r (x) u_j)(e_r (x) u_j)^H: N_r N_t "targets" with steering vectors u_j and e_r. The
    directional terms of them must give the paper's rates, M_s and M_c."""
    system = SystemConfig(n_tx=3, n_rx=2, n_users=2, waveform_len=5, alpha=0.6)
    scenario = sample_scenario(system, 4, seed=2, split="test")
    paper = ProblemTerms.from_scenario(scenario, system)
    n_tx, n_rx = system.n_tx, system.n_rx
    A = scenario.U_T.repeat(1, 1, n_rx)  # column r n_tx + j: u_j
    eye = torch.eye(n_rx, dtype=torch.complex128)
    B = eye.repeat_interleave(n_tx, dim=1).expand(4, -1, -1)  # column r n_tx + j: e_r
    variances = scenario.sigma_t.repeat(1, n_rx)
    virtual = DirectionalTargets(torch.zeros_like(variances), variances, A, B)
    terms = DirectionalTerms.from_channels(scenario.H, scenario.p, virtual, system)
    generator = torch.Generator().manual_seed(0)
    sigma_s = torch.rand((4, n_tx), generator=generator, dtype=torch.float64)
    sigma_s = sigma_s / sigma_s.sum(-1, keepdim=True) * system.sensing_power
    R_x = (scenario.U_T * sigma_s.to(torch.complex128)[..., None, :]) @ scenario.U_T.mH
    torch.testing.assert_close(terms.sensing_rate(R_x, system), paper.sensing_rate(sigma_s, system))
    torch.testing.assert_close(terms.comm_rate(R_x, system), paper.comm_rate(sigma_s, system))
    torch.testing.assert_close(terms.max_rate_c, paper.max_rate_c)
    # M_s by projected gradient ascent against the paper's exact water-filling
    torch.testing.assert_close(terms.max_rate_s, paper.max_rate_s, rtol=1e-7, atol=0.0)


def test_m_s_with_three_targets_is_certified_by_the_frank_wolfe_bound():
    """M_s is the maximum of a concave function f over {Z >= 0, tr Z <= P_s}, so
    f(Z*) <= f(Z) + P_s lambda_max(grad f(Z)) - <grad f(Z), Z> for any feasible Z: an
    independent bound on how far the search's value is below M_s. Three targets 20
    degrees apart make the problem flat; searches that ended when no sample in the batch
    passed the line search, after at most 60 steps, left up to 7e-5 here, 300 steps 8e-6;
    with the barrier method for the samples still moving after 40 steps, 2.3e-7 is left
    where the search settled: the bound is first order in the distance to the optimum."""
    system = SystemConfig()
    scenario, terms = draw(system, 3, n=300, seed=4, width_deg=20.0)
    targets = scenario.targets.to(torch.float64)
    reduced = targets.basis().mH @ targets.A
    free = sensing_weights_without_users(targets, system.noise_power)

    def rate(Z: torch.Tensor) -> torch.Tensor:
        return log_det_rate(free, gram_of(Z, reduced), system.waveform_len)

    value, bound = frank_wolfe_bound(rate, terms.sensing_design, system.sensing_power)
    torch.testing.assert_close(terms.max_rate_s, value, rtol=1e-12, atol=0.0)
    assert ((bound - value) / value).max() <= 1e-6


def test_steering_vectors_are_the_ula_response():
    angles = torch.tensor([[0.3, -1.0]], dtype=torch.float64)
    a = steering(5, angles, 0.5)
    expected = np.exp(1j * np.pi * np.arange(5)[:, None] * np.sin(angles.numpy()[0]))
    np.testing.assert_allclose(a[0].numpy(), expected, rtol=0, atol=1e-14)


def test_the_single_target_optimum_is_certified_against_a_grid():
    system = SystemConfig(n_tx=4, n_rx=3, n_users=3, waveform_len=5, alpha=0.3, snr_c_db=15.0)
    scenario, terms = draw(system, 1, n=5, seed=3)
    inputs = DirectionalInputs(terms, scenario.H, scenario.p, system)
    z, gap = certified_single_target(inputs)
    assert (gap <= 1e-6).all()
    # brute force: the WSNR of R_x = z a a^H / N_t on a grid of 20,001 powers, evaluated by
    # the general terms (any R_x's objective depends on a^H R_x a <= N_t P_s only)
    grid = torch.linspace(0.0, system.sensing_power, 20_001, dtype=torch.float64)
    a = scenario.targets.A[..., 0]
    direction = (a[..., :, None] * a.conj()[..., None, :]) / system.n_tx
    for b in range(5):
        candidates = grid.to(torch.complex128)[:, None, None] * direction[b]
        values = terms[torch.full((len(grid),), b)].wsnr(candidates, system)
        best = terms[[b]].wsnr(z[b].to(torch.complex128) * direction[b][None], system)[0]
        assert best >= values.max() - 1e-9
        assert best <= values.max() + gap[b] + 1e-6  # the grid's spacing is 5e-4 P_s


def test_the_reference_optimum_beats_random_search_and_every_scheme():
    system = SystemConfig(n_tx=4, n_rx=4, n_users=2, waveform_len=5, alpha=0.3, snr_c_db=15.0)
    scenario, terms = draw(system, 2, n=4, seed=8, width_deg=20.0)
    inputs = DirectionalInputs(terms, scenario.H, scenario.p, system)
    space = DesignSpace.of(terms)
    best = terms.wsnr(space.full(multistart_optimum(inputs)), system)
    for b in range(4):  # 20,000 random feasible covariances per sample
        R = random_covariances(20_000, system.n_tx, system.sensing_power, seed=b)
        values = terms[torch.full((20_000,), b)].wsnr(R, system)
        assert best[b] >= values.max() - 1e-9
    for name in ("average", "zero_power", "waterfilling", "price_prior", "traditional"):
        R_x = SCHEMES[name].design(inputs).sigma_s
        assert (terms.wsnr(R_x, system) <= best + 1e-9).all(), name


@pytest.mark.parametrize("n_targets", [1, 2])
def test_every_scheme_designs_a_feasible_covariance(n_targets):
    system = SYSTEM
    scenario, terms = draw(system, n_targets, seed=4)
    inputs = DirectionalInputs(terms, scenario.H, scenario.p, system)
    names, _ = select_schemes(None, system, target_model="directions")
    assert "zfbf" not in names
    for name in names:
        R_x = SCHEMES[name].design(inputs).sigma_s
        torch.testing.assert_close(R_x, R_x.mH, rtol=0.0, atol=1e-10)
        assert (torch.linalg.eigvalsh(R_x) >= -1e-9).all(), name
        trace = torch.diagonal(R_x, dim1=-2, dim2=-1).real.sum(-1)
        assert (trace <= system.sensing_power * (1 + 1e-9)).all(), name


def test_zero_forcing_is_refused_with_a_reason():
    with pytest.raises(checks.SettingsError, match=r"zfbf.*isotropic echo"):
        select_schemes(["zfbf"], SYSTEM, target_model="directions")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["target.n_targets=0"], r"target.n_targets must be an integer >= 1"),
        (["target.center_deg=80"], r"target: the sector .* inside \(-90, 90\)"),
        (["target.width_deg=200"], r"target: the sector .* inside \(-90, 90\)"),
        (["target.variances=[0.5,0.0]", "target.n_targets=2"], r"target.variances\[\] must be"),
        (["target.variances=[-1.0]"], r"target.variances\[\] must be"),
        (["target.spacing=0"], r"target.spacing must be"),
    ],
)
def test_bad_target_settings_are_refused(overrides, message):
    cfg = config("target=directions", *overrides)
    with pytest.raises(checks.SettingsError, match=message):
        target_of(cfg)


@pytest.mark.slow
def test_a_bad_target_stops_train_before_any_work(tmp_path):
    result = run_script(
        "train.py",
        *TINY,
        "target=directions",
        "target.n_targets=0",
        f"hydra.run.dir={tmp_path}",
        cwd=tmp_path,
    )
    assert result.returncode != 0
    assert "target.n_targets must be an integer >= 1" in result.stderr
    assert not (tmp_path / "checkpoints").exists()


def test_the_reference_optimum_matches_a_second_method():
    """scipy's SLSQP from 8 starts per sample, over R_x = X X^H (X complex N_t x N_t) with
    tr R_x <= P_s, an independent solver: the reference must reach its best."""
    from scipy.optimize import minimize

    system = SystemConfig(n_tx=3, n_rx=3, n_users=2, waveform_len=4, alpha=0.25, snr_c_db=15.0)
    scenario, terms = draw(system, 2, n=2, seed=21, width_deg=15.0)
    inputs = DirectionalInputs(terms, scenario.H, scenario.p, system)
    reference = terms.wsnr(DesignSpace.of(terms).full(multistart_optimum(inputs)), system)
    n_tx, power = system.n_tx, system.sensing_power
    rng = np.random.default_rng(0)
    for b in range(2):
        one = terms[[b]]

        def covariance(x: np.ndarray) -> torch.Tensor:
            X = torch.complex(
                torch.from_numpy(x[: n_tx * n_tx]), torch.from_numpy(x[n_tx * n_tx :])
            ).reshape(n_tx, n_tx)
            return (X @ X.mH)[None]

        def loss(x: np.ndarray, one: DirectionalTerms = one) -> float:
            return -one.wsnr(covariance(x), system).item()

        budget = {"type": "ineq", "fun": lambda x: power - float(np.sum(x**2))}
        best = max(
            -minimize(
                loss,
                rng.standard_normal(2 * n_tx * n_tx) * np.sqrt(power / (2 * n_tx * n_tx)),
                method="SLSQP",
                constraints=[budget],
                options={"maxiter": 400, "ftol": 1e-12},
            ).fun
            for _ in range(8)
        )
        assert reference[b].item() >= best - 1e-6


@pytest.mark.parametrize("option, steps", [("leader_steps", 10), ("newton_steps", 6)])
def test_the_steps_on_the_chosen_design_only_raise_directionnets_design(option, steps):
    # an untrained network proposes its fixed hypotheses; after one polish step each,
    # the further steps (projected gradient or Newton) on the design it would return
    # ascend, within budget (sensing weighs 0.7, so that no sample's best is zero power)
    system = dataclasses.replace(SYSTEM, alpha=0.7)
    scenario, terms = draw(system, 2, n=64, seed=3, width_deg=10.0)
    sigma_t, U_T, _ = eigen_inputs(scenario.targets.transmit_covariance())
    problem = ProblemBatch.from_estimate(
        scenario.H, scenario.p, sigma_t, system, GENIE, targets=scenario.targets, U_T=U_T
    )
    network = DirectionNet(system, n_targets=2, polish_steps=1).eval()
    with torch.no_grad():
        polished = terms.wsnr(network(problem), system)
        setattr(network, option, steps)
        R_x = network(problem)
    led = terms.wsnr(R_x, system)
    power = torch.diagonal(R_x, dim1=-2, dim2=-1).real.sum(-1)
    assert (power <= system.sensing_power * (1 + 1e-6)).all()
    assert (led >= polished * (1 - 1e-6)).all()  # float32 round-off of the returned R_x
    assert (led > polished * (1 + 1e-5)).sum() >= 8


@pytest.mark.slow
def test_directionnet_trains_and_nears_the_optimum(tmp_path):
    run = run_script(
        "train.py",
        *TINY,
        "target=directions",
        "target.n_targets=2",
        "channel=rician",
        "model=directional",
        "trainer.max_epochs=2",
        "data.n_test=64",
        "evaluation.enabled=true",
        "evaluation.schemes=[waterfilling,optimum]",
        f"hydra.run.dir={tmp_path}",
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["target"]["model"] == "directions"
    rows = metrics["evaluation"]
    assert rows["optimum"]["pct_of_optimum"] == pytest.approx(100.0)
    # the learned design (with its polish) stays within 1 % of the reference on average
    assert 99.0 <= rows["directional"]["pct_of_optimum"] <= 100.0 + 1e-6
    # the network designs in float32: its trace meets the budget to float32 round-off
    assert rows["directional"]["power_fraction"] <= 1.0 + 1e-6
    # the paper's ISACNN sends powers along the targets' transmit covariance
    isacnn = run_script(
        "train.py",
        *TINY,
        "target=directions",
        "target.n_targets=2",
        "channel=rician",
        "model=isacnn",
        "trainer.max_epochs=1",
        f"hydra.run.dir={tmp_path / 'isacnn'}",
        cwd=tmp_path,
    )
    assert isacnn.returncode == 0, isacnn.stderr
    # a network trained for one target model is refused for another, before any work
    other = run_script(
        "evaluate.py",
        f"run={tmp_path}",
        "target=directions",
        "target.n_targets=3",
        cwd=tmp_path,
    )
    assert other.returncode != 0
    assert "trained for target=directions with target.n_targets=2, not" in other.stderr


@pytest.mark.slow
def test_a_paper_network_is_refused_for_targets_at_directions(trained_run, tmp_path):
    result = run_script(
        "evaluate.py",
        f"run={trained_run}",
        "target=directions",
        f"hydra.run.dir={tmp_path}",
        cwd=tmp_path,
    )
    assert result.returncode != 0
    assert "it was trained for target=paper, not target=directions" in result.stderr


def test_a_universal_network_refuses_targets_at_directions():
    cfg = config("model=universal", "target=directions")
    with pytest.raises(checks.SettingsError, match=r"operating_points .* target=paper"):
        build_datamodule(cfg, SystemConfig())
