"""What each design realises under imperfect CSI, paired on one test set: the model-based
designs, the networks trained on the realised objective, and the genie.

    python train.py -m experiment=csi_realised hydra/launcher=joblib
    python scripts/realised_edge.py outputs/sweeps/csi_realised/full/<date_time> [...]
    python scripts/realised_edge.py --points 16:0.3 4:0.7      # model-based designs only
    python scripts/realised_edge.py <sweeps> --universal <universal run>  # ... and one network

For every point (N_r, beta at Table II otherwise; from each run's ``metrics.json`` for
the runs given), on the run's test set (``data.n_test`` samples of its data seed), the
WSNR realised on the true channel and normalised by its M_s and M_c
(:func:`isac.experiments.comparison.score`) of:

- ``naive``: the optimum of the naive objective, with the naive MMSE beams;
- ``naive_powers_robust_beams``: the same powers with the robust LMMSE beams;
- ``robust``: the optimum of the robust objective (docs/model.md, item 13), robust beams;
- each network given (trained with ``csi.objective=realised``), with its receiver's beams;
- each universal run given (``--universal``; one network for every point, e.g. trained
  with ``data=universal_realised``), scored at every point at that point's beta;
- ``draw_oracle``: on each test draw, the best sensing powers for that draw with the
  robust beams: an upper bound of what any BS-side design with those beams realises;
- ``genie``: the optimum with the beams of the true channel, which no BS-side design reaches.

and, per network, the paired difference to the best model-based design at that point
(the highest mean of the first three), mean and 95 % interval (1.96 standard errors).
Writes a markdown table to stdout, with ``--out`` a CSV and with ``--figure`` a PNG of
the paired differences (the naive design, far below, left out of it).
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import torch
from matplotlib.figure import Figure

from isac.experiments.comparison import compare_schemes
from isac.learning.checkpoints import load_for
from isac.learning.training import read_saved_run
from isac.physics.problem import ProblemTerms
from isac.physics.realised import RealisedTerms
from isac.physics.receivers import Receiver
from isac.physics.scenario import sample_scenario
from isac.physics.system import SystemConfig
from isac.schemes.registry import SCHEMES, SchemeInputs
from isac.schemes.solvers import distinct_levels, water_filling_from

MODEL_BASED = ("naive", "naive_powers_robust_beams", "robust")
Z_95 = 1.96
ORACLE_PRICES = 200  # grid points of the draw oracle's price search


def realised(system: SystemConfig, beta: float, n_test: int, seed: int, receiver: str, network):
    """{design: {metric: real [n_test]}}: the scores (:func:`score`: realised with every
    receiver's beams) of ``network``, or without one, of the optimum for ``receiver``."""
    comparison = compare_schemes(
        system,
        network,
        [] if network is not None else ["optimum"],
        beta=beta,
        n_test=n_test,
        seed=seed,
        repeats=1,
        receiver=receiver,
    )
    return comparison.scores


def genie_scores(system: SystemConfig, beta: float, n_test: int, seed: int) -> torch.Tensor:
    """real [n_test]: the WSNR (28) of the optimum designed from the true channel, with its
    beams: what a BS that knew H would realise."""
    scenario = sample_scenario(system, n_test, beta=beta, seed=seed, split="test")
    truth = ProblemTerms.from_scenario(scenario, system)
    design = SCHEMES["optimum"].design(SchemeInputs(truth, scenario.H, scenario.p, system))
    return truth.wsnr(design.sigma_s, system)


def draw_oracle_scores(
    system: SystemConfig, beta: float, n_test: int, seed: int, prices: int = ORACLE_PRICES
) -> torch.Tensor:
    """real [n_test]: the most WSNR any sensing powers realise on each test draw with the
    robust beams: an upper bound of every BS-side design with those beams, which must
    choose its powers without the draw.

    On a draw, Rc depends on the powers only through the echo power t, and the true Rs
    is concave; so the best powers at any t are a water-filling on the true sigma_h at a
    price nu of t, and the best over all powers is the best over nu in [0, nu_max]
    (searched on a grid of ``prices``, plus zero power)."""
    scenario = sample_scenario(system, n_test, beta=beta, seed=seed, split="test")
    terms = RealisedTerms.from_channels(
        Receiver("robust", beta), scenario.H, scenario.H_hat, scenario.p, scenario.sigma_t, system
    )
    truth = terms.truth
    weight, nu_max = truth.sensing_weight(system), truth.full_price(system)
    levels, counts = distinct_levels(truth.sigma_h, system.n_users)
    best = terms.wsnr(torch.zeros_like(truth.sigma_t), system)
    warm = None  # each price starts from the last one's solution
    for share in torch.linspace(0.0, 1.0, prices, dtype=torch.float64) ** 2:
        warm = water_filling_from(
            truth.sigma_t, levels, weight, share * nu_max, system.sensing_power, counts, warm
        )
        best = torch.maximum(best, terms.wsnr(warm[0], system))
    return best


def point_scores(system, beta, n_test, seed, networks) -> dict[str, torch.Tensor]:
    """Every design's realised WSNR at one point; ``networks`` are (label, module) pairs
    trained for the robust or naive receiver."""
    naive = realised(system, beta, n_test, seed, "naive", None)["optimum"]
    robust = realised(system, beta, n_test, seed, "robust", None)["optimum"]
    scores = {
        "naive": naive["wsnr_naive"],
        "naive_powers_robust_beams": naive["wsnr_robust"],
        "robust": robust["wsnr_robust"],
    }
    for label, module in networks:
        scores[label] = realised(system, beta, n_test, seed, module.receiver.kind, module)[
            module.name
        ]["wsnr"]
    scores["draw_oracle"] = draw_oracle_scores(system, beta, n_test, seed)
    scores["genie"] = genie_scores(system, beta, n_test, seed)
    return scores


def edge_figure(rows: list[dict]) -> Figure:
    """Each design's paired difference to the best model-based design (1e-4, with its 95 %
    interval): against beta at N_r = 16 (left), against N_r at each other beta (right)."""
    figure = Figure(figsize=(11, 4.2))
    left, right = figure.subplots(1, 2)
    compared = [r for r in rows if "vs" in r and r["design"] != "naive"]
    designs = sorted({r["design"] for r in compared})
    for index, design in enumerate(designs):
        style = {"color": f"C{index}", "marker": "os^vD"[index % 5], "capsize": 3}
        mine = [r for r in compared if r["design"] == design]
        at_16 = sorted((r for r in mine if r["n_rx"] == 16), key=lambda r: r["beta"])
        if at_16:
            left.errorbar(
                [r["beta"] for r in at_16],
                [1e4 * r["difference"] for r in at_16],
                [1e4 * r["ci95"] for r in at_16],
                label=design,
                **style,
            )
        for beta, line in ((0.3, "-"), (0.7, "--")):
            curve = sorted((r for r in mine if r["beta"] == beta), key=lambda r: r["n_rx"])
            if len(curve) > 1:
                right.errorbar(
                    [r["n_rx"] for r in curve],
                    [1e4 * r["difference"] for r in curve],
                    [1e4 * r["ci95"] for r in curve],
                    linestyle=line,
                    label=f"{design}, β = {beta:g}",
                    **style,
                )
    left.set(xlabel="β (N_r = 16)", title="Table II against the CSI accuracy")
    right.set(xlabel="N_r", title="Fig. 11's antennas")
    for axes in (left, right):
        axes.axhline(0.0, color="k", linewidth=0.8)
        axes.set_ylabel("realised WSNR - best model-based design (1e-4)")
        axes.grid(alpha=0.3)
        axes.legend(fontsize=7)
    figure.suptitle("What each design realises beyond the robust optimum, paired, 95 %")
    return figure


def runs_of(paths: list[Path]) -> list[Path]:
    """The run directories (with ``metrics.json``) at or directly below ``paths``."""
    found = []
    for path in paths:
        candidates = [path] if (path / "metrics.json").is_file() else sorted(path.iterdir())
        found += [c for c in candidates if (c / "metrics.json").is_file()]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", type=Path, help="run or sweep directories")
    parser.add_argument("--points", nargs="*", default=[], help="N_R:BETA, model-based only")
    parser.add_argument("--n-test", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--figure", type=Path, help="a PNG of the paired differences")
    parser.add_argument(
        "--universal", nargs="*", type=Path, default=[], help="universal runs, scored everywhere"
    )
    args = parser.parse_args()

    # (N_r, beta, every system setting) -> (system, beta, n_test, seed, [(label, module)])
    points: dict[tuple, tuple] = {}

    def key_of(system: SystemConfig, beta: float) -> tuple:
        return (system.n_rx, beta, tuple(sorted(system.to_dict().items())))

    for text in args.points:
        n_rx, beta = text.split(":")
        system = SystemConfig(n_rx=int(n_rx))
        points[key_of(system, float(beta))] = (system, float(beta), args.n_test, args.seed, [])
    for run in runs_of(args.runs):
        metrics = json.loads((run / "metrics.json").read_text())
        system = SystemConfig(**metrics["system"])
        beta = float(metrics["beta"])
        module = load_for(
            run / "checkpoints" / "best.ckpt", system, Receiver(metrics["receiver"], beta)
        )
        test_set = (int(read_saved_run(run).data.n_test), int(metrics["data_seed"]))
        entry = points.setdefault(key_of(system, beta), (system, beta, *test_set, []))
        if entry[2:4] != test_set:
            raise SystemExit(
                f"run {run}: its test set (n_test, seed) = {test_set} differs from {entry[2:4]} "
                "of the same point; paired differences need one test set"
            )
        entry[4].append((f"{module.name}_{metrics['objective']}", module))
    for run in args.universal:  # one network for every point, at each point's beta
        trained = read_saved_run(run)
        kind, objective = trained.csi.receiver, trained.csi.get("objective", "model")
        for system, beta, _, _, networks in points.values():
            module = load_for(run / "checkpoints" / "best.ckpt", system, Receiver(kind, beta))
            networks.append((f"universal_{objective}", module))

    rows = []
    for (n_rx, _, _), (system, beta, n_test, seed, networks) in sorted(points.items()):
        scores = point_scores(system, beta, n_test, seed, networks)
        best = max(MODEL_BASED, key=lambda name: scores[name].mean().item())
        for name, values in scores.items():
            row = {"n_rx": n_rx, "beta": beta, "design": name, "wsnr": values.mean().item()}
            if name not in (best, "genie"):
                difference = values - scores[best]
                row["vs"] = best
                row["difference"] = difference.mean().item()
                row["ci95"] = Z_95 * difference.std().item() / len(difference) ** 0.5
            rows.append(row)
    print(
        "| N_r | beta | design | realised WSNR | "
        "paired difference to the best model-based design, 95 % |"
    )
    print("|---|---|---|---|---|")
    for row in rows:
        versus = (
            f"{row['difference']:+.5f} ± {row['ci95']:.5f} (vs {row['vs']})" if "vs" in row else ""
        )
        print(
            f"| {row['n_rx']} | {row['beta']:g} | {row['design']} | {row['wsnr']:.5f} | {versus} |"
        )
    if args.figure is not None:
        args.figure.parent.mkdir(parents=True, exist_ok=True)
        edge_figure(rows).savefig(args.figure, dpi=150, bbox_inches="tight")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        fields = ["n_rx", "beta", "design", "wsnr", "vs", "difference", "ci95"]
        with args.out.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)


if __name__ == "__main__":
    main()
