"""Plot the paper's figures and Table I from finished sweeps, as PNG and CSV.

    python figures.py                                  # every full-preset sweep found
    python figures.py figures=[fig7] sweep_preset=quick     # one figure of the quick preset
    python figures.py figures=[fig7] sweep=outputs/sweeps/fig7/full/<date_time>

Reads outputs/sweeps/<figure>/<preset>/<latest>/*/metrics.json and writes
outputs/figures/<preset>/<figure>.{png,csv} (see docs/results.md).
"""

from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig

from isac.experiments.figures import make_figures
from isac.hydra_support import exit_on_settings_error


@hydra.main(version_base="1.3", config_path="conf", config_name="figures")
def main(cfg: DictConfig) -> None:
    exit_on_settings_error(
        lambda: make_figures(
            None if cfg.figures is None else list(cfg.figures),
            preset=cfg.sweep_preset,
            sweeps_dir=Path(cfg.sweeps_dir),
            out_dir=Path(cfg.out),
            sweep=None if cfg.sweep is None else Path(cfg.sweep),
            allow_incomplete=cfg.allow_incomplete,
        )
    )


if __name__ == "__main__":
    main()
