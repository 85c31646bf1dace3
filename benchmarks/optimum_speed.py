"""The global optimum against the project's first method, at every point of Figs. 7-11.

For each point of the sweeps of ``conf/experiment/fig{7,8,9,10,11}.yaml`` (the same
settings the figures use), it draws the test set (``data.n_test`` samples of data seed 0,
the experiment's beta), computes the optimum of what the base station sees (H_hat) with
:func:`isac.schemes.optimum.optimal_powers` and with the first method,
:func:`isac.schemes.optimum.golden_search_optimum`, both timed in the same run, and
reports ms per sample, their ratio and the largest relative WSNR difference. Run:

    python benchmarks/optimum_speed.py [--figures fig7 fig8] [--n-test 2000]

It prints a markdown table and a summary, and writes optimum_speed.csv under --out.
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser

from isac.config import CONF_DIR, register
from isac.files import write_csv
from isac.learning.training import system_from_config
from isac.physics.problem import ProblemTerms
from isac.physics.scenario import sample_scenario
from isac.schemes.optimum import golden_search_optimum, optimal_powers


def sweep_points(figure: str) -> list[list[str]]:
    """Every point of an experiment's sweep, as lists of overrides."""
    register()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", [f"experiment={figure}"], return_hydra_config=True)
    parser = OverridesParser.create()
    axes = [
        [f"{key}={value}" for value in parser.parse_override(f"{key}={values}").sweep_iterator()]
        for key, values in cfg.hydra.sweeper.params.items()
    ]
    return [[f"experiment={figure}", *point] for point in itertools.product(*axes)]


def seconds(design, *args, repeats: int = 2) -> tuple[torch.Tensor, float]:
    """``design(*args)`` and its best time of ``repeats``."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        result = design(*args)
        best = min(best, time.perf_counter() - start)
    return result, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--figures", nargs="+", default=["fig7", "fig8", "fig9", "fig10", "fig11"])
    parser.add_argument("--n-test", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=Path("outputs/benchmarks"))
    args = parser.parse_args()
    rows = []
    for figure in args.figures:
        for overrides in sweep_points(figure):
            with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
                cfg = compose("config", overrides)
            system = system_from_config(cfg)
            scenario = sample_scenario(
                system, args.n_test, beta=cfg.csi.beta, seed=cfg.data.seed, split="test"
            )
            seen = ProblemTerms.from_channels(scenario.H_hat, scenario.p, scenario.sigma_t, system)
            fast, fast_s = seconds(optimal_powers, seen, system)
            first, first_s = seconds(golden_search_optimum, seen, system)
            fast_wsnr, first_wsnr = seen.wsnr(fast, system), seen.wsnr(first, system)
            rows.append(
                {
                    "figure": figure,
                    "point": " ".join(overrides[1:]),
                    "ms_per_sample": 1000 * fast_s / args.n_test,
                    "first_method_ms_per_sample": 1000 * first_s / args.n_test,
                    "speedup": first_s / fast_s,
                    "max_rel_wsnr_difference": float(
                        ((fast_wsnr - first_wsnr).abs() / first_wsnr.abs()).max()
                    ),
                    "never_worse": bool((fast_wsnr >= first_wsnr * (1 - 1e-12)).all()),
                }
            )
            print(rows[-1], flush=True)
    write_csv(args.out / "optimum_speed.csv", rows)
    print(f"threads={torch.get_num_threads()} n_test={args.n_test}")
    print("| figure | point | ms/sample | first method | speed-up | max rel. difference |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['figure']} | {row['point']} | {row['ms_per_sample']:.3f} | "
            f"{row['first_method_ms_per_sample']:.3f} | {row['speedup']:.1f}x | "
            f"{row['max_rel_wsnr_difference']:.1e} |"
        )
    ms = [row["ms_per_sample"] for row in rows]
    print(
        f"{len(rows)} points: {min(ms):.3f}-{max(ms):.3f} ms/sample "
        f"(mean {sum(ms) / len(ms):.3f}); largest relative difference "
        f"{max(row['max_rel_wsnr_difference'] for row in rows):.1e}; never worse: "
        f"{all(row['never_worse'] for row in rows)}"
    )


if __name__ == "__main__":
    main()
