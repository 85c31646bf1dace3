"""Library-free forms of the few library kernels in a price graph, for AOTInductor.

AOTInductor compiles most of a price graph (:mod:`isac.designer.price_graph`) into fused
C++ loops, but calls PyTorch's library for a sort and a cumulative sum (M_s's
water-filling, :func:`~isac.physics.waterfilling.water_filling`), the scatter that puts
the powers back in order, and the MLP's matrix products. A graph with any such call gets
every intermediate buffer as a PyTorch tensor made and freed on each call: about 90 of
them for one sample, nearly half of the graph's time (docs/results.md, "Table I").
Without one, AOTInductor keeps the buffers on the stack
(``aot_inductor.allow_stack_allocation``).

:data:`DECOMPOSITIONS` rewrites those operations, in the exported graph only, as
comparisons, selections and sums over their last dimension, which AOTInductor fuses into
its own loops. They cost O(n^2) for a dimension of n (the graph's are at most the
transmit antennas or the MLP's width), nothing at these sizes:

- ``sort``: each element's rank counts the elements ahead of it (stable, NaN largest, as
  torch orders them); the indices are the ranks inverted, the values gathered: exact.
- ``scatter`` (``src``): each output position takes the source element whose index names
  it, or keeps its own where none does (an index naming a position twice sums them, where
  torch picks one): exact for a permutation, the graph's case.
- ``cumsum`` and ``linear``: masked sums and products summed over the inner dimension,
  in the compiler's order of summation: the same values up to the round-off of that
  order. The design API checks the compiled graph against the graph in torch
  (:class:`~isac.designer.price_graph.PriceGraphPipeline`).

The batch path and ONNX export keep PyTorch's own operations.
"""

from __future__ import annotations

import torch

aten = torch.ops.aten


def _positions(x: torch.Tensor) -> torch.Tensor:
    """0 .. n-1 along ``x``'s last dimension, int64 [n]."""
    return torch.arange(x.shape[-1], device=x.device)


def _ascends(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Whether a sorts strictly before b in ascending order, NaN largest (torch's order)."""
    return (a < b) | (b.isnan() & ~a.isnan())


def sort(
    x: torch.Tensor, dim: int = -1, descending: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """torch.sort(x, dim, descending, stable=True) by ranks (module docstring)."""
    x = x.movedim(dim, -1)
    xi, xj = x[..., :, None], x[..., None, :]  # [..., i, j]
    tied = (xj == xi) | (xi.isnan() & xj.isnan())
    positions = _positions(x)
    earlier = positions[None, :] < positions[:, None]  # [i, j]: j < i
    # x_j goes ahead of x_i if it sorts before it, or ties with it and comes first
    ahead = (_ascends(xi, xj) if descending else _ascends(xj, xi)) | (tied & earlier)
    rank = ahead.sum(-1)  # [..., i]: x_i's place in the sorted order
    lands = rank[..., :, None] == positions  # [..., i, k]: x_i lands at k
    indices = torch.where(lands, positions[:, None], 0).sum(-2)
    values = x.gather(-1, indices)
    return values.movedim(-1, dim), indices.movedim(-1, dim)


def stable_sort(
    x: torch.Tensor, *, stable: bool | None = None, dim: int = -1, descending: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """aten's ``sort.stable`` overload: :func:`sort`, which is stable whatever ``stable``."""
    return sort(x, dim, descending)


def cumsum(x: torch.Tensor, dim: int, dtype: torch.dtype | None = None) -> torch.Tensor:
    """torch.cumsum(x, dim, dtype=dtype) as masked sums (module docstring)."""
    x = x.movedim(dim, -1) if dtype is None else x.movedim(dim, -1).to(dtype)
    positions = _positions(x)
    up_to = positions[None, :] <= positions[:, None]  # [i, j]: j <= i
    sums = torch.where(up_to, x[..., None, :], torch.zeros((), dtype=x.dtype)).sum(-1)
    return sums.movedim(-1, dim)


def scatter(x: torch.Tensor, dim: int, index: torch.Tensor, src: torch.Tensor) -> torch.Tensor:
    """x.scatter(dim, index, src) for an index of x's shape (module docstring).

    Raises:
        ValueError: ``index`` or ``src`` is not shaped as ``x``: the price graph then does
            not compile, and the design API falls back to onnxruntime, saying so.
    """
    if index.shape != x.shape or src.shape != x.shape:
        raise ValueError(
            f"scatter's library-free form needs index and src shaped as the target "
            f"{tuple(x.shape)}, got {tuple(index.shape)} and {tuple(src.shape)}"
        )
    x, index, src = (t.movedim(dim, -1) for t in (x, index, src))
    names = index[..., :, None] == _positions(x)  # [..., k, i]: src_k goes to i
    taken = torch.where(names, src[..., :, None], torch.zeros((), dtype=src.dtype)).sum(-2)
    return torch.where(names.any(-2), taken, x).movedim(-1, dim)


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """torch.nn.functional.linear(x, weight, bias): x [..., d_in], weight [d_out, d_in],
    as products summed over d_in (module docstring)."""
    out = (x[..., :, None] * weight.t()).sum(-2)
    return out if bias is None else out + bias


DECOMPOSITIONS = {
    aten.sort.default: sort,
    aten.sort.stable: stable_sort,
    aten.cumsum.default: cumsum,
    aten.scatter.src: scatter,
    aten.linear.default: linear,
}
"""The table for ``ExportedProgram.run_decompositions`` (module docstring)."""

LIBRARY_OPERATIONS = frozenset(
    {"sort", "cumsum", "scatter", "linear", "addmm", "mm", "bmm", "matmul", "index_put"}
)
"""Base names of the aten operations that AOTInductor runs as library calls on a CPU
(the ones :data:`DECOMPOSITIONS` removes and those they would lower to)."""


def library_calls(program: torch.export.ExportedProgram) -> list[str]:
    """The library operations (:data:`LIBRARY_OPERATIONS`) left in ``program``'s graph."""
    return [
        str(node.target)
        for node in program.graph.nodes
        if node.op == "call_function"
        and getattr(node.target, "__name__", "").split(".")[0] in LIBRARY_OPERATIONS
    ]
