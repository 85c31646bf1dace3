"""Table I: a learned design's online time per sample against n_tx, n_rx and n_users.

Online time = pre-processing (EVD of R_T), features (29), the network, and the recovery
of S (31) and the beams w_k (32), from the inputs a BS holds (float32 on the CPU),
through the design API (:class:`isac.designer.Designer`) with its input checks:

- batch 1: one sample per call, the latency a BS sees once per coherence interval;
- batched: ``--batch`` samples in one call, per sample;
- floor: the linear algebra no design avoids, timed alike at batch 1: the EVD of R_T
  and one Hermitian solve for the users' MMSE beams.

The batch-1 calls of the designs and of the floor take turns in blocks of samples, so
that a machine whose speed drifts during the run moves them alike and the ratios hold.

The sweep rows time untrained ISACNNs of each size: the arithmetic does not depend on
the weights. Whether a network takes the numpy one-sample path does (its compile check
runs on features of its scenario), so a second table times the designs users run, the
shipped trained ISACNN, PriceNet and universal network at Table II, beside the untrained
ISACNN, in the same run, each with the path its batch-1 calls took (PriceNet and the
universal network twice: in onnxruntime and compiled by AOTInductor, which compiles each
once, under a minute, on a machine whose cache lacks them). Each sweep row varies
one setting with the others at Table II; the paper's Table I is beside it. Run:

    python benchmarks/runtime_table.py [--batch 2000] [--single 500] [--out outputs/runtime]

It prints two markdown tables and writes runtime.csv and trained.csv under --out.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from isac.config import compose_config
from isac.designer import Designer
from isac.designer.timed import interleaved_median_ms
from isac.experiments.paper_numbers import PAPER_TABLE1_MS
from isac.files import write_csv
from isac.learning.pretrained import manifest
from isac.learning.training import build_module, system_from_config
from isac.physics.scenario import sample_scenario

SWEEPS = {"n_tx": range(4, 17, 2), "n_rx": range(4, 17, 2), "n_users": range(2, 9)}
PRETRAINED = tuple(manifest())  # isacnn, pricenet, universal
COMPILED = ("pricenet", "universal")  # designs with a compiled one-sample path


def time_per_sample(setting: str, value: int, batch: int, single: int) -> dict[str, float]:
    """ms per sample at batch size 1 (median), in one batch (best of 3) and of the floor,
    for an untrained ISACNN with ``system.<setting>=<value>``, the rest at Table II."""
    cfg = compose_config(overrides=[f"system.{setting}={value}"])
    system = system_from_config(cfg)
    designer = Designer.from_module(build_module(cfg, system))
    times = time_designers({"isacnn": designer}, system, batch, single)
    return {**times["isacnn"], "paper_ms": PAPER_TABLE1_MS[setting][value]}


def time_designers(
    designers: dict[str, Designer], system, batch: int, single: int
) -> dict[str, dict[str, float]]:
    """Per designer, ms per sample at batch size 1 (median), in one batch (best of 3), and
    of the floor, on ``batch`` test samples of ``system``. The batch-1 calls of every
    designer and of the floor take turns in blocks of samples
    (:func:`~isac.designer.timed.interleaved_median_ms`), so their ratios hold on a
    machine whose speed drifts."""
    scenario = sample_scenario(system, batch, seed=0, split="test").to(torch.float32)
    R_T, H, p = scenario.R_T, scenario.H_hat, scenario.p  # R_T is computed: once
    identity = torch.eye(system.n_rx, dtype=H.dtype)

    def floor(i: int) -> None:
        with torch.inference_mode():
            torch.linalg.eigh(R_T[i])
            torch.linalg.solve(H[i] @ H[i].mH + identity, H[i])

    def one_sample(designer: Designer):
        return lambda i: designer(R_T[i], H[i], p[i])

    calls = {"floor": floor} | {label: one_sample(d) for label, d in designers.items()}
    single_ms = interleaved_median_ms(calls, single)
    times = {}
    for label, designer in designers.items():
        batched = []
        for _ in range(3):
            start = time.perf_counter()
            designer(R_T, H, p)
            batched.append(time.perf_counter() - start)
        times[label] = {
            "ms_batch_1": single_ms[label],
            "ms_batched": 1000.0 * min(batched) / batch,
            "ms_floor": single_ms["floor"],
        }
    return times


def trained_rows(batch: int, single: int) -> list[dict]:
    """The shipped designs at Table II beside an untrained ISACNN, timed alike and
    together."""
    cfg = compose_config()
    system = system_from_config(cfg)
    designers = {"isacnn, untrained": Designer.from_module(build_module(cfg, system))}
    for name in PRETRAINED:
        designers[f"{name}, shipped (trained)"] = Designer.from_pretrained(name)
    for name in COMPILED:  # AOTInductor: compiled once per network, then from the cache
        designers[f"{name}, shipped, compiled"] = Designer.from_pretrained(name, compiled=True)
    times = time_designers(designers, system, batch, single)
    return [
        {"design": label, "path": designer.single_sample_path} | times[label]
        for label, designer in designers.items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--single", type=int, default=500)
    parser.add_argument("--out", type=Path, default=Path("outputs/runtime"))
    args = parser.parse_args()
    rows = []
    for setting, values in SWEEPS.items():
        for value in values:
            times = time_per_sample(setting, value, args.batch, args.single)
            rows.append({"setting": setting, "value": value, **times})
    trained = trained_rows(args.batch, args.single)
    write_csv(args.out / "runtime.csv", rows)
    write_csv(args.out / "trained.csv", trained)
    print(f"threads={torch.get_num_threads()} batch={args.batch}")
    print(
        "| setting | value | ms/sample, batch 1 | ms/sample, batched | floor (EVD + solve), ms "
        "| batch 1 / floor | paper, ms | batch 1 / paper |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['setting']} | {row['value']} | {row['ms_batch_1']:.3f} | "
            f"{row['ms_batched']:.4f} | {row['ms_floor']:.3f} | "
            f"{row['ms_batch_1'] / row['ms_floor']:.1f}x | {row['paper_ms']:.4f} | "
            f"{row['ms_batch_1'] / row['paper_ms']:.2f}x |"
        )

    print()
    reference = trained[0]["ms_batch_1"]
    print(
        "| design (Table II) | batch-1 path | ms/sample, batch 1 | ms/sample, batched "
        "| floor, ms | batch 1 / floor | batch 1 / untrained ISACNN's |"
    )
    print("|---|---|---|---|---|---|---|")
    for row in trained:
        print(
            f"| {row['design']} | {row['path']} | {row['ms_batch_1']:.3f} | "
            f"{row['ms_batched']:.4f} | {row['ms_floor']:.3f} | "
            f"{row['ms_batch_1'] / row['ms_floor']:.1f}x | {row['ms_batch_1'] / reference:.1f}x |"
        )


if __name__ == "__main__":
    main()
