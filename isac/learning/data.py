"""On-the-fly data: seeded problem sets and the LightningDataModule that serves them.

Each sample is a scenario reduced to what training needs: the problem the network
designs from (:class:`~isac.learning.problem_batch.ProblemBatch`: the channel the BS
knows, H_hat, its features, the user powers and R_T's eigenvalues) and the
:class:`~isac.physics.problem.ProblemTerms` the loss (30) maximises, so the loss is cheap:
those of the true channel H for the paper's genie receiver, else of the receiver's model
of H_hat (:mod:`isac.physics.receivers`).
Validation and test sets are fixed by ``(seed, split)``; the training set is fixed
too, or, with ``resample_train``, drawn anew every epoch from ``(seed, "train-<epoch>")``.
Shuffling is keyed to ``(seed, epoch)``, so a resumed run sees the same batches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import lightning as L
import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, Sampler

from isac import checks
from isac.config import DataConfig
from isac.learning.problem_batch import ProblemBatch
from isac.physics.channels import RAYLEIGH, ChannelConfig
from isac.physics.directional import DirectionalTerms
from isac.physics.problem import ProblemTerms
from isac.physics.receivers import Receiver
from isac.physics.scenario import sample_scenario, split_generator
from isac.physics.system import SystemConfig
from isac.physics.targets import PAPER, TargetConfig


@dataclass
class Batch:
    """A batch of samples: what the network designs from and what the loss scores.

    Attributes:
        problem: the problems as the BS sees them, the network's input.
        terms: the per-sample terms of problem (28) the loss maximises.
    """

    problem: ProblemBatch
    terms: ProblemTerms

    def __len__(self) -> int:
        return len(self.problem)

    def to(self, device: torch.device | str) -> Batch:
        return Batch(self.problem.to(device), self.terms.to(device))


class ProblemSet(Dataset):
    """``n`` samples of ``system`` drawn from ``(seed, split)``; indexable by a list of indices.

    Attributes:
        system: the system the samples are of.
        problem: the problems as the BS sees them (:class:`ProblemBatch`; features in
            ``dtype``, the channels float64).
        terms: the terms of problem (28) that the loss (30) maximises: of the true channel
            H for the genie receiver (the paper), else of the receiver's model of H_hat
            (:meth:`ProblemTerms.for_receiver`); with targets at directions, their
            :class:`~isac.physics.directional.DirectionalTerms`.
    """

    def __init__(
        self,
        system: SystemConfig,
        n: int,
        *,
        beta: float,
        seed: int,
        split: str,
        receiver: str = "genie",
        dtype: torch.dtype = torch.float32,
        target: TargetConfig = PAPER,
        channel: ChannelConfig = RAYLEIGH,
    ) -> None:
        self.system = system
        chosen = Receiver(receiver, beta)
        scenario = sample_scenario(
            system, n, beta=beta, seed=seed, split=split, targets=target, channel=channel
        )
        directional = scenario.targets is not None
        self.problem = ProblemBatch.from_estimate(
            scenario.H_hat,
            scenario.p,
            scenario.sigma_t,
            system,
            chosen,
            dtype,
            scenario.targets,
            scenario.U_T if directional else None,
        )
        if directional:
            terms = DirectionalTerms.for_receiver(
                chosen, scenario.H_hat, scenario.p, scenario.targets, system, H=scenario.H
            )
        else:
            terms = ProblemTerms.for_receiver(
                chosen, scenario.H_hat, scenario.p, scenario.sigma_t, system, H=scenario.H
            )
        self.terms = terms.to(dtype)
        if directional:
            _ = self.problem.terms  # once here; mini-batches carry their part of them

    def __len__(self) -> int:
        return len(self.problem)

    def __getitems__(self, indices: list[int]) -> Batch:
        index = torch.as_tensor(indices)
        return Batch(self.problem[index], self.terms[index])

    def all(self) -> Batch:
        """Every sample as one batch."""
        return Batch(self.problem, self.terms)


class EpochShuffle(Sampler[int]):
    """A permutation of ``range(n)`` keyed to ``(seed, epoch)``.

    Lightning calls :meth:`set_epoch` before every epoch (also after a resume);
    ``before_epoch(epoch)``, if given, runs when the epoch's iteration starts (to
    redraw the data).
    """

    def __init__(
        self, n: int, seed: int, before_epoch: Callable[[int], None] | None = None
    ) -> None:
        self.n, self.seed, self.epoch, self.before_epoch = n, seed, 0, before_epoch

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        if self.before_epoch is not None:
            self.before_epoch(self.epoch)
        generator = split_generator(self.seed, f"shuffle-{self.epoch}")
        return iter(torch.randperm(self.n, generator=generator).tolist())

    def __len__(self) -> int:
        return self.n


def _keep_batch(batch: Batch) -> Batch:
    return batch


class ISACDataModule(L.LightningDataModule):
    """Training, validation and test sets of one system, synthesised in-process.

    Args:
        system: the system settings.
        data: sample counts, batch sizes, seed (:class:`~isac.config.DataConfig`).
        beta: CSI accuracy in [0, 1] (1: perfect CSI).
        receiver: the receiver the loss is for, one of
            :data:`~isac.physics.receivers.RECEIVERS`.
        target, channel: the target model and the users' channel model.
    """

    def __init__(
        self,
        system: SystemConfig,
        data: DataConfig,
        *,
        beta: float,
        receiver: str = "genie",
        target: TargetConfig = PAPER,
        channel: ChannelConfig = RAYLEIGH,
    ) -> None:
        super().__init__()
        self.system = system
        self.target, self.channel = target, channel
        self.beta = Receiver(receiver, beta).beta  # validates both
        self.receiver = receiver
        self.n_train = checks.positive_int("data.n_train", data.n_train)
        self.n_val = checks.positive_int("data.n_val", data.n_val)
        self.n_test = checks.positive_int("data.n_test", data.n_test)
        self.batch_size = checks.positive_int("data.batch_size", data.batch_size)
        self.eval_batch_size = checks.positive_int("data.eval_batch_size", data.eval_batch_size)
        self.seed = int(data.seed)
        self.resample_train = bool(data.resample_train)
        self.sets: dict[str, ProblemSet] = {}
        self.drawn_epoch: int | None = None  # epoch of the training set in ``resample_train`` mode

    def transfer_batch_to_device(
        self, batch: Batch, device: torch.device, dataloader_idx: int
    ) -> Batch:
        return batch.to(device)

    def training_split(self, epoch: int | None = None) -> str:
        """The stream name of the training set (of ``epoch`` with ``resample_train``).

        Under data-parallel training every process draws its own samples: the name
        carries the process's rank when there are several, so the ranks train on
        different data while validation and test sets stay the same everywhere.
        """
        split = "train" if epoch is None else f"train-{epoch}"
        trainer = getattr(self, "trainer", None)
        if trainer is not None and trainer.world_size > 1:
            split += f"-rank{trainer.global_rank}"
        return split

    def problem_set(self, split: str) -> ProblemSet:
        """The fixed set of ``split`` ("train", "val" or "test"), built on first use."""
        if split not in self.sets:
            n = {"train": self.n_train, "val": self.n_val, "test": self.n_test}[split]
            stream = self.training_split() if split == "train" else split
            self.sets[split] = ProblemSet(
                self.system,
                n,
                beta=self.beta,
                seed=self.seed,
                split=stream,
                receiver=self.receiver,
                target=self.target,
                channel=self.channel,
            )
        return self.sets[split]

    def evaluation_sets(self, split: str) -> list[ProblemSet]:
        """The sets the final metrics of ``split`` ("val" or "test") average over: one."""
        return [self.problem_set(split)]

    def _draw_training_set(self, epoch: int) -> None:
        if self.drawn_epoch != epoch:
            self.sets["train"] = ProblemSet(
                self.system,
                self.n_train,
                beta=self.beta,
                seed=self.seed,
                split=self.training_split(epoch),
                receiver=self.receiver,
                target=self.target,
                channel=self.channel,
            )
            self.drawn_epoch = epoch

    def _loader(
        self, dataset_of: Callable[[], ProblemSet], sampler: Sampler[int], batch_size: int
    ) -> DataLoader:
        return DataLoader(
            _LazySet(dataset_of, len(sampler)),
            batch_sampler=BatchSampler(sampler, batch_size, drop_last=False),
            collate_fn=_keep_batch,
        )

    def train_dataloader(self) -> DataLoader:
        if self.resample_train:
            sampler = EpochShuffle(self.n_train, self.seed, before_epoch=self._draw_training_set)
        else:
            self.problem_set("train")
            sampler = EpochShuffle(self.n_train, self.seed)
        return self._loader(lambda: self.sets["train"], sampler, self.batch_size)

    def val_dataloader(self) -> DataLoader:
        self.problem_set("val")
        return self._loader(lambda: self.sets["val"], range(self.n_val), self.eval_batch_size)

    def test_dataloader(self) -> DataLoader:
        self.problem_set("test")
        return self._loader(lambda: self.sets["test"], range(self.n_test), self.eval_batch_size)


class _LazySet(Dataset):
    """Forwards to whatever set ``dataset_of()`` returns now, so a redrawn set is seen."""

    def __init__(self, dataset_of: Callable[[], ProblemSet], n: int) -> None:
        self.dataset_of, self.n = dataset_of, n

    def __len__(self) -> int:
        return self.n

    def __getitems__(self, indices: list[int]) -> Batch:
        return self.dataset_of().__getitems__(indices)
