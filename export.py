"""Export a trained network to ONNX with its metadata (docs/export.md).

    python export.py run=outputs/train/<date>/<time>                # <run>/export/<model>.onnx
    python export.py run=<run> checkpoint=last out=exported/
    python export.py run=<universal run> +point.alpha=0.1 +point.beta=0.7  # at one point

Needs the optional extra: pip install -e ".[export]".
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from isac import checks
from isac.experiments.export import export_onnx
from isac.hydra_support import exit_on_settings_error


@hydra.main(version_base="1.3", config_path="conf", config_name="export")
def main(cfg: DictConfig) -> None:
    def task() -> None:
        if cfg.run is None:
            raise checks.SettingsError("run=<training run directory> is required")
        onnx_path, json_path = export_onnx(cfg.run, cfg.checkpoint, cfg.out, cfg.point)
        print(f"written {onnx_path} and {json_path}")

    exit_on_settings_error(task)


if __name__ == "__main__":
    main()
