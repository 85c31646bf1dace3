"""The price of the fixed-step water-filling: PriceNet's and the universal network's static
graph (ONNX, the one-sample path) against their exact layer, as % of the optimum.

At every point of Fig. 7 (alpha = 0, 0.1, ..., 1 at Table II) the shipped universal
network, and at Table II the shipped PriceNet, each on 2,000 test samples: the mean and
the worst sample of WSNR / optimum (:func:`~isac.schemes.optimum.optimal_powers`) with
the exact layer (the batch path) and with the graph (:class:`PriceGraph`, in torch: the
graph onnxruntime runs, to 1e-5). Run:

    python benchmarks/unrolled_price.py [--samples 2000] [--out outputs/unrolled_price.csv]
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import torch

from isac.designer.pipelines import eigen_inputs
from isac.designer.price_graph import PriceGraph, graph_inputs
from isac.files import write_csv
from isac.learning.checkpoints import load_checkpoint
from isac.learning.pretrained import pretrained_run
from isac.learning.problem_batch import ProblemBatch
from isac.physics.scenario import sample_scenario
from isac.schemes.optimum import optimal_powers

FIG7_ALPHAS = [round(0.1 * i, 1) for i in range(11)]


def score(module, system, samples: int) -> dict[str, float]:
    """% of the optimum, mean and worst, of the exact layer and of the graph at ``system``."""
    receiver = module.receiver
    scenario = sample_scenario(system, samples, seed=0, split="test")
    sigma_t, _, _ = eigen_inputs(scenario.R_T)
    problem = ProblemBatch.from_estimate(scenario.H_hat, scenario.p, sigma_t, system, receiver)
    terms = problem.terms
    graph = PriceGraph(module.network, system, receiver)
    with torch.no_grad():
        exact = module.network(problem).double()
        unrolled = graph(*graph_inputs(sigma_t, scenario.H_hat, scenario.p)).double()
    best = terms.wsnr(optimal_powers(terms, system), system)
    row = {}
    for label, sigma_s in (("exact", exact), ("graph", unrolled)):
        share = 100.0 * terms.wsnr(sigma_s, system) / best
        row[f"{label}_mean_pct"] = float(share.mean())
        row[f"{label}_worst_pct"] = float(share.min())
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=Path("outputs/unrolled_price.csv"))
    args = parser.parse_args()
    rows = []
    universal = load_checkpoint(pretrained_run("universal") / "checkpoints" / "best.ckpt").eval()
    for alpha in FIG7_ALPHAS:
        system = replace(universal.system, alpha=alpha)
        rows.append(
            {"design": "universal", "alpha": alpha} | score(universal, system, args.samples)
        )
    pricenet = load_checkpoint(pretrained_run("pricenet") / "checkpoints" / "best.ckpt").eval()
    rows.append(
        {"design": "pricenet", "alpha": pricenet.system.alpha}
        | score(pricenet, pricenet.system, args.samples)
    )
    write_csv(args.out, rows)
    print("| design | alpha | exact: mean % | exact: worst % | graph: mean % | graph: worst % |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['design']} | {row['alpha']} | {row['exact_mean_pct']:.5f} | "
            f"{row['exact_worst_pct']:.4f} | {row['graph_mean_pct']:.5f} | "
            f"{row['graph_worst_pct']:.4f} |"
        )


if __name__ == "__main__":
    main()
