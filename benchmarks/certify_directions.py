"""Every design's share of a certified optimum with targets at directions, two or more targets.

For each DirectionNet run of an ``experiment=directions`` sweep with M >= 2, it takes the
first ``--samples`` test samples of the run (its data seed and settings), designs them
with the run's network (its own polish) and with every scheme that serves the model,
and bounds the optimum from above by the branch and bound of
:mod:`isac.schemes.directional_bound`, started from the best of those designs. The
certified optimum U is that bound: no design can score above it. It reports, per point,
each design's mean and worst share of U, and the reference optimum's certified gap
(U - its WSNR) / U. Run:

    python benchmarks/certify_directions.py --runs <sweep directory or runs> [--samples 200]

It prints a markdown table and writes certify_directions.csv under --out.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from isac.files import read_run_config, write_csv
from isac.learning.checkpoints import load_checkpoint
from isac.learning.training import build_datamodule, system_from_config
from isac.schemes.directional import DirectionalInputs
from isac.schemes.directional_bound import certified_gap
from isac.schemes.registry import SCHEMES

SCHEME_NAMES = ("average", "zero_power", "waterfilling", "price_prior", "traditional", "optimum")


def directional_runs(paths: list[Path]) -> list[Path]:
    """The DirectionNet runs with two or more targets among ``paths`` (runs, or sweep
    directories holding runs)."""
    runs = []
    found = [p / "metrics.json" if (p / "metrics.json").exists() else p for p in paths]
    for metrics in sorted(
        m for f in found for m in ([f] if f.is_file() else f.glob("**/metrics.json"))
    ):
        values = json.loads(metrics.read_text())
        if values["model"] == "directional" and values["target"]["n_targets"] >= 2:
            runs.append(metrics.parent)
    return runs


def certify(run: Path, samples: int) -> list[dict]:
    """Rows (one per design) of the run's point: shares of the certified optimum."""
    cfg = read_run_config(run)
    system = system_from_config(cfg)
    module = load_checkpoint(run / "checkpoints" / "best.ckpt").eval()
    (test,) = build_datamodule(cfg, system).evaluation_sets("test")
    problem = test.all().problem[torch.arange(samples)]
    terms = problem.terms
    H_hat, p = problem.H_hat.to(torch.complex128), problem.p.double()
    channel, _ = problem.receiver.model(H_hat, p, system)
    inputs = DirectionalInputs(terms, channel, p, system)
    values = {}
    with torch.no_grad():
        values["directional"] = terms.wsnr(module.network(problem).to(torch.complex128), system)
    for name in SCHEME_NAMES:
        values[name] = terms.wsnr(SCHEMES[name].design(inputs).sigma_s, system)
    start = time.perf_counter()
    best, gap = certified_gap(inputs, torch.stack(list(values.values())).amax(0))
    seconds = time.perf_counter() - start
    bound = best + gap
    point = {
        "n_targets": cfg.target.n_targets,
        "separation_deg": cfg.channel.center_deg - cfg.target.center_deg,
        "alpha": system.alpha,
    }
    reference_gap = (bound - values["optimum"]) / bound
    rows = []
    for name, value in values.items():
        share = 100.0 * value / bound
        rows.append(
            {
                **point,
                "design": name,
                "mean_pct_of_certified": share.mean().item(),
                "worst_pct_of_certified": share.min().item(),
                "reference_gap_max": reference_gap.max().item(),
                "reference_gap_median": reference_gap.median().item(),
                "share_certified_1e-4": (gap / bound <= 1e-4).double().mean().item(),
                "certificate_s_per_sample": seconds / samples,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs", type=Path, nargs="+", required=True, help="runs or directions sweep directories"
    )
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path("outputs/certify_directions"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    for run in directional_runs(args.runs):
        rows.extend(certify(run, args.samples))
        last = rows[-len(SCHEME_NAMES) - 1 :]
        print(
            f"M={last[0]['n_targets']} sep={last[0]['separation_deg']} "
            f"alpha={last[0]['alpha']}: reference gap max {last[0]['reference_gap_max']:.2e}, "
            f"certified within 1e-4: {100 * last[0]['share_certified_1e-4']:.1f} %",
            flush=True,
        )
    print("| M | separation | alpha | design | mean % of certified | worst % |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['n_targets']} | {row['separation_deg']:g} | {row['alpha']:g} | "
            f"{row['design']} | {row['mean_pct_of_certified']:.4f} | "
            f"{row['worst_pct_of_certified']:.3f} |"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    write_csv(args.out / "certify_directions.csv", rows)


if __name__ == "__main__":
    main()
