"""The price of the fixed-step water-filling: PriceNet's and the universal network's static
graph (ONNX, the one-sample path) against their exact layer, as % of the optimum.

First the layer alone against the exact solver, by the number of multiplier steps: on
problems of nine systems (Table II and sizes, SNRs and alpha around it), 20,000 each,
at prices spread around the closed-form prior (nu_0 e^z, z ~ N(0, 1), below nu_max),
the largest WSNR shortfall (28) of the fixed steps' powers against the exact ones at the
same price, relative, and how many samples fall short by more than 1e-9.

Then, at every point of Fig. 7 (alpha = 0, 0.1, ..., 1 at Table II) the shipped universal
network, and at Table II the shipped PriceNet, each on 2,000 test samples: the mean and
the worst sample of WSNR / optimum (:func:`~isac.schemes.optimum.optimal_powers`) with
the exact layer (the batch path) and with the graph (:class:`PriceGraph`, in torch: the
graph onnxruntime runs, to 1e-5); with ``--compiled``, also with the graph compiled by
AOTInductor, one sample per call through the design API (float64 inputs), as a base
station runs it (a C++ compiler and a minute per point, once). Run:

    python benchmarks/unrolled_price.py [--samples 2000] [--compiled] [--out <csv>]

It prints two markdown tables and writes the second as CSV (by default
outputs/unrolled_price.csv).
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import torch

from isac.config import compose_config
from isac.designer import Designer
from isac.designer.api import PATH_NAMES
from isac.designer.pipelines import eigen_inputs
from isac.designer.price_graph import PriceGraph, graph_inputs
from isac.files import write_csv
from isac.learning.checkpoints import load_checkpoint
from isac.learning.pretrained import pretrained_run
from isac.learning.problem_batch import ProblemBatch
from isac.learning.training import system_from_config
from isac.physics.problem import ProblemTerms
from isac.physics.scenario import sample_scenario
from isac.schemes.optimum import optimal_powers, prior_price
from isac.schemes.solvers import distinct_levels, multilevel_water_filling
from isac.schemes.unrolled import unrolled_water_filling

FIG7_ALPHAS = [round(0.1 * i, 1) for i in range(11)]
LAYER_SYSTEMS = (
    [],
    ["system.alpha=0.1"],
    ["system.alpha=0.9"],
    ["system.snr_c_db=20"],
    ["system.snr_s_db=0"],
    ["system.snr_s_db=30"],
    ["system.n_users=16", "system.snr_c_db=20"],
    ["system.n_tx=4"],
    ["system.n_tx=4", "system.n_rx=4", "system.n_users=2"],
)
LAYER_STEPS = (4, 6, 8)


def layer_shortfall(overrides: list[str], samples: int) -> dict[str, float]:
    """Largest relative WSNR shortfall of the fixed steps against the exact solver, and the
    number of samples short by more than 1e-9, per step count, at one system."""
    system = system_from_config(compose_config(overrides=overrides))
    terms = ProblemTerms.from_scenario(
        sample_scenario(system, samples, seed=1, split="test"), system
    ).to(torch.float64)
    levels, counts = distinct_levels(terms.sigma_h, system.n_users)
    weight, nu_max = terms.sensing_weight(system), terms.full_price(system)
    nu_0, _, _ = prior_price(terms, system)
    spread = torch.randn(samples, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    nu = torch.minimum(nu_0 * spread.exp(), 0.999 * nu_max)
    budget = system.sensing_power
    exact = terms.wsnr(
        multilevel_water_filling(terms.sigma_t, levels, weight, nu, budget, counts), system
    )
    row = {"system": " ".join(overrides) or "Table II"}
    for steps in LAYER_STEPS:
        x = unrolled_water_filling(terms.sigma_t, levels, counts, weight, nu, budget, steps)
        shortfall = (exact - terms.wsnr(x, system)) / exact
        row[f"max_{steps}"] = float(shortfall.max())
        row[f"short_{steps}"] = int((shortfall > 1e-9).sum())
    return row


def compiled_design(module, system, scenario) -> torch.Tensor:
    """sigma_s [n, n_tx] of the compiled one-sample design, one sample per call."""
    designer = Designer.from_module(module, system=system, compiled=True)
    if designer.single_sample_path != PATH_NAMES["aotinductor"]:
        raise RuntimeError(f"not compiled: {designer.single_sample_path}")
    R_T, H, p = (x.numpy() for x in (scenario.R_T, scenario.H_hat, scenario.p))
    designs = [designer(*one).sigma_s for one in zip(R_T, H, p, strict=True)]
    return torch.stack([torch.as_tensor(x) for x in designs]).double()


def score(module, system, samples: int, compiled: bool) -> dict[str, float]:
    """% of the optimum, mean and worst, of the exact layer and of the graph at ``system``
    (and of the compiled graph, if ``compiled``)."""
    receiver = module.receiver
    scenario = sample_scenario(system, samples, seed=0, split="test")
    sigma_t, _, _ = eigen_inputs(scenario.R_T)
    problem = ProblemBatch.from_estimate(scenario.H_hat, scenario.p, sigma_t, system, receiver)
    terms = problem.terms
    graph = PriceGraph(module.network, system, receiver)
    with torch.no_grad():
        exact = module.network(problem).double()
        unrolled = graph(*graph_inputs(sigma_t, scenario.H_hat, scenario.p)).double()
    designs = {"exact": exact, "graph": unrolled}
    if compiled:
        designs["compiled"] = compiled_design(module, system, scenario)
    best = terms.wsnr(optimal_powers(terms, system), system)
    row = {}
    for label, sigma_s in designs.items():
        share = 100.0 * terms.wsnr(sigma_s, system) / best
        row[f"{label}_mean_pct"] = float(share.mean())
        row[f"{label}_worst_pct"] = float(share.min())
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--compiled", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("outputs/unrolled_price.csv"))
    args = parser.parse_args()
    print(f"| system | {' | '.join(f'{k} steps: max shortfall, > 1e-9' for k in LAYER_STEPS)} |")
    print("|---|" + "---|" * len(LAYER_STEPS))
    for overrides in LAYER_SYSTEMS:
        row = layer_shortfall(overrides, 20_000)
        cells = [f"{row[f'max_{k}']:.1e}, {row[f'short_{k}']}" for k in LAYER_STEPS]
        print(f"| {row['system']} | {' | '.join(cells)} |")
    print()
    rows = []
    universal = load_checkpoint(pretrained_run("universal") / "checkpoints" / "best.ckpt").eval()
    for alpha in FIG7_ALPHAS:
        system = replace(universal.system, alpha=alpha)
        rows.append(
            {"design": "universal", "alpha": alpha}
            | score(universal, system, args.samples, args.compiled)
        )
    pricenet = load_checkpoint(pretrained_run("pricenet") / "checkpoints" / "best.ckpt").eval()
    rows.append(
        {"design": "pricenet", "alpha": pricenet.system.alpha}
        | score(pricenet, pricenet.system, args.samples, args.compiled)
    )
    write_csv(args.out, rows)
    labels = ["exact", "graph"] + (["compiled"] if args.compiled else [])
    print(f"| design | alpha | {' | '.join(f'{k}: mean % | {k}: worst %' for k in labels)} |")
    print("|---|---|" + "---|---|" * len(labels))
    for row in rows:
        cells = [f"{row[f'{k}_mean_pct']:.5f} | {row[f'{k}_worst_pct']:.4f}" for k in labels]
        print(f"| {row['design']} | {row['alpha']} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
