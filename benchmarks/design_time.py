"""Design time of trained networks and registered schemes on the same test batch, in one run.

    python benchmarks/design_time.py --runs outputs/train/<isacnn run> outputs/train/<pricenet run>
        [--schemes price_prior optimum] [--repeats 7] [--polish 0 3]

Every design starts from what the BS holds (R_T, H_hat, p; float32) and includes the
pre-processing and the recovery of S and W (:mod:`isac.designer.timed`). The runs
must share their system; the test set is the first run's. Designs are timed in turns,
best of ``--repeats``, and reported as ms per sample and as a ratio to the first run's.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from isac.designer.timed import design_network, design_scheme, timed
from isac.files import checkpoint_path, read_run_config
from isac.learning.checkpoints import load_for
from isac.learning.training import system_from_config
from isac.physics.receivers import Receiver
from isac.physics.scenario import sample_scenario


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", type=Path, required=True)
    parser.add_argument("--schemes", nargs="*", default=[])
    parser.add_argument(
        "--polish",
        nargs="*",
        type=int,
        default=[],
        help="also time a price-head network with these polish_steps",
    )
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    cfg = read_run_config(args.runs[0])
    system = system_from_config(cfg)
    scenario = sample_scenario(
        system, cfg.data.n_test, beta=cfg.csi.beta, seed=cfg.data.seed, split="test"
    ).to(torch.float32)
    receiver = Receiver(cfg.csi.receiver, cfg.csi.beta)
    inputs = (scenario.R_T, scenario.H_hat, scenario.p, system, receiver)
    designs = {}
    for run in args.runs:
        module = load_for(checkpoint_path(run, "best"), system, receiver)
        designs[module.name] = lambda module=module: design_network(module, *inputs)
        if hasattr(module.network, "polish_steps"):
            for steps in args.polish:
                polished = load_for(checkpoint_path(run, "best"), system, receiver)
                polished.network.polish_steps = steps
                designs[f"{module.name}+polish{steps}"] = lambda m=polished: design_network(
                    m, *inputs
                )
    for name in args.schemes:
        designs[name] = lambda name=name: design_scheme(name, *inputs)
    times = {name: [] for name in designs}
    for _ in range(args.repeats):  # in turns, so that drifts of the machine hit all alike
        for name, design in designs.items():
            times[name].append(timed(design, 1).seconds)
    n = len(scenario.H)
    first = min(times[next(iter(times))])
    print(f"threads={torch.get_num_threads()} n={n} repeats={args.repeats}")
    print("| design | ms/sample | ratio to the first |")
    print("|---|---|---|")
    for name, values in times.items():
        print(f"| {name} | {1000 * min(values) / n:.4f} | {min(values) / first:.2f}x |")


if __name__ == "__main__":
    main()
