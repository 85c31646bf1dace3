"""The figures' data: one row per sweep point and scheme, from the runs' ``metrics.json``,
and the legend label and style of every curve.

Schemes take their label and style from the scheme registry
(:mod:`isac.schemes.registry`), a learned network from its model config, recorded in each
run's ``metrics.json``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from isac.experiments.sweeps import Run
from isac.schemes.registry import SCHEMES

Rows = list[dict[str, Any]]

EVALUATION_METRICS = (
    "wsnr",
    "rate_s",
    "rate_c",
    "sum_rate_c",
    "pct_of_optimum",
    "wsnr_bs_beams",
    "rate_c_bs_beams",
    "ms_per_sample",
    # the receivers (isac/physics/receivers.py); NaN in runs evaluated before them
    "wsnr_genie",
    "wsnr_naive",
    "wsnr_robust",
    "rate_c_naive",
    "rate_c_robust",
    "rate_c_bound_naive",
    "rate_c_bound_robust",
    "objective_pct_of_optimum",
    "worst_pct_of_optimum",
)
RATE_UNIT = "bits/s/Hz"
OPTIMUM_NOTE = "dotted: the global optimum of each point (beyond the paper)"


AXIS_LABELS = {
    "n_tx": "Number of BS transmit antennas $N_t$",
    "n_rx": "Number of BS receive antennas $N_r$",
    "n_users": "Number of CUs $K$",
    "alpha": r"Weight of sensing $\alpha$",
    "snr_s_db": r"Maximum sensing transmit SNR $\mathrm{SNR}_s$ (dB)",
}


def display(runs: list[Run], scheme: str) -> tuple[str, dict[str, Any]]:
    """(legend label, line style) of ``scheme``: a learned network's from the model config
    of a run that trained it, any other scheme's from the registry."""
    for run in runs:
        if scheme == run.metrics["model"]:
            shown = run.metrics.get("model_display", {})
            return shown.get("label", scheme), dict(shown.get("style", {}))
    return SCHEMES[scheme].label, dict(SCHEMES[scheme].style)


def scheme_order(runs: list[Run], schemes: Iterable[str]) -> list[str]:
    """``schemes`` in legend order: learned networks first, then the registry's order."""
    learned = {run.metrics["model"] for run in runs}
    order = list(SCHEMES)
    return sorted(
        set(schemes), key=lambda s: (s not in learned, order.index(s) if s in order else 0, s)
    )


def evaluation_rows(runs: Iterable[Run], point: Callable[[Run], dict[str, Any]]) -> Rows:
    """One row per sweep point and evaluated scheme: the point, the scheme and its metrics.

    With the sweeps of several networks (:func:`learned_networks`), a scheme that more
    than one evaluated at a point (the optimum, the baselines: the same test set, so the
    same numbers but for timing) keeps the row of the first run that has it.
    """
    rows, seen = [], set()
    for run in runs:
        learned = run.metrics["model"]
        run.scheme(learned)  # a clear error if the run was not evaluated
        where = point(run)
        for scheme, row in run.metrics["evaluation"].items():
            key = (*where.values(), scheme)
            if key in seen:
                continue
            seen.add(key)
            metrics = {m: row.get(m, float("nan")) for m in EVALUATION_METRICS}
            rows.append({**where, "scheme": scheme, **metrics})
    axes = [key for key in rows[0] if key != "scheme" and key not in EVALUATION_METRICS]
    return sorted(rows, key=lambda r: (*(r[key] for key in axes), r["scheme"]))


def series(rows: Rows, x: str, y: str, **where: Any) -> tuple[list[Any], list[float]]:
    """(x values, y values) of the rows matching ``where``, sorted by x."""
    picked = sorted(
        (r[x], r[y]) for r in rows if all(r[key] == value for key, value in where.items())
    )
    return [p[0] for p in picked], [p[1] for p in picked]


def learned_networks(runs: list[Run]) -> list[str]:
    """The learned networks of ``runs``, in the order their runs come (the paper's first:
    :func:`make_figures` orders the sweeps so)."""
    return list(dict.fromkeys(run.metrics["model"] for run in runs))


def short_name(runs: list[Run], network: str) -> str:
    """A learned network's label without its parenthesised note or its "+ ..." part."""
    return display(runs, network)[0].split(" (")[0].split(" + ")[0]


def titled(runs: list[Run]) -> str:
    networks = learned_networks(runs)
    names = [display(runs, networks[0])[0], *(short_name(runs, n) for n in networks[1:])]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
