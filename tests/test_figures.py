"""Figures: a quick sweep runs end to end (multirun, aggregation, PNG and CSV) with the
joblib and the submitit launchers, every figure is made from a sweep of job directories,
and the aggregation transcribes metrics.json faithfully and refuses what it cannot plot."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import matplotlib.image
import pytest
from helpers import run_script

from isac.checks import SettingsError
from isac.experiments.figures import FIGURES, make_figures, write_figure
from isac.experiments.figures.rows import EVALUATION_METRICS
from isac.experiments.figures.runtime import varied_setting
from isac.experiments.sweeps import Run, latest_sweep, latest_sweeps, load_sweep
from isac.physics.system import SystemConfig

# a two-point sweep on small data: seconds per job
SMALL = ["preset=quick", "data.n_train=200", "data.n_val=100", "data.n_test=100", "logger=none"]


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def assert_png(path: Path) -> None:
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 300
    assert image.std() > 0.05  # not a blank canvas


@pytest.mark.slow
def test_quick_sweep_end_to_end_with_joblib(tmp_path):
    sweep = run_script(
        "train.py",
        "-m",
        "experiment=fig9",
        "hydra/launcher=joblib",
        "system.n_tx=8",
        "system.n_users=2,3",
        *SMALL,
        cwd=tmp_path,
    )
    assert sweep.returncode == 0, sweep.stderr
    plot = run_script("figures.py", "figures=[fig9]", "sweep_preset=quick", cwd=tmp_path)
    assert plot.returncode == 0, plot.stderr

    out = tmp_path / "outputs" / "figures" / "quick"
    assert_png(out / "fig9.png")
    rows = read_csv(out / "fig9.csv")
    jobs = sorted((tmp_path / "outputs" / "sweeps" / "fig9" / "quick").glob("*/[0-9]*"))
    assert len(jobs) == 2 and len(rows) == 4  # two points x (ISACNN, optimum)
    for job in jobs:
        metrics = json.loads((job / "metrics.json").read_text())
        assert metrics["system"]["n_rx"] == 8  # fig9 ties N_r to N_t
        for scheme in ("isacnn", "optimum"):
            (row,) = [
                r
                for r in rows
                if r["scheme"] == scheme and int(r["n_users"]) == metrics["system"]["n_users"]
            ]
            for key in ("rate_s", "rate_c", "sum_rate_c", "wsnr"):
                assert float(row[key]) == metrics["evaluation"][scheme][key]
        evaluation = metrics["evaluation"]
        assert evaluation["optimum"]["wsnr"] >= evaluation["isacnn"]["wsnr"]
        assert evaluation["isacnn"]["sum_rate_c"] == pytest.approx(
            metrics["system"]["n_users"] * evaluation["isacnn"]["rate_c"]
        )


@pytest.mark.slow
def test_quick_sweep_with_the_submitit_local_executor(tmp_path):
    sweep = run_script(
        "train.py",
        "-m",
        "experiment=table1",
        "hydra/launcher=submitit_local",
        'hydra.sweeper.params.system="{n_users:2},{n_rx:8}"',
        *SMALL,
        "trainer.max_epochs=1",
        cwd=tmp_path,
    )
    assert sweep.returncode == 0, sweep.stderr
    sweep_dir = latest_sweep(tmp_path / "outputs" / "sweeps", "table1", "quick")
    assert (sweep_dir / ".submitit").is_dir()
    plot = run_script("figures.py", "figures=[table1]", "sweep_preset=quick", cwd=tmp_path)
    assert plot.returncode == 0, plot.stderr
    rows = read_csv(tmp_path / "outputs" / "figures" / "quick" / "table1.csv")
    assert [(r["setting"], int(r["value"])) for r in rows] == [("n_rx", 8), ("n_users", 2)]
    for job in sweep_dir.glob("[0-9]*"):
        metrics = json.loads((job / "metrics.json").read_text())
        point = metrics["sweep_point"]  # every setting the job's overrides set
        assert point["preset"] == "quick" and point["data.n_train"] == 200
        ((key, value),) = [(k, v) for k, v in point.items() if k.startswith("system.")]
        (row,) = [r for r in rows if f"system.{r['setting']}" == key]
        assert int(row["value"]) == value == metrics["system"][row["setting"]]
        assert float(row["ms_per_sample"]) == metrics["evaluation"]["isacnn"]["ms_per_sample"] > 0
        assert float(row["ms_batch_1"]) == metrics["evaluation"]["isacnn"]["ms_batch_1"] > 0
    assert_png(tmp_path / "outputs" / "figures" / "quick" / "table1.png")


def test_the_slurm_launcher_config_composes():
    from hydra import compose, initialize_config_dir

    from isac.config import CONF_DIR, register

    register()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(
            config_name="config",
            overrides=["experiment=fig7", "hydra/launcher=slurm", "hydra.launcher.partition=cpu"],
            return_hydra_config=True,
        )
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher")
    assert (launcher.partition, launcher.cpus_per_task, launcher.gpus_per_node) == ("cpu", 2, 0)


# ---- the aggregation on hand-made runs -------------------------------------------------


def evaluation_row(scheme: str, value: float) -> dict[str, float | str]:
    return {"scheme": scheme, **{key: value + i for i, key in enumerate(EVALUATION_METRICS)}}


def fake_run(
    path: Path,
    sweep_point: dict | None = None,
    beta: float = 1.0,
    receiver: str = "genie",
    **system,
) -> Run:
    settings = {**SystemConfig().to_dict(), **system}
    metrics = {
        "receiver": receiver,
        "model": "isacnn",
        "model_display": {"label": "Proposed DL scheme (ISACNN)", "style": {"color": "C3"}},
        "system": settings,
        "beta": beta,
        "n_train": 1000,
        "sweep_point": sweep_point or {},
        "evaluation": {
            "isacnn": evaluation_row("isacnn", settings["alpha"] + settings["n_rx"] + beta),
            # a lower value than isacnn's: the rows must sort by name, not value
            "optimum": evaluation_row("optimum", settings["alpha"] - 10),
        },
        "history": {"epoch": [0, 1], "train_loss": [-0.5, -0.6], "val_loss": [-0.4, -0.7]},
    }
    return Run(path=path, metrics=metrics)


def write_job(sweep_dir: Path, number: int, run: Run | None) -> None:
    job = sweep_dir / str(number)
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text("- system.alpha=0.5\n")
    if run is not None:
        (job / "metrics.json").write_text(json.dumps(run.metrics))


# each figure's sweep axes (the settings its experiment varies), two values each
SWEEP_AXES = {
    "fig8": {"snr_s_db": (0.0, 10.0), "snr_c_db": (-10.0, 10.0)},
    "fig9": {"n_users": (2, 3), "n_tx": (8, 12)},
    "fig10": {"alpha": (0.2, 0.7), "n_users": (3, 7)},
    "fig11": {"n_rx": (4, 16), "beta": (0.3, 1.0)},
    "csi": {"beta": (0.3, 1.0), "receiver": ("naive", "robust")},
}


@pytest.mark.parametrize("name", sorted(SWEEP_AXES))
def test_figures_8_to_11_and_csi_are_made_from_a_sweep(name, tmp_path):
    (x_key, xs), (g_key, groups) = SWEEP_AXES[name].items()
    sweep = tmp_path / "sweeps" / name / "quick" / "2026-01-01_10-00-00-000000"
    points = [{x_key: x, g_key: g} for x in xs for g in groups]
    for number, point in enumerate(points):
        beta, receiver = point.pop("beta", 1.0), point.pop("receiver", "genie")
        write_job(sweep, number, fake_run(tmp_path, beta=beta, receiver=receiver, **point))
    csv_path, png_path = make_figures(
        [name], preset="quick", sweeps_dir=tmp_path / "sweeps", out_dir=tmp_path / "out"
    )[name]
    assert_png(png_path)
    rows = read_csv(csv_path)
    assert len(rows) == 2 * len(points)  # every point, the network and the optimum
    for job in sweep.glob("[0-9]*"):
        metrics = json.loads((job / "metrics.json").read_text())
        where = {**metrics["system"], "beta": metrics["beta"], "receiver": metrics["receiver"]}
        for scheme in ("isacnn", "optimum"):
            (row,) = [
                r
                for r in rows
                if r["scheme"] == scheme
                and all(type(where[k])(r[k]) == where[k] for k in SWEEP_AXES[name])
            ]
            for key in EVALUATION_METRICS:
                assert float(row[key]) == metrics["evaluation"][scheme][key]


def test_rows_transcribe_every_run_and_scheme(tmp_path):
    runs = [fake_run(tmp_path, alpha=a) for a in (0.7, 0.2)]
    csv_path, png_path = write_figure("fig7", runs, tmp_path / "out")
    rows = read_csv(csv_path)
    assert [(float(r["alpha"]), r["scheme"]) for r in rows] == [
        (0.2, "isacnn"),
        (0.2, "optimum"),
        (0.7, "isacnn"),
        (0.7, "optimum"),
    ]
    for row in rows:
        run = runs[0] if float(row["alpha"]) == 0.7 else runs[1]
        for key in EVALUATION_METRICS:
            assert float(row[key]) == run.metrics["evaluation"][row["scheme"]][key]
    assert_png(png_path)
    fig6 = read_csv(write_figure("fig6", runs[:1], tmp_path / "out")[0])
    assert [(int(r["epoch"]), float(r["val_loss"])) for r in fig6] == [(1, -0.4), (2, -0.7)]


def test_table1_reads_the_varied_setting_from_the_sweep_point(tmp_path):
    assert varied_setting(fake_run(tmp_path, {"system.n_tx": 4, "preset": "quick"})) == ("n_tx", 4)
    assert varied_setting(fake_run(tmp_path, {"system.n_users": 3})) == ("n_users", 3)
    with pytest.raises(SettingsError, match="vary exactly one of system.n_tx"):
        varied_setting(fake_run(tmp_path, {"system.alpha": 0.3}))
    older = fake_run(tmp_path)
    del older.metrics["sweep_point"]
    with pytest.raises(SettingsError, match="made before jobs recorded their sweep point"):
        varied_setting(older)
    off_grid = fake_run(tmp_path, {"system.n_tx": 4}, n_tx=4, n_users=3)
    with pytest.raises(SettingsError, match="keeps the other sizes at Table II"):
        write_figure("table1", [off_grid], tmp_path)


def test_unfinished_and_missing_sweeps_are_named(tmp_path):
    sweeps = tmp_path / "sweeps"
    for stamp in ("2026-01-01_10-00-00-000000", "2026-01-02_10-00-00-000000"):
        write_job(sweeps / "fig7" / "quick" / stamp, 0, fake_run(tmp_path, alpha=0.5))
    newest = sweeps / "fig7" / "quick" / "2026-01-02_10-00-00-000000"
    write_job(newest, 1, None)  # still running
    assert latest_sweep(sweeps, "fig7", "quick") == newest
    (newest / "1" / "metrics.json").write_text('{"model": "isacnn", ')  # cut short
    with pytest.raises(SettingsError, match=r"1/metrics.json is not valid JSON .*rerun that job"):
        load_sweep(newest)
    (newest / "1" / "metrics.json").unlink()
    with pytest.raises(SettingsError, match=r"jobs \['1'\] .* have no metrics.json"):
        load_sweep(newest)
    assert [run.path.name for run in load_sweep(newest, allow_incomplete=True)] == ["0"]

    with pytest.raises(SettingsError, match="python train.py -m experiment=fig8 preset=quick"):
        make_figures(["fig8"], preset="quick", sweeps_dir=sweeps, out_dir=tmp_path / "out")
    with pytest.raises(SettingsError, match="figures\\[\\] must be one of"):
        make_figures(["fig12"], preset="quick", sweeps_dir=sweeps, out_dir=tmp_path / "out")
    with pytest.raises(SettingsError, match="no sweep with preset 'full'"):
        make_figures(None, preset="full", sweeps_dir=sweeps, out_dir=tmp_path / "out")
    written = make_figures(
        None, preset="quick", sweeps_dir=sweeps, out_dir=tmp_path / "out", allow_incomplete=True
    )
    assert list(written) == ["fig7"]


def test_a_run_without_evaluation_is_refused_with_the_reason(tmp_path):
    run = fake_run(tmp_path)
    del run.metrics["evaluation"]
    for name in sorted(set(FIGURES) - {"fig6"}):
        with pytest.raises(SettingsError, match="no post-training evaluation"):
            write_figure(name, [run], tmp_path)


def test_a_figure_draws_the_latest_sweep_of_every_learned_network(tmp_path):
    parent = tmp_path / "sweeps" / "fig8" / "quick"
    points = [{"snr_s_db": s, "snr_c_db": c} for s in (0.0, 10.0) for c in (-10.0, 10.0)]

    def sweep(stamp: str, model: str, offset: float) -> None:
        for number, point in enumerate(points):
            run = fake_run(tmp_path, **point)
            run.metrics["model"] = model
            run.metrics["model_display"] = {"label": f"{model} (net)", "style": {}}
            run.metrics["evaluation"] = {
                model: evaluation_row(model, offset + point["snr_s_db"]),
                "optimum": evaluation_row("optimum", 100.0 + point["snr_s_db"]),
            }
            write_job(parent / stamp, number, run)

    sweep("2026-01-01_10-00-00-000000", "isacnn", 1.0)  # older: left out
    sweep("2026-01-02_10-00-00-000000", "pricenet", 3.0)
    sweep("2026-01-03_10-00-00-000000", "isacnn", 2.0)
    assert latest_sweeps(tmp_path / "sweeps", "fig8", "quick") == [
        parent / "2026-01-03_10-00-00-000000",  # the paper's network first
        parent / "2026-01-02_10-00-00-000000",
    ]
    csv_path, png_path = make_figures(
        ["fig8"], preset="quick", sweeps_dir=tmp_path / "sweeps", out_dir=tmp_path / "out"
    )["fig8"]
    rows = read_csv(csv_path)
    assert len(rows) == 3 * len(points)  # each network and one optimum per point
    for row in rows:
        offset = {"isacnn": 2.0, "pricenet": 3.0, "optimum": 100.0}[row["scheme"]]
        assert float(row["wsnr"]) == offset + float(row["snr_s_db"])
    assert_png(png_path)


@pytest.mark.slow
def test_learned_vs_optimum_reports_share_worst_sample_and_ranking(tmp_path):
    header = ["alpha", "scheme", *EVALUATION_METRICS]

    def row(alpha: float, scheme: str, wsnr: float, pct: float, worst: float) -> list:
        values = {m: 0.0 for m in EVALUATION_METRICS}
        values.update(wsnr=wsnr, pct_of_optimum=pct, worst_pct_of_optimum=worst)
        return [alpha, scheme, *(values[m] for m in EVALUATION_METRICS)]

    with (tmp_path / "fig7.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerow(row(0.1, "isacnn", 0.70, 98.0, 90.0))
        writer.writerow(row(0.1, "waterfilling", 0.71, 99.0, 95.0))  # ranks above isacnn
        writer.writerow(row(0.1, "optimum", 0.714, 100.0, 100.0))
        writer.writerow(row(0.5, "isacnn", 0.80, 99.5, 97.0))
        writer.writerow(row(0.5, "waterfilling", 0.79, 98.7, 96.0))
        writer.writerow(row(0.5, "optimum", 0.804, 100.0, 100.0))
        writer.writerow(row(0.5, "universal", 0.803, 99.9, 99.0))  # at one point only
    result = run_script("scripts/learned_vs_optimum.py", "--figures", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    (line,) = [x for x in lines if x.startswith("| fig7 | isacnn")]
    assert (
        line
        == "| fig7 | isacnn | 2 | 98.00000 | 90.000 | 2 (by universal, waterfilling) | 0.40000 |"
    )
    (line,) = [x for x in lines if x.startswith("| fig7 | universal")]
    assert line == "| fig7 | universal | 1 | 99.90000 | 99.000 | none | -0.40000 |"


def directions_run(path: Path, model: str, n_targets: int, separation: float, alpha: float) -> Run:
    """A run of experiment=directions: DirectionNet with the schemes, or ISACNN alone."""
    run = fake_run(path, alpha=alpha)
    run.metrics["model"] = model
    run.metrics["target"] = {"model": "directions", "n_targets": n_targets, "center_deg": 0.0}
    run.metrics["channel"] = {"model": "rician", "center_deg": separation}
    base = 0.5 + 0.01 * n_targets + alpha / 10
    if model == "isacnn":
        run.metrics["evaluation"] = {"isacnn": {**evaluation_row("isacnn", 0.0), "wsnr": base / 2}}
    else:
        run.metrics["evaluation"] = {
            model: {**evaluation_row(model, 0.0), "wsnr": 0.999 * base, "ms_per_sample": 0.5},
            "optimum": {**evaluation_row("optimum", 0.0), "wsnr": base, "ms_per_sample": 50.0},
        }
    return run


def test_the_directions_figure_measures_every_network_against_the_optimum(tmp_path):
    grid = [(m, s, a) for m in (1, 2) for s in (0.0, 30.0) for a in (0.2, 0.8)]
    runs = [directions_run(tmp_path, "directional", *point) for point in grid]
    runs += [directions_run(tmp_path, "isacnn", *point) for point in grid]
    csv_path, png_path = write_figure("directions", runs, tmp_path / "out")
    assert_png(png_path)
    rows = read_csv(csv_path)
    assert len(rows) == 3 * len(grid)
    for row in rows:
        share = {"directional": 99.9, "isacnn": 50.0, "optimum": 100.0}[row["scheme"]]
        assert float(row["pct_of_optimum"]) == pytest.approx(share)
    learned = [r for r in rows if r["scheme"] == "directional"]
    assert all(float(r["speedup"]) == pytest.approx(100.0) for r in learned)
    paper_model = fake_run(tmp_path, alpha=0.5)
    with pytest.raises(SettingsError, match="not of targets at directions"):
        write_figure("directions", [paper_model], tmp_path / "out")
