"""The networks the project can build, each under a key: nothing read from a file picks code.

A model config (``conf/model/<name>.yaml``), a run's ``config.yaml`` and a checkpoint's
hyper-parameters name their network by a key of :data:`NETWORKS` (``network.kind``) and
give its options as plain values. :func:`build_network` builds only registered classes,
with every option checked by the validator registered for it, so a run or checkpoint
received from someone else can choose among the project's networks and their settings,
never which code runs (docs/training.md, "Adding a network").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from isac import checks
from isac.learning.direction_network import DirectionNet
from isac.learning.networks import FCNN, ISACNN, Network
from isac.learning.operating_points import OperatingRanges
from isac.learning.price_network import PriceNet
from isac.learning.universal import UniversalPriceNet
from isac.physics.receivers import RECEIVERS
from isac.physics.system import SystemConfig

Validator = Callable[[str, Any], Any]  # (setting name, value) -> the value, or SettingsError


def _ranges(name: str, value: Any) -> dict[str, list[float | int]]:
    return OperatingRanges.from_config(value, name).to_dict()


@dataclass(frozen=True)
class NetworkKind:
    """A registered network.

    Attributes:
        key: its key, the value of ``network.kind``.
        build: its class, built as ``build(system, **options)``.
        options: each option it takes and the validator of its value.
        trains_over_ranges: whether it trains over operating points (``data.operating_points``)
            rather than one system.
    """

    key: str
    build: Callable[..., Network]
    options: dict[str, Validator] = field(default_factory=dict)
    trains_over_ranges: bool = False


NETWORKS: dict[str, NetworkKind] = {}


def register_network(kind: NetworkKind) -> NetworkKind:
    """Add ``kind`` to :data:`NETWORKS`; a key is registered once."""
    if kind.key in NETWORKS:
        raise ValueError(f"network {kind.key!r} is registered twice")
    NETWORKS[kind.key] = kind
    return kind


register_network(NetworkKind("isacnn", ISACNN))
register_network(NetworkKind("fcnn", FCNN))
register_network(
    NetworkKind(
        "pricenet",
        PriceNet,
        {"hidden": checks.positive_int, "polish_steps": checks.non_negative_int},
    )
)
register_network(
    NetworkKind(
        "universal",
        UniversalPriceNet,
        {
            "ranges": _ranges,
            "receiver": lambda name, value: checks.one_of(name, value, RECEIVERS),
            "hidden": checks.positive_int,
            "polish_steps": checks.non_negative_int,
        },
        trains_over_ranges=True,
    )
)


register_network(
    NetworkKind(
        "directional",
        DirectionNet,
        {
            "n_targets": checks.positive_int,
            "hidden": checks.positive_int,
            "hypotheses": checks.positive_int,
            "polish_steps": checks.non_negative_int,
            "leader_steps": checks.non_negative_int,
            "newton_steps": checks.non_negative_int,
        },
    )
)


def network_kind(spec: Mapping[str, Any], setting: str = "model.network") -> NetworkKind:
    """The registered network ``spec`` names by ``kind``.

    Raises:
        checks.SettingsError: ``spec`` is not a mapping or names no registered network.
    """
    if not isinstance(spec, Mapping):
        raise checks.SettingsError(
            f"{setting} must be a mapping with kind: one of {list(NETWORKS)}, got {spec!r}"
        )
    key = spec.get("kind")
    if not isinstance(key, str) or key not in NETWORKS:
        raise checks.SettingsError(
            f"{setting}.kind must be one of {list(NETWORKS)}, got {key!r} (a network is "
            "named by its registry key; docs/training.md, 'Adding a network')"
        )
    return NETWORKS[key]


def network_options(spec: Mapping[str, Any], setting: str = "model.network") -> dict[str, Any]:
    """The options of ``spec``, each checked by its validator, as plain values.

    Raises:
        checks.SettingsError: an option the network does not take, or a bad value.
    """
    kind = network_kind(spec, setting)
    options = {}
    for name, value in spec.items():
        if name == "kind":
            continue
        if name not in kind.options:
            allowed = list(kind.options) or "none"
            raise checks.SettingsError(
                f"{setting}.{name} is not an option of network {kind.key!r} (options: {allowed})"
            )
        options[name] = kind.options[name](f"{setting}.{name}", value)
    return options


def build_network(spec: Mapping[str, Any], system: SystemConfig) -> Network:
    """The network of ``spec`` (``kind`` and options) for ``system``: a registered class only.

    Raises:
        checks.SettingsError: an unknown kind, an unknown option or a bad value.
    """
    return network_kind(spec).build(system, **network_options(spec))
