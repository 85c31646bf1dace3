"""Data for a universal network: every batch mixes operating points drawn from ranges.

A system's sizes fix the shapes of its channels and of its problem terms, so samples of
one operating point are kept together in a *group*, and a training batch is a list of
``points_per_batch`` groups of ``batch_size / points_per_batch`` samples, each group
at its own point drawn from :class:`~isac.learning.operating_points.OperatingRanges`.
The loss (30) averages over all samples of the batch, each normalised by its own M_s and
M_c. Validation and test sets are ``grid_points`` fixed points of a seeded Latin
hypercube over the ranges, with ``n / grid_points`` samples each; they are the same on
every rank of a data-parallel run, while each rank draws its own training points and
samples (:meth:`ISACDataModule.training_split`).
"""

from __future__ import annotations

from torch.utils.data import BatchSampler, DataLoader, Dataset

from isac import checks
from isac.config import DataConfig
from isac.learning.data import Batch, EpochShuffle, ISACDataModule, ProblemSet
from isac.learning.operating_points import OperatingPoint, OperatingRanges
from isac.physics.channels import RAYLEIGH, ChannelConfig
from isac.physics.streams import split_generator
from isac.physics.system import SystemConfig


class UniversalDataModule(ISACDataModule):
    """Training, validation and test groups over the operating points of ``data``.

    Args:
        system: the home point's system; its L and noise are every point's.
        data: with ``operating_points`` set (:class:`~isac.config.DataConfig`).
        beta: the home point's CSI accuracy. receiver: whose objective the loss is
            (each group's terms are that receiver's model at the group's beta).
        channel: the users' channels of every point; a channel file fixes N_r and K.
        objective: ``model`` or ``realised`` (:class:`ISACDataModule`): each group's terms
            are its receiver's model at its beta, or the WSNR realised on its draw of the
            true channel; a training set redrawn every epoch (``resample_train``) brings
            fresh errors with its fresh points.

    Raises:
        checks.SettingsError: bad ranges, ``points_per_batch`` above ``batch_size``,
            or fewer samples than ``grid_points`` in the validation or test set.
    """

    def __init__(
        self,
        system: SystemConfig,
        data: DataConfig,
        *,
        beta: float,
        receiver: str = "genie",
        channel: ChannelConfig = RAYLEIGH,
        objective: str = "model",
    ) -> None:
        super().__init__(
            system, data, beta=beta, receiver=receiver, channel=channel, objective=objective
        )
        self.ranges = OperatingRanges.from_config(data.operating_points)
        self.ranges.check_base(system)
        if channel.model == "file":
            self.ranges.check_fixed_sizes(system, "channel=file (the file's sizes)")
        home = self.ranges.refusal(OperatingPoint(system, self.beta))
        if home is not None:  # the run's own point, where its evaluation runs
            raise checks.SettingsError(f"the run's system and csi (its home point): {home}")
        self.points_per_batch = checks.positive_int("data.points_per_batch", data.points_per_batch)
        if self.points_per_batch > self.batch_size:
            raise checks.SettingsError(
                f"data.points_per_batch must be <= data.batch_size = {self.batch_size} "
                f"(a batch holds batch_size / points_per_batch samples of each point), "
                f"got {self.points_per_batch}"
            )
        self.group_size = self.batch_size // self.points_per_batch
        self.grid_points = checks.positive_int("data.grid_points", data.grid_points)
        for split, n in (("n_val", self.n_val), ("n_test", self.n_test)):
            if n < self.grid_points:
                raise checks.SettingsError(
                    f"data.{split} must be >= data.grid_points = {self.grid_points} "
                    f"(at least one sample per point), got {n}"
                )
        self.n_groups = max(1, self.n_train // self.group_size)
        self.groups: dict[str, list[ProblemSet]] = {}

    def _groups(self, stream: str, points: list[OperatingPoint], size: int) -> list[ProblemSet]:
        return [
            self.drawn_set(f"{stream}-{index}", size, point) for index, point in enumerate(points)
        ]

    def evaluation_sets(self, split: str) -> list[ProblemSet]:
        """The fixed groups of ``split`` ("val" or "test"), one per grid point."""
        if split not in self.groups:
            points = self.ranges.grid(
                self.system, self.grid_points, split_generator(self.seed, f"{split}-points")
            )
            n = {"val": self.n_val, "test": self.n_test}[split]
            self.groups[split] = self._groups(split, points, n // self.grid_points)
        return self.groups[split]

    def _training_groups(self, epoch: int | None) -> list[ProblemSet]:
        stream = self.training_split(epoch)
        points = self.ranges.draw(
            self.system, self.n_groups, split_generator(self.seed, f"{stream}-points")
        )
        return self._groups(stream, points, self.group_size)

    def _draw_training_set(self, epoch: int) -> None:
        if self.drawn_epoch != epoch:
            self.groups["train"] = self._training_groups(epoch)
            self.drawn_epoch = epoch

    def train_dataloader(self) -> DataLoader:
        if self.resample_train:
            sampler = EpochShuffle(self.n_groups, self.seed, before_epoch=self._draw_training_set)
        else:
            self.groups.setdefault("train", self._training_groups(None))
            sampler = EpochShuffle(self.n_groups, self.seed)
        return DataLoader(
            _GroupList(lambda: self.groups["train"], self.n_groups),
            batch_sampler=BatchSampler(sampler, self.points_per_batch, drop_last=False),
            collate_fn=_keep,
        )

    def _evaluation_loader(self, split: str) -> DataLoader:
        groups = self.evaluation_sets(split)
        # one group, one point, per batch: its metrics are logged weighted by its size
        return DataLoader(
            _GroupList(lambda: groups, len(groups)),
            batch_sampler=BatchSampler(range(len(groups)), 1, drop_last=False),
            collate_fn=lambda batches: batches[0],
        )

    def val_dataloader(self) -> DataLoader:
        return self._evaluation_loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._evaluation_loader("test")

    def transfer_batch_to_device(self, batch, device, dataloader_idx):
        if isinstance(batch, list):
            return [group.to(device) for group in batch]
        return batch.to(device)


def _keep(batches: list[Batch]) -> list[Batch]:
    return batches


class _GroupList(Dataset):
    """Group ``i`` of whatever list ``groups_of()`` returns now, whole, as a :class:`Batch`."""

    def __init__(self, groups_of, n: int) -> None:
        self.groups_of, self.n = groups_of, n

    def __len__(self) -> int:
        return self.n

    def __getitems__(self, indices: list[int]) -> list[Batch]:
        groups = self.groups_of()
        return [groups[index].all() for index in indices]
