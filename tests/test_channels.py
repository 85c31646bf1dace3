"""Channel sources beyond the paper's Rayleigh users: channel files (.npz, .mat v5 and
v7.3, HDF5) and TR 38.901 drops from Sionna; their splits, pools, power control, cache and
every bad input refused in one line before any work."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from helpers import config, evaluate_config, run_script
from scipy.io import savemat

from isac import checks
from isac.config import DataConfig, channel_of
from isac.experiments.run_evaluation import evaluate
from isac.experiments.training_job import train
from isac.learning.data import ISACDataModule, checked_objective
from isac.learning.training import build_datamodule, system_from_config
from isac.physics.channel_files import write_channel_file
from isac.physics.channels import ChannelConfig
from isac.physics.scenario import sample_scenario
from isac.physics.system import SystemConfig
from isac.physics.targets import PAPER

SYSTEM = SystemConfig(n_tx=3, n_rx=4, n_users=2, waveform_len=6)
ROWS = (30, 10, 12)
SIZES = ["system.n_tx=3", "system.n_rx=4", "system.n_users=2", "system.waveform_len=6"]
BLOCKS = ["data.n_train=30", "data.n_val=10", "data.n_test=12"]


def scenario_arrays(beta: float = 0.7) -> dict[str, np.ndarray]:
    """The training, validation and test sets of SYSTEM (ROWS samples, seed 0) in the
    order a channel file splits by, as scripts/write_channels.py writes them."""
    sets = [
        sample_scenario(SYSTEM, n, beta=beta, seed=0, split=split)
        for split, n in zip(("train", "val", "test"), ROWS, strict=True)
    ]
    return {k: torch.cat([getattr(s, k) for s in sets]).numpy() for k in ("H", "H_hat", "p", "R_T")}


def file_channel(path, rows=ROWS) -> ChannelConfig:
    return ChannelConfig(model="file", path=str(path), split_rows=rows)


def write_mat73(path, arrays: dict[str, np.ndarray]) -> None:
    """A MATLAB v7.3 MAT-file as MATLAB writes one: HDF5 behind a 512-byte header, arrays
    column-major (the axes reversed), complex numbers the compound {real, imag}."""
    import h5py

    with h5py.File(path, "w", userblock_size=512) as f:
        for key, value in arrays.items():
            stored = np.ascontiguousarray(value.transpose())
            if np.iscomplexobj(stored):
                compound = np.empty(stored.shape, dtype=[("real", "<f8"), ("imag", "<f8")])
                compound["real"], compound["imag"] = stored.real, stored.imag
                stored = compound
            f.create_dataset(key, data=stored)
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Tue Dec  1 2026 HDF5 schema"
    with open(path, "r+b") as f:
        f.write(header.ljust(116, b" "))


@pytest.mark.parametrize("suffix", [".npz", ".mat", ".h5", "mat73"])
def test_a_written_file_gives_back_the_scenario_it_was_written_from(tmp_path, suffix):
    """Every format round-trips H, H_hat and p exactly and R_T to round-off; the test set
    is the file's last rows and validation the rows before them, training its first."""
    arrays = scenario_arrays()
    path = tmp_path / ("c.mat" if suffix == "mat73" else f"c{suffix}")
    if suffix == "mat73":
        write_mat73(path, arrays)
    else:
        write_channel_file(path, arrays)
    for split, n in zip(("train", "val", "test"), ROWS, strict=True):
        read = sample_scenario(SYSTEM, n, beta=0.7, seed=0, split=split, channel=file_channel(path))
        drawn = sample_scenario(SYSTEM, n, beta=0.7, seed=0, split=split)
        assert torch.equal(read.H, drawn.H) and torch.equal(read.H_hat, drawn.H_hat)
        assert torch.equal(read.p, drawn.p)
        assert torch.allclose(read.sigma_t, drawn.sigma_t, rtol=0, atol=1e-12)
        assert torch.allclose(read.R_T, drawn.R_T, rtol=0, atol=1e-12)


def test_a_matlab_file_with_one_user_keeps_its_dropped_trailing_dimension(tmp_path):
    """MATLAB stores [n, N_r, 1] as [n, N_r]; the reader restores the users' axis."""
    system = SystemConfig(n_tx=3, n_rx=4, n_users=1, waveform_len=6)
    H = sample_scenario(system, 60, seed=1).H.numpy()
    savemat(tmp_path / "one.mat", {"H": H[..., 0]})
    channel = file_channel(tmp_path / "one.mat", (30, 10, 20))
    read = sample_scenario(system, 20, beta=1.0, seed=0, split="test", channel=channel)
    assert torch.equal(read.H, torch.from_numpy(H[40:]))
    assert torch.equal(read.H_hat, read.H)  # no estimates: the BS knows H (beta = 1)
    assert torch.all(read.p == system.user_power)


def test_derived_splits_draw_distinct_rows_of_their_block(tmp_path):
    arrays = scenario_arrays()
    write_channel_file(tmp_path / "c.npz", arrays)
    channel = file_channel(tmp_path / "c.npz")
    group = sample_scenario(SYSTEM, 8, beta=0.7, seed=0, split="val-3", channel=channel)
    block = torch.from_numpy(arrays["H"][30:40])
    rows = [int(torch.nonzero((block == h).all(dim=(1, 2)))[0]) for h in group.H]
    assert len(set(rows)) == 8  # distinct rows, all inside the validation block
    again = sample_scenario(SYSTEM, 8, beta=0.7, seed=0, split="val-3", channel=channel)
    assert torch.equal(group.H, again.H)
    for split, n in (("val-4", 11), ("train@24", 7), ("test", 13)):  # past their blocks
        with pytest.raises(checks.SettingsError, match=f"the {split} set of {n} samples needs"):
            sample_scenario(SYSTEM, n, beta=0.7, seed=0, split=split, channel=channel)


def test_the_config_takes_the_file_and_its_blocks_from_data(tmp_path):
    cfg = config("channel=file", f"data.channel_file={tmp_path / 'c.npz'}", "data.n_val=7")
    channel = channel_of(cfg)
    assert channel.path == str(tmp_path / "c.npz") and channel.split_rows == (8000, 7, 2000)
    with pytest.raises(checks.SettingsError, match=r"^channel.path is not a setting"):
        channel_of(config("channel=file", "+channel.path=x.npz"))
    with pytest.raises(checks.SettingsError, match="needs data.channel_file"):
        channel_of(config("channel=file"))


def bad_file(tmp_path, name: str, **changes) -> str:
    arrays = scenario_arrays()
    for key, value in changes.items():
        if value is None:
            arrays.pop(key)
        else:
            arrays[key] = value
    path = tmp_path / name
    write_channel_file(path, arrays)
    return str(path)


def test_every_bad_file_is_refused_in_one_line_before_any_work(tmp_path):
    arrays = scenario_arrays()
    nan = arrays["H"].copy()
    nan[33, 1, 0] = np.nan
    negative = arrays["p"].copy()
    negative[2, 1] = -1.0
    skew = arrays["R_T"].copy()
    skew[5, 0, 1] += 1.0
    (tmp_path / "notes.txt").write_text("H")
    cases = {
        str(tmp_path / "missing.npz"): "does not exist",
        str(tmp_path / "notes.txt"): r"unknown format \.txt",
        bad_file(tmp_path, "noh.npz", H=None): "has no key H ",
        bad_file(tmp_path, "shape.npz", p=arrays["p"][:, :1]): r"key p has shape \[52, 1\]",
        bad_file(tmp_path, "rows.npz", p=arrays["p"][:50]): r"key p has shape \[50, 2\]",
        bad_file(tmp_path, "nan.h5", H=nan): r"key H holds NaN or inf \(row 33\)",
        bad_file(tmp_path, "negative.npz", p=negative): "key p must be real and >= 0",
        bad_file(tmp_path, "skew.npz", R_T=skew): "R_T must be Hermitian",
        bad_file(tmp_path, "nohat.npz", H_hat=None): "has no key H_hat",
    }
    for path, message in cases.items():
        cfg = config(*SIZES, *BLOCKS, "channel=file", f"data.channel_file={path}", "csi.beta=0.7")
        with pytest.raises(checks.SettingsError, match=message) as error:
            build_datamodule(cfg, system_from_config(cfg))
        assert "\n" not in str(error.value)
    cfg = config("channel=file", f"data.channel_file={bad_file(tmp_path, 'ok.npz')}")
    with pytest.raises(checks.SettingsError, match=r"but the system needs \[n, 16, 5\]"):
        build_datamodule(cfg, system_from_config(cfg))
    cfg = config(*SIZES, "channel=file", f"data.channel_file={tmp_path / 'ok.npz'}")
    with pytest.raises(checks.SettingsError, match="holds 52 samples, fewer than"):
        build_datamodule(cfg, system_from_config(cfg))


def test_what_a_channel_file_cannot_serve_is_refused(tmp_path):
    path = bad_file(tmp_path, "ok.npz")
    channel = file_channel(path)
    with pytest.raises(checks.SettingsError, match="channel=file gives them"):
        checked_objective("realised", "robust", 0.5, PAPER, channel)
    with pytest.raises(checks.SettingsError, match=r"serves the splits .* not 'compile-check'"):
        sample_scenario(SYSTEM, 4, beta=0.7, split="compile-check", channel=channel)
    cfg = config(
        *SIZES,
        "model=universal",
        "channel=file",
        f"data.channel_file={path}",
        *BLOCKS,
        "data.operating_points.n_tx=[3,3]",
        "data.grid_points=2",
    )
    with pytest.raises(checks.SettingsError, match=r"operating_points.n_rx must be \[4, 4\]"):
        build_datamodule(cfg, system_from_config(cfg))


def test_a_data_module_trains_on_the_file_it_is_given(tmp_path):
    path = bad_file(tmp_path, "ok.npz")
    data = DataConfig(n_train=ROWS[0], n_val=ROWS[1], n_test=ROWS[2])
    module = ISACDataModule(SYSTEM, data, beta=0.7, receiver="robust", channel=file_channel(path))
    test = module.problem_set("test")
    assert torch.equal(test.problem.H_hat, torch.from_numpy(scenario_arrays()["H_hat"][40:]))


# -- TR 38.901 (the optional extra) ---------------------------------------------------


@pytest.fixture
def cache(tmp_path, monkeypatch):
    pytest.importorskip("sionna")
    monkeypatch.setenv("ISAC_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "tr38901"


def test_tr38901_drops_are_seeded_cached_and_leave_torch_s_stream_alone(cache):
    from isac.physics.tr38901 import CHUNK, path_sums

    channel = ChannelConfig(model="tr38901", scenario="umi")
    torch.manual_seed(5)
    expected_next = torch.rand(3)
    torch.manual_seed(5)
    first = path_sums(channel, SYSTEM, 50, seed=0, split="test")
    assert torch.equal(torch.rand(3), expected_next)  # Sionna's seeding undone
    assert first.shape == (50, SYSTEM.n_rx, SYSTEM.n_users) and first.dtype == torch.complex128
    files = sorted(cache.glob("*.npy"))
    assert len(files) == 1 and np.load(files[0]).shape == (CHUNK, 4, 2)
    files[0].unlink()  # generated again from its seed: the same drops
    assert torch.equal(path_sums(channel, SYSTEM, 50, seed=0, split="test"), first)
    other = path_sums(channel, SYSTEM, 50, seed=0, split="val")
    assert not torch.equal(other, first)
    uma = path_sums(
        ChannelConfig(model="tr38901", scenario="uma"), SYSTEM, 50, seed=0, split="test"
    )
    assert not torch.equal(uma, first)


def test_tr38901_path_sum_is_the_frequency_response_at_the_carrier(cache):
    """A second method: Sionna's own OFDM frequency response at subcarrier frequency 0
    (the carrier) equals the narrowband channel, the sum of the paths' coefficients."""
    from sionna.phy import config as sionna_config
    from sionna.phy.channel import cir_to_ofdm_channel, gen_single_sector_topology
    from sionna.phy.channel.tr38901 import PanelArray, UMi

    from isac.physics.tr38901 import narrowband

    arrays = [
        PanelArray(
            num_rows_per_panel=1,
            num_cols_per_panel=n,
            polarization="single",
            polarization_type="V",
            antenna_pattern="omni",
            carrier_frequency=3.5e9,
            precision="double",
        )
        for n in (4, 1)
    ]
    sionna_config.seed = 3
    model = UMi(3.5e9, "low", arrays[1], arrays[0], "uplink", precision="double")
    model.set_topology(*gen_single_sector_topology(6, 2, "umi", precision="double"))
    a, tau = model(1, 1.0)
    response = cir_to_ofdm_channel(torch.zeros(1, dtype=torch.float64), a, tau)
    # response: [drops, 1 BS, N_r, K, 1 antenna, 1 time, 1 frequency]
    assert torch.allclose(response[:, 0, :, :, 0, 0, 0], narrowband(a), rtol=1e-12, atol=0)


def test_power_control_puts_every_user_at_snr_c_or_keeps_the_link_budget(cache):
    from isac.physics.tr38901 import path_sums, power_controlled

    equal = ChannelConfig(model="tr38901", scenario="uma")
    H, p = power_controlled(equal, SYSTEM, path_sums(equal, SYSTEM, 40, seed=0, split="test"))
    assert torch.allclose(H.abs().square().sum(dim=1), torch.full((40, 2), 4.0, dtype=H.real.dtype))
    assert torch.all(p == SYSTEM.user_power)
    budget = ChannelConfig(model="tr38901", scenario="uma", power_control="open_loop")
    raw = path_sums(budget, SYSTEM, 40, seed=0, split="test")
    H, p = power_controlled(budget, SYSTEM, raw)
    received = p[:, None, :].sqrt() * H  # what the BS receives, path loss and all
    snr = 10.0 ** ((23.0 + 94.0) / 10.0)
    assert torch.allclose(received, snr**0.5 * raw, rtol=1e-12, atol=0)
    assert p.min() < 1e-2 * p.max()  # the link budgets differ by orders of magnitude


def test_tr38901_scenarios_keep_the_paper_s_error_model_and_r_t(cache):
    channel = ChannelConfig(model="tr38901")
    drops = sample_scenario(SYSTEM, 30, beta=0.6, seed=0, split="test", channel=channel)
    rayleigh = sample_scenario(SYSTEM, 30, beta=0.6, seed=0, split="test")
    assert torch.equal(drops.sigma_t, rayleigh.sigma_t)
    error = (rayleigh.H - 0.6**0.5 * rayleigh.H_hat) / 0.4**0.5  # the same draw of E
    assert torch.allclose(drops.H, 0.6**0.5 * drops.H_hat + 0.4**0.5 * error, atol=1e-12)
    group = sample_scenario(SYSTEM, 30, beta=0.6, seed=0, split="test-4", channel=channel)
    pool = sample_scenario(SYSTEM, channel.pool, seed=0, split="test", channel=channel)
    for h in group.H_hat:  # a derived split's drops are drops of its base split's pool
        assert (pool.H_hat == h).all(dim=(1, 2)).any()


def test_tr38901_settings_are_checked_before_any_work(monkeypatch):
    with pytest.raises(checks.SettingsError, match=r"channel.scenario must be one of"):
        ChannelConfig(model="tr38901", scenario="indoor")
    with pytest.raises(checks.SettingsError, match=r"power_control must be one of"):
        ChannelConfig(model="tr38901", power_control="closed")
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    with pytest.raises(checks.SettingsError, match=r'pip install -e "\.\[channels\]"'):
        channel_of(config("channel=umi"))


def test_a_streamed_file_trains_on_every_training_row_once_per_epoch(tmp_path):
    """data.chunk_rows: every training row once per epoch, a batch from one chunk only,
    each chunk read once per epoch, and the chunks' order changes with the epoch."""
    arrays = scenario_arrays()
    write_channel_file(tmp_path / "c.h5", arrays)
    data = DataConfig(n_train=30, n_val=10, n_test=12, batch_size=4, chunk_rows=8)
    module = ISACDataModule(SYSTEM, data, beta=0.7, channel=file_channel(tmp_path / "c.h5"))
    loader = module.train_dataloader()
    reads = []
    streamed = loader.dataset
    chunk_of = streamed.chunk_of
    streamed.chunk_of = lambda first, n: reads.append(first) or chunk_of(first, n)
    orders = []
    for epoch in (0, 1):
        loader.batch_sampler.set_epoch(epoch)
        batches = list(loader)
        seen = torch.cat([b.problem.H_hat for b in batches])
        rows = [
            int(torch.nonzero((torch.from_numpy(arrays["H_hat"]) == h).all(dim=(1, 2)))[0])
            for h in seen.to(torch.complex128)
        ]
        assert sorted(rows) == list(range(30))
        for batch in batches:
            index = [rows.pop(0) for _ in range(len(batch))]
            assert len({i // 8 for i in index}) == 1  # one chunk per batch
        orders.append(reads[-4:])
        assert sorted(reads[-4:]) == [0, 8, 16, 24]  # each chunk read once
    assert orders[0] != orders[1]
    assert len(loader) == 2 + 2 + 2 + 2  # 8, 8, 8, 6 rows in batches of 4


def test_streaming_is_refused_where_it_cannot_stream(tmp_path):
    write_channel_file(tmp_path / "c.npz", scenario_arrays())
    data = DataConfig(n_train=30, n_val=10, n_test=12, chunk_rows=8)
    with pytest.raises(checks.SettingsError, match=r"is read whole: drop data.chunk_rows"):
        ISACDataModule(SYSTEM, data, beta=0.7, channel=file_channel(tmp_path / "c.npz"))
    with pytest.raises(checks.SettingsError, match="it needs channel=file"):
        ISACDataModule(SYSTEM, data, beta=0.7)


@pytest.mark.parametrize("streamed", [False, True])
def test_a_run_trains_and_is_evaluated_on_a_channel_file(tmp_path, streamed):
    """train.py and evaluate.py on a file: the test set is the file's last rows, scored
    against the optimum; the design API serves the trained network."""
    path = bad_file(tmp_path, "c.mat" if not streamed else "c.h5")
    overrides = [*SIZES, *BLOCKS, "channel=file", f"data.channel_file={path}", "csi.beta=0.7"]
    overrides += ["trainer.max_epochs=2", "logger=none", "data.batch_size=8"]
    if streamed:
        overrides.append("data.chunk_rows=16")
    metrics = train(config(*overrides, "model=pricenet"), tmp_path / "run")
    assert metrics["channel"]["model"] == "file" and metrics["channel"]["path"] == path
    rows = evaluate(
        evaluate_config(f"run={tmp_path / 'run'}", "schemes=[optimum,waterfilling]"),
        tmp_path / "evaluation",
    )
    shares = {row["scheme"]: row["pct_of_optimum"] for row in rows}
    # under imperfect CSI the optimum is of the objective of H_hat, which a design can
    # beat on the true channel by a little
    assert shares["optimum"] == 100.0 and 90.0 < shares["pricenet"] < 100.1


def test_a_universal_network_s_groups_are_drops_of_their_pools(cache):
    """A universal network trains on TR 38.901 drops: each group, at its own operating
    point, takes distinct drops of its split's pool (here of 1,000 drops)."""
    cfg = config(
        *SIZES,
        "model=universal",
        "channel=umi",
        "channel.pool=1000",
        "data.operating_points.n_rx=[4,4]",
        "data.operating_points.n_users=[2,2]",
        "data.operating_points.n_tx=[3,3]",
        "data.n_train=64",
        "data.n_val=40",
        "data.n_test=40",
        "data.batch_size=16",
        "data.points_per_batch=4",
        "data.grid_points=4",
    )
    module = build_datamodule(cfg, system_from_config(cfg))
    pool = sample_scenario(SYSTEM, 1000, seed=0, split="train", channel=channel_of(cfg))
    groups = next(iter(module.train_dataloader()))
    assert len(groups) == 4
    for group in groups:
        drops = group.problem.H_hat
        matched = [(pool.H_hat == h).all(dim=(1, 2)).nonzero().flatten().tolist() for h in drops]
        assert all(len(m) == 1 for m in matched)
        assert len({m[0] for m in matched}) == len(drops)


@pytest.mark.slow
def test_the_scripts_write_a_file_and_tabulate_the_channel_models(tmp_path, cache):
    """scripts/write_channels.py writes what train.py then reads back; channel_table.py
    takes each run's shares from its metrics and scores the Rayleigh-trained network on
    UMi's test set (the mismatch)."""
    path = tmp_path / "umi.h5"
    written = run_script(
        "scripts/write_channels.py", str(path), *SIZES, *BLOCKS, "channel=umi", cwd=tmp_path
    )
    assert written.returncode == 0, written.stderr
    arrays = {k: torch.from_numpy(v) for k, v in _read_h5(path).items()}
    drops = sample_scenario(SYSTEM, 12, seed=0, split="test", channel=ChannelConfig("tr38901"))
    assert torch.equal(arrays["H_hat"][-12:], drops.H_hat)
    sweep = tmp_path / "sweep"
    for job, channel in enumerate(("channel=rayleigh", "channel=umi")):
        run = run_script(
            "train.py",
            *SIZES,
            *BLOCKS,
            channel,
            "model=pricenet",
            "trainer.max_epochs=2",
            "logger=none",
            "evaluation.enabled=true",
            "evaluation.schemes=[optimum,waterfilling]",
            f"hydra.run.dir={sweep / str(job)}",
            cwd=tmp_path,
        )
        assert run.returncode == 0, run.stderr
    table = run_script(
        "scripts/channel_table.py",
        str(sweep),
        "--out",
        str(tmp_path / "t.csv"),
        "--figure",
        str(tmp_path / "t.png"),
        cwd=tmp_path,
    )
    assert table.returncode == 0, table.stderr
    with (tmp_path / "t.csv").open() as f:
        rows = list(csv.DictReader(f))
    umi = json.loads((sweep / "1" / "metrics.json").read_text())["evaluation"]
    own = [
        r
        for r in rows
        if (r["channel"], r["design"], r["trained_on"]) == ("umi", "pricenet", "umi")
    ]
    assert float(own[0]["pct"]) == pytest.approx(umi["pricenet"]["pct_of_optimum"], rel=1e-12)
    mismatch = [r for r in rows if r["trained_on"] == "rayleigh" and r["channel"] == "umi"]
    assert len(mismatch) == 1 and 50.0 < float(mismatch[0]["pct"]) <= 100.0 + 1e-6
    assert (tmp_path / "t.png").stat().st_size > 0
    assert "| umi |" in table.stdout  # the channel statistics


def _read_h5(path) -> dict[str, np.ndarray]:
    import h5py

    with h5py.File(path, "r") as f:
        return {key: f[key][...] for key in f}


def test_evaluate_scores_a_rayleigh_run_on_tr38901_channels(tmp_path, cache):
    """evaluate.py run=<Rayleigh run> channel=umi: the mismatch, on UMi's test set."""
    overrides = [*SIZES, *BLOCKS, "trainer.max_epochs=2", "logger=none", "model=pricenet"]
    train(config(*overrides), tmp_path / "run")
    rows = evaluate(
        evaluate_config(f"run={tmp_path / 'run'}", "channel=umi", "schemes=[optimum]"),
        tmp_path / "evaluation",
    )
    shares = {row["scheme"]: row for row in rows}
    assert 99.0 < shares["pricenet"]["pct_of_optimum"] <= 100.0 + 1e-9
    drops = sample_scenario(SYSTEM, 12, seed=0, split="test", channel=ChannelConfig("tr38901"))
    rayleigh = sample_scenario(SYSTEM, 12, seed=0, split="test")
    scored = np.load(tmp_path / "evaluation" / "predictions.npz")
    assert torch.equal(torch.from_numpy(scored["H_hat"]), drops.H_hat)
    assert not torch.equal(drops.H_hat, rayleigh.H_hat)
