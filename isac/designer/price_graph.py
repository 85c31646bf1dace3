"""PriceNet and the universal network as a static graph: ONNX export and the one-sample path.

The graph runs what :meth:`~isac.learning.price_network.PriceNet.design` runs -- the
problem terms of the receiver's model, the prior price, the MLP and the gate, the same
functions -- with the water-filling in the fixed steps of
:func:`~isac.schemes.unrolled.unrolled_water_filling`, from inputs a user computes with
two small eigendecompositions (ONNX has none):

- ``sigma_t`` real [n, n_tx]: the eigenvalues of R_T, descending, clamped at 0;
- ``user_eigenvalues`` real [n, K] and ``user_weights`` real [n, K, K]: the eigenvalues
  lambda (ascending) of the users' Gram matrix G^H G, G = H_hat diag(sqrt p), and
  |V_km|^2 of its eigenvectors (:func:`~isac.physics.user_sinr.gram_eigen`);
- ``p`` real [n, K]: the users' receive powers;

to sigma_s real [n, n_tx] in the network's precision (float32), the inputs float64.
The operating point -- sizes, alpha, SNRs, the receiver and beta -- is fixed when the
graph is built (a universal network's is any point of its ranges).

:class:`PriceGraphPipeline` runs that graph for one sample, where torch's per-operation
dispatch would cost several times the arithmetic (docs/evaluation.md, "The design API"):
in onnxruntime, or compiled ahead of time by AOTInductor
(:mod:`isac.designer.compiled_graph`).
"""

from __future__ import annotations

import importlib.util
import io
import warnings

import numpy as np
import torch
from torch import nn

from isac import checks
from isac.designer.compiled_graph import GraphRunner, compiled_runner
from isac.designer.numpy_program import AGREEMENT_RTOL, NotCompilable
from isac.designer.pipelines import eigen_inputs, recover_design
from isac.learning.operating_points import OperatingPoint
from isac.learning.price_network import PriceNet
from isac.learning.problem_batch import ProblemBatch
from isac.physics.problem import ProblemTerms
from isac.physics.receivers import Receiver
from isac.physics.scenario import sample_scenario
from isac.physics.system import SystemConfig
from isac.physics.user_sinr import gram_eigen

OPSET = 17
INPUT_NAMES = ("sigma_t", "user_eigenvalues", "user_weights", "p")
AGREEMENT_WSNR = 1e-6  # the graph's WSNR below the exact layer's, relative, at most
CHECK_SAMPLES = 64
RUNTIMES = ("onnxruntime", "aotinductor")


def graph_inputs(sigma_t, H_hat, p) -> tuple:
    """The graph's inputs (module docstring) from sigma_t [..., n_tx], H_hat complex
    [..., n_rx, K] and p [..., K]: tensors or arrays, in their precision."""
    return (sigma_t, *gram_eigen(H_hat, p), p)


class PriceGraph(nn.Module):
    """A PriceNet (or universal network) at one operating point, as a static graph.

    Args:
        network: in eval mode, with ``polish_steps`` 0 (the graph has no polish).
        system, receiver: the operating point, inside what the network serves.

    Raises:
        NotCompilable: the network is not a PriceNet, or polishes its price.
    """

    def __init__(self, network: nn.Module, system: SystemConfig, receiver: Receiver) -> None:
        super().__init__()
        if not isinstance(network, PriceNet):
            raise NotCompilable(f"{type(network).__name__} has no price graph")
        if network.polish_steps:
            raise NotCompilable(
                f"model.network.polish_steps={network.polish_steps}: the graph has no polish "
                "steps; use the network with polish_steps=0"
            )
        self.network = network
        self.point = OperatingPoint(system, receiver.beta)
        self.receiver = receiver

    def terms(self, sigma_t, user_eigenvalues, user_weights, p) -> ProblemTerms:
        """The problem terms (28) of the receiver's model, from the graph's inputs, as
        :attr:`ProblemBatch.terms <isac.learning.problem_batch.ProblemBatch.terms>` forms
        them (:meth:`ProblemTerms.from_user_eigen`)."""
        return ProblemTerms.from_user_eigen(
            self.receiver, sigma_t, user_eigenvalues, user_weights, p, self.point.system
        )

    def forward(self, sigma_t, user_eigenvalues, user_weights, p) -> torch.Tensor:
        terms = self.terms(sigma_t, user_eigenvalues, user_weights, p)
        dtype = next(self.network.parameters()).dtype
        return self.network.design(terms, self.point, dtype, unrolled=True)


def onnx_bytes(module: nn.Module, example: tuple, names: tuple[str, ...], output: str) -> bytes:
    """``module`` traced on ``example`` as an ONNX graph (opset :data:`OPSET`) whose inputs
    ``names`` and output ``output`` keep a free first (batch) dimension."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # the TorchScript-based exporter: with torch 2.13, torch.export's gave NaN for
        # batch sizes other than the example's on ISACNN's graph; tracing warns of the
        # Python loops it unrolls, which is the point here
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module.eval(),
            example,
            buffer,
            dynamo=False,
            input_names=list(names),
            output_names=[output],
            dynamic_axes={name: {0: "n"} for name in (*names, output)},
            opset_version=OPSET,
        )
    return buffer.getvalue()


def graph_example(system: SystemConfig, n: int) -> tuple[torch.Tensor, ...]:
    """The graph's inputs, float64, for ``n`` samples of ``system``'s scenario, on which
    it is traced."""
    scenario = sample_scenario(system, n, seed=0, split="compile-check")
    sigma_t, _, _ = eigen_inputs(scenario.R_T.to(torch.complex128))
    return graph_inputs(sigma_t, scenario.H_hat.to(torch.complex128), scenario.p.double())


def price_graph_onnx(graph: PriceGraph) -> bytes:
    """The ONNX form of ``graph``, traced on two samples of its operating point."""
    example = graph_example(graph.point.system, 2)
    with torch.no_grad():
        return onnx_bytes(graph, example, INPUT_NAMES, "sigma_s")


def onnxruntime_session(model: bytes):
    """An onnxruntime CPU session of ``model``, one thread (a sample's arithmetic is too
    small to split), or NotCompilable when onnxruntime is not installed."""
    if importlib.util.find_spec("onnxruntime") is None:
        raise NotCompilable('onnxruntime is not installed: pip install -e ".[export]"')
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def onnxruntime_runner(graph: PriceGraph) -> GraphRunner:
    """``graph`` in an onnxruntime session (:func:`onnxruntime_session`)."""
    session = onnxruntime_session(price_graph_onnx(graph))

    def run(inputs: tuple[np.ndarray, ...]) -> np.ndarray:
        (sigma_s,) = session.run(None, dict(zip(INPUT_NAMES, inputs, strict=True)))
        return sigma_s

    return run


class PriceGraphPipeline:
    """(R_T, H_hat, p) -> (sigma_s, S, W, smallest eigenvalue of R_T) for one sample of a
    PriceNet or universal network: numpy around its :class:`PriceGraph`.

    Built once per designer: the graph is traced, handed to ``runtime`` -- ``"onnxruntime"``
    or ``"aotinductor"`` (:func:`~isac.designer.compiled_graph.compiled_runner`, built once
    per network and point, then cached) -- and checked on :data:`CHECK_SAMPLES` samples of
    the point's scenario: its sigma_s against the graph's in torch (within
    :data:`~isac.designer.numpy_program.AGREEMENT_RTOL` of the largest), its WSNR against
    the network's exact layer (at most :data:`AGREEMENT_WSNR` below, relative).

    Raises:
        NotCompilable: no graph for this network, the runtime missing or failing, or a
            check failed.
    """

    def __init__(
        self,
        network: nn.Module,
        system: SystemConfig,
        receiver: Receiver,
        runtime: str = "onnxruntime",
    ) -> None:
        checks.one_of("runtime", runtime, RUNTIMES)
        graph = PriceGraph(network, system, receiver)
        if runtime == "aotinductor":
            self._run = compiled_runner(graph, graph_example(system, 1))
        else:
            self._run = onnxruntime_runner(graph)
        self.system = system
        self.receiver = receiver
        self._check(graph)

    def _check(self, graph: PriceGraph) -> None:
        """Refuse a runtime whose sigma_s departs from the graph's in torch (a layout or
        lowering error; the WSNR is too flat at the optimum to show one) or whose WSNR
        falls short of the exact layer's (the fixed steps)."""
        system = self.system
        scenario = sample_scenario(system, CHECK_SAMPLES, seed=0, split="compile-check")
        R_T, H_hat, p = (x.numpy() for x in (scenario.R_T, scenario.H_hat, scenario.p))
        actual = torch.from_numpy(
            np.stack([self(*one)[0] for one in zip(R_T, H_hat, p, strict=True)])
        )
        sigma_t, _, _ = eigen_inputs(scenario.R_T)
        problem = ProblemBatch.from_estimate(
            scenario.H_hat, scenario.p, sigma_t, system, self.receiver
        )
        with torch.no_grad():
            exact = graph.network(problem).double()
            traced = graph(*graph_inputs(sigma_t, scenario.H_hat, scenario.p)).double()
        departure = (actual - traced).abs().max() / traced.abs().max().clamp_min(1e-300)
        if not departure <= AGREEMENT_RTOL:
            raise NotCompilable(
                f"the graph of {type(graph.network).__name__} in this runtime departs from it "
                f"in torch by {departure:.3g} of the largest sigma_s on its scenario "
                f"(allowed {AGREEMENT_RTOL:g})"
            )
        best = problem.terms.wsnr(exact, system)
        gap = (best - problem.terms.wsnr(actual, system)) / best
        if not gap.max() <= AGREEMENT_WSNR:
            raise NotCompilable(
                f"the graph of {type(graph.network).__name__} scores {gap.max():.3g} below its "
                f"exact layer (relative WSNR) on its scenario (allowed {AGREEMENT_WSNR:g})"
            )

    def __call__(
        self, R_T: np.ndarray, H_hat: np.ndarray, p: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.floating]:
        sigma_t, U_T, lowest = eigen_inputs(R_T)
        inputs = graph_inputs(
            sigma_t.astype(np.float64), H_hat.astype(np.complex128), p.astype(np.float64)
        )
        sigma_s = self._run(tuple(x[None] for x in inputs))[0]
        sigma_s = sigma_s.astype(sigma_t.dtype, copy=False)
        S, W = recover_design(sigma_s, sigma_t, U_T, H_hat, p, self.system, self.receiver)
        return sigma_s, S, W, lowest
