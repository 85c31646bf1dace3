"""Scoring every scheme on the same test set: the paper's comparison (Fig. 7, Table I)
plus each scheme's distance to the global optimum.

Each scheme is a design (:mod:`isac.experiments.designs`), timed; every design is then
scored on the true channel H with the same rates:

- ``wsnr``, ``rate_s``, ``rate_c``: the paper's metric, eq. (28). Rc uses the scheme's
  beam rule (MMSE (25), or zero-forcing for ``zfbf``) applied to the true channel.
- ``wsnr_bs_beams``, ``rate_c_bs_beams``: the same with the beams the BS actually forms
  from H_hat (equal to the above under perfect CSI; docs/model.md, item 8).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import torch

from isac.designer import Designer
from isac.experiments.designs import Design, design_network, design_scheme, median_ms, timed
from isac.learning.lit_module import ISACModule
from isac.physics import rates
from isac.physics.problem import ProblemTerms
from isac.physics.scenario import Scenario, sample_scenario
from isac.physics.system import SystemConfig
from isac.schemes.beams import BEAM_RULES
from isac.schemes.registry import select_schemes

log = logging.getLogger(__name__)

SINGLE_SAMPLE_CALLS = 200  # test samples designed one per call for a network's latency


def score(
    design: Design, scenario: Scenario, truth: ProblemTerms, system: SystemConfig
) -> dict[str, torch.Tensor]:
    """Per-instance metrics of ``design`` on the true channel, real [n] each."""
    sigma_s = design.sigma_s.to(truth.sigma_t.dtype)
    rate_s = truth.sensing_rate(sigma_s, system)
    echo = rates.echo_interference(sigma_s, truth.sigma_t, system.waveform_len)

    def rate_with(W: torch.Tensor) -> torch.Tensor:
        sinr = rates.sinr_fixed_beams(
            *rates.beam_terms(scenario.H, scenario.p, W), echo, system.noise_power
        )
        return torch.log1p(sinr).mean(dim=-1) / rates.LN2

    rule = BEAM_RULES[design.beam_rule]
    if rule.closed_form_rate is not None:  # e.g. (26) for MMSE beams of the true channel
        rate_c = rule.closed_form_rate(truth, sigma_s, system)
    else:
        rate_c = rate_with(rule.form(scenario.H, scenario.p, sigma_s, truth.sigma_t, system))
    rate_c_bs = rate_with(design.W.to(scenario.H.dtype))

    def wsnr(rate_c_: torch.Tensor) -> torch.Tensor:
        return rates.wsnr(rate_s, rate_c_, truth.max_rate_s, truth.max_rate_c, system.alpha)

    return {
        "wsnr": wsnr(rate_c),
        "rate_s": rate_s,
        "rate_c": rate_c,
        "sum_rate_c": system.n_users * rate_c,
        "power_fraction": sigma_s.sum(-1) / system.sensing_power,
        "wsnr_bs_beams": wsnr(rate_c_bs),
        "rate_c_bs_beams": rate_c_bs,
    }


def comparison_table(
    designs: dict[str, Design], scores: dict[str, dict[str, torch.Tensor]], n: int
) -> list[dict[str, float | str]]:
    """One row per scheme: mean metrics, % of the optimum's mean WSNR, the worst sample's
    % of its own optimum, ms per sample and speed-up over ``traditional`` (where those
    schemes were run)."""
    optimum = scores["optimum"]["wsnr"] if "optimum" in scores else None
    traditional = designs["traditional"].seconds if "traditional" in designs else None
    rows = []
    for name, design in designs.items():
        row: dict[str, float | str] = {"scheme": name}
        row.update({key: value.mean().item() for key, value in scores[name].items()})
        if optimum is None:
            row["pct_of_optimum"] = row["worst_pct_of_optimum"] = float("nan")
        else:
            row["pct_of_optimum"] = 100.0 * row["wsnr"] / optimum.mean().item()
            row["worst_pct_of_optimum"] = 100.0 * (scores[name]["wsnr"] / optimum).min().item()
        row["ms_per_sample"] = 1000.0 * design.seconds / n
        row["speedup_vs_traditional"] = (
            traditional / design.seconds if traditional else float("nan")
        )
        row.update(design.info)
        rows.append(row)
    return rows


@dataclass(frozen=True)
class Comparison:
    """Every scheme on one test set: the scenario, each design, its per-sample scores and
    the table of :func:`comparison_table`."""

    scenario: Scenario
    designs: dict[str, Design]
    scores: dict[str, dict[str, torch.Tensor]]
    rows: list[dict[str, float | str]]
    skipped: list[str]


def compare_schemes(
    system: SystemConfig,
    network: ISACModule | None,
    schemes: list[str] | None,
    *,
    beta: float,
    n_test: int,
    seed: int,
    repeats: int,
) -> Comparison:
    """Design with the network (if any) and each of ``schemes`` on the test split of
    ``seed``, time each (best of ``repeats``) and score all on the true channel. The
    network's row also has ``ms_batch_1``: the median ms of one sample per call through
    the design API (:class:`~isac.designer.Designer`), over the first
    :data:`SINGLE_SAMPLE_CALLS` test samples.

    ``schemes=None`` runs every registered scheme that can serve ``system`` and notes
    (in the log and in :attr:`Comparison.skipped`) each one it leaves out; a scheme named
    in a list that cannot serve ``system`` is refused (:func:`select_schemes`).
    """
    names, skipped = select_schemes(schemes, system)
    for note in skipped:
        log.warning(note)
    scenario = sample_scenario(system, n_test, beta=beta, seed=seed, split="test")
    truth = ProblemTerms.from_scenario(scenario, system)
    arrived = scenario.to(torch.float32)  # what the BS holds, as a deployed system would
    R_T, H_est, p = arrived.R_T, arrived.H_est, arrived.p
    designs: dict[str, Design] = {}
    if network is not None:
        design = timed(lambda: design_network(network, R_T, H_est, p, system), repeats)
        designer = Designer.from_module(network)
        ms_batch_1 = median_ms(
            lambda i: designer(R_T[i], H_est[i], p[i]), min(n_test, SINGLE_SAMPLE_CALLS)
        )
        designs[network.name] = replace(design, info={**design.info, "ms_batch_1": ms_batch_1})
    for name in names:
        designs[name] = timed(lambda name=name: design_scheme(name, R_T, H_est, p, system), repeats)
    scores = {name: score(design, scenario, truth, system) for name, design in designs.items()}
    rows = comparison_table(designs, scores, n_test)
    return Comparison(scenario, designs, scores, rows, skipped)
