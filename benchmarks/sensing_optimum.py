"""M_s with targets at directions: the projected gradient search alone against the search
with the barrier method for the samples it leaves moving (docs/model.md, item 15).

M_s depends on the targets only, so for each number of targets it takes the test set of
``experiment=directions`` (its first point; every point draws the same targets) and
times, taking turns, the two solvers on all of it:

- ``search``: up to 300 projected gradient steps, settled samples leaving the batch
  (M_s's solver before the barrier method);
- ``search + barrier``: the solver of :func:`isac.physics.directional.sensing_optimum`.

It reports each one's median ms per sample over ``--repeats`` turns, their ratio, how
far M_s moved (relative, largest rise and fall), how many samples the barrier method
finished, and the largest Frank-Wolfe bound on each one's shortfall. Run:

    python benchmarks/sensing_optimum.py [--targets 2 3] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from isac.config import compose_config
from isac.learning.training import build_datamodule, system_from_config
from isac.physics.directional import (
    SENSING_SEARCH_STEPS,
    sensing_optimum,
    sensing_search,
    sensing_weights_without_users,
    span_sensing_rate,
)
from isac.physics.psd_ascent import Ascent, frank_wolfe_bound

SEARCH_ALONE_STEPS = 300  # the cap of M_s's search before the barrier method


def compare(n_targets: int, repeats: int) -> str:
    """The markdown row of ``n_targets`` (module docstring)."""
    cfg = compose_config("config", ["experiment=directions", f"target.n_targets={n_targets}"])
    system = system_from_config(cfg)
    (test,) = build_datamodule(cfg, system).evaluation_sets("test")
    targets = test.all().problem.terms.targets
    free = sensing_weights_without_users(targets, system.noise_power)
    reduced = targets.basis().mH @ targets.A
    n = len(reduced)
    rate = span_sensing_rate(system)

    def search(steps: int) -> Ascent:
        return sensing_search(free, reduced, system, steps)

    solvers = {
        "search": lambda: search(SEARCH_ALONE_STEPS)[:2],
        "barrier": lambda: sensing_optimum(free, targets, system),
    }
    times = {name: [] for name in solvers}
    results = {}
    for turn in range(repeats):
        for name in sorted(solvers, reverse=turn % 2 == 1):
            began = time.perf_counter()
            results[name] = solvers[name]()
            times[name].append(1e3 * (time.perf_counter() - began) / n)
    median = {name: statistics.median(t) for name, t in times.items()}
    (_, searched), (_, finished) = results["search"], results["barrier"]
    change = (finished - searched) / searched
    moving = search(SENSING_SEARCH_STEPS).moving
    bounds = []
    for Z, _ in results.values():
        value, bound = frank_wolfe_bound(rate, Z, system.sensing_power, (free, reduced))
        bounds.append(((bound - value) / value).max().item())
    return (
        f"| {n_targets} | {median['search']:.3f} | {median['barrier']:.3f} | "
        f"{median['search'] / median['barrier']:.2f}x | {change.max().item():.1e} / "
        f"{max(0.0, -change.min().item()):.1e} | {len(moving)} of {n} | "
        f"{bounds[0]:.1e} / {bounds[1]:.1e} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, nargs="+", default=[2, 3])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(
        "| M | search, ms/sample | search + barrier | speed-up | M_s rise / fall, relative "
        "| finished by the barrier | Frank-Wolfe bound, search / with barrier |"
    )
    print("|---|---|---|---|---|---|---|")
    for n_targets in args.targets:
        print(compare(n_targets, args.repeats))


if __name__ == "__main__":
    main()
