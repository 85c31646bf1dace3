"""The scheme registry: every non-learned design of sigma_s, registered once.

A :class:`Scheme` holds everything the project knows of a scheme:

- its design function, ``(SchemeInputs) -> Powers``, named by import path and imported on
  first use (so that plotting, which reads labels and styles, never loads the solvers);
- its beam rule, a key of :data:`isac.schemes.beams.BEAM_RULES`;
- its label and plot style, as the figures draw it;
- the systems it can serve.

Evaluation, the post-training evaluation and the figures all read :data:`SCHEMES`, so a
new scheme is one function plus one :func:`register` call below. Its order here is the
order of tables and legends.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from isac import checks
from isac.physics.problem import ProblemTerms
from isac.physics.system import SystemConfig


@dataclass(frozen=True)
class SchemeInputs:
    """What a scheme knows when it designs: the base station's view of one batch.

    Attributes:
        terms: the problem terms (28) of the channel the BS knows (H_hat).
        H: complex [n, n_rx, n_users], that channel.
        p: real [n, n_users], the user powers.
        system: the system settings.
    """

    terms: ProblemTerms
    H: torch.Tensor
    p: torch.Tensor
    system: SystemConfig


@dataclass(frozen=True)
class Powers:
    """A scheme's powers sigma_s, real [n, n_tx] (feasible, aligned with sigma_t), and
    scalar facts about how it found them (e.g. iteration counts) for the table."""

    sigma_s: torch.Tensor
    info: dict[str, float] = field(default_factory=dict)


def _serves_any(system: SystemConfig) -> str | None:
    return None


@dataclass(frozen=True)
class Scheme:
    """One registered scheme.

    Attributes:
        name: its key in tables, configs and ``metrics.json``.
        label: its name in figure legends.
        design_path: ``"module:function"`` of its design, ``(SchemeInputs) -> Powers``.
        beam_rule: how it forms the receive beams, a key of ``BEAM_RULES``.
        style: matplotlib line style of its curves.
        beyond_paper: whether the paper lacks it (figures mark such curves).
        cannot_serve: ``system -> None`` if it can serve ``system``, else the reason.
    """

    name: str
    label: str
    design_path: str
    beam_rule: str
    style: dict[str, Any]
    beyond_paper: bool = False
    cannot_serve: Callable[[SystemConfig], str | None] = _serves_any

    def design(self, inputs: SchemeInputs) -> Powers:
        """Run the scheme's design function on ``inputs``."""
        module, function = self.design_path.split(":")
        return getattr(importlib.import_module(module), function)(inputs)


SCHEMES: dict[str, Scheme] = {}


def register(scheme: Scheme) -> Scheme:
    """Add ``scheme`` to :data:`SCHEMES`; a name is registered once."""
    if scheme.name in SCHEMES:
        raise ValueError(f"scheme {scheme.name!r} is registered twice")
    SCHEMES[scheme.name] = scheme
    return scheme


def _zero_forcing_needs(system: SystemConfig) -> str | None:
    if system.n_users > system.n_rx:
        return (
            f"zero-forcing needs system.n_users <= system.n_rx, got "
            f"{system.n_users} > {system.n_rx}"
        )
    return None


register(
    Scheme(
        "average",
        "Average scheme",
        "isac.schemes.baselines:average_design",
        "mmse",
        dict(color="C2", marker="^"),
    )
)
register(
    Scheme(
        "zfbf",
        "ZFBF scheme",
        "isac.schemes.zfbf:zfbf_design",
        "zf",
        dict(color="C1", marker="D"),
        cannot_serve=_zero_forcing_needs,
    )
)
register(
    Scheme(
        "traditional",
        "Traditional scheme (AO-SCA)",
        "isac.schemes.traditional:traditional_design",
        "mmse",
        dict(color="C0", marker="s"),
    )
)
register(
    Scheme(
        "waterfilling",
        "Water-filling (beyond the paper)",
        "isac.schemes.baselines:waterfilling_design",
        "mmse",
        dict(color="C5", marker="x", linestyle="--", linewidth=1),
        beyond_paper=True,
    )
)
register(
    Scheme(
        "zero_power",
        "Zero sensing power",
        "isac.schemes.baselines:zero_power_design",
        "mmse",
        dict(color="C7", marker="+", linestyle="--", linewidth=1),
        beyond_paper=True,
    )
)
register(
    Scheme(
        "price_prior",
        "Water-filling at the KKT price of its echo (beyond the paper)",
        "isac.schemes.optimum:price_prior_design",
        "mmse",
        dict(color="C6", marker="*", linestyle="--", linewidth=1),
        beyond_paper=True,
    )
)
register(
    Scheme(
        "optimum",
        "Global optimum (beyond the paper)",
        "isac.schemes.optimum:optimum_design",
        "mmse",
        dict(color="k", linestyle=":", linewidth=1.5),
        beyond_paper=True,
    )
)


def select_schemes(
    names: list[str] | None, system: SystemConfig, setting: str = "schemes"
) -> tuple[list[str], list[str]]:
    """The schemes to run on ``system``, and a note for each default scheme left out.

    Args:
        names: schemes the user named (each must exist and serve ``system``), or None for
            every registered scheme, where those that cannot serve ``system`` are skipped.
        system: the system to serve.
        setting: the config key of ``names``, for error messages.

    Returns:
        (scheme names, one-line notes on the skipped ones).

    Raises:
        checks.SettingsError: an unknown name, or a named scheme that cannot serve ``system``.
    """
    if names is None:
        chosen, notes = [], []
        for scheme in SCHEMES.values():
            reason = scheme.cannot_serve(system)
            if reason is None:
                chosen.append(scheme.name)
            else:
                notes.append(f"skipped scheme {scheme.name}: {reason}")
        return chosen, notes
    for name in names:
        checks.one_of(f"{setting}[]", name, tuple(SCHEMES))
        reason = SCHEMES[name].cannot_serve(system)
        if reason is not None:
            raise checks.SettingsError(f"{setting}: scheme {name} cannot run: {reason}; drop it")
    return list(names), []
