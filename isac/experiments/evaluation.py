"""Scoring every scheme on the same test set: the paper's comparison (Fig. 7, Table I)
plus each scheme's distance to the global optimum.

Each scheme is a *design*: from what the BS knows -- R_T, the channel estimate H_hat
and the user powers -- to the powers sigma_s, the waveform S (31) and the receive
beams W. Its online time covers all of it (the eigendecompositions included).
Every design is then scored on the true channel H with the same rates:

- ``wsnr``, ``rate_s``, ``rate_c``: the paper's metric, eq. (28). Rc uses the scheme's
  beam rule (MMSE (25), or zero-forcing for ``zfbf``) applied to the true channel.
- ``wsnr_bs_beams``, ``rate_c_bs_beams``: the same with the beams the BS actually forms
  from H_hat (equal to the above under perfect CSI; docs/model.md, item 8).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from isac.learning.lit_module import ISACModule
from isac.learning.pipeline import NetworkPipeline, eigen_inputs
from isac.physics import rates, recover
from isac.physics.problem import ProblemTerms
from isac.physics.scenario import Scenario, sample_scenario
from isac.physics.system import SystemConfig
from isac.schemes.beams import BEAM_RULES
from isac.schemes.registry import SCHEMES, SchemeInputs, select_schemes

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Design:
    """One scheme's output for a batch: real sigma_s [n, n_tx], complex S [n, L, n_tx] and
    W [n, n_rx, n_users] (from H_hat), the beam rule, and the time it took."""

    sigma_s: torch.Tensor
    S: torch.Tensor
    W: torch.Tensor
    beam_rule: str
    seconds: float
    info: dict[str, float]


def design_network(
    network: ISACModule,
    R_T: torch.Tensor,
    H_est: torch.Tensor,
    p: torch.Tensor,
    system: SystemConfig,
) -> Design:
    """The learned scheme: EVD of R_T, features (29), network, recovery (31)-(32)
    (:class:`~isac.learning.pipeline.NetworkPipeline`, run eagerly)."""
    start = time.perf_counter()
    with torch.inference_mode():
        sigma_s, S, W, _ = NetworkPipeline(network.network, system)(R_T, H_est, p)
    return Design(sigma_s, S, W, "mmse", time.perf_counter() - start, {})


def design_scheme(
    name: str, R_T: torch.Tensor, H_est: torch.Tensor, p: torch.Tensor, system: SystemConfig
) -> Design:
    """The registered scheme ``name``, from the same inputs as the network: its powers from
    the problem terms of H_hat, the waveform (31) and its beam rule's beams from H_hat."""
    scheme = SCHEMES[name]
    start = time.perf_counter()
    sigma_t, U_T, _ = eigen_inputs(R_T)
    seen = ProblemTerms.from_channels(H_est, p, sigma_t, system)
    powers = scheme.design(SchemeInputs(seen, H_est, p, system))
    S = recover.waveform_from_powers(powers.sigma_s, U_T, system.waveform_len)
    W = BEAM_RULES[scheme.beam_rule].form(H_est, p, powers.sigma_s, sigma_t, system)
    return Design(powers.sigma_s, S, W, scheme.beam_rule, time.perf_counter() - start, powers.info)


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


def timed(design: Callable[[], Design], repeats: int) -> Design:
    """The design with the best time of ``repeats`` runs (the first also warms up)."""
    best = design()
    for _ in range(repeats - 1):
        again = design()
        if again.seconds < best.seconds:
            best = again
    return best


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
    ``seed``, time each (best of ``repeats``) and score all on the true channel.

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
        designs[network.name] = timed(
            lambda: design_network(network, R_T, H_est, p, system), repeats
        )
    for name in names:
        designs[name] = timed(lambda name=name: design_scheme(name, R_T, H_est, p, system), repeats)
    scores = {name: score(design, scenario, truth, system) for name, design in designs.items()}
    rows = comparison_table(designs, scores, n_test)
    return Comparison(scenario, designs, scores, rows, skipped)
