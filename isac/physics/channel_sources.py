"""The users' channels of the sources that are not drawn per sample: TR 38.901 drops and
channel files (docs/channels.md, "Splits and pools").

Both hold a fixed *pool* of channels per base split (``train``, ``val``, ``test``): the
drops generated for the split, or the file's block of rows. A set of a base split takes
the pool's first ``n`` rows, so the default training, validation and test sets are the
pool's leading rows in order. A set of a derived split (its name is the base split, a
dash and more: a training set redrawn for an epoch, ``train-3``, or a universal network's
group, ``val-12``) takes ``n`` distinct rows of the pool, drawn from ``(seed, split)``:
the channels repeat across such sets, while R_T, the imperfect-CSI errors and the
operating point are drawn afresh. A file's block can also be read in pieces: the split
``train@1000`` is the rows of the training block from its row 1000 on (a chunk of a
streamed training set, :class:`~isac.learning.data.StreamedFileSet`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from isac import checks
from isac.physics.channel_files import ChannelFile
from isac.physics.channels import ChannelConfig
from isac.physics.streams import split_generator
from isac.physics.system import SystemConfig
from isac.physics.tr38901 import path_sums, power_controlled

FILE_SPLITS = ("train", "val", "test")


def base_split(split: str) -> str:
    """The split whose pool ``split`` draws from: its name up to the first dash or @."""
    return split.split("@", 1)[0].split("-", 1)[0]


def _pool_rows(split: str, n: int, pool: int, seed: int) -> np.ndarray:
    """The rows of a pool of ``pool`` channels that the set ``split`` of ``n`` takes."""
    if split == base_split(split):
        return np.arange(n)
    if "@" in split:
        first = int(split.split("@", 1)[1])
        return np.arange(first, first + n)
    generator = split_generator(seed, f"{split}:pool-rows")
    return torch.randperm(pool, generator=generator)[:n].numpy()


def file_blocks(channel: ChannelConfig, n_file: int) -> dict[str, tuple[int, int]]:
    """``{split: (first row, rows)}`` of a file of ``n_file`` rows: test is the last
    ``n_test`` rows, validation the ``n_val`` before them, training the first ``n_train``.

    Raises:
        checks.SettingsError: the blocks do not fit in the file.
    """
    n_train, n_val, n_test = channel.split_rows
    if n_train + n_val + n_test > n_file:
        raise checks.SettingsError(
            f"channel file {channel.path} holds {n_file} samples, fewer than data.n_train + "
            f"n_val + n_test = {n_train} + {n_val} + {n_test}: lower them"
        )
    return {
        "train": (0, n_train),
        "val": (n_file - n_test - n_val, n_val),
        "test": (n_file - n_test, n_test),
    }


_OPENED: dict[tuple, ChannelFile] = {}


def _checked_file(path: str, system: SystemConfig) -> ChannelFile:
    """:meth:`ChannelFile.open`, once per file version and sizes in a process: a streamed
    training set opens its file for every chunk, and the check scans the whole file."""
    try:
        stat = Path(path).stat()
        key = (
            str(Path(path).resolve()),
            stat.st_mtime_ns,
            stat.st_size,
            system.n_rx,
            system.n_users,
            system.n_tx,
        )
    except OSError:
        return ChannelFile.open(path, system)  # which says what is wrong with the path
    if key not in _OPENED:
        _OPENED.clear()  # one file at a time: an in-memory format holds all of it
        _OPENED[key] = ChannelFile.open(path, system)
    return _OPENED[key]


def open_channel_file(channel: ChannelConfig, system: SystemConfig, beta: float) -> ChannelFile:
    """The checked channel file of ``channel`` (``channel=file``) for ``system`` at CSI
    accuracy ``beta``, its blocks checked too (:func:`file_blocks`).

    Raises:
        checks.SettingsError: any fault of :meth:`ChannelFile.open`, blocks that do not
            fit, or imperfect CSI from a file without the estimates H_hat.
    """
    opened = _checked_file(channel.path, system)
    file_blocks(channel, opened.n)
    if beta < 1.0 and "H_hat" not in opened.keys:
        raise checks.SettingsError(
            f"channel file {channel.path} has no key H_hat (the BS's estimates, complex "
            f"[n, N_r, K]): csi.beta = {beta} needs them, or set csi.beta=1"
        )
    return opened


def file_channels(
    channel: ChannelConfig, system: SystemConfig, n: int, *, beta: float, seed: int, split: str
) -> dict[str, torch.Tensor]:
    """The rows of the set ``(split, n)`` of the channel file, by key (``H`` always,
    ``H_hat``, ``p`` and ``R_T`` where the file has them), float64 or complex128."""
    opened = open_channel_file(channel, system, beta)
    base = base_split(split)
    if base not in FILE_SPLITS:
        raise checks.SettingsError(
            f"channel=file serves the splits {list(FILE_SPLITS)}, not {split!r}"
        )
    first, rows = file_blocks(channel, opened.n)[base]
    index = _pool_rows(split, n, rows, seed)
    if len(index) < n or index.max() >= rows:
        raise checks.SettingsError(
            f"channel file {channel.path}: the {split} set of {n} samples needs rows up to "
            f"{index.max()} of its block, which has {rows} (data.n_{base})"
        )
    index = first + index
    return {key: opened.read(key, index, system) for key in opened.keys}


def tr38901_channels(
    channel: ChannelConfig, system: SystemConfig, n: int, *, seed: int, split: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """The power-controlled TR 38.901 channels and receive powers of the set ``(split, n)``
    (:func:`isac.physics.tr38901.power_controlled`): complex [n, N_r, K], real [n, K]."""
    base = base_split(split)
    if "@" in split:
        raise checks.SettingsError(f"channel=tr38901 draws whole sets, not {split!r}")
    pool = n if split == base else max(channel.pool, n)
    path_sum = path_sums(channel, system, pool, seed=seed, split=base)
    rows = torch.from_numpy(_pool_rows(split, n, pool, seed))
    return power_controlled(channel, system, path_sum[rows])
