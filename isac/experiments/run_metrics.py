"""``metrics.json``: what a job scored and how it was made, built in one place.

A trained job (:mod:`isac.experiments.training_job`) and a job that scores a universal
network untrained (:mod:`isac.experiments.universal_scoring`) write the same record:
the validation and test metrics of the network, the reference allocations on the test
set, the optional evaluation of ``cfg.evaluation`` (``evaluate.py``'s table), the
run's settings, and how it was trained.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from isac import checks
from isac.config import channel_of, target_of
from isac.experiments.comparison import compare_schemes
from isac.learning.data import Batch, ISACDataModule, ProblemSet
from isac.learning.lit_module import ISACModule, batch_metrics
from isac.physics.system import SystemConfig
from isac.schemes.directional import DirectionalInputs
from isac.schemes.registry import SCHEMES, SchemeInputs, select_schemes

REFERENCE_SCHEMES = ("average", "zero_power")
"""Allocations that ignore the channel, scored on the test set of every run."""


def scheme_list(cfg: DictConfig) -> list[str] | None:
    """``cfg.evaluation.schemes`` as a list (None: every scheme that can serve the system)."""
    schemes = cfg.evaluation.schemes
    return None if schemes is None else list(schemes)


def check_evaluation(cfg: DictConfig, system: SystemConfig) -> None:
    """Refuse an evaluation of ``cfg.evaluation`` that could not run (before any work)."""
    evaluation = cfg.evaluation
    if not isinstance(evaluation.enabled, bool):
        raise checks.SettingsError(
            f"evaluation.enabled must be true or false, got {evaluation.enabled!r}"
        )
    select_schemes(
        scheme_list(cfg), system, setting="evaluation.schemes", target_model=target_of(cfg).model
    )
    checks.positive_int("evaluation.repeats", evaluation.repeats)


def _mean_over_sets(
    sets: list[ProblemSet], design: Callable[[Batch, ProblemSet], torch.Tensor]
) -> dict[str, float]:
    """The metrics (:func:`batch_metrics`) of ``design``'s sigma_s over every sample of
    ``sets`` (one set, or one per operating point of a universal network's grid)."""
    sums: dict[str, float] = {}
    for problems in sets:
        batch = problems.all()
        metrics = batch_metrics(design(batch, problems), batch.terms, problems.system)
        for name, value in metrics.items():
            sums[name] = sums.get(name, 0.0) + float(value) * len(batch)
    total = sum(len(problems) for problems in sets)
    return {name: value / total for name, value in sums.items()}


@torch.no_grad()
def scored_metrics(
    module: ISACModule, datamodule: ISACDataModule, system: SystemConfig, cfg: DictConfig
) -> dict[str, Any]:
    """Validation and test metrics of ``module``'s network, the reference schemes on the
    test set (over every grid point for a universal run), and the optional evaluation of
    ``cfg.evaluation`` at ``system`` and ``cfg.csi``."""
    results: dict[str, Any] = {}
    for split in ("val", "test"):
        results[split] = _mean_over_sets(
            datamodule.evaluation_sets(split), lambda batch, _: module(batch.problem)
        )

    def reference(name: str) -> Callable[[Batch, ProblemSet], torch.Tensor]:
        def design(batch: Batch, problems: ProblemSet) -> torch.Tensor:
            problem = problems.problem
            kind = SchemeInputs if problem.targets is None else DirectionalInputs
            inputs = kind(problems.reference_terms, problem.H_hat, problem.p, problems.system)
            return SCHEMES[name].design(inputs).sigma_s

        return design

    results["test_reference"] = {
        name: _mean_over_sets(datamodule.evaluation_sets("test"), reference(name))
        for name in REFERENCE_SCHEMES
    }
    if cfg.evaluation.enabled:
        comparison = compare_schemes(
            system,
            module,
            scheme_list(cfg),
            beta=float(cfg.csi.beta),
            receiver=str(cfg.csi.receiver),
            n_test=int(cfg.data.n_test),
            seed=int(cfg.data.seed),
            repeats=int(cfg.evaluation.repeats),
            target=target_of(cfg),
            channel=channel_of(cfg),
        )
        results["evaluation"] = {row["scheme"]: row for row in comparison.rows}
    return results


def metrics_record(
    module: ISACModule,
    run_cfg: DictConfig,
    cfg: DictConfig,
    system: SystemConfig,
    scores: dict[str, Any],
    training: dict[str, Any],
    sweep_point: dict[str, Any] | None,
) -> dict[str, Any]:
    """The content of ``metrics.json``.

    Args:
        module: the network scored. run_cfg: the config of the run that trained it (its
            model's display, seed and training-set size). cfg: this job's config (its
            point: ``csi`` and ``data``). system: the job's system. scores: from
            :func:`scored_metrics`. training: how the network was trained (epochs,
            seconds, ...) as this job knows it. sweep_point: the settings a multirun
            sweep varied for this job.
    """
    return {
        "model": module.name,
        "model_display": {
            "label": run_cfg.model.label,
            "style": OmegaConf.to_container(run_cfg.model.style),
        },
        "system": system.to_dict(),
        "target": asdict(target_of(cfg)),
        "channel": asdict(channel_of(cfg)),
        "beta": float(cfg.csi.beta),
        "receiver": str(cfg.csi.receiver),
        "objective": str(run_cfg.csi.get("objective", "model")),  # what it was trained for
        "seed": int(run_cfg.seed),
        "data_seed": int(cfg.data.seed),
        "n_train": int(run_cfg.data.n_train),
        **scores,
        **training,
        "sweep_point": dict(sweep_point or {}),
    }
