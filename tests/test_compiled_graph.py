"""PriceNet's one-sample graph compiled by AOTInductor: the program's name, the check that
refuses a runtime departing from the graph, the fall-back when compiling fails, and
(slow: one compile, under a minute) the compiled design against the graph in torch."""

from __future__ import annotations

import logging
import zipfile

import numpy as np
import pytest
import torch
from helpers import pretrained_module
from torch import nn

from isac.checks import SettingsError
from isac.designer import Designer, compiled_graph, price_graph
from isac.designer.compiled_graph import program_key
from isac.designer.numpy_program import NotCompilable
from isac.designer.pipelines import eigen_inputs
from isac.designer.price_graph import PriceGraph, PriceGraphPipeline, graph_inputs
from isac.physics.problem import ProblemTerms
from isac.physics.scenario import sample_scenario


def exported(module: nn.Module, example: tuple[torch.Tensor, ...]):
    with torch.no_grad():
        return torch.export.export(module.eval(), example)


def test_a_program_is_named_by_what_it_is_compiled_from():
    torch.manual_seed(0)
    layer = nn.Linear(3, 2)
    example = (torch.ones(1, 3),)
    key = program_key(exported(layer, example), example)
    assert key == program_key(exported(layer, example), example)  # deterministic
    wider = (torch.ones(2, 3),)
    assert program_key(exported(layer, wider), wider) != key
    with torch.no_grad():
        layer.weight[0, 0] += 1e-6
    assert program_key(exported(layer, example), example) != key
    other = nn.Sequential(layer, nn.ReLU())
    assert program_key(exported(other, example), example) != key


def test_a_changed_rewriting_names_another_program(monkeypatch):
    layer = nn.Linear(3, 2)
    example = (torch.ones(1, 3),)
    key = program_key(exported(layer, example), example)
    monkeypatch.setattr(compiled_graph, "REWRITING", compiled_graph.REWRITING + "# changed")
    assert program_key(exported(layer, example), example) != key


def test_programs_are_kept_in_the_users_cache_directory(monkeypatch, tmp_path):
    monkeypatch.delenv(compiled_graph.CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert compiled_graph.cache_directory() == tmp_path / "xdg" / "isac" / "compiled"
    monkeypatch.setenv(compiled_graph.CACHE_ENV, str(tmp_path / "mine"))
    assert compiled_graph.cache_directory() == tmp_path / "mine" / "compiled"


def pricenet():
    return pretrained_module("pricenet").network


def test_a_runtime_whose_design_departs_from_the_graph_is_refused(monkeypatch):
    """A runtime reading the users' weights transposed (the layout error the check exists
    for) moves the WSNR by less than the exact layer's tolerance, but not sigma_s."""
    pytest.importorskip("onnxruntime")
    real = price_graph.onnxruntime_runner

    def transposing(graph):
        run = real(graph)
        return lambda inputs: run((*inputs[:2], inputs[2].swapaxes(-1, -2).copy(), inputs[3]))

    monkeypatch.setattr(price_graph, "onnxruntime_runner", transposing)
    designer = Designer.from_pretrained("pricenet")
    with pytest.raises(NotCompilable, match="departs from it in torch by"):
        PriceGraphPipeline(pricenet(), designer.system, designer.receiver)


def test_an_unknown_runtime_is_refused_before_any_work():
    designer = Designer.from_pretrained("pricenet")
    with pytest.raises(SettingsError, match="runtime"):
        PriceGraphPipeline(pricenet(), designer.system, designer.receiver, runtime="tvm")


def test_a_failed_compile_falls_back_to_onnxruntime_and_says_so(monkeypatch, tmp_path, caplog):
    pytest.importorskip("onnxruntime")
    monkeypatch.setenv(compiled_graph.CACHE_ENV, str(tmp_path))

    def no_compiler(*args, **kwargs):
        raise RuntimeError("no C++ compiler found\nsecond line")

    monkeypatch.setattr(torch._inductor, "aoti_compile_and_package", no_compiler)
    with caplog.at_level(logging.WARNING):
        designer = Designer.from_pretrained("pricenet", compiled=True)
    reason = "AOTInductor could not compile the price graph: RuntimeError: no C++ compiler found"
    assert designer.single_sample_path == f"onnxruntime ({reason})"
    assert reason in caplog.text
    assert not any((tmp_path / "compiled").glob("*.pt2"))  # nothing half-written is kept


def test_a_program_with_its_buffers_on_the_heap_is_said_to_be(monkeypatch, tmp_path, caplog):
    """The wrapper AOTInductor writes for a graph it cannot keep on the stack makes a
    tensor per buffer: the build says so. (This one is not even a program: loading it
    fails, and the design API falls back to onnxruntime.)"""
    pytest.importorskip("onnxruntime")
    monkeypatch.setenv(compiled_graph.CACHE_ENV, str(tmp_path))

    def heap_wrapper(program, package_path):
        with zipfile.ZipFile(package_path, "w") as archive:
            archive.writestr("model/graph.wrapper.cpp", "AtenTensorHandle buf0_handle;")

    monkeypatch.setattr(torch._inductor, "aoti_compile_and_package", heap_wrapper)
    with caplog.at_level(logging.WARNING):
        designer = Designer.from_pretrained("pricenet", compiled=True)
    assert "kept the price graph's buffers on the heap" in caplog.text
    assert "library calls left: none" in caplog.text  # every one was rewritten
    assert designer.single_sample_path.startswith("onnxruntime")


@pytest.mark.slow
def test_the_compiled_graph_designs_as_the_graph_in_torch_and_is_cached(monkeypatch, tmp_path):
    monkeypatch.setenv(compiled_graph.CACHE_ENV, str(tmp_path))
    designer = Designer.from_pretrained("pricenet", compiled=True)
    assert designer.single_sample_path == "compiled (AOTInductor)"
    (program,) = (tmp_path / "compiled").glob("*.pt2")
    assert compiled_graph._stack_allocated(program)  # no library call is left in it

    system, receiver = designer.system, designer.receiver
    scenario = sample_scenario(system, 200, seed=7, split="test")
    R_T, H, p = scenario.R_T, scenario.H_hat, scenario.p
    one = torch.stack(
        [designer(R_T[i].numpy(), H[i].numpy(), p[i].numpy()).sigma_s for i in range(200)]
    )
    sigma_t, _, _ = eigen_inputs(R_T)
    graph = PriceGraph(pricenet(), system, receiver)
    with torch.no_grad():
        reference = graph(*graph_inputs(sigma_t, H, p)).double()
    # float32 round-off of the network's output; a layout error moved sigma_s by 1e-3
    np.testing.assert_allclose(one.numpy(), reference.numpy(), rtol=0, atol=1e-5)
    terms = ProblemTerms.for_receiver(receiver, H, p, sigma_t, system)
    np.testing.assert_allclose(
        terms.wsnr(one.double(), system), terms.wsnr(reference, system), rtol=1e-8
    )

    # a second designer loads the program: it compiles nothing
    def no_compiler(*args, **kwargs):
        raise AssertionError("compiled again")

    monkeypatch.setattr(torch._inductor, "aoti_compile_and_package", no_compiler)
    again = Designer.from_pretrained("pricenet", compiled=True)
    assert again.single_sample_path == "compiled (AOTInductor)"
    assert list((tmp_path / "compiled").glob("*.pt2")) == [program]
