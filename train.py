"""Train a network: ``python train.py [model=fcnn] [csi.beta=0.7] [system.alpha=0.3]``.

Resume an interrupted run with ``python train.py resume=<its run directory>``; score a
trained universal network at a sweep's points, untrained, with
``python train.py -m experiment=fig7 universal_run=<its run directory>``.
See README.md and docs/training.md.
"""

from __future__ import annotations

from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from isac import config
from isac.checks import SettingsError
from isac.experiments.training_job import train
from isac.experiments.universal_scoring import score_universal
from isac.hydra_support import (
    check_processes_fit_the_job,
    exit_on_settings_error,
    is_interactive,
    sweep_point,
)

config.register()

RESUME_SETTINGS = ("resume=", "resume_checkpoint=")


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float | None:
    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)

    def task() -> float | None:
        check_processes_fit_the_job(cfg.trainer)
        others = [o for o in hydra_cfg.overrides.task if not o.startswith(RESUME_SETTINGS)]
        if cfg.resume and others:
            raise SettingsError(
                f"resume continues a run with its saved config; drop the other overrides {others}"
            )
        if cfg.universal_run:
            metrics = score_universal(cfg, run_dir, sweep_point=sweep_point())
        else:
            metrics = train(cfg, run_dir, interactive=is_interactive(), sweep_point=sweep_point())
        if metrics is None:  # a data-parallel process other than rank 0
            return None
        print(f"test WSNR {metrics['test']['wsnr']:.4f}  (run directory: {run_dir})")
        return metrics["val"]["wsnr"]

    return exit_on_settings_error(task)


if __name__ == "__main__":
    main()
