"""Seconds per training epoch: Lightning against a plain PyTorch loop, in the same run;
with ``--realised BETA``, also training on the realised objective against the model's.

Both train the same network (ISACNN at the defaults of conf/ unless overridden) on the same
data loader with the same loss (30) and optimiser; validation is left out of both, so
the ratio is Lightning's per-epoch overhead. Run:

    python benchmarks/epoch_time.py [--epochs 6] [--model isacnn] [--n-train 8000]
                                    [--no-deterministic] [--realised 0.3]

It prints the median seconds per epoch (after one warm-up epoch) of each and their ratio.
With ``--realised BETA`` every loop trains for the robust receiver at that beta, and a
third, Lightning with ``csi.objective=realised`` (its fresh errors of every epoch
included), is timed against Lightning with the receiver's model objective.
"""

from __future__ import annotations

import argparse
import statistics
import time

import lightning as L
import torch
from omegaconf import DictConfig

from isac.config import compose_config
from isac.learning.data import ISACDataModule
from isac.learning.lit_module import ISACModule
from isac.learning.training import build_datamodule, build_module, system_from_config
from isac.physics.system import SystemConfig


class EpochTimer(L.Callback):
    def __init__(self) -> None:
        self.seconds: list[float] = []

    def on_train_epoch_start(self, trainer, module) -> None:
        self.start = time.perf_counter()

    def on_train_epoch_end(self, trainer, module) -> None:
        self.seconds.append(time.perf_counter() - self.start)


def seeded_module(cfg: DictConfig, system: SystemConfig) -> ISACModule:
    """The run's LightningModule, initialised from ``cfg.seed`` as ``train.py`` does."""
    L.seed_everything(cfg.seed, verbose=False)
    return build_module(cfg, system)


def lightning_epochs(
    cfg: DictConfig, system: SystemConfig, data: ISACDataModule, epochs: int, deterministic: bool
) -> list[float]:
    module = seeded_module(cfg, system)
    timer = EpochTimer()
    trainer = L.Trainer(
        max_epochs=epochs,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[timer],
        accelerator="cpu",
        deterministic=deterministic,
        num_sanity_val_steps=0,
    )
    trainer.fit(module, datamodule=data)
    return timer.seconds


def plain_epochs(
    cfg: DictConfig, system: SystemConfig, data: ISACDataModule, epochs: int, deterministic: bool
) -> list[float]:
    module = seeded_module(cfg, system)  # same network and initialisation
    torch.use_deterministic_algorithms(deterministic)  # as Trainer(deterministic=...) does
    network = module.network.train()
    optimizer = torch.optim.Adam(network.parameters(), lr=module.optim.learning_rate)
    loader = data.train_dataloader()
    seconds = []
    for epoch in range(epochs):
        loader.batch_sampler.sampler.set_epoch(epoch)
        start = time.perf_counter()
        for batch in loader:
            loss = -batch.terms.wsnr(network(batch.problem), system).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        seconds.append(time.perf_counter() - start)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--model", default="isacnn", choices=["isacnn", "fcnn", "pricenet"])
    parser.add_argument("--realised", type=float, metavar="BETA", default=None)
    parser.add_argument("--n-train", type=int, default=8000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--no-deterministic",
        dest="deterministic",
        action="store_false",
        help="both loops without torch's deterministic algorithms "
        "(the training default, trainer.deterministic, uses them)",
    )
    args = parser.parse_args()
    overrides = [f"model={args.model}", f"data.n_train={args.n_train}", f"seed={args.seed}"]
    if args.realised is not None:
        overrides += ["csi.receiver=robust", f"csi.beta={args.realised}"]
    cfg = compose_config(overrides=overrides)
    system = system_from_config(cfg)
    data = build_datamodule(cfg, system)
    data.problem_set("train")  # drawn once, outside every timing
    loops = [("plain", plain_epochs, cfg, data), ("lightning", lightning_epochs, cfg, data)]
    if args.realised is not None:
        realised_cfg = compose_config(overrides=[*overrides, "csi.objective=realised"])
        realised_data = build_datamodule(realised_cfg, system)
        realised_data.problem_set("train")
        loops.append(("realised", lightning_epochs, realised_cfg, realised_data))
    results = {}
    # interleaved three times so that drifts of the machine's speed hit every loop alike
    for _ in range(3):
        for name, run, loop_cfg, loop_data in loops:
            results.setdefault(name, []).extend(
                run(loop_cfg, system, loop_data, args.epochs, args.deterministic)[1:]
            )
    plain, lightning = (statistics.median(results[k]) for k in ("plain", "lightning"))
    print(
        f"model={args.model} n_train={args.n_train} batch={data.batch_size} "
        f"threads={torch.get_num_threads()} deterministic={args.deterministic}"
    )
    print(f"plain PyTorch loop : {plain:.3f} s/epoch")
    print(f"Lightning          : {lightning:.3f} s/epoch")
    print(f"ratio              : {lightning / plain:.2f}x")
    if args.realised is not None:
        realised = statistics.median(results["realised"])
        ratio = realised / lightning
        print(f"realised objective : {realised:.3f} s/epoch, {ratio:.2f}x the model's")


if __name__ == "__main__":
    main()
