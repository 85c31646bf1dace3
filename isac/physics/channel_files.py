"""The user's own channels: a file of channel matrices, read and checked (``channel=file``).

Formats (by the file's suffix, docs/channels.md):

- ``.npz``: NumPy's archive (read without pickles);
- ``.mat``: MATLAB's v5/v6/v7 (through SciPy) or v7.3 (HDF5, through h5py: MATLAB stores
  arrays column-major, so a MATLAB array of size [n, N_r, K] is read with its axes
  reversed back to [n, N_r, K], and complex numbers are the compound {real, imag});
- ``.h5``/``.hdf5``: HDF5 as NumPy or h5py writes it, row-major.

Keys and shapes (n samples, rows in the file's order):

- ``H`` (required): complex [n, N_r, K], the users' true channels h_k (columns);
- ``H_hat`` (optional): complex [n, N_r, K], the BS's estimates; without it the BS knows H
  (``csi.beta`` must then be 1);
- ``p`` (optional): real [n, K], the users' receive powers in noise-normalised units
  (default: every user at ``system.snr_c_db``);
- ``R_T`` (optional): complex [n, N_t, N_t], Hermitian PSD target correlations (default:
  drawn as the paper's, from the data seed).

HDF5 files (``.h5`` and ``.mat`` v7.3) are read a block of rows at a time, so checking a
file never holds more than :data:`CHECK_ROWS` rows of it in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from isac import checks
from isac.files import write_atomically
from isac.physics.system import SystemConfig

KEYS = ("H", "H_hat", "p", "R_T")
CHECK_ROWS = 4096
"""Rows per block when a file is scanned for non-finite values."""

MAT73_HEADER = b"MATLAB 7.3 MAT-file"


def _expected_shapes(system: SystemConfig) -> dict[str, tuple[int, ...]]:
    n_rx, n_users, n_tx = system.n_rx, system.n_users, system.n_tx
    return {
        "H": (n_rx, n_users),
        "H_hat": (n_rx, n_users),
        "p": (n_users,),
        "R_T": (n_tx, n_tx),
    }


def _shape_text(shape: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"


class _InMemory:
    """A .npz or MATLAB v5 file, its arrays loaded whole (their formats allow no less)."""

    def __init__(self, arrays: dict[str, np.ndarray], trailing_ones: bool) -> None:
        self.arrays = arrays
        self.trailing_ones = trailing_ones  # MATLAB drops trailing singleton dimensions

    def keys(self) -> set[str]:
        return set(self.arrays)

    def shape(self, key: str) -> tuple[int, ...]:
        return tuple(self.arrays[key].shape)

    def rows(self, key: str, index: np.ndarray) -> np.ndarray:
        return np.asarray(self.arrays[key][index])


class _Hdf5:
    """An HDF5 file (or MATLAB v7.3), read a block of rows at a time."""

    def __init__(self, path: Path, column_major: bool) -> None:
        import h5py

        self.file = h5py.File(path, "r")
        self.column_major = column_major
        self.trailing_ones = column_major

    def keys(self) -> set[str]:
        return {key for key in self.file.keys() if hasattr(self.file[key], "shape")}

    def shape(self, key: str) -> tuple[int, ...]:
        shape = tuple(self.file[key].shape)
        return shape[::-1] if self.column_major else shape

    def rows(self, key: str, index: np.ndarray) -> np.ndarray:
        order = np.argsort(index)
        wanted = index[order]
        # h5py reads increasing, unique indices; read the covering range for repeats
        unique, inverse = np.unique(wanted, return_inverse=True)
        dataset = self.file[key]
        contiguous = len(unique) and unique[-1] - unique[0] + 1 == len(unique)
        chosen = slice(int(unique[0]), int(unique[-1]) + 1) if contiguous else unique
        if self.column_major:
            block = dataset[..., chosen].transpose()
        else:
            block = dataset[chosen, ...]
        if block.dtype.names is not None:  # MATLAB's (and h5py's) compound complex
            real, imag = (n for n in block.dtype.names if n in ("real", "r", "imag", "i"))
            block = block[real] + 1j * block[imag]
        result = np.empty((len(index), *block.shape[1:]), dtype=block.dtype)
        result[order] = block[inverse]
        return result


def _open(path: Path):
    suffix = path.suffix.lower()
    if suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as archive:
                return _InMemory({key: archive[key] for key in archive.files}, False)
        except ValueError as error:  # object arrays need pickles: refused
            raise checks.SettingsError(f"channel file {path}: unreadable .npz ({error})") from None
    if suffix == ".mat":
        with path.open("rb") as f:
            if f.read(len(MAT73_HEADER)) == MAT73_HEADER:
                return _Hdf5(path, column_major=True)
        from scipy.io import loadmat

        arrays = loadmat(path)
        return _InMemory({k: v for k, v in arrays.items() if not k.startswith("__")}, True)
    if suffix in (".h5", ".hdf5"):
        return _Hdf5(path, column_major=False)
    raise checks.SettingsError(
        f"channel file {path}: unknown format {suffix or '(none)'}; use .npz, .mat, .h5 or .hdf5"
    )


def _hermitian_psd(R: np.ndarray) -> bool:
    """Whether every matrix of R [m, N_t, N_t] is Hermitian PSD to round-off."""
    scale = np.abs(R).max(axis=(-2, -1), keepdims=True) + np.finfo(np.float64).tiny
    if (np.abs(R - np.conj(np.swapaxes(R, -1, -2))) > 1e-6 * scale).any():
        return False
    return bool((np.linalg.eigvalsh(R) >= -1e-6 * scale[..., 0]).all())


@dataclass
class ChannelFile:
    """An opened, checked channel file.

    Attributes:
        path: the file.
        n: its number of samples (rows).
        keys: which of :data:`KEYS` it holds.
    """

    path: Path
    n: int
    keys: tuple[str, ...]
    source: object

    @classmethod
    def open(cls, path: str | Path, system: SystemConfig) -> ChannelFile:
        """Open ``path`` and check it against ``system``: the keys, their shapes (the
        sizes come from the file and must match ``system``) and that every value is
        finite, scanning HDF5 a block of rows at a time.

        Raises:
            checks.SettingsError: in one line naming the file and the key: a missing
                file, an unknown format, a missing or misshaped key, a size that differs
                from ``system``'s, a value that is NaN or infinite, or a negative power.
        """
        path = Path(path)
        if not path.is_file():
            raise checks.SettingsError(f"channel file {path} does not exist (data.channel_file)")
        try:
            source = _open(path)
        except checks.SettingsError:
            raise
        except Exception as error:  # a damaged file: say which, in one line
            raise checks.SettingsError(
                f"channel file {path} is unreadable: {type(error).__name__}: {error}"
            ) from None
        if "H" not in source.keys():
            raise checks.SettingsError(
                f"channel file {path} has no key H (the channels, complex [n, N_r, K]); "
                f"it holds {sorted(source.keys())}"
            )
        expected = _expected_shapes(system)
        keys = tuple(key for key in KEYS if key in source.keys())
        n = source.shape("H")[0]
        for key in keys:
            shape = source.shape(key)
            if source.trailing_ones:
                shape = shape + (1,) * (1 + len(expected[key]) - len(shape))
            if len(shape) != 1 + len(expected[key]) or shape[0] != n:
                raise checks.SettingsError(
                    f"channel file {path}: key {key} has shape {_shape_text(shape)}, "
                    f"expected [n = {n}, {', '.join(map(str, expected[key]))}]"
                )
            if shape[1:] != expected[key]:
                raise checks.SettingsError(
                    f"channel file {path}: key {key} has shape {_shape_text(shape)}, but the "
                    f"system needs [n, {', '.join(map(str, expected[key]))}] "
                    f"(n_rx={system.n_rx}, n_users={system.n_users}, n_tx={system.n_tx}); "
                    "set system to the file's sizes"
                )
        opened = cls(path=path, n=n, keys=keys, source=source)
        opened._check_values()
        return opened

    @property
    def reads_rows(self) -> bool:
        """Whether a read holds only the rows asked for in memory (HDF5 and MATLAB v7.3),
        not the whole file (.npz and MATLAB v5, whose formats allow no partial read)."""
        return isinstance(self.source, _Hdf5)

    def _check_values(self) -> None:
        for key in self.keys:
            for start in range(0, self.n, CHECK_ROWS):
                block = self.source.rows(key, np.arange(start, min(self.n, start + CHECK_ROWS)))
                bad = ~np.isfinite(block)
                if bad.any():
                    row = start + int(np.argwhere(bad)[0][0])
                    raise checks.SettingsError(
                        f"channel file {self.path}: key {key} holds NaN or inf (row {row})"
                    )
                if key == "p" and (np.iscomplexobj(block) or (block < 0).any()):
                    raise checks.SettingsError(
                        f"channel file {self.path}: key p must be real and >= 0"
                    )
                if key == "R_T" and not _hermitian_psd(block):
                    raise checks.SettingsError(
                        f"channel file {self.path}: key R_T must be Hermitian positive "
                        "semidefinite in every row"
                    )

    def read(self, key: str, index: np.ndarray, system: SystemConfig) -> torch.Tensor:
        """The rows ``index`` of ``key`` in float64 or complex128, shaped [len(index), ...]."""
        block = self.source.rows(key, np.asarray(index, dtype=np.int64))
        block = block.reshape(len(index), *_expected_shapes(system)[key])
        dtype = np.float64 if key == "p" else np.complex128
        return torch.from_numpy(np.ascontiguousarray(block, dtype=dtype))


def write_channel_file(path: str | Path, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` (keys of :data:`KEYS`, rows first) as a channel file in the format
    of ``path``'s suffix (.npz, .mat v5, .h5 or .hdf5), atomically.

    Raises:
        checks.SettingsError: an unknown suffix or key.
    """
    path = Path(path)
    unknown = sorted(set(arrays) - set(KEYS))
    if unknown:
        raise checks.SettingsError(f"channel file keys are {list(KEYS)}, not {unknown[0]!r}")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        write_atomically(path, lambda f: np.savez(f, **arrays))
    elif suffix == ".mat":
        from scipy.io import savemat

        write_atomically(path, lambda f: savemat(f, arrays))
    elif suffix in (".h5", ".hdf5"):
        import h5py

        def write(f) -> None:
            with h5py.File(f, "w") as h5:
                for key, value in arrays.items():
                    h5.create_dataset(key, data=value)

        write_atomically(path, write)
    else:
        raise checks.SettingsError(
            f"channel file {path}: unknown format {suffix or '(none)'}; use .npz, .mat, .h5 "
            "or .hdf5"
        )
