"""Every design's share of the optimum per channel model, and the Rayleigh-trained networks
on TR 38.901 channels (the mismatch): the table and figure of ``experiment=channels``.

    python train.py -m experiment=channels hydra/launcher=joblib
    python train.py -m experiment=channels model=isacnn evaluation.schemes=[optimum] \\
        hydra/launcher=joblib
    python train.py -m model=universal data=universal_channels channel=rayleigh,umi,uma
    python scripts/channel_table.py <sweep> [<sweep> ...] --universal <run> [<run> ...] \\
        --out docs/figures/channels.csv --figure docs/figures/channels.png

For every job of the sweeps (one network trained on one channel model at one alpha), its
``metrics.json`` gives the network's and the schemes' mean and worst-sample share of the
optimum on that channel model's test set (2,000 samples, data seed 0). Each universal run
(one per channel model) is scored at every point of its channel model, and every network
trained on Rayleigh channels (per point, and universal) is scored on the test sets of the
other channel models at the same point: the mismatch. Prints a markdown table; ``--out``
writes the rows as CSV and ``--figure`` a PNG of each design's distance to the optimum.
A second table describes the channel models' test sets (:func:`channel_statistics`).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from pathlib import Path

import torch
from matplotlib.figure import Figure

from isac.config import channel_of
from isac.experiments.comparison import compare_schemes
from isac.files import checkpoint_path
from isac.learning.checkpoints import load_for
from isac.learning.training import read_saved_run
from isac.physics.channels import ChannelConfig
from isac.physics.receivers import Receiver
from isac.physics.scenario import sample_scenario
from isac.physics.system import SystemConfig

SCHEMES = ("average", "zfbf", "traditional", "waterfilling", "zero_power", "price_prior")
NETWORKS = ("isacnn", "pricenet", "universal")
TITLES = {
    "rayleigh": "Rayleigh (the paper's)",
    "umi": "TR 38.901 UMi",
    "uma": "TR 38.901 UMa",
    "rma": "TR 38.901 RMa",
    "umi-open": "TR 38.901 UMi, open loop",
    "uma-open": "TR 38.901 UMa, open loop",
    "rma-open": "TR 38.901 RMa, open loop",
}
FLOOR = 1e-6  # % of the optimum: the figure's floor, where log scale needs one


def channel_order(label: str) -> tuple:
    """Rayleigh first, then the TR 38.901 scenarios as :data:`TITLES` lists them."""
    return (list(TITLES).index(label) if label in TITLES else len(TITLES), label)


def label_of(channel: dict) -> str:
    """rayleigh, or the TR 38.901 scenario (umi, uma, rma), with ``-open`` for open-loop
    power control."""
    if channel["model"] != "tr38901":
        return channel["model"]
    open_loop = channel.get("power_control", "equal") == "open_loop"
    return channel["scenario"] + ("-open" if open_loop else "")


def channel_named(label: str) -> ChannelConfig:
    """The channel model of a label of :func:`label_of`."""
    if label == "rayleigh":
        return ChannelConfig()
    scenario, _, open_loop = label.partition("-")
    control = "open_loop" if open_loop else "equal"
    return ChannelConfig("tr38901", scenario=scenario, power_control=control)


def sweep_jobs(sweeps: list[Path]) -> list[dict]:
    """The metrics of every finished job of the sweeps, with the job's directory."""
    jobs = []
    for sweep in sweeps:
        for path in sorted(sweep.glob("*/metrics.json")):
            jobs.append({**json.loads(path.read_text()), "dir": path.parent})
    return jobs


def network_share(module, system: SystemConfig, label: str, n_test: int, seed: int) -> dict:
    """The network's mean and worst-sample share of the optimum on ``label``'s test set."""
    comparison = compare_schemes(
        system,
        module,
        ["optimum"],
        beta=1.0,
        n_test=n_test,
        seed=seed,
        repeats=1,
        channel=channel_named(label),
    )
    row = next(r for r in comparison.rows if r["scheme"] == module.name)
    return {"pct": row["pct_of_optimum"], "worst_pct": row["worst_pct_of_optimum"]}


def table_rows(jobs: list[dict], universal_runs: list[Path]) -> list[dict]:
    rows = []
    points = {}
    for job in jobs:
        label, alpha = label_of(job["channel"]), job["system"]["alpha"]
        system = SystemConfig(**job["system"])
        points[(label, alpha)] = (system, read_saved_run(job["dir"]).data.n_test, job)
        for name, result in job["evaluation"].items():
            if name == "optimum":
                continue
            rows.append(
                {
                    "channel": label,
                    "alpha": alpha,
                    "design": name,
                    "trained_on": label if name in NETWORKS else "",
                    "pct": result["pct_of_optimum"],
                    "worst_pct": result["worst_pct_of_optimum"],
                }
            )
    for job in jobs:  # the mismatch: networks trained on Rayleigh, scored elsewhere
        if label_of(job["channel"]) != "rayleigh":
            continue
        alpha = job["system"]["alpha"]
        module = load_for(
            checkpoint_path(job["dir"], "best"),
            SystemConfig(**job["system"]),
            Receiver("genie", 1.0),
        )
        for (label, other_alpha), (system, n_test, _) in points.items():
            if label != "rayleigh" and other_alpha == alpha:
                share = network_share(module, system, label, n_test, job["data_seed"])
                rows.append(
                    {
                        "channel": label,
                        "alpha": alpha,
                        "design": module.name,
                        "trained_on": "rayleigh",
                        **share,
                    }
                )
    for run in universal_runs:
        trained_on = label_of(vars(channel_of(read_saved_run(run))))
        for (label, alpha), (system, n_test, job) in points.items():
            if label != trained_on and trained_on != "rayleigh":
                continue
            module = load_for(checkpoint_path(run, "best"), system, Receiver("genie", 1.0))
            share = network_share(module, system, label, n_test, job["data_seed"])
            rows.append(
                {
                    "channel": label,
                    "alpha": alpha,
                    "design": "universal",
                    "trained_on": trained_on,
                    **share,
                }
            )
    return sorted(rows, key=lambda r: (r["channel"], r["design"], r["trained_on"], r["alpha"]))


def channel_statistics(label: str, system: SystemConfig, n_test: int, seed: int) -> dict:
    """What sets the channel models apart, on the test set's estimates H_hat:

    - ``beam_share``: the share of a user's power that the best of 256 steering
      directions of the ULA captures (1 for a pure line of sight, about 3.4/N_r for
      i.i.d. Rayleigh at N_r = 16), median and 90th percentile over users;
    - ``user_correlation``: the mean |h_j^H h_k| / (|h_j| |h_k|) over pairs of users;
    - ``condition``: the median ratio of H_hat's largest to smallest singular value.
    """
    H = sample_scenario(system, n_test, seed=seed, split="test", channel=channel_named(label)).H_hat
    elements = torch.arange(system.n_rx, dtype=torch.float64)
    sines = torch.linspace(-1.0, 1.0, 256, dtype=torch.float64)
    steering = torch.exp(1j * math.pi * elements[:, None] * sines) / system.n_rx**0.5
    power = H.abs().square().sum(dim=1)
    share = ((steering.conj().T @ H).abs().square().amax(dim=1) / power).flatten()
    unit = H / power.sqrt()[:, None, :]
    gram = (unit.mH @ unit).abs()
    pairs = ~torch.eye(system.n_users, dtype=torch.bool)
    singular = torch.linalg.svdvals(H)
    return {
        "channel": label,
        "beam_share_median": share.median().item(),
        "beam_share_p90": share.quantile(0.9).item(),
        "user_correlation": gram[:, pairs].mean().item(),
        "condition_median": (singular[:, 0] / singular[:, -1]).median().item(),
    }


def markdown(rows: list[dict]) -> str:
    alphas = sorted({r["alpha"] for r in rows})
    lines = [
        "| channel | design | trained on | "
        + " | ".join(f"alpha {a}: mean % (worst %)" for a in alphas)
        + " |",
        "|---|---|---|" + "---|" * len(alphas),
    ]
    keys = sorted({(r["channel"], r["design"], r["trained_on"]) for r in rows})
    for channel, design, trained_on in keys:
        cells = []
        for alpha in alphas:
            match = [
                r
                for r in rows
                if (r["channel"], r["design"], r["trained_on"], r["alpha"])
                == (channel, design, trained_on, alpha)
            ]
            cells.append(f"{match[0]['pct']:.3f} ({match[0]['worst_pct']:.2f})" if match else "-")
        lines.append(f"| {channel} | {design} | {trained_on or '-'} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def figure_of(rows: list[dict]) -> Figure:
    """Each design's distance to the optimum, 100 - mean %, against alpha, one panel per
    channel model; networks trained on Rayleigh and scored elsewhere dashed."""
    channels = sorted({r["channel"] for r in rows}, key=channel_order)
    figure = Figure(figsize=(4.2 * len(channels), 4.2))
    axes = figure.subplots(1, len(channels), sharey=True, squeeze=False)[0]
    designs = sorted({r["design"] for r in rows})
    colours = {d: f"C{i}" for i, d in enumerate(designs)}
    for ax, channel in zip(axes, channels, strict=True):
        mine = [r for r in rows if r["channel"] == channel]
        for design, trained_on in sorted({(r["design"], r["trained_on"]) for r in mine}):
            line = sorted(
                (r for r in mine if (r["design"], r["trained_on"]) == (design, trained_on)),
                key=lambda r: r["alpha"],
            )
            mismatched = trained_on not in ("", channel)
            ax.semilogy(
                [r["alpha"] for r in line],
                [max(100.0 - r["pct"], FLOOR) for r in line],
                linestyle="--" if mismatched else "-",
                marker="o",
                color=colours[design],
                label=f"{design}, trained on {trained_on}" if mismatched else design,
            )
        ax.set_title(TITLES.get(channel, channel))
        ax.set_xlabel("alpha")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=6)
    axes[0].set_ylabel(f"100 - mean % of the optimum (floor {FLOOR:g})")
    figure.tight_layout()
    return figure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sweeps", nargs="+", type=Path, help="sweep directories")
    parser.add_argument("--universal", nargs="*", type=Path, default=[], help="universal runs")
    parser.add_argument("--out", type=Path, help="CSV of the rows")
    parser.add_argument("--figure", type=Path, help="PNG of the distances to the optimum")
    args = parser.parse_args()
    jobs = sweep_jobs(args.sweeps)
    rows = table_rows(jobs, args.universal)
    print(markdown(rows))
    labels = sorted({label_of(job["channel"]) for job in jobs}, key=channel_order)
    job = jobs[0]
    system, n_test = SystemConfig(**job["system"]), read_saved_run(job["dir"]).data.n_test
    statistics = [channel_statistics(c, system, n_test, job["data_seed"]) for c in labels]
    print()
    print(
        "| channel | best beam's share of a user's power: median (90 %) "
        "| mean user correlation | median condition number |"
    )
    print("|---|---|---|---|")
    for row in statistics:
        print(
            f"| {row['channel']} | {row['beam_share_median']:.2f} ({row['beam_share_p90']:.2f}) "
            f"| {row['user_correlation']:.3f} | {row['condition_median']:.2f} |"
        )
    if args.out:
        with args.out.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    if args.figure:
        figure_of(rows).savefig(args.figure, dpi=130, bbox_inches="tight")


if __name__ == "__main__":
    main()
