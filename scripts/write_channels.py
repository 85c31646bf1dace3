"""Write the channels of any configured scenario as a channel file (``channel=file``).

    python scripts/write_channels.py channels.npz                          # Rayleigh, Table II
    python scripts/write_channels.py umi.h5 channel=tr38901 channel.scenario=umi
    python scripts/write_channels.py small.mat system.n_rx=8 csi.beta=0.7 data.n_train=1000

The arguments after the file are ``train.py``'s overrides. The file holds the training,
validation and test sets of that configuration (``data.n_train``, ``n_val``, ``n_test``
samples of its data seed), in that order, which is the order ``channel=file`` splits a
file by: so ``python train.py channel=file data.channel_file=<file>`` with the same
``system`` and ``csi`` trains on the same channels. Keys: H, H_hat, p and R_T
(docs/channels.md); the format follows the suffix (.npz, .mat, .h5, .hdf5).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from omegaconf import OmegaConf

from isac import checks
from isac.config import DataConfig, channel_of, compose_config, target_of
from isac.learning.training import system_from_config
from isac.physics.channel_files import write_channel_file
from isac.physics.scenario import sample_scenario


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", help="the file to write: .npz, .mat, .h5 or .hdf5")
    parser.add_argument("overrides", nargs="*", help="train.py overrides, e.g. channel=tr38901")
    args = parser.parse_args()
    cfg = compose_config("config", args.overrides)
    system = system_from_config(cfg)
    channel, target = channel_of(cfg), target_of(cfg)
    if target.model != "paper":
        raise checks.SettingsError(
            "a channel file holds R_T, not targets at directions: write it with target=paper"
        )
    data = checks.settings_of("data", DataConfig, OmegaConf.to_container(cfg.data, resolve=True))
    sets = [
        sample_scenario(system, n, beta=cfg.csi.beta, seed=data.seed, split=split, channel=channel)
        for split, n in (("train", data.n_train), ("val", data.n_val), ("test", data.n_test))
    ]
    arrays = {
        key: torch.cat([getattr(s, key) for s in sets]).numpy()
        for key in ("H", "H_hat", "p", "R_T")
    }
    write_channel_file(args.path, {k: np.ascontiguousarray(v) for k, v in arrays.items()})
    print(f"wrote {args.path}: {len(arrays['H'])} samples, H {list(arrays['H'].shape)}")


if __name__ == "__main__":
    main()
