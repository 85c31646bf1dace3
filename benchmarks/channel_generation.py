"""Seconds to draw a set of TR 38.901 channels, generated and then read back from the cache,
against drawing the paper's Rayleigh set of the same size in the same run.

    python benchmarks/channel_generation.py [--n 10000] [--scenario umi] [overrides ...]

Each is what ``train.py`` does for a split: :func:`~isac.physics.scenario.sample_scenario`
with ``channel=tr38901`` (Sionna's drops, power control, the error model and R_T), at
Table II sizes unless overridden (``system.n_rx=8`` ...). The first call generates every
chunk into an empty cache (a temporary directory, so earlier caches never count); the
second reads them back. Prints the seconds of each, their ratios to the Rayleigh draw and
to each other, and the issue's targets (generation <= 60 s, reload <= 2 s at 10,000).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from isac.config import channel_of, compose_config
from isac.learning.training import system_from_config
from isac.physics.scenario import sample_scenario
from isac.physics.tr38901 import CACHE_ENV


def timed(draw) -> float:
    start = time.perf_counter()
    draw()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10000, help="samples in the set")
    parser.add_argument("--scenario", default="umi", help="umi, uma or rma")
    parser.add_argument("overrides", nargs="*", help="train.py overrides, e.g. system.n_rx=8")
    args = parser.parse_args()
    cfg = compose_config(
        "config", ["channel=tr38901", f"channel.scenario={args.scenario}", *args.overrides]
    )
    system, channel = system_from_config(cfg), channel_of(cfg)
    with tempfile.TemporaryDirectory() as cache:
        os.environ[CACHE_ENV] = cache
        rayleigh = timed(lambda: sample_scenario(system, args.n, split="test"))
        generated = timed(lambda: sample_scenario(system, args.n, split="test", channel=channel))
        reloaded = timed(lambda: sample_scenario(system, args.n, split="test", channel=channel))
    print(
        f"{args.n} samples, N_r = {system.n_rx}, K = {system.n_users}, "
        f"TR 38.901 {channel.scenario}, {os.cpu_count()} CPUs"
    )
    print("| set | seconds | / Rayleigh | target |")
    print("|---|---|---|---|")
    print(f"| Rayleigh (the paper's) | {rayleigh:.3f} | 1.0 | |")
    print(f"| TR 38.901, generated | {generated:.1f} | {generated / rayleigh:.0f} | <= 60 s |")
    print(f"| TR 38.901, from the cache | {reloaded:.3f} | {reloaded / rayleigh:.1f} | <= 2 s |")
    print(f"cached reload is {generated / reloaded:.0f}x faster than generating")


if __name__ == "__main__":
    main()
