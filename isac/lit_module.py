"""The LightningModule: ISACNN or FC-NN trained on the negative WSNR loss, eq. (30)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import lightning as L
import torch

from isac import checks
from isac.data import Batch
from isac.networks import NETWORKS, build_network
from isac.problem import ProblemTerms
from isac.system import SystemConfig


def batch_metrics(
    sigma_s: torch.Tensor, terms: ProblemTerms, system: SystemConfig
) -> dict[str, torch.Tensor]:
    """Batch means of the per-sample metrics of ``sigma_s``: loss (30), WSNR (28), the rates
    (bits/s/Hz) and the share of the budget P_s used."""
    metrics = terms.evaluate(sigma_s, system)
    means = {name: value.mean() for name, value in metrics.items() if name != "power"}
    means["power_fraction"] = metrics["power"].mean() / system.sensing_power
    means["loss"] = -means["wsnr"]
    return means


class ISACModule(L.LightningModule):
    """A network that predicts sigma_s, trained unsupervised with loss (30) = -mean WSNR.

    Hyperparameters are plain Python values, so checkpoints load with
    ``torch.load(..., weights_only=True)`` (see :func:`load_checkpoint`).

    Args:
        system: :class:`SystemConfig` fields as a dict.
        network: "isacnn" or "fcnn".
        learning_rate: Adam's initial learning rate.
        lr_factor: ReduceLROnPlateau factor, in (0, 1).
        lr_patience: ReduceLROnPlateau patience in epochs, on the validation loss.
        lr_threshold: smallest decrease of the validation loss that counts as progress,
            absolute (as Keras' min_delta): torch's default relative threshold misjudges a
            negative loss such as (30), where it counts a slightly worse loss as better.
        run_config: the run's whole resolved config, kept for provenance.
    """

    def __init__(
        self,
        system: dict[str, Any],
        network: str = "isacnn",
        learning_rate: float = 1e-3,
        lr_factor: float = 0.33,
        lr_patience: int = 10,
        lr_threshold: float = 1e-4,
        run_config: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.system = SystemConfig(**system)
        checks.one_of("model.name", network, NETWORKS)
        checks.positive_real("model.learning_rate", learning_rate)
        checks.positive_float_in("model.lr_factor", lr_factor, 0.0, 1.0)
        checks.non_negative_int("model.lr_patience", lr_patience)
        checks.finite_real("model.lr_threshold", lr_threshold)
        self.network = build_network(network, self.system)
        self.history: list[dict[str, float]] = []  # one entry per trained epoch
        self._plateau_state: dict[str, Any] | None = None

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """real [n, 2 n_rx n_users + n_tx] features (29) -> sigma_s, real [n, n_tx]."""
        return self.network(features)

    def on_train_epoch_start(self) -> None:
        self._epoch_start = time.perf_counter()
        self._train_loss_sum = torch.zeros((), device=self.device)
        self._train_count = 0

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        loss = -batch.terms.wsnr(self(batch.features), self.system).mean()
        self.log("train/loss", loss, on_step=False, on_epoch=True, batch_size=len(batch))
        # Lightning aggregates train/loss only after validation; the history needs it sooner
        self._train_loss_sum += loss.detach() * len(batch)
        self._train_count += len(batch)
        return loss

    def _log_metrics(self, batch: Batch, prefix: str) -> None:
        metrics = batch_metrics(self(batch.features), batch.terms, self.system)
        self.log_dict(
            {f"{prefix}/{name}": value for name, value in metrics.items()},
            on_step=False,
            on_epoch=True,
            batch_size=len(batch),
        )

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self._log_metrics(batch, "val")

    def on_validation_epoch_end(self) -> None:
        """Step the plateau scheduler and record the epoch, before any checkpoint is written.

        Lightning steps plateau schedulers after the epoch's checkpoint is saved, so a
        run resumed from ``last.ckpt`` would miss one scheduler step; stepping here keeps
        a resumed run identical to an uninterrupted one.
        """
        if self.trainer.sanity_checking or self.trainer.state.fn != "fit":
            return
        val_loss = self.trainer.callback_metrics["val/loss"].item()
        learning_rate = self.optimizers().param_groups[0]["lr"]
        self.history.append(
            {
                "epoch": self.current_epoch,
                "train_loss": (self._train_loss_sum / max(self._train_count, 1)).item(),
                "val_loss": val_loss,
                "val_wsnr": self.trainer.callback_metrics["val/wsnr"].item(),
                "lr": learning_rate,
                "seconds": time.perf_counter() - self._epoch_start,
            }
        )
        self.log("lr", learning_rate, on_step=False, on_epoch=True)
        self.plateau.step(val_loss)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["isac_history"] = self.history
        checkpoint["isac_plateau"] = self.plateau.state_dict()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.history = list(checkpoint.get("isac_history", []))
        self._plateau_state = checkpoint.get("isac_plateau")

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        self._log_metrics(batch, "test")

    def configure_optimizers(self) -> torch.optim.Optimizer:
        optimizer = torch.optim.Adam(self.parameters(), lr=self.hparams.learning_rate)
        self.plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer,
            mode="min",
            factor=self.hparams.lr_factor,
            patience=self.hparams.lr_patience,
            threshold=self.hparams.lr_threshold,
            threshold_mode="abs",
        )
        if self._plateau_state is not None:
            self.plateau.load_state_dict(self._plateau_state)
        return optimizer


SIZE_SETTINGS = ("n_tx", "n_rx", "n_users")
"""System settings that fix the network's input and output sizes."""


def load_checkpoint(
    path: str | Path,
    expected: SystemConfig | None = None,
    matching: tuple[str, ...] = SIZE_SETTINGS,
) -> ISACModule:
    """Load a trained module with torch's safe ``weights_only=True`` loading, in eval mode.

    Args:
        path: a checkpoint written by training.
        expected: if given, the system the caller will use; a checkpoint whose
            ``matching`` settings differ from it is refused.
        matching: the :class:`SystemConfig` fields that must agree (by default the
            antenna and user counts, on which the network's sizes depend).

    Raises:
        checks.SettingsError: the file is missing, or trained for another system.
    """
    path = Path(path)
    if not path.is_file():
        raise checks.SettingsError(f"checkpoint {str(path)!r} does not exist")
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    module = ISACModule(**checkpoint["hyper_parameters"])
    if expected is not None:
        for name in matching:
            trained, wanted = getattr(module.system, name), getattr(expected, name)
            if trained != wanted:
                raise checks.SettingsError(
                    f"checkpoint {str(path)!r} was trained for system.{name}={trained}, "
                    f"but system.{name}={wanted} was requested; use a checkpoint trained "
                    f"for {name}={wanted} or set system.{name}={trained}"
                )
    module.load_state_dict(checkpoint["state_dict"])
    return module.eval()
