"""The array namespace of the functions written once for torch tensors and numpy arrays.

The design API's one-sample path runs in numpy and its batches in torch
(:mod:`isac.designer.pipelines`), through the same functions (the features (29), the
recovery (31)-(32), the receivers' models, the Lambda layer). They call the array-API
standard's functions on :func:`array_namespace` of their inputs: array_api_compat's for
torch, and numpy itself for numpy arrays, which implements the standard in its main
namespace since 2.1 (array_api_compat's numpy wrappers cost 1-4 us a call, more than
the arithmetic on one sample).
"""

from __future__ import annotations

from functools import cache
from types import ModuleType

import array_api_compat
import numpy as np
from scipy.linalg import lapack


def array_namespace(x) -> ModuleType:
    """numpy for a numpy array, else array_api_compat's namespace of ``x`` (torch)."""
    return np if isinstance(x, np.ndarray) else array_api_compat.array_namespace(x)


def device(x) -> str | object:
    """The device of ``x``: ``"cpu"`` for a numpy array, a tensor's own otherwise."""
    return "cpu" if isinstance(x, np.ndarray) else x.device


def add_to_diagonal(matrix, values) -> None:
    """matrix[..., i, i] += values[...] in place, for matrices [..., n, n] (tensors or arrays)."""
    if not isinstance(matrix, np.ndarray):
        matrix.diagonal(0, -2, -1).add_(values[..., None])
    elif matrix.ndim == 2:
        matrix.flat[:: matrix.shape[-1] + 1] += values
    else:
        np.einsum("...ii->...i", matrix)[...] += values[..., None]


@cache
def _posv(dtype: np.dtype):
    (posv,) = lapack.get_lapack_funcs(("posv",), dtype=dtype)
    return posv


@cache
def _heevd(dtype: np.dtype):
    (heevd,) = lapack.get_lapack_funcs(("heevd",), dtype=dtype)
    return heevd


def eigh_hermitian(A):
    """(eigenvalues ascending [..., n], eigenvectors as columns [..., n, n]) of Hermitian A
    [..., n, n].

    A tensor goes to ``torch.linalg.eigh``; one complex numpy matrix to LAPACK's ?heevd,
    half of ``numpy.linalg.eigh``'s time at n = 5 (other arrays to numpy's).
    """
    if not isinstance(A, np.ndarray):
        return array_api_compat.array_namespace(A).linalg.eigh(A)
    if A.ndim > 2 or not np.iscomplexobj(A):
        return np.linalg.eigh(A)
    eigenvalues, vectors, info = _heevd(A.dtype)(A)
    if info != 0:  # LAPACK did not converge: numpy's, which raises LinAlgError
        return np.linalg.eigh(A)
    return eigenvalues, vectors


def solve_hermitian(A, B):
    """A^-1 B for Hermitian positive definite A [..., n, n] and B [..., n, m].

    A tensor goes to ``torch.linalg.solve``; one numpy sample to LAPACK's Cholesky solver
    ?posv, a third of ``numpy.linalg.solve``'s time at n = 16 (a batch of arrays to numpy's).
    """
    if not isinstance(A, np.ndarray):
        return array_api_compat.array_namespace(A, B).linalg.solve(A, B)
    if A.ndim > 2:
        return np.linalg.solve(A, B)
    _, solution, info = _posv(A.dtype)(A, B)
    if info != 0:  # not positive definite to working precision: LU, as for a tensor
        return np.linalg.solve(A, B)
    return solution
