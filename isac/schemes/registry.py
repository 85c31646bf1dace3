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
        directional_path: ``"module:function"`` of its design with targets at directions,
            ``(DirectionalInputs) -> Powers`` whose ``sigma_s`` is R_x
            (:mod:`isac.schemes.directional`), or None where it has none.
        directional_refusal: why it has none, in one line.
    """

    name: str
    label: str
    design_path: str
    beam_rule: str
    style: dict[str, Any]
    beyond_paper: bool = False
    cannot_serve: Callable[[SystemConfig], str | None] = _serves_any
    directional_path: str | None = None
    directional_refusal: str | None = None

    def design(self, inputs: SchemeInputs) -> Powers:
        """Run the scheme's design function on ``inputs``: the paper's model's for
        :class:`SchemeInputs`, the directional one for the inputs of
        :mod:`isac.schemes.directional`."""
        path = self.design_path if isinstance(inputs, SchemeInputs) else self.directional_path
        module, function = path.split(":")
        return getattr(importlib.import_module(module), function)(inputs)

    def refusal(self, system: SystemConfig, target_model: str = "paper") -> str | None:
        """None if the scheme can serve ``system`` with ``target_model``, else why not."""
        if target_model == "directions" and self.directional_path is None:
            return self.directional_refusal
        return self.cannot_serve(system)


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
        directional_path="isac.schemes.directional:average_design",
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
        directional_refusal=(
            "ZFBF senses after cancelling the users, a model of the paper's isotropic echo; "
            "with target=directions use traditional or optimum"
        ),
    )
)
register(
    Scheme(
        "traditional",
        "Traditional scheme (AO-SCA)",
        "isac.schemes.traditional:traditional_design",
        "mmse",
        dict(color="C0", marker="s"),
        directional_path="isac.schemes.directional:traditional_design",
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
        directional_path="isac.schemes.directional:waterfilling_design",
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
        directional_path="isac.schemes.directional:zero_power_design",
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
        directional_path="isac.schemes.directional:price_prior_design",
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
        directional_path="isac.schemes.directional:optimum_design",
    )
)


def select_schemes(
    names: list[str] | None,
    system: SystemConfig,
    setting: str = "schemes",
    target_model: str = "paper",
) -> tuple[list[str], list[str]]:
    """The schemes to run on ``system``, and a note for each default scheme left out.

    Args:
        names: schemes the user named (each must exist and serve ``system``), or None for
            every registered scheme, where those that cannot serve ``system`` are skipped.
        system: the system to serve.
        setting: the config key of ``names``, for error messages.
        target_model: the target model to serve (``paper`` or ``directions``).

    Returns:
        (scheme names, one-line notes on the skipped ones).

    Raises:
        checks.SettingsError: an unknown name, or a named scheme that cannot serve ``system``.
    """
    if names is None:
        chosen, notes = [], []
        for scheme in SCHEMES.values():
            reason = scheme.refusal(system, target_model)
            if reason is None:
                chosen.append(scheme.name)
            else:
                notes.append(f"skipped scheme {scheme.name}: {reason}")
        return chosen, notes
    for name in names:
        checks.one_of(f"{setting}[]", name, tuple(SCHEMES))
        reason = SCHEMES[name].refusal(system, target_model)
        if reason is not None:
            raise checks.SettingsError(f"{setting}: scheme {name} cannot run: {reason}; drop it")
    return list(names), []
