"""Scoring every scheme on the same test set: the paper's comparison (Fig. 7, Table I)
plus each scheme's distance to the global optimum.

Each scheme is a design (:mod:`isac.designer.timed`), timed; every design is then
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
from isac.designer.directional import design_network_directional, design_scheme_directional
from isac.designer.timed import Design, design_network, design_scheme, median_ms, timed
from isac.learning.lit_module import ISACModule
from isac.physics import rates
from isac.physics.channels import RAYLEIGH, ChannelConfig
from isac.physics.directional import DirectionalTerms, echo_of_gram, gram_of
from isac.physics.problem import ProblemTerms
from isac.physics.receivers import GENIE, RECEIVERS, Receiver, error_as_noise
from isac.physics.scenario import Scenario, sample_scenario
from isac.physics.system import SystemConfig
from isac.physics.targets import PAPER, TargetConfig
from isac.schemes.beams import BEAM_RULES
from isac.schemes.registry import select_schemes

log = logging.getLogger(__name__)

SINGLE_SAMPLE_CALLS = 200  # test samples designed one per call for a network's latency


def score(
    design: Design,
    scenario: Scenario,
    truth: ProblemTerms,
    objective: ProblemTerms,
    system: SystemConfig,
    receiver: Receiver = GENIE,
) -> dict[str, torch.Tensor]:
    """Per-instance metrics of ``design``, real [n] each.

    Rs is always that of the true channel. Rc is the rate realised on the true channel H
    with the beams of each receiver (``rate_c_<receiver>``, docs/evaluation.md,
    "Receivers"): the design's beam rule applied to that receiver's model (the genie's
    is H; the MMSE rule's rate there has the closed form (26)). For the beams of
    ``naive`` and ``robust``, which the BS forms from H_hat, ``rate_c_bound_<receiver>`` is
    the rate it can count on: their SINR with the estimation error as noise
    (:func:`~isac.physics.receivers.error_as_noise`). ``wsnr`` and ``rate_c`` are those of
    ``receiver``, ``wsnr_bs_beams`` and ``rate_c_bs_beams`` those of the beams the design
    returned, and ``wsnr_objective`` the objective the design maximised: (28) of
    ``objective``, the terms of ``receiver``'s model (:meth:`ProblemTerms.for_receiver`;
    the same for every design, so computed once by the caller). Every WSNR is normalised
    by the true channel's M_s and M_c, so the receivers compare.
    """
    sigma_s = design.sigma_s.to(truth.sigma_t.dtype)
    rate_s = truth.sensing_rate(sigma_s, system)
    echo = rates.echo_interference(sigma_s, truth.sigma_t, system.waveform_len)
    H, H_hat, p = scenario.H, scenario.H_hat, scenario.p

    def rate_of(channel: torch.Tensor, W: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return rates.rate_c_fixed_beams(channel, p, W, echo, noise)

    def wsnr(rate_c: torch.Tensor) -> torch.Tensor:
        return rates.wsnr(rate_s, rate_c, truth.max_rate_s, truth.max_rate_c, system.alpha)

    rule = BEAM_RULES[design.beam_rule]
    bound_channel, bound_noise = error_as_noise(H_hat, p, system, receiver.beta)
    metrics: dict[str, torch.Tensor] = {}
    # at beta = 0 the robust receiver is undefined (Receiver refuses it)
    for kind in [k for k in RECEIVERS if k != "robust" or receiver.beta > 0]:
        channel, noise = Receiver(kind, receiver.beta).model(H_hat, p, system, H)
        if kind == "genie" and rule.closed_form_rate is not None:
            realised = rule.closed_form_rate(truth, sigma_s, system)  # e.g. (26)
        else:
            W = rule.form(channel, p, sigma_s, truth.sigma_t, system, noise)
            realised = rate_of(H, W, truth.comm_noise)
        if kind != "genie":
            bound = rate_of(bound_channel, W, bound_noise)
            metrics[f"rate_c_bound_{kind}"], metrics[f"wsnr_bound_{kind}"] = bound, wsnr(bound)
        metrics[f"rate_c_{kind}"], metrics[f"wsnr_{kind}"] = realised, wsnr(realised)
    rate_c = metrics[f"rate_c_{receiver.kind}"]
    rate_c_bs = rate_of(H, design.W.to(H.dtype), truth.comm_noise)
    return {
        "wsnr": wsnr(rate_c),
        "rate_s": rate_s,
        "rate_c": rate_c,
        "sum_rate_c": system.n_users * rate_c,
        "power_fraction": sigma_s.sum(-1) / system.sensing_power,
        "wsnr_bs_beams": wsnr(rate_c_bs),
        "rate_c_bs_beams": rate_c_bs,
        "wsnr_objective": objective.wsnr(sigma_s, system),
        **metrics,
    }


def comparison_table(
    designs: dict[str, Design], scores: dict[str, dict[str, torch.Tensor]], n: int
) -> list[dict[str, float | str]]:
    """One row per scheme: mean metrics, % of the optimum's mean WSNR (and of its mean
    objective, ``objective_pct_of_optimum``: the measure of a design for the robust
    receiver, whose realised WSNR the optimum of the bound need not maximise), the worst
    sample's % of its own optimum, ms per sample and speed-up over ``traditional`` (where
    those schemes were run)."""
    optimum = scores["optimum"]["wsnr"] if "optimum" in scores else None
    traditional = designs["traditional"].seconds if "traditional" in designs else None
    rows = []
    for name, design in designs.items():
        row: dict[str, float | str] = {"scheme": name}
        row.update({key: value.mean().item() for key, value in scores[name].items()})
        if optimum is None:
            row["pct_of_optimum"] = row["worst_pct_of_optimum"] = float("nan")
            row["objective_pct_of_optimum"] = float("nan")
        else:
            # the ratio first: the optimum's own row is then 100 exactly ((100 x) / x
            # need not be)
            row["pct_of_optimum"] = 100.0 * (row["wsnr"] / optimum.mean().item())
            best_objective = scores["optimum"]["wsnr_objective"].mean().item()
            row["objective_pct_of_optimum"] = 100.0 * (row["wsnr_objective"] / best_objective)
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
    receiver: str = "genie",
    target: TargetConfig = PAPER,
    channel: ChannelConfig = RAYLEIGH,
) -> Comparison:
    """Design with the network (if any) and each of ``schemes`` on the test split of
    ``seed``, time each (best of ``repeats``) and score all on the true channel. The
    network's row also has ``ms_batch_1``: the median ms of one sample per call through
    the design API (:class:`~isac.designer.Designer`), over the first
    :data:`SINGLE_SAMPLE_CALLS` test samples (the paper's target model only: the design
    API takes R_T).

    Every design is for ``receiver`` (:data:`~isac.physics.receivers.RECEIVERS`): the
    schemes maximise its model's objective and every design forms its beams; the scores
    cover all receivers (:func:`score`; with targets at directions,
    :func:`score_directional`). ``target`` and ``channel`` are the target and the users'
    channel models the test set is drawn from.

    ``schemes=None`` runs every registered scheme that can serve ``system`` and notes
    (in the log and in :attr:`Comparison.skipped`) each one it leaves out; a scheme named
    in a list that cannot serve ``system`` is refused (:func:`select_schemes`).
    """
    chosen = Receiver(receiver, beta)
    names, skipped = select_schemes(schemes, system, target_model=target.model)
    for note in skipped:
        log.warning(note)
    scenario = sample_scenario(
        system, n_test, beta=beta, seed=seed, split="test", targets=target, channel=channel
    )
    if scenario.targets is not None:
        return _compare_directional(scenario, system, network, names, skipped, chosen, repeats)
    truth = ProblemTerms.from_scenario(scenario, system)
    arrived = scenario.to(torch.float32)  # what the BS holds, as a deployed system would
    R_T, H_hat, p = arrived.R_T, arrived.H_hat, arrived.p
    designs: dict[str, Design] = {}
    if network is not None:
        design = timed(lambda: design_network(network, R_T, H_hat, p, system, chosen), repeats)
        designer = Designer.from_module(network, chosen, system)
        ms_batch_1 = median_ms(
            lambda i: designer(R_T[i], H_hat[i], p[i]), min(n_test, SINGLE_SAMPLE_CALLS)
        )
        designs[network.name] = replace(design, info={**design.info, "ms_batch_1": ms_batch_1})
    for name in names:
        designs[name] = timed(
            lambda name=name: design_scheme(name, R_T, H_hat, p, system, chosen), repeats
        )
    objective = ProblemTerms.for_receiver(
        chosen, scenario.H_hat, scenario.p, scenario.sigma_t, system, scenario.H
    )
    scores = {
        name: score(design, scenario, truth, objective, system, chosen)
        for name, design in designs.items()
    }
    rows = comparison_table(designs, scores, n_test)
    return Comparison(scenario, designs, scores, rows, skipped)


def score_directional(
    design: Design,
    scenario: Scenario,
    truth: DirectionalTerms,
    objective: DirectionalTerms,
    system: SystemConfig,
) -> dict[str, torch.Tensor]:
    """Per-instance metrics of a design with targets at directions, real [n] each: the
    WSNR, rates and power of its R_x on the true channel (the genie's MMSE beams, (26)
    with the targets' echo), the rate with the beams the design returned (formed from
    H_hat: ``rate_c_bs_beams``), and the objective it maximised (``wsnr_objective``)."""
    R_x = design.covariance.to(torch.complex128)
    metrics = truth.evaluate(R_x, system)
    targets = scenario.targets
    echo = echo_of_gram(gram_of(R_x, targets.A), targets.variances, system.waveform_len)
    H, p, W = scenario.H, scenario.p, design.W.to(torch.complex128)
    signal, interference, beam_norm = rates.beam_terms(H, p, W)
    leak = (targets.B.mT @ W).abs().square()  # [n, M, K]: |b_i^T w_k|^2
    echo_leak = (echo[..., :, None] * leak).sum(-2)
    total = interference + echo_leak + truth.comm_noise[:, None] * beam_norm
    decoded = total > 0
    sinr = torch.where(decoded, signal / torch.where(decoded, total, 1.0), 0.0)
    rate_c_bs = torch.log1p(sinr).mean(-1) / rates.LN2
    wsnr_bs = rates.wsnr(
        metrics["rate_s"], rate_c_bs, truth.max_rate_s, truth.max_rate_c, system.alpha
    )
    return {
        "wsnr": metrics["wsnr"],
        "rate_s": metrics["rate_s"],
        "rate_c": metrics["rate_c"],
        "sum_rate_c": metrics["sum_rate_c"],
        "power_fraction": metrics["power"] / system.sensing_power,
        "wsnr_bs_beams": wsnr_bs,
        "rate_c_bs_beams": rate_c_bs,
        "wsnr_objective": objective.wsnr(R_x, system),
    }


def _compare_directional(
    scenario: Scenario,
    system: SystemConfig,
    network: ISACModule | None,
    names: list[str],
    skipped: list[str],
    chosen: Receiver,
    repeats: int,
) -> Comparison:
    """:func:`compare_schemes` with targets at directions (:mod:`isac.designer.directional`)."""
    truth = DirectionalTerms.from_channels(scenario.H, scenario.p, scenario.targets, system)
    arrived = scenario.to(torch.float32)
    targets, H_hat, p = arrived.targets, arrived.H_hat, arrived.p
    designs: dict[str, Design] = {}
    if network is not None:
        designs[network.name] = timed(
            lambda: design_network_directional(network, targets, H_hat, p, system, chosen),
            repeats,
        )
    for name in names:
        designs[name] = timed(
            lambda name=name: design_scheme_directional(name, targets, H_hat, p, system, chosen),
            repeats,
        )
    objective = DirectionalTerms.for_receiver(
        chosen, scenario.H_hat, scenario.p, scenario.targets, system, scenario.H
    )
    scores = {
        name: score_directional(design, scenario, truth, objective, system)
        for name, design in designs.items()
    }
    rows = comparison_table(designs, scores, len(scenario))
    return Comparison(scenario, designs, scores, rows, skipped)
