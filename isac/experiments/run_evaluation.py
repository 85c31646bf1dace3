"""``evaluate.py``'s work: resolve the settings, score the schemes, write the table and export.

Outputs, in the evaluation's directory (``<run>/evaluation`` for a trained run):

    evaluation.csv / evaluation.json   the comparison table (and the settings, in the JSON)
    predictions.npz                    every scheme's design and metrics, for other tools
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from isac import checks
from isac.config import CsiConfig, DataConfig, channel_of, target_of
from isac.designer.timed import Design
from isac.experiments.comparison import compare_schemes
from isac.files import (
    checkpoint_path,
    locked,
    write_atomically,
    write_csv,
    write_json,
)
from isac.learning.checkpoints import load_for
from isac.learning.lit_module import ISACModule
from isac.learning.pretrained import pretrained_run
from isac.learning.training import read_saved_run
from isac.physics.receivers import Receiver
from isac.physics.scenario import Scenario
from isac.physics.system import SystemConfig
from isac.physics.targets import PAPER
from isac.schemes.registry import select_schemes

INFERENCE_OPTIONS = {  # evaluate.py's overrides of a network's inference, and whom they serve
    "polish_steps": "networks that polish their design at inference "
    "(pricenet, universal, directional)",
    "leader_steps": "networks that polish several hypotheses (directional)",
    "newton_steps": "networks that polish several hypotheses (directional)",
}
TABLE_COLUMNS = (
    "scheme",
    "wsnr",
    "rate_s",
    "rate_c",
    "sum_rate_c",
    "power_fraction",
    "pct_of_optimum",
    "worst_pct_of_optimum",
    "ms_per_sample",
    "speedup_vs_traditional",
    "wsnr_bs_beams",
)


def run_of(cfg: DictConfig) -> Path | None:
    """The run to evaluate: ``cfg.run``, or the shipped design ``cfg.pretrained``
    (:func:`~isac.learning.pretrained.pretrained_run`, checked against its checksums), or
    None for ``baselines_only``.

    Raises:
        checks.SettingsError: none or both of run and pretrained, without baselines_only.
    """
    if cfg.run is not None and cfg.pretrained is not None:
        raise checks.SettingsError("give run=<run directory> or pretrained=<name>, not both")
    if cfg.pretrained is not None:
        return pretrained_run(str(cfg.pretrained))
    if cfg.run is None and not cfg.baselines_only:
        raise checks.SettingsError(
            "run=<training run directory> or pretrained=<name> is required, or baselines_only=true"
        )
    return None if cfg.run is None else Path(str(cfg.run))


def resolve_settings(cfg: DictConfig) -> dict[str, Any]:
    """The system, CSI and test-set settings: the run's (or the defaults of
    :mod:`isac.config` without a run), then the values given explicitly."""
    run = run_of(cfg)
    system: dict[str, Any] = SystemConfig().to_dict()
    beta, n_test, seed = CsiConfig().beta, DataConfig().n_test, DataConfig().seed
    receiver = CsiConfig().receiver
    model = None
    target = PAPER
    channel_source = {"channel": cfg.get("channel"), "data": {}}
    if run is not None:
        run_cfg = read_saved_run(run)
        system.update(checks.plain_mapping("system", OmegaConf.to_container(run_cfg.system)))
        beta, n_test, seed = run_cfg.csi.beta, run_cfg.data.n_test, run_cfg.data.seed
        receiver = run_cfg.csi.get("receiver", receiver)
        model = run_cfg.model.name
        target = target_of(run_cfg)
        channel_source["data"] = OmegaConf.to_container(run_cfg.data)
        if channel_source["channel"] is None:
            channel_source["channel"] = run_cfg.get("channel")
    system.update({k: v for k, v in OmegaConf.to_container(cfg.system).items() if v is not None})
    if cfg.get("target") is not None:
        target = target_of(cfg)
    # a channel file and its blocks: the run's, then the values given explicitly
    given = {k: v for k, v in OmegaConf.to_container(cfg.data).items() if v is not None}
    channel_source["data"].update(given)
    channel = channel_of(OmegaConf.create(channel_source))
    settings = {
        "run": run,
        "system": checks.settings_of("system", SystemConfig, system),
        "beta": checks.in_unit_interval("csi.beta", beta if cfg.csi.beta is None else cfg.csi.beta),
        "receiver": receiver if cfg.csi.receiver is None else cfg.csi.receiver,
        "n_test": checks.positive_int(
            "data.n_test", n_test if cfg.data.n_test is None else cfg.data.n_test
        ),
        "seed": int(seed if cfg.data.seed is None else cfg.data.seed),
        "repeats": checks.positive_int("repeats", cfg.repeats),
        "model": model,
        "target": target,
        "channel": channel,
        **{
            option: None if cfg[option] is None else checks.non_negative_int(option, cfg[option])
            for option in INFERENCE_OPTIONS
        },
    }
    Receiver(settings["receiver"], settings["beta"])  # refuse a bad receiver before any work
    requested = None if cfg.schemes is None else list(cfg.schemes)
    select_schemes(requested, settings["system"], target_model=target.model)  # before any work
    settings["schemes"] = requested
    return settings


def load_network(cfg: DictConfig, settings: dict[str, Any]) -> ISACModule:
    """The run's network, refused if it is another network than the run trained or cannot
    serve the requested system and receiver (a per-point network: its trained sizes and
    budget; a universal network: its ranges); with ``polish_steps`` (and ``leader_steps``,
    ``newton_steps``), polished at inference."""
    run = settings["run"]
    path = checkpoint_path(run, cfg.checkpoint)
    other = {"best": "checkpoint=last", "last": "checkpoint=best"}.get(
        cfg.checkpoint, "checkpoint=best or checkpoint=last"
    )
    module = load_for(
        path,
        settings["system"],
        Receiver(settings["receiver"], settings["beta"]),
        settings["target"],
        remedy=f"evaluate another checkpoint ({other}) or train the run again",
    )
    if module.name != settings["model"]:
        raise checks.SettingsError(
            f"checkpoint {str(path)!r} holds a {module.name} network, but run {run} "
            f"trained {settings['model']}; evaluate a checkpoint of that run"
        )
    for option, networks in INFERENCE_OPTIONS.items():
        if settings[option] is None:
            continue
        if not hasattr(module.network, option):
            raise checks.SettingsError(
                f"{option} applies to {networks}; the {module.name} network of run {run} does not"
            )
        setattr(module.network, option, settings[option])
    return module


def evaluate(cfg: DictConfig, out_dir: Path) -> list[dict[str, Any]]:
    """Score the network (unless baselines only) and the schemes; write every output."""
    settings = resolve_settings(cfg)
    system: SystemConfig = settings["system"]
    network = None if cfg.baselines_only else load_network(cfg, settings)
    comparison = compare_schemes(
        system,
        network,
        settings["schemes"],
        beta=settings["beta"],
        receiver=settings["receiver"],
        n_test=settings["n_test"],
        seed=settings["seed"],
        repeats=settings["repeats"],
        target=settings["target"],
        channel=settings["channel"],
    )
    settings["skipped"] = comparison.skipped
    # two evaluations of one run may finish at once: the lock keeps each one's three files
    # together (the later evaluation's, whole), and each file is written atomically
    with locked(out_dir):
        write_table(comparison.rows, settings, out_dir)
        export_predictions(
            out_dir / "predictions.npz",
            comparison.scenario,
            system,
            settings["beta"],
            comparison.designs,
            comparison.scores,
            network_name=None if network is None else network.name,
        )
    return comparison.rows


def write_table(rows: list[dict[str, Any]], settings: dict[str, Any], out_dir: Path) -> None:
    """evaluation.csv (the table) and evaluation.json (table and settings)."""
    columns = list(TABLE_COLUMNS) + sorted({k for row in rows for k in row} - set(TABLE_COLUMNS))
    write_csv(out_dir / "evaluation.csv", rows, columns)
    run = settings["run"]
    meta = {
        **settings,
        "system": settings["system"].to_dict(),
        "run": run and str(run),
        "target": asdict(settings["target"]),
        "channel": asdict(settings["channel"]),
    }
    write_json(out_dir / "evaluation.json", {"settings": meta, "table": rows})


def format_table(rows: list[dict[str, Any]]) -> str:
    """The table as aligned text for the terminal."""
    header = [
        "scheme",
        "WSNR",
        "Rs",
        "Rc",
        "sum Rc",
        "power",
        "% opt",
        "worst % opt",
        "ms/sample",
        "speed-up",
        "WSNR(BS beams)",
    ]
    keys = TABLE_COLUMNS
    lines = [" ".join(f"{h:>14}" for h in header)]
    for row in rows:
        cells = [f"{row['scheme']:>14}"] + [
            f"{row[k]:>14.4f}" if k != "ms_per_sample" else f"{row[k]:>14.5f}" for k in keys[1:]
        ]
        lines.append(" ".join(cells))
    return "\n".join(lines)


def export_predictions(
    path: Path,
    scenario: Scenario,
    system: SystemConfig,
    beta: float,
    designs: dict[str, Design],
    scores: dict[str, dict[str, torch.Tensor]],
    network_name: str | None,
) -> None:
    """predictions.npz for other tools: float64/complex128 arrays (keys in docs/evaluation.md)."""
    arrays: dict[str, np.ndarray] = {
        "H": scenario.H.numpy(),
        "H_hat": scenario.H_hat.numpy(),
        "p": scenario.p.numpy(),
        "sigma_t": scenario.sigma_t.numpy(),
        "R_T": scenario.R_T.numpy(),
        "noise_power": np.float64(system.noise_power),
        "P_s": np.float64(system.sensing_power),
        "L": np.float64(system.waveform_len),
        "alpha": np.float64(system.alpha),
        "beta": np.float64(beta),
    }
    if scenario.targets is not None:  # targets at directions: theirs, and every R_x
        arrays["target_angles"] = scenario.targets.angles.numpy()
        arrays["target_variances"] = scenario.targets.variances.numpy()
    for name, design in designs.items():
        arrays[f"sigma_s__{name}"] = design.sigma_s.double().numpy()
        if design.covariance is not None:
            arrays[f"R_x__{name}"] = design.covariance.to(torch.complex128).numpy()
        for metric in ("wsnr", "rate_s", "rate_c"):
            arrays[f"{metric}__{name}"] = scores[name][metric].double().numpy()
    if network_name is not None:
        arrays[f"S__{network_name}"] = designs[network_name].S.to(torch.complex128).numpy()
        arrays[f"W__{network_name}"] = designs[network_name].W.to(torch.complex128).numpy()
    write_atomically(path, lambda handle: np.savez(handle, **arrays))
