"""Score a trained run against every baseline and the global optimum.

    python evaluate.py run=outputs/train/<date>/<time>       # network + baselines
    python evaluate.py baselines_only=true system.n_users=3  # baselines alone

Writes evaluation.csv, evaluation.json and predictions.npz into <run>/evaluation
(see docs/evaluation.md).
"""

from __future__ import annotations

from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from isac import config
from isac.experiments.run_evaluation import evaluate, format_table
from isac.hydra_support import exit_on_settings_error

config.register()


@hydra.main(version_base="1.3", config_path="conf", config_name="evaluate")
def main(cfg: DictConfig) -> None:
    out_dir = Path(HydraConfig.get().runtime.output_dir)

    def task() -> None:
        rows = evaluate(cfg, out_dir)
        print(format_table(rows))
        print(f"written to {out_dir}")

    exit_on_settings_error(task)


if __name__ == "__main__":
    main()
