"""Export a trained network to ONNX, with the metadata a user outside Python needs.

    python export.py run=outputs/train/<date>/<time>       # writes <run>/export/
    python export.py run=<universal run> +point.alpha=0.1 +point.beta=0.7

Writes ``<name>.onnx`` and ``<name>.json`` (the system, P_s, the inputs, the check against
onnxruntime). ISACNN and FC-NN export as the network from the features (29) to sigma_s;
PriceNet and the universal network as their static graph
(:class:`~isac.designer.price_graph.PriceGraph`: the water-filling in fixed steps) from
two eigendecompositions' outputs to sigma_s, at one operating point (a universal
network's: any point of its ranges, ``point.<setting>=``). docs/export.md shows how to
run both from MATLAB and C++ and how to recover S and W. Needs the optional extra:
``pip install -e ".[export]"``.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from isac import checks
from isac.designer.numpy_program import NotCompilable
from isac.designer.pipelines import eigen_inputs
from isac.designer.price_graph import (
    INPUT_NAMES,
    OPSET,
    PriceGraph,
    graph_inputs,
    onnx_bytes,
    onnxruntime_session,
    price_graph_onnx,
)
from isac.files import checkpoint_path, write_atomically, write_json
from isac.learning.checkpoints import load_checkpoint
from isac.learning.features import feature_count, input_features
from isac.learning.lit_module import ISACModule
from isac.learning.price_network import PriceNet
from isac.learning.problem_batch import ProblemBatch
from isac.physics.receivers import Receiver
from isac.physics.scenario import sample_scenario
from isac.physics.system import SystemConfig
from isac.physics.targets import PAPER

VERIFY_SAMPLES = 1000  # test-split samples the exported graph is checked on
POINT_SETTINGS = ("alpha", "snr_s_db", "snr_c_db", "n_users", "n_tx", "n_rx", "beta")
FEATURE_ORDER = (
    "F = [Re(g_1^T), ..., Re(g_K^T), Im(g_1^T), ..., Im(g_K^T), sigma_t^T] (eq. 29), "
    "g_k = sqrt(p_k / noise_power) h_k, h_k = column k of H_hat (n_rx entries each), "
    "sigma_t = eigenvalues of R_T in descending order (n_tx entries)"
)
GRAPH_INPUTS = {
    "sigma_t": ("[n, n_tx]", "eigenvalues of R_T in descending order, clamped at 0"),
    "user_eigenvalues": (
        "[n, n_users]",
        "eigenvalues lambda of G^H G in ascending order, clamped at 0, G = H_hat diag(sqrt(p))",
    ),
    "user_weights": (
        "[n, n_users, n_users]",
        "|V_km|^2, V the eigenvectors of G^H G as columns in the order of lambda",
    ),
    "p": ("[n, n_users]", "the users' receive powers"),
}


def export_onnx(
    run_dir: str | Path,
    checkpoint: str = "best",
    out_dir: str | Path | None = None,
    point: Mapping[str, Any] | None = None,
):
    """Write the run's network as ONNX and its metadata; returns (onnx path, json path).

    Args:
        point: settings of :data:`POINT_SETTINGS` to export a universal network for
            (the others its run's); empty or None for the run's own point.

    Raises:
        checks.SettingsError: onnx is not installed, the run has no such checkpoint, the
            network has no ONNX form, or it cannot serve the point asked for.
    """
    module = load_checkpoint(
        checkpoint_path(run_dir, checkpoint),
        remedy="train the run first (python train.py), or choose checkpoint=last or a .ckpt path",
    )
    if importlib.util.find_spec("onnx") is None:
        raise checks.SettingsError(
            'export needs the optional extra: pip install -e ".[export]" (onnx, onnxruntime)'
        )
    system, receiver = export_point(module, point or {})
    out_dir = Path(run_dir) / "export" if out_dir is None else Path(out_dir)
    onnx_path, json_path = out_dir / f"{module.name}.onnx", out_dir / f"{module.name}.json"
    metadata = {
        "format_version": 2,
        "model": module.name,
        "checkpoint": str(checkpoint_path(run_dir, checkpoint)),
        "system": system.to_dict(),
        "receiver": {"kind": receiver.kind, "beta": receiver.beta},
        "sensing_power": system.sensing_power,
        "opset": OPSET,
    }
    if getattr(module.network, "traceable", False):
        example = torch.zeros(2, feature_count(system))
        model = onnx_bytes(FromFeatures(module.network), (example,), ("features",), "sigma_s")
        metadata |= feature_metadata(system)
        verify = verify_features
    elif isinstance(module.network, PriceNet):
        try:
            graph = PriceGraph(module.network.eval(), system, receiver)
        except NotCompilable as refusal:
            raise checks.SettingsError(
                f"model {module.name!r} cannot be exported: {refusal}"
            ) from None
        model = price_graph_onnx(graph)
        metadata |= graph_metadata(system)
        verify = verify_graph
    else:
        raise checks.SettingsError(
            f"model {module.name!r} has no ONNX form (its design iterates over hypotheses "
            "until convergence); export supports isacnn, fcnn, pricenet and universal"
        )
    write_atomically(onnx_path, lambda handle: handle.write(model))
    metadata |= verify(module, system, receiver, onnx_path)
    write_json(json_path, metadata)
    return onnx_path, json_path


def export_point(module: ISACModule, point: Mapping[str, Any]) -> tuple[SystemConfig, Receiver]:
    """The system and receiver to export for: the run's, with the settings of ``point``.

    Raises:
        checks.SettingsError: an unknown setting, or a point the network does not serve.
    """
    unknown = sorted(set(point) - set(POINT_SETTINGS))
    if unknown:
        raise checks.SettingsError(
            f"point.{unknown[0]} is not a setting of an operating point; allowed: "
            f"{list(POINT_SETTINGS)}"
        )
    settings = {name: value for name, value in point.items() if name != "beta"}
    system = replace(module.system, **settings)
    receiver = Receiver(module.receiver.kind, point.get("beta", module.receiver.beta))
    reason = module.refusal(system, receiver, PAPER)
    if reason is not None:
        raise checks.SettingsError(f"model {module.name!r} cannot be exported there: {reason}")
    return system, receiver


class FromFeatures(nn.Module):
    """A network of the paper as a module of its features alone, the graph ONNX holds."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.network.from_features(features)


def feature_metadata(system: SystemConfig) -> dict[str, Any]:
    """The input and output of a network of the features (29)."""
    return {
        "input": {
            "name": "features",
            "shape": ["n", feature_count(system)],
            "dtype": "float32",
            "order": FEATURE_ORDER,
            "normalisation": (
                "none outside the graph: the network's BatchNorm layers, in inference mode "
                "with their running statistics, are part of it"
            ),
        },
        "output": _output(system),
    }


def graph_metadata(system: SystemConfig) -> dict[str, Any]:
    """The inputs and output of a price graph (:class:`PriceGraph`)."""
    return {
        "inputs": [
            {"name": name, "shape": shape, "dtype": "float64", "meaning": meaning}
            for name, (shape, meaning) in GRAPH_INPUTS.items()
        ],
        "output": _output(system),
    }


def _output(system: SystemConfig) -> dict[str, Any]:
    return {
        "name": "sigma_s",
        "shape": ["n", system.n_tx],
        "dtype": "float32",
        "meaning": (
            "waveform powers along the eigenvectors of R_T, matched to the descending "
            "sigma_t; sum <= sensing_power. S and W follow from eqs. (31)-(32)"
        ),
    }


def _test_set(system: SystemConfig):
    """(scenario, sigma_t) of :data:`VERIFY_SAMPLES` test samples of ``system``, float64."""
    scenario = sample_scenario(system, VERIFY_SAMPLES, seed=0, split="test")
    sigma_t, _, _ = eigen_inputs(scenario.R_T)
    return scenario, sigma_t


def _run(onnx_path: Path, feed: dict[str, np.ndarray]) -> torch.Tensor | None:
    """The exported graph's output in onnxruntime, or None when it is not installed."""
    try:
        session = onnxruntime_session(onnx_path.read_bytes())
    except NotCompilable:
        return None
    (output,) = session.run(None, feed)
    return torch.from_numpy(output)


def verify_features(
    module: ISACModule, system: SystemConfig, receiver: Receiver, onnx_path: Path
) -> dict[str, Any]:
    """The largest |sigma_s| difference between onnxruntime and PyTorch on test samples
    (None without onnxruntime)."""
    scenario, sigma_t = _test_set(system)
    features = input_features(scenario.H_hat, scenario.p, sigma_t, system.noise_power).float()
    exported = _run(onnx_path, {"features": features.numpy()})
    with torch.no_grad():
        reference = module.network.from_features(features)
    return {"onnxruntime_max_abs_difference": _difference(exported, reference)}


def verify_graph(
    module: ISACModule, system: SystemConfig, receiver: Receiver, onnx_path: Path
) -> dict[str, Any]:
    """On test samples: the largest |sigma_s| difference between onnxruntime and the graph
    in PyTorch (None without onnxruntime), and the graph's largest WSNR shortfall against
    the network's exact layer, relative (the price of the fixed steps)."""
    scenario, sigma_t = _test_set(system)
    inputs = graph_inputs(sigma_t, scenario.H_hat, scenario.p)
    graph = PriceGraph(module.network.eval(), system, receiver)
    exported = _run(onnx_path, {n: x.numpy() for n, x in zip(INPUT_NAMES, inputs, strict=True)})
    problem = ProblemBatch.from_estimate(scenario.H_hat, scenario.p, sigma_t, system, receiver)
    with torch.no_grad():
        reference = graph(*inputs)
        exact = module.network(problem).double()
    terms = problem.terms
    best = terms.wsnr(exact, system)
    shortfall = (best - terms.wsnr(reference.double(), system)) / best
    return {
        "onnxruntime_max_abs_difference": _difference(exported, reference),
        "unrolled_max_relative_wsnr_shortfall": float(shortfall.max()),
    }


def _difference(exported: torch.Tensor | None, reference: torch.Tensor) -> float | None:
    return None if exported is None else float((exported - reference).abs().max())
