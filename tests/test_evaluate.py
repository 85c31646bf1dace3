"""evaluate.py end to end on a tiny trained run, the export's round trip, imperfect CSI,
the scheme selection, and bad input."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import evaluate_config, numpy_mmse_beams, run_script, water_filling_by_active_sets

from isac.checks import SettingsError
from isac.experiments.run_evaluation import evaluate
from isac.learning.checkpoints import load_checkpoint
from isac.learning.features import input_features

SCHEMES = ["average", "zfbf", "traditional", "waterfilling", "zero_power", "price_prior", "optimum"]


def numpy_comm_rate(
    H: np.ndarray,
    p: np.ndarray,
    echo: float,
    L: float,
    noise: float,
    beams: np.ndarray | None = None,
) -> float:
    """Rc of eq. (8) for one instance: MMSE beams by direct inversion (26), or given beams (7)."""
    n_rx, n_users = H.shape
    sinrs = []
    for k in range(n_users):
        if beams is None:
            R_k = sum(p[i] * np.outer(H[:, i], H[:, i].conj()) for i in range(n_users) if i != k)
            R_k = R_k + (echo / L + noise) * np.eye(n_rx)
            sinrs.append((p[k] * H[:, k].conj() @ np.linalg.solve(R_k, H[:, k])).real)
        else:
            w = beams[:, k]
            gains = [p[i] * abs(H[:, i] @ w) ** 2 for i in range(n_users)]
            sinrs.append(
                gains[k] / (sum(gains) - gains[k] + (echo / L + noise) * np.vdot(w, w).real)
            )
    return float(np.mean(np.log2(1 + np.array(sinrs))))


def test_evaluate_scores_the_network_and_every_baseline(trained_run, tmp_path):
    rows = evaluate(evaluate_config(f"run={trained_run}"), tmp_path)
    by_name = {row["scheme"]: row for row in rows}
    assert list(by_name) == ["isacnn", *SCHEMES]
    for name, row in by_name.items():
        assert row["pct_of_optimum"] <= 100.0 + 1e-7, name
        assert 0.0 <= row["power_fraction"] <= 1.0 + 1e-6
        assert row["ms_per_sample"] > 0
        # perfect CSI: the beams the BS forms are the ones the paper's metric assumes
        assert row["wsnr_bs_beams"] == pytest.approx(row["wsnr"], rel=1e-6)
    assert by_name["traditional"]["converged_fraction"] == 1.0
    assert by_name["zero_power"]["wsnr"] == pytest.approx(0.5)
    table = json.loads((tmp_path / "evaluation.json").read_text())
    assert table["settings"]["system"]["n_tx"] == 4 and len(table["table"]) == 1 + len(SCHEMES)
    assert (tmp_path / "evaluation.csv").read_text().startswith("scheme,wsnr,rate_s")


def test_predictions_export_round_trips_from_its_arrays_alone(trained_run, tmp_path):
    evaluate(evaluate_config(f"run={trained_run}"), tmp_path)
    data = np.load(tmp_path / "predictions.npz")
    H, p, sigma_t, R_T = data["H"], data["p"], data["sigma_t"], data["R_T"]
    n, n_rx, n_users = H.shape
    n_tx = sigma_t.shape[1]
    L, noise, P_s, alpha = (float(data[k]) for k in ("L", "noise_power", "P_s", "alpha"))
    assert H.dtype == np.complex128 and sigma_t.dtype == np.float64 and float(data["beta"]) == 1
    for name in ["isacnn", *SCHEMES]:
        for key in ("sigma_s", "wsnr", "rate_s", "rate_c"):
            assert data[f"{key}__{name}"].dtype == np.float64
    assert data["S__isacnn"].shape == (n, int(L), n_tx)
    assert data["W__isacnn"].shape == (n, n_rx, n_users)
    wsnr_numpy = {name: [] for name in ["isacnn", *SCHEMES]}
    for b in range(0, n, 7):
        covariance = H[b] @ np.diag(p[b]) @ H[b].conj().T
        sigma_h = 1.0 / (np.linalg.eigvalsh(covariance) + noise)
        np.testing.assert_allclose(np.linalg.eigvalsh(R_T[b])[::-1], sigma_t[b], atol=1e-12)
        max_s = n_rx * water_filling_by_active_sets(sigma_t[b] / noise, P_s) / (L * np.log(2))

        max_c = numpy_comm_rate(H[b], p[b], 0.0, L, noise)
        for name in [
            "isacnn",
            "average",
            "traditional",
            "waterfilling",
            "zero_power",
            "price_prior",
            "optimum",
        ]:
            sigma_s = data[f"sigma_s__{name}"][b]
            rate_s = np.sum(np.log2(1 + np.outer(sigma_t[b] * sigma_s, sigma_h))) / L
            rate_c = numpy_comm_rate(H[b], p[b], float(sigma_t[b] @ sigma_s), L, noise)
            wsnr = alpha * rate_s / max_s + (1 - alpha) * rate_c / max_c
            assert data[f"rate_s__{name}"][b] == pytest.approx(rate_s, rel=1e-9)
            assert data[f"rate_c__{name}"][b] == pytest.approx(rate_c, rel=1e-9)
            assert data[f"wsnr__{name}"][b] == pytest.approx(wsnr, rel=1e-9)
            wsnr_numpy[name].append(wsnr)
        # the exported waveform and beams reproduce the network's rate through eq. (7)
        S = data["S__isacnn"][b]
        echo = np.trace(S @ R_T[b] @ S.conj().T).real
        assert echo == pytest.approx(sigma_t[b] @ data["sigma_s__isacnn"][b], rel=1e-5)
        assert numpy_comm_rate(H[b], p[b], echo, L, noise, data["W__isacnn"][b]) == pytest.approx(
            data["rate_c__isacnn"][b], rel=1e-4
        )
    # every sample's WSNR checked above; the table's share of the optimum is their mean ratio
    rows = {
        row["scheme"]: row
        for row in json.loads((tmp_path / "evaluation.json").read_text())["table"]
    }
    all_wsnr = {name: data[f"wsnr__{name}"] for name in wsnr_numpy if name != "zfbf"}
    for name, values in all_wsnr.items():
        expected = 100.0 * values.mean() / all_wsnr["optimum"].mean()
        assert rows[name]["pct_of_optimum"] == pytest.approx(expected, rel=1e-9)
        worst = 100.0 * (values / all_wsnr["optimum"]).min()
        assert rows[name]["worst_pct_of_optimum"] == pytest.approx(worst, rel=1e-9)


def network_powers(checkpoint: Path, data) -> np.ndarray:
    """sigma_s of the network in ``checkpoint`` for the exported test inputs."""
    network = load_checkpoint(checkpoint).network
    features = input_features(
        torch.as_tensor(data["H_hat"]).to(torch.complex64),
        torch.as_tensor(data["p"], dtype=torch.float32),
        torch.as_tensor(data["sigma_t"], dtype=torch.float32),
        float(data["noise_power"]),
    )
    with torch.no_grad():
        return network.from_features(features).double().numpy()


def test_checkpoint_last_and_a_checkpoint_path_are_evaluated(trained_run, tmp_path):
    last = trained_run / "checkpoints" / "last.ckpt"
    # a checkpoint of its own: last.ckpt with the eta head's bias moved, so it spends less power
    altered = torch.load(last, weights_only=True)
    altered["state_dict"]["network.head.eta.bias"] -= 3.0
    other = tmp_path / "altered.ckpt"
    torch.save(altered, other)
    for choice, used in (("checkpoint=last", last), (f"checkpoint={other}", other)):
        evaluate(evaluate_config(f"run={trained_run}", choice, "schemes=[]"), tmp_path / "out")
        data = np.load(tmp_path / "out" / "predictions.npz")
        np.testing.assert_allclose(data["sigma_s__isacnn"], network_powers(used, data), rtol=1e-6)
    assert not np.allclose(network_powers(last, data), network_powers(other, data), rtol=1e-3)


def test_imperfect_csi_beams_from_the_estimate_differ_from_the_papers_metric(trained_run, tmp_path):
    rows = evaluate(
        evaluate_config(f"run={trained_run}", "csi.beta=0.5", "schemes=[average,zfbf,optimum]"),
        tmp_path,
    )
    data = np.load(tmp_path / "predictions.npz")
    assert float(data["beta"]) == 0.5 and not np.allclose(data["H"], data["H_hat"])
    for row in rows:
        # beams formed from H_hat lose against the paper's beams of the true H
        assert row["rate_c_bs_beams"] < row["rate_c"] - 1e-3, row["scheme"]
        assert row["wsnr_bs_beams"] < row["wsnr"] - 1e-4, row["scheme"]
    # the BS-beam rate, recomputed by numpy: MMSE beams of H_hat, scored on H
    L, noise = float(data["L"]), float(data["noise_power"])
    for name in ("isacnn", "average", "optimum"):
        rate = [
            numpy_comm_rate(
                data["H"][b],
                data["p"][b],
                float(data["sigma_t"][b] @ data[f"sigma_s__{name}"][b]),
                L,
                noise,
                numpy_mmse_beams(
                    data["H_hat"][b],
                    data["p"][b],
                    float(data["sigma_t"][b] @ data[f"sigma_s__{name}"][b]),
                    L,
                    noise,
                ),
            )
            for b in range(len(data["H"]))
        ]
        (row,) = [r for r in rows if r["scheme"] == name]
        assert row["rate_c_bs_beams"] == pytest.approx(np.mean(rate), rel=1e-4)


def test_default_schemes_skip_what_cannot_serve_the_system(tmp_path, caplog):
    overloaded = [
        "baselines_only=true",
        "system.n_tx=8",
        "system.n_rx=4",
        "system.n_users=6",
        "system.waveform_len=10",
        "data.n_test=16",
    ]
    rows = evaluate(evaluate_config(*overloaded), tmp_path)
    assert [row["scheme"] for row in rows] == [n for n in SCHEMES if n != "zfbf"]
    note = "skipped scheme zfbf: zero-forcing needs system.n_users <= system.n_rx, got 6 > 4"
    assert note in caplog.text
    assert json.loads((tmp_path / "evaluation.json").read_text())["settings"]["skipped"] == [note]
    with pytest.raises(SettingsError, match=r"schemes: scheme zfbf cannot run"):
        evaluate(evaluate_config(*overloaded, "schemes=[average,zfbf]"), tmp_path)


def test_baselines_alone_for_any_system(tmp_path):
    rows = evaluate(
        evaluate_config(
            "baselines_only=true",
            "system.n_tx=3",
            "system.n_rx=3",
            "system.n_users=2",
            "system.waveform_len=4",
            "data.n_test=16",
            "schemes=[average,optimum]",
        ),
        tmp_path,
    )
    assert [row["scheme"] for row in rows] == ["average", "optimum"]
    assert np.load(tmp_path / "predictions.npz")["H"].shape == (16, 3, 2)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["system.n_rx=8"], r"trained for system.n_rx=4, but system.n_rx=8 was requested"),
        (["system.snr_s_db=20"], r"trained for system.snr_s_db=10.0"),
        (["checkpoint=/nowhere/model.ckpt"], r"checkpoint '/nowhere/model.ckpt' does not exist"),
        (["schemes=[average,genetic]"], r"schemes\[\] must be one of"),
    ],
)
def test_bad_requests_are_refused(trained_run, tmp_path, overrides, message):
    with pytest.raises(SettingsError, match=message):
        evaluate(evaluate_config(f"run={trained_run}", *overrides), tmp_path)


def test_a_missing_run_is_refused(tmp_path):
    with pytest.raises(
        SettingsError, match=r"run=<training run directory> or pretrained=<name> is"
    ):
        evaluate(evaluate_config(), tmp_path)
    with pytest.raises(SettingsError, match=r"is not a training run directory"):
        evaluate(evaluate_config(f"run={tmp_path}"), tmp_path)
    with pytest.raises(SettingsError, match=r"give run=<run directory> or pretrained=<name>, not"):
        evaluate(evaluate_config(f"run={tmp_path}", "pretrained=isacnn"), tmp_path)


@pytest.mark.slow
def test_cli_prints_the_table_and_fails_cleanly(trained_run, tmp_path):
    def cli(*args: str) -> subprocess.CompletedProcess:
        return run_script("evaluate.py", *args, cwd=tmp_path)

    good = cli(f"run={trained_run}", "schemes=[average,traditional]")
    assert good.returncode == 0, good.stderr
    assert "isacnn" in good.stdout and "traditional" in good.stdout
    assert (trained_run / "evaluation" / "evaluation.csv").is_file()
    missing = tmp_path / "no-such-run"
    bad = cli(f"run={missing}")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "is not a training run directory" in bad.stderr
    assert not missing.exists()  # nothing is created for a run that is not there
