"""Export a trained network to ONNX, with the metadata a user outside Python needs.

    python export.py run=outputs/train/<date>/<time>       # writes <run>/export/

Writes ``<name>.onnx`` (the network from the features (29) to sigma_s) and
``<name>.json`` (the system, P_s, the feature order, the normalisation and the check
against onnxruntime); docs/export.md shows how to run it from MATLAB and C++ and how to
recover S and W. Needs the optional extra: ``pip install -e ".[export]"``.
"""

from __future__ import annotations

import importlib.util
import io
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from isac import checks
from isac.designer.pipelines import eigen_inputs
from isac.files import checkpoint_path, write_atomically, write_json
from isac.learning.checkpoints import load_checkpoint
from isac.learning.features import feature_count, input_features
from isac.learning.lit_module import ISACModule
from isac.physics.scenario import sample_scenario

OPSET = 17
VERIFY_SAMPLES = 256  # test-split samples the exported graph is checked on
FEATURE_ORDER = (
    "F = [Re(g_1^T), ..., Re(g_K^T), Im(g_1^T), ..., Im(g_K^T), sigma_t^T] (eq. 29), "
    "g_k = sqrt(p_k / noise_power) h_k, h_k = column k of H_hat (n_rx entries each), "
    "sigma_t = eigenvalues of R_T in descending order (n_tx entries)"
)


def export_onnx(run_dir: str | Path, checkpoint: str = "best", out_dir: str | Path | None = None):
    """Write the run's network as ONNX and its metadata; returns (onnx path, json path).

    Raises:
        checks.SettingsError: onnx is not installed, the run has no such checkpoint, or the
            network cannot be exported (its forward pass iterates data-dependently).
    """
    module = load_checkpoint(
        checkpoint_path(run_dir, checkpoint),
        remedy="train the run first (python train.py), or choose checkpoint=last or a .ckpt path",
    )
    if importlib.util.find_spec("onnx") is None:
        raise checks.SettingsError(
            'export needs the optional extra: pip install -e ".[export]" (onnx, onnxruntime)'
        )
    if not getattr(module.network, "traceable", False):
        raise checks.SettingsError(
            f"model {module.name!r} cannot be exported to ONNX: its forward pass iterates until "
            "convergence (e.g. PriceNet's exact water-filling); export supports isacnn and fcnn"
        )
    out_dir = Path(run_dir) / "export" if out_dir is None else Path(out_dir)
    system = module.system
    example = torch.zeros(2, feature_count(system))
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # the TorchScript-based exporter: with torch 2.13, torch.export's gave NaN for
        # batch sizes other than the example's on this graph
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            FromFeatures(module.network).eval(),
            (example,),
            buffer,
            dynamo=False,
            input_names=["features"],
            output_names=["sigma_s"],
            dynamic_axes={"features": {0: "n"}, "sigma_s": {0: "n"}},
            opset_version=OPSET,
        )
    onnx_path, json_path = out_dir / f"{module.name}.onnx", out_dir / f"{module.name}.json"
    write_atomically(onnx_path, lambda handle: handle.write(buffer.getvalue()))
    metadata = export_metadata(module, checkpoint_path(run_dir, checkpoint))
    metadata["onnxruntime_max_abs_difference"] = verify(module, onnx_path)
    write_json(json_path, metadata)
    return onnx_path, json_path


class FromFeatures(nn.Module):
    """A network of the paper as a module of its features alone, the graph ONNX holds."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.network.from_features(features)


def export_metadata(module: ISACModule, checkpoint: Path) -> dict[str, Any]:
    """Everything needed to build the input and use the output of the exported graph."""
    system = module.system
    return {
        "format_version": 1,
        "model": module.name,
        "checkpoint": str(checkpoint),
        "system": system.to_dict(),
        "sensing_power": system.sensing_power,
        "opset": OPSET,
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
        "output": {
            "name": "sigma_s",
            "shape": ["n", system.n_tx],
            "dtype": "float32",
            "meaning": (
                "waveform powers along the eigenvectors of R_T, matched to the descending "
                "sigma_t; sum <= sensing_power. S and W follow from eqs. (31)-(32)"
            ),
        },
    }


def verify(module: ISACModule, onnx_path: Path) -> float | None:
    """The largest |sigma_s| difference between onnxruntime and PyTorch on test samples,
    or None when onnxruntime is not installed."""
    if importlib.util.find_spec("onnxruntime") is None:
        return None
    import onnxruntime

    system = module.system
    scenario = sample_scenario(system, VERIFY_SAMPLES, seed=0, split="test").to(torch.float32)
    sigma_t, _, _ = eigen_inputs(scenario.R_T)
    features = input_features(scenario.H_hat, scenario.p, sigma_t, system.noise_power)
    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    (exported,) = session.run(None, {"features": features.numpy()})
    with torch.no_grad():
        reference = module.network.from_features(features)
    return float((torch.from_numpy(exported) - reference).abs().max())
