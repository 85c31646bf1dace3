"""Table I: the learned scheme's online time per sample against n_tx, n_rx and n_users.

Online time = pre-processing (EVD of R_T), features (29), the network, and the recovery
of S (31) and the beams w_k (32), from the inputs a BS holds (float32 on the CPU).
The time does not depend on the weights, so untrained ISACNNs of each size are used.
Each row varies one setting with the others at Table II. Run:

    python benchmarks/runtime_table.py [--batch 2000] [--single 200] [--out outputs/runtime]

It prints a markdown table and writes runtime.csv under --out.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import torch

from isac.config import compose_config
from isac.experiments.evaluation import design_network
from isac.experiments.runs import write_csv
from isac.learning.training import build_module, system_from_config
from isac.physics.scenario import sample_scenario

SWEEPS = {"n_tx": range(4, 17, 2), "n_rx": range(4, 17, 2), "n_users": range(2, 9)}


def time_per_sample(setting: str, value: int, batch: int, single: int) -> tuple[float, float]:
    """(ms per sample at batch size 1 (median), ms per sample in one batch (best of 3)) of an
    untrained ISACNN with ``system.<setting>=<value>``, the other settings at their defaults."""
    cfg = compose_config(overrides=[f"system.{setting}={value}"])
    system = system_from_config(cfg)
    network = build_module(cfg, system).eval()
    scenario = sample_scenario(system, batch, seed=0, split="test").to(torch.float32)
    R_T, H, p = scenario.R_T, scenario.H_est, scenario.p
    singles = [
        design_network(network, R_T[i : i + 1], H[i : i + 1], p[i : i + 1], system).seconds
        for i in range(single)
    ]
    batched = min(design_network(network, R_T, H, p, system).seconds for _ in range(3))
    return 1000.0 * statistics.median(singles[10:]), 1000.0 * batched / batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--single", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path("outputs/runtime"))
    args = parser.parse_args()
    rows = []
    for setting, values in SWEEPS.items():
        for value in values:
            single_ms, batched_ms = time_per_sample(setting, value, args.batch, args.single)
            rows.append(
                {
                    "setting": setting,
                    "value": value,
                    "ms_batch_1": single_ms,
                    "ms_batched": batched_ms,
                }
            )
    write_csv(args.out / "runtime.csv", rows)
    print(f"threads={torch.get_num_threads()} batch={args.batch}")
    print("| setting | value | ms/sample, batch 1 | ms/sample, batched |")
    print("|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['setting']} | {row['value']} | {row['ms_batch_1']:.3f} | "
            f"{row['ms_batched']:.4f} |"
        )


if __name__ == "__main__":
    main()
