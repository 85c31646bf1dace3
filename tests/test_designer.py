"""The design API (isac.designer) against independent float64 numpy references, its
checks of bad input, and the ONNX export against onnxruntime."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
import torch
from helpers import TINY, config, numpy_mmse_beams, water_filling_by_active_sets

from isac.checks import SettingsError
from isac.designer import Designer
from isac.designer.pipelines import eigen_inputs
from isac.designer.timed import BLOCK_CALLS, WARM_UP_CALLS, interleaved_median_ms
from isac.experiments.export import export_onnx
from isac.learning.training import build_module
from isac.physics.scenario import sample_scenario
from isac.physics.system import SystemConfig


@pytest.fixture(scope="module")
def designer(trained_run) -> Designer:
    return Designer.from_run(trained_run)


def inputs(system: SystemConfig, n: int = 8, beta: float = 1.0):
    scenario = sample_scenario(system, n, beta=beta, seed=3, split="test").to(torch.float32)
    return scenario.R_T, scenario.H_hat, scenario.p


def numpy_network_input(R_T: np.ndarray, H: np.ndarray, p: np.ndarray, noise: float):
    """Features (29) and (sigma_t, U_T) of one sample, from numpy's float64 EVD."""
    eigenvalues, vectors = np.linalg.eigh(R_T.astype(np.complex128))
    sigma_t, U_T = eigenvalues[::-1].clip(0.0), vectors[:, ::-1]
    g = H.astype(np.complex128) * np.sqrt(p / noise)[None, :]
    rows = g.T.reshape(-1)
    return np.concatenate([rows.real, rows.imag, sigma_t]), sigma_t, U_T


def test_a_learned_design_matches_float64_numpy_for_one_sample_and_a_batch(designer):
    system = designer.system
    assert designer._single is not None  # ISACNN compiles to numpy
    R_T, H, p = inputs(system)
    batch = designer(R_T, H, p)
    for i in range(len(R_T)):
        single = designer(R_T[i], H[i], p[i])  # the numpy single-sample pipeline
        features, sigma_t, U_T = numpy_network_input(
            R_T[i].numpy(), H[i].numpy(), p[i].numpy(), 1.0
        )
        with torch.no_grad():
            sigma_s = designer._pipeline.network.from_features(
                torch.tensor(features[None], dtype=torch.float32)
            )
        sigma_s = sigma_s[0].double().numpy()
        # S^H S = U_T diag(sigma_s) U_T^H (31) and the MMSE beams (32), normalised (20b)
        echo = float(sigma_t @ sigma_s)
        beams = numpy_mmse_beams(
            H[i].numpy().astype(np.complex128),
            p[i].numpy(),
            echo,
            system.waveform_len,
            system.noise_power,
        )
        beams = beams / (np.sqrt(p[i].numpy()) * np.einsum("rk,rk->k", H[i].numpy(), beams))
        for design in (single, type(single)(*(x[i] for x in batch))):
            np.testing.assert_allclose(design.sigma_s.numpy(), sigma_s, rtol=1e-4, atol=1e-5)
            S = design.S.numpy().astype(np.complex128)
            assert S.shape == (system.waveform_len, system.n_tx)
            np.testing.assert_allclose(
                S.conj().T @ S, (U_T * sigma_s) @ U_T.conj().T, atol=1e-4 * system.sensing_power
            )
            np.testing.assert_allclose(design.W.numpy(), beams, rtol=2e-3, atol=2e-4)


def test_one_sample_takes_arrays_and_any_precision_and_agrees_with_the_batch(designer):
    R_T, H, p = inputs(designer.system, n=3)
    batch = designer(R_T, H, p)
    arrays = designer(R_T[1].numpy(), H[1].numpy(), p[1].numpy())
    R_double = R_T[1].to(torch.complex128)
    R_double = (R_double + R_double.mH) / 2  # Hermitian to float64 round-off, as checked
    double = designer(R_double, H[1].to(torch.complex128), p[1].double())
    assert double.S.dtype == torch.complex128 and double.sigma_s.dtype == torch.float64
    for out in (arrays, double):
        np.testing.assert_allclose(out.sigma_s.numpy(), batch.sigma_s[1].numpy(), rtol=1e-4)
        np.testing.assert_allclose(out.W.numpy(), batch.W[1].numpy(), rtol=1e-4, atol=1e-5)
        # S up to the eigenvectors' phases, which differ between float32 and float64 EVDs
        np.testing.assert_allclose(
            (out.S.mH @ out.S).numpy(), (batch.S[1].mH @ batch.S[1]).numpy(), atol=1e-4
        )
    # a PriceNet runs its single samples as its static graph in onnxruntime, or, without
    # onnxruntime, in torch, saying why
    system = designer.system
    module = build_module(config(*TINY, "model=pricenet"), system)
    price = Designer.from_module(module)
    if importlib.util.find_spec("onnxruntime") is None:
        assert price.single_sample_path.startswith("torch (onnxruntime is not installed")
    else:
        assert price.single_sample_path == "onnxruntime"
    one, many = price(R_T[0], H[0], p[0]), price(R_T, H, p)
    np.testing.assert_allclose(one.W.numpy(), many.W[0].numpy(), rtol=1e-5, atol=1e-6)


def numpy_wsnr(sigma_s, sigma_t, H, p, system: SystemConfig) -> float:
    """(28) of one sample in float64 numpy, every term from its definition: (14) with the
    eigenvalues of R_H, (26) with the beams (25) by direct inversion, M_s (39) by
    brute-force water-filling and M_c (40) as (26) without echo."""
    L, noise = system.waveform_len, system.noise_power
    sigma_h = 1.0 / (np.linalg.eigvalsh((H * p) @ H.conj().T) + noise)

    def comm(echo: float) -> float:
        beams = numpy_mmse_beams(H, p, echo, L, noise)
        gains = np.abs(H.T @ beams) ** 2 * p[:, None]
        signal = np.diag(gains)
        level = (echo / L + noise) * np.sum(np.abs(beams) ** 2, axis=0)
        return float(np.mean(np.log2(1 + signal / (gains.sum(axis=0) - signal + level))))

    rate_s = np.sum(np.log2(1 + np.outer(sigma_t * sigma_s, sigma_h))) / L
    max_s = system.n_rx * water_filling_by_active_sets(sigma_t / noise, system.sensing_power)
    max_s /= L * np.log(2)
    alpha = system.alpha
    return alpha * rate_s / max_s + (1 - alpha) * comm(float(sigma_t @ sigma_s)) / comm(0.0)


def test_every_registered_scheme_designs_through_the_api():
    system = SystemConfig(n_tx=4, n_rx=4, n_users=2, waveform_len=6)
    R_T, H, p = (
        x.double() if not x.is_complex() else x.to(torch.complex128) for x in inputs(system, n=4)
    )
    R_T = (R_T + R_T.mH) / 2
    values = {}
    for name in ("average", "zfbf", "waterfilling", "zero_power", "price_prior", "optimum"):
        out = Designer.from_scheme(name, system)(R_T, H, p)
        single = Designer.from_scheme(name, system)(R_T[0], H[0], p[0])
        assert single.sigma_s.shape == (system.n_tx,) and single.W.shape == (4, 2)
        np.testing.assert_allclose(single.sigma_s.numpy(), out.sigma_s[0].numpy(), atol=1e-9)
        values[name] = []
        for i in range(4):
            sigma_t, U_T = (x[..., ::-1] for x in np.linalg.eigh(R_T[i].numpy()))
            sigma_s, Hi, pi = out.sigma_s[i].numpy(), H[i].numpy(), p[i].numpy()
            assert sigma_s.min() >= 0 and sigma_s.sum() <= system.sensing_power * (1 + 1e-9)
            S = out.S[i].numpy()  # (31): S^H S = U_T diag(sigma_s) U_T^H
            np.testing.assert_allclose(S.conj().T @ S, (U_T * sigma_s) @ U_T.conj().T, atol=1e-9)
            W = out.W[i].numpy()
            if name == "zfbf":  # zero-forcing: h_i^T w_k = [i = k]
                np.testing.assert_allclose(Hi.T @ W, np.eye(2), atol=1e-9)
            else:  # the MMSE beams (25), normalised by (20b)
                beams = numpy_mmse_beams(Hi, pi, float(sigma_t @ sigma_s), 6, 1.0)
                beams = beams / (np.sqrt(pi) * np.einsum("rk,rk->k", Hi, beams))
                np.testing.assert_allclose(W, beams, rtol=1e-8, atol=1e-10)
            values[name].append(numpy_wsnr(sigma_s, sigma_t, Hi, pi, system))
        values[name] = np.array(values[name])
    # the closed-form designs, from their definitions
    sigma_t = np.linalg.eigvalsh(R_T.numpy())[:, ::-1]
    average = Designer.from_scheme("average", system)(R_T, H, p).sigma_s.numpy()
    np.testing.assert_allclose(average, system.sensing_power / system.n_tx)
    filled = Designer.from_scheme("waterfilling", system)(R_T, H, p).sigma_s.numpy()
    for i in range(4):
        best = water_filling_by_active_sets(sigma_t[i], system.sensing_power)
        assert np.log1p(sigma_t[i] * filled[i]).sum() == pytest.approx(best, rel=1e-10)
    np.testing.assert_allclose(values["zero_power"], 1 - system.alpha)
    # the optimum's (28), recomputed in numpy, is the best of all
    for name, value in values.items():
        assert (value <= values["optimum"] * (1 + 1e-9)).all(), name


def test_bad_input_is_refused_with_the_argument_named(designer):
    system = designer.system
    R_T, H, p = inputs(system, n=2)
    with pytest.raises(SettingsError, match=r"H_hat must have shape \[2, 4, 2\]"):
        designer(R_T, H[:, :, :1], p)
    with pytest.raises(SettingsError, match=r"R_T must have shape \[4, 4\]"):
        designer(R_T[0, :3, :3], H[0], p[0])
    with pytest.raises(
        SettingsError, match="R_T must be complex64 or complex128, got torch.float32"
    ):
        designer(R_T.real, H, p)
    bad = H.clone()
    bad[1, 0, 0] = float("nan")
    with pytest.raises(SettingsError, match="H_hat must be finite"):
        designer(R_T, bad, p)
    with pytest.raises(SettingsError, match="p must be >= 0"):
        designer(R_T, H, -p)
    skewed = R_T.clone()
    skewed[0, 0, 1] += 0.5
    with pytest.raises(SettingsError, match="R_T must be Hermitian"):
        designer(skewed, H, p)
    indefinite = R_T - 2 * torch.linalg.eigvalsh(R_T)[:, -1, None, None] * torch.eye(4)
    with pytest.raises(SettingsError, match="R_T must be positive semidefinite"):
        designer(indefinite, H, p)
    with pytest.raises(SettingsError, match="R_T must be positive semidefinite"):
        Designer.from_scheme("average", system)(indefinite, H, p)
    # one sample runs the numpy pipeline and its own checks: refused alike
    with pytest.raises(SettingsError, match="H_hat must be finite"):
        designer(R_T[1], bad[1], p[1])
    one_infinite = R_T[0].clone()
    one_infinite[0, 1] = float("inf")  # |R - R^H| is inf there, not NaN
    with pytest.raises(SettingsError, match="R_T must be finite"):
        designer(one_infinite, H[0], p[0])
    with pytest.raises(SettingsError, match="p must be >= 0"):
        designer(R_T[0], H[0], -p[0])
    for value in ("nan", "inf"):
        with pytest.raises(SettingsError, match="p must be finite"):
            designer(R_T[0], H[0], p[0] + float(value))
    with pytest.raises(SettingsError, match="R_T must be Hermitian"):
        designer(skewed[0], H[0], p[0])
    with pytest.raises(SettingsError, match="R_T must be positive semidefinite"):
        designer(indefinite[0], H[0], p[0])
    with pytest.raises(SettingsError, match="p must have shape"):
        designer(R_T[0], H[0], p)
    # check=False skips the value checks, not the shape checks
    designer(indefinite, H, p, check=False)
    with pytest.raises(SettingsError, match="H_hat must have shape"):
        designer(R_T, H[:, :, :1], p, check=False)


def test_designers_refuse_what_they_cannot_serve(trained_run):
    with pytest.raises(SettingsError, match="system.n_tx=4, but system.n_tx=16"):
        Designer.from_run(trained_run, system=SystemConfig())
    with pytest.raises(SettingsError, match="scheme must be one of"):
        Designer.from_scheme("isacnn")
    with pytest.raises(SettingsError, match="n_users <= system.n_rx|zfbf"):
        Designer.from_scheme("zfbf", SystemConfig(n_rx=4, n_tx=8, n_users=6))
    with pytest.raises(SettingsError, match="does not exist"):
        Designer.from_run(trained_run / "nowhere")


def test_onnx_export_matches_pytorch_under_onnxruntime(trained_run, tmp_path):
    onnxruntime = pytest.importorskip("onnxruntime")
    onnx_path, json_path = export_onnx(trained_run, out_dir=tmp_path)
    metadata = json.loads(json_path.read_text())
    designer = Designer.from_run(trained_run)
    system = designer.system
    assert metadata["system"] == system.to_dict()
    assert metadata["input"]["shape"] == ["n", 2 * system.n_rx * system.n_users + system.n_tx]
    assert metadata["onnxruntime_max_abs_difference"] <= 1e-5
    # independently of the export's own check: features built from the metadata's
    # description in numpy, run by onnxruntime, against the PyTorch network
    R_T, H, p = inputs(system, n=16)
    features = np.stack(
        [numpy_network_input(R_T[i].numpy(), H[i].numpy(), p[i].numpy(), 1.0)[0] for i in range(16)]
    ).astype(np.float32)
    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    (exported,) = session.run(None, {"features": features})
    np.testing.assert_allclose(exported, designer(R_T, H, p).sigma_s.numpy(), atol=1e-5)
    (one,) = session.run(None, {"features": features[:1]})
    np.testing.assert_allclose(one, exported[:1], atol=1e-6)


def test_export_refuses_a_run_without_checkpoint(tmp_path):
    with pytest.raises(SettingsError, match="does not exist; train the run first"):
        export_onnx(tmp_path)


def test_interleaved_timing_runs_every_call_on_every_sample_in_turn():
    """Table I's ratios: the designs and the floor take turns in blocks of samples, the
    first of each turn rotating, each block after one untimed call, all after the
    warm-up calls."""
    order = []
    calls = {name: (lambda i, name=name: order.append((name, i))) for name in "abc"}
    count = 2 * BLOCK_CALLS + 3
    times = interleaved_median_ms(calls, count)
    assert set(times) == {"a", "b", "c"} and all(t >= 0.0 for t in times.values())
    expected = [(name, i) for i in range(min(WARM_UP_CALLS, count)) for name in "abc"]
    blocks = [
        range(0, BLOCK_CALLS),
        range(BLOCK_CALLS, 2 * BLOCK_CALLS),
        range(2 * BLOCK_CALLS, count),
    ]
    for block, turn in zip(blocks, ["abc", "bca", "cab"], strict=True):
        for name in turn:
            expected += [(name, block[0])] + [(name, i) for i in block]
    assert order == expected


@pytest.mark.parametrize("dtype", [np.complex128, np.complex64])
def test_eigen_inputs_of_one_array_satisfy_the_evd_and_match_the_tensor_path(dtype):
    """The one-sample path's EVD (LAPACK's ?heevd) against its definition, R_T U = U diag,
    in float64, and against torch's EVD of the same matrix."""
    R_T = sample_scenario(SystemConfig(), 1, seed=3).R_T[0].numpy()
    R_T = (R_T - 0.1 * np.eye(len(R_T))).astype(dtype)  # negative eigenvalues: clamped at 0
    assert np.linalg.eigvalsh(R_T)[0] < -0.01
    sigma_t, U_T, lowest = eigen_inputs(R_T)
    reference = np.linalg.eigvalsh(R_T.astype(np.complex128))
    eps = 100 * np.finfo(R_T.real.dtype).eps * np.abs(reference).max()
    assert sigma_t.dtype == R_T.real.dtype and U_T.dtype == R_T.dtype
    np.testing.assert_allclose(lowest, reference[0], atol=eps)
    np.testing.assert_allclose(sigma_t, np.maximum(reference[::-1], 0.0), atol=eps)
    R, U = R_T.astype(np.complex128), U_T.astype(np.complex128)
    eigenvalues = reference[::-1]
    np.testing.assert_allclose(R @ U, U * eigenvalues, atol=10 * eps)
    np.testing.assert_allclose(U.conj().T @ U, np.eye(len(U)), atol=100 * np.finfo(dtype).eps)
    torch_sigma, _, torch_lowest = eigen_inputs(torch.from_numpy(R_T))
    np.testing.assert_allclose(sigma_t, torch_sigma.numpy(), atol=eps)
    assert abs(lowest - torch_lowest.item()) <= eps
