"""The library-free forms of sort, cumsum, scatter and linear that let AOTInductor keep a
price graph's buffers on the stack, against PyTorch's own operations in float64, and on
the shipped PriceNet's graph: no library call is left, and the design is unchanged."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import pretrained_module
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from isac.designer import library_free
from isac.designer.library_free import DECOMPOSITIONS, library_calls
from isac.designer.price_graph import PriceGraph, graph_example

# few distinct values, so that ties are common; NaN and infinities as torch orders them
ELEMENTS = st.sampled_from([0.0, -0.0, 1.0, -2.5, 3.0, 1e-300, np.inf, -np.inf, np.nan])
SHAPES = st.tuples(st.integers(1, 3), st.integers(1, 7))


@given(arrays(np.float64, SHAPES, elements=ELEMENTS), st.booleans(), st.sampled_from([0, 1, -1]))
def test_sort_orders_as_torchs_stable_sort(x, descending, dim):
    x = torch.from_numpy(x)
    values, indices = library_free.sort(x, dim, descending)
    expected_values, expected_indices = torch.sort(x, dim=dim, descending=descending, stable=True)
    assert torch.equal(indices, expected_indices)
    np.testing.assert_array_equal(values.numpy(), expected_values.numpy())  # NaN equal NaN


def test_the_stable_overload_sorts_alike():
    x = torch.tensor([[3.0, 1.0, 3.0, -1.0]])
    values, indices = library_free.stable_sort(x, stable=False, descending=True)
    assert indices.tolist() == [[0, 2, 1, 3]]
    assert values.tolist() == [[3.0, 3.0, 1.0, -1.0]]


@given(arrays(np.float64, SHAPES, elements=st.floats(-1e6, 1e6)), st.sampled_from([0, 1]))
def test_cumsum_sums_as_a_float64_running_sum(x, dim):
    expected = np.cumsum(x, axis=dim)
    actual = library_free.cumsum(torch.from_numpy(x), dim).numpy()
    scale = np.cumsum(np.abs(x), axis=dim)
    np.testing.assert_array_less(np.abs(actual - expected), 1e-13 * scale + 1e-300)
    as_float32 = library_free.cumsum(torch.from_numpy(x), dim, dtype=torch.float32)
    assert as_float32.dtype == torch.float32


@given(st.integers(1, 3), st.integers(1, 9), st.randoms(use_true_random=False))
def test_scatter_by_a_permutation_is_torchs_scatter(rows, n, random):
    index = torch.tensor([random.sample(range(n), n) for _ in range(rows)])
    src = torch.randn(rows, n, dtype=torch.float64)
    target = torch.full((rows, n), np.nan, dtype=torch.float64)
    expected = target.scatter(-1, index, src)
    assert torch.equal(library_free.scatter(target, -1, index, src), expected)
    assert torch.equal(library_free.scatter(target.t(), 0, index.t(), src.t()), expected.t())


def test_scatter_keeps_what_no_index_names():
    target = torch.tensor([[10.0, 20.0, 30.0]])
    index = torch.tensor([[2, 2, 0]])
    src = torch.tensor([[1.0, 0.0, 5.0]])
    assert library_free.scatter(target, 1, index, src).tolist() == [[5.0, 20.0, 1.0]]


def test_a_scatter_of_another_shape_is_refused():
    with pytest.raises(ValueError, match="shaped as the target"):
        library_free.scatter(
            torch.zeros(2, 4), 1, torch.zeros(2, 3, dtype=torch.long), torch.ones(2, 3)
        )


@given(st.integers(1, 3), st.integers(1, 8), st.integers(1, 8), st.booleans())
def test_linear_is_a_float64_matrix_product(rows, d_in, d_out, with_bias):
    generator = np.random.default_rng(rows * 100 + d_in * 10 + d_out)
    x, weight, bias = (generator.standard_normal(s) for s in ((rows, d_in), (d_out, d_in), d_out))
    expected = x @ weight.T + (bias if with_bias else 0.0)
    tensors = [torch.from_numpy(a) for a in (x, weight, bias)]
    actual = library_free.linear(*tensors[:2], tensors[2] if with_bias else None)
    np.testing.assert_allclose(actual.numpy(), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["pricenet", "universal"])
def test_the_shipped_price_graphs_lose_every_library_call_and_design_alike(name):
    module = pretrained_module(name)
    graph = PriceGraph(module.network, module.system, module.receiver).eval()
    example = graph_example(module.system, 8)
    with torch.no_grad():
        program = torch.export.export(graph, example)
        assert library_calls(program)  # the check can fail: the graph has some before
        rewritten = program.run_decompositions(DECOMPOSITIONS)
        assert library_calls(rewritten) == []
        expected = graph(*example)
        actual = rewritten.module()(*example)
    # float32 network: the rewritten sums round in another order
    np.testing.assert_allclose(
        actual.numpy(), expected.numpy(), rtol=0, atol=1e-6 * expected.abs().max().item()
    )
