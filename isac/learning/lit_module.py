"""The LightningModule: a registered network trained on the negative WSNR loss, eq. (30)."""

from __future__ import annotations

import time
from typing import Any

import lightning as L
import torch

from isac import checks
from isac.config import OptimConfig
from isac.learning.data import Batch
from isac.learning.network_registry import build_network
from isac.learning.problem_batch import ProblemBatch
from isac.physics.problem import ProblemTerms
from isac.physics.receivers import Receiver
from isac.physics.system import SystemConfig
from isac.physics.targets import TargetConfig


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
    """A network that designs sigma_s, trained unsupervised with loss (30) = -mean WSNR.

    Hyperparameters are plain Python values, so checkpoints load with
    ``torch.load(..., weights_only=True)`` (see :func:`isac.learning.checkpoints.load_checkpoint`).

    Args:
        system: :class:`SystemConfig` fields as a dict.
        model: the model config (``conf/model/<name>.yaml``): ``name``, ``label``, ``style``
            and ``network`` (its registry ``kind`` and options,
            :mod:`isac.learning.network_registry`), as plain values.
        optim: :class:`~isac.config.OptimConfig` fields as a dict. Its ``lr_threshold`` is
            absolute (as Keras' min_delta): torch's default relative threshold misjudges a
            negative loss such as (30), where it counts a slightly worse loss as better.
        run_config: the run's whole resolved config, kept for provenance.
    """

    def __init__(
        self,
        system: dict[str, Any],
        model: dict[str, Any],
        optim: dict[str, Any],
        run_config: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.system = checks.settings_of("system", SystemConfig, system)
        self.optim = checks.settings_of("optim", OptimConfig, optim)
        checks.positive_real("optim.learning_rate", self.optim.learning_rate)
        checks.positive_float_in("optim.lr_factor", self.optim.lr_factor, 0.0, 1.0)
        checks.non_negative_int("optim.lr_patience", self.optim.lr_patience)
        checks.finite_real("optim.lr_threshold", self.optim.lr_threshold)
        self.name = str(model.get("name", ""))
        if not self.name:
            raise checks.SettingsError("model.name must be set (its key in tables and figures)")
        if not isinstance(model, dict):
            raise checks.SettingsError(f"model must be a mapping, got {type(model).__name__}")
        self.network = build_network(model.get("network"), self.system)
        self.history: list[dict[str, float]] = []  # one entry per trained epoch
        self._plateau_state: dict[str, Any] | None = None

    def forward(self, problem: ProblemBatch) -> torch.Tensor:
        """sigma_s, real [n, n_tx], for the problems of ``problem``."""
        return self.network(problem)

    @property
    def target(self) -> TargetConfig:
        """The target model the network was trained for (``target`` of its run; the
        paper's for runs without one)."""
        values = (self.hparams.get("run_config") or {}).get("target") or {}
        return checks.settings_of("target", TargetConfig, values)

    def refusal(self, system: SystemConfig, receiver: Receiver, target: TargetConfig) -> str | None:
        """None if the network can design for ``system``, ``receiver`` and ``target``;
        else why not, in one line: a network is trained for one target model (and, with
        directions, one number of targets), and serves the systems and receivers its
        :meth:`~isac.learning.networks.Network.refusal` allows."""
        trained, asked = target_setting(self.target), target_setting(target)
        if trained != asked:
            return f"it was trained for {trained}, not {asked}; use a network trained for {asked}"
        if target.model not in self.network.target_models:
            return (
                f"the {self.name} network designs for target={list(self.network.target_models)}, "
                f"not target={target.model}"
            )
        return self.network.refusal(system, receiver)

    @property
    def receiver(self) -> Receiver:
        """The receiver the network was trained for (``csi`` of its run; the genie at
        perfect CSI for runs without one)."""
        csi = (self.hparams.get("run_config") or {}).get("csi") or {}
        return Receiver(csi.get("receiver", "genie"), csi.get("beta", 1.0))

    def on_train_epoch_start(self) -> None:
        self._epoch_start = time.perf_counter()
        self._train_loss_sum = torch.zeros((), device=self.device)
        self._train_count = 0

    def training_step(self, batch: Batch | list[Batch], batch_idx: int) -> torch.Tensor:
        # a universal network's batch is a list of groups, one operating point each
        groups = batch if isinstance(batch, list) else [batch]
        size = sum(len(group) for group in groups)
        total = 0.0
        for group in groups:
            sigma_s = self(group.problem)
            total = total - group.terms.wsnr(sigma_s, group.problem.system).sum()
        loss = total / size
        self.log("train/loss", loss, on_step=False, on_epoch=True, batch_size=size)
        # Lightning aggregates train/loss only after validation; the history needs it sooner
        self._train_loss_sum += loss.detach() * size
        self._train_count += size
        return loss

    def _log_metrics(self, batch: Batch, prefix: str) -> None:
        metrics = batch_metrics(self(batch.problem), batch.terms, batch.problem.system)
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
        optimizer = torch.optim.Adam(self.parameters(), lr=self.optim.learning_rate)
        self.plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer,
            mode="min",
            factor=self.optim.lr_factor,
            patience=self.optim.lr_patience,
            threshold=self.optim.lr_threshold,
            threshold_mode="abs",
        )
        if self._plateau_state is not None:
            self.plateau.load_state_dict(self._plateau_state)
        return optimizer


def target_setting(target: TargetConfig) -> str:
    """What a network's design depends on of a target model, as settings: the model and,
    with directions, the number of targets."""
    if target.model == "directions":
        return f"target=directions with target.n_targets={target.n_targets}"
    return f"target={target.model}"
