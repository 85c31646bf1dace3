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
from isac.learning.operating_points import OperatingPoint
from isac.learning.problem_batch import ProblemBatch
from isac.physics.channel_sources import open_channel_file
from isac.physics.channels import RAYLEIGH, ChannelConfig
from isac.physics.directional import DirectionalTerms
from isac.physics.problem import ProblemTerms
from isac.physics.realised import OBJECTIVES, RealisedTerms
from isac.physics.receivers import Receiver
from isac.physics.scenario import complex_gaussian, sample_scenario, true_channel
from isac.physics.streams import split_generator
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
        objective: str = "model",
    ) -> None:
        self.system = system
        self.dtype = dtype
        chosen = Receiver(receiver, beta)
        self.receiver = chosen
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
        if objective == "realised":
            terms = RealisedTerms.from_channels(
                chosen, scenario.H, scenario.H_hat, scenario.p, scenario.sigma_t, system
            )
        elif directional:
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

    @property
    def reference_terms(self) -> ProblemTerms | DirectionalTerms:
        """The terms a reference scheme designs from: those the loss scores, or for the
        realised objective, which no scheme can compute, its receiver's model of H_hat."""
        if isinstance(self.terms, RealisedTerms):
            return self.problem.terms.to(self.dtype)
        return self.terms

    def redraw_errors(self, generator: torch.Generator) -> None:
        """Score the realised objective on fresh true channels H = sqrt(beta) H_hat + E,
        E ~ CN(0, (1 - beta) I) drawn from ``generator``, for the same estimates."""
        problem = self.problem
        error = complex_gaussian(tuple(problem.H_hat.shape), generator)
        H = true_channel(problem.H_hat, error, self.receiver.beta)
        self.terms = RealisedTerms.from_channels(
            self.receiver, H, problem.H_hat, problem.p, problem.sigma_t, self.system
        ).to(self.dtype)

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
        objective: what the loss scores (:data:`~isac.physics.realised.OBJECTIVES`): the
            receiver's model of H_hat, or the WSNR realised on the true channel. With
            ``realised``, every epoch scores the training set on fresh errors E drawn from
            ``(seed, "errors-<epoch>")``, so a resumed run sees the same ones; validation
            and test keep their sets' own draws.
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
        objective: str = "model",
    ) -> None:
        super().__init__()
        self.system = system
        self.target, self.channel = target, channel
        self.beta = Receiver(receiver, beta).beta  # validates both
        self.receiver = receiver
        self.objective = checked_objective(objective, receiver, beta, target, channel)
        self.n_train = checks.positive_int("data.n_train", data.n_train)
        self.n_val = checks.positive_int("data.n_val", data.n_val)
        self.n_test = checks.positive_int("data.n_test", data.n_test)
        self.batch_size = checks.positive_int("data.batch_size", data.batch_size)
        self.eval_batch_size = checks.positive_int("data.eval_batch_size", data.eval_batch_size)
        self.seed = int(data.seed)
        self.resample_train = bool(data.resample_train)
        self.chunk_rows = None
        if channel.model == "file":  # every fault of the file in one line, before any work
            opened = open_channel_file(channel, system, self.beta)
            if data.chunk_rows is not None:
                self.chunk_rows = checked_streaming(data, opened)
        elif data.chunk_rows is not None:
            raise checks.SettingsError(
                "data.chunk_rows streams a channel file: it needs channel=file"
            )
        self.sets: dict[str, ProblemSet] = {}
        # the epoch the training set (``resample_train``) or its errors (``realised``) are of
        self.drawn_epoch: int | None = None

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
            self.sets[split] = self.drawn_set(stream, n)
        return self.sets[split]

    def drawn_set(self, split: str, n: int, point: OperatingPoint | None = None) -> ProblemSet:
        """``n`` samples of the stream ``split`` with this module's receiver, target and
        channel models and objective, of its system and beta, or of ``point``'s."""
        system, beta = (self.system, self.beta) if point is None else (point.system, point.beta)
        return ProblemSet(
            system,
            n,
            beta=beta,
            seed=self.seed,
            split=split,
            receiver=self.receiver,
            target=self.target,
            channel=self.channel,
            objective=self.objective,
        )

    def evaluation_sets(self, split: str) -> list[ProblemSet]:
        """The sets the final metrics of ``split`` ("val" or "test") average over: one."""
        return [self.problem_set(split)]

    def _draw_training_set(self, epoch: int) -> None:
        if self.drawn_epoch != epoch:
            self.sets["train"] = self.drawn_set(self.training_split(epoch), self.n_train)
            self.drawn_epoch = epoch

    def _loader(
        self, dataset_of: Callable[[], ProblemSet], sampler: Sampler[int], batch_size: int
    ) -> DataLoader:
        return DataLoader(
            _LazySet(dataset_of, len(sampler)),
            batch_sampler=BatchSampler(sampler, batch_size, drop_last=False),
            collate_fn=_keep_batch,
        )

    def _draw_errors(self, epoch: int) -> None:
        if self.drawn_epoch != epoch:
            generator = split_generator(self.seed, f"{self.training_split()}:errors-{epoch}")
            self.problem_set("train").redraw_errors(generator)
            self.drawn_epoch = epoch

    def train_dataloader(self) -> DataLoader:
        if self.chunk_rows is not None:
            return DataLoader(
                StreamedFileSet(self._training_chunk, self.n_train, self.chunk_rows),
                batch_sampler=ChunkBatches(
                    self.n_train, self.chunk_rows, self.batch_size, self.seed
                ),
                collate_fn=_keep_batch,
            )
        if self.resample_train:
            # a redrawn set carries fresh errors with its fresh estimates
            sampler = EpochShuffle(self.n_train, self.seed, before_epoch=self._draw_training_set)
        elif self.objective == "realised":
            sampler = EpochShuffle(self.n_train, self.seed, before_epoch=self._draw_errors)
        else:
            self.problem_set("train")
            sampler = EpochShuffle(self.n_train, self.seed)
        return self._loader(lambda: self.sets["train"], sampler, self.batch_size)

    def _training_chunk(self, first: int, n: int) -> ProblemSet:
        """The ``n`` rows of the file's training block from row ``first`` on."""
        return self.drawn_set(f"{self.training_split()}@{first}", n)

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


class StreamedFileSet(Dataset):
    """A channel file's training block, read a chunk of ``chunk_rows`` rows at a time.

    A batch never spans two chunks (:class:`ChunkBatches`), and only the chunk of the
    latest batch is held in memory, so every chunk is read once per epoch. Each chunk
    draws its own R_T and errors (where the file has none) from ``(seed, "train@<row>")``,
    the same in every epoch.
    """

    def __init__(self, chunk_of: Callable[[int, int], ProblemSet], n: int, chunk_rows: int):
        self.chunk_of, self.n, self.chunk_rows = chunk_of, n, chunk_rows
        self.held: tuple[int, ProblemSet] | None = None

    def __len__(self) -> int:
        return self.n

    def chunk(self, index: int) -> ProblemSet:
        """The set of chunk ``index``, read on first use after another chunk."""
        if self.held is None or self.held[0] != index:
            first = index * self.chunk_rows
            self.held = (index, self.chunk_of(first, min(self.chunk_rows, self.n - first)))
        return self.held[1]

    def __getitems__(self, indices: list[int]) -> Batch:
        index = indices[0] // self.chunk_rows
        first = index * self.chunk_rows
        return self.chunk(index).__getitems__([i - first for i in indices])


class ChunkBatches(Sampler[list[int]]):
    """The training batches of a :class:`StreamedFileSet`: the chunks in an order keyed to
    ``(seed, epoch)``, each shuffled and cut into batches of its own rows."""

    def __init__(self, n: int, chunk_rows: int, batch_size: int, seed: int) -> None:
        self.n, self.chunk_rows, self.batch_size, self.seed = n, chunk_rows, batch_size, seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _sizes(self) -> list[int]:
        return [min(self.chunk_rows, self.n - f) for f in range(0, self.n, self.chunk_rows)]

    def __iter__(self) -> Iterator[list[int]]:
        generator = split_generator(self.seed, f"shuffle-{self.epoch}")
        sizes = self._sizes()
        for index in torch.randperm(len(sizes), generator=generator).tolist():
            rows = index * self.chunk_rows + torch.randperm(sizes[index], generator=generator)
            yield from (batch.tolist() for batch in rows.split(self.batch_size))

    def __len__(self) -> int:
        return sum(-(-size // self.batch_size) for size in self._sizes())


def checked_streaming(data: DataConfig, opened) -> int:
    """``data.chunk_rows``, refused unless it can stream ``opened`` (a channel file).

    Raises:
        checks.SettingsError: not a positive integer, a file format read whole, or a
            training set redrawn every epoch.
    """
    rows = checks.positive_int("data.chunk_rows", data.chunk_rows)
    if not opened.reads_rows:
        raise checks.SettingsError(
            f"data.chunk_rows streams HDF5 channel files (.h5, .hdf5, .mat v7.3); "
            f"{opened.path} is read whole: drop data.chunk_rows or write the file as HDF5"
        )
    if data.resample_train:
        raise checks.SettingsError("data.chunk_rows streams a fixed file: drop resample_train")
    return rows


def checked_objective(
    objective: str,
    receiver: str,
    beta: float,
    target: TargetConfig,
    channel: ChannelConfig = RAYLEIGH,
) -> str:
    """``objective`` (``csi.objective``), validated against the rest of ``csi``, the
    target model and the channel source.

    Raises:
        checks.SettingsError: an unknown objective, or ``realised`` where it has nothing
            to learn or does not apply.
    """
    checks.one_of("csi.objective", objective, OBJECTIVES)
    if objective == "realised":
        if beta == 1.0:
            raise checks.SettingsError(
                "csi.objective=realised needs csi.beta in [0, 1): at beta = 1 the realised "
                "WSNR is the model's, and there is nothing more to learn"
            )
        if receiver == "genie":
            raise checks.SettingsError(
                "csi.objective=realised needs csi.receiver=naive or robust: the genie's "
                "objective is already the WSNR realised on the true channel"
            )
        if target.model != "paper":
            raise checks.SettingsError(
                "csi.objective=realised serves target=paper: the realised rates of targets "
                "at directions are not modelled yet"
            )
        if channel.model == "file":
            raise checks.SettingsError(
                "csi.objective=realised draws the true channels afresh every epoch, but "
                "channel=file gives them: use csi.objective=model"
            )
    return objective
