"""A price graph compiled ahead of time by AOTInductor: PriceNet's fastest one-sample path.

onnxruntime runs the graph of :mod:`isac.designer.price_graph` node by node, about
0.45 us each over its ~1,400 nodes, several times the arithmetic. AOTInductor
(``torch._inductor.aoti_compile_and_package``, PyTorch's ahead-of-time compiler) turns
the same exported graph into fused C++ loops in a shared library: the same functions,
the same fixed steps, one call. Its few library calls are rewritten first as loops
AOTInductor fuses (:mod:`isac.designer.library_free`), so that the whole graph is one
kernel whose intermediate buffers live on the stack rather than as a tensor each. It
needs a C++ compiler and takes half a minute to a minute on 2 cores, so a program is
built once per graph and kept in a cache directory:

- ``$ISAC_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/isac`` (``~/.cache/isac``), under
  ``compiled/``; the machine's own compiler writes every file there;
- a program's name is the SHA-256 of everything it is compiled from: the exported graph's
  code and tensors (the network's weights, the operating point's constants), the code
  that rewrites it, the input shapes and strides, the PyTorch version, AOTInductor's
  settings and the CPU's instruction set. The rewriting itself (several seconds) runs
  only when a program is built. A changed network, point, project or PyTorch gets a new
  program, never a stale one. Runs, checkpoints and exports never carry one: a file a
  user receives does not choose which code runs.

Any failure to build (no compiler, an operation AOTInductor cannot compile) is a
:class:`~isac.designer.numpy_program.NotCompilable` naming it, and the design API falls
back to onnxruntime, saying so (docs/evaluation.md, "The design API").
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import os
import platform
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch._inductor

from isac.designer import library_free
from isac.designer.library_free import DECOMPOSITIONS, library_calls
from isac.designer.numpy_program import NotCompilable
from isac.files import write_atomically

log = logging.getLogger(__name__)

CACHE_ENV = "ISAC_CACHE_DIR"

COMPILER_SETTINGS = {
    "aot_inductor.allow_stack_allocation": True,
    "memory_planning": False,
    "cpp.threads": 1,
}
"""AOTInductor's settings for a price graph, beside its defaults (docs/results.md, "Table
I", for the times):

- its ~90 small intermediate buffers on the stack, not a tensor each; memory planning,
  one allocation for them all, would turn that off;
- one thread: the graph is then one fused kernel, whose ~100 steps would each end in a
  barrier of the threads; a sample's arithmetic is too small to split."""

REWRITING = inspect.getsource(library_free)
"""The code that rewrites a graph's library calls before it is compiled: part of a
program's name."""

GraphRunner = Callable[[tuple[np.ndarray, ...]], np.ndarray]
"""A runtime of a price graph: its inputs, arrays [n, ...], to sigma_s [n, n_tx]."""


def cache_directory() -> Path:
    """Where compiled programs are kept (module docstring)."""
    root = os.environ.get(CACHE_ENV)
    if root:
        return Path(root) / "compiled"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "isac" / "compiled"


def _compiler_settings() -> list[tuple[str, object]]:
    """AOTInductor's settings, less the host description that a compile writes into them
    (the key has the host already)."""
    settings = torch._inductor.config.save_config_portable()
    return sorted((k, v) for k, v in settings.items() if k != "aot_inductor.metadata")


def program_key(program: torch.export.ExportedProgram, example: tuple[torch.Tensor, ...]) -> str:
    """The name of the compiled form of ``program`` traced on ``example`` (module docstring)."""
    digest = hashlib.sha256()
    header = (
        torch.__version__,
        platform.machine(),
        torch.backends.cpu.get_cpu_capability(),
        _compiler_settings(),
        [(tuple(x.shape), x.stride(), str(x.dtype)) for x in example],
        program.graph_module.code,
        REWRITING,
    )
    digest.update(repr(header).encode())
    for name, tensor in [*program.state_dict.items(), *program.constants.items()]:
        digest.update(name.encode())
        digest.update(tensor.detach().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _stack_allocated(package: Path) -> bool:
    """Whether the compiled wrapper in ``package`` keeps its buffers on the stack, where
    AOTInductor writes them as ``ArrayRefTensor``s."""
    with zipfile.ZipFile(package) as archive:
        wrappers = [name for name in archive.namelist() if name.endswith(".wrapper.cpp")]
        return any(b"ArrayRefTensor" in archive.read(name) for name in wrappers)


def _build(program: torch.export.ExportedProgram, path: Path) -> None:
    """Compile ``program`` into the package ``path``, written whole or not at all (a
    concurrent build of the same program writes the same file)."""
    log.warning("compiling a price graph with AOTInductor (once, under a minute): %s", path)
    with tempfile.TemporaryDirectory() as scratch:
        package = Path(scratch) / path.name
        torch._inductor.aoti_compile_and_package(program, package_path=str(package))
        if not _stack_allocated(package):
            # it still runs and designs alike, making and freeing a tensor per buffer
            log.warning(
                "AOTInductor kept the price graph's buffers on the heap, one tensor each "
                "(library calls left: %s; or more buffer than its stack limit of 102,400 "
                "elements); its one-sample design is slower",
                ", ".join(library_calls(program)) or "none",
            )
        with package.open("rb") as compiled:
            write_atomically(path, lambda file: shutil.copyfileobj(compiled, file))


def compiled_runner(graph: torch.nn.Module, example: tuple[torch.Tensor, ...]) -> GraphRunner:
    """``graph`` compiled by AOTInductor for inputs shaped as ``example`` (one sample),
    from the cache or built into it.

    Raises:
        NotCompilable: the graph did not export, compile or load; the message names why.
    """
    # the program reads its inputs with the example's strides, unchecked: row-major both
    example = tuple(x.contiguous() for x in example)
    try:
        with torch.no_grad(), torch._inductor.config.patch(COMPILER_SETTINGS):
            program = torch.export.export(graph.eval(), example)
            path = cache_directory() / f"{program_key(program, example)}.pt2"
            if not path.exists():
                _build(program.run_decompositions(DECOMPOSITIONS), path)
        model = torch._inductor.aoti_load_package(str(path))
    except Exception as error:  # the compiler toolchain is optional: any failure falls back
        reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise NotCompilable(
            f"AOTInductor could not compile the price graph: {type(error).__name__}: {reason}"
        ) from error

    # the package's own __call__ parses its input and output specs from JSON and walks
    # them as pytrees on every call, 10-15 us, and its Python leaves the caches cold for
    # the numpy steps after it; the graph takes four tensors and returns one, so the
    # runner hands them to the loader directly (docs/evaluation.md, "The design API")
    run_flat = model.loader.boxed_run

    def run(inputs: tuple[np.ndarray, ...]) -> np.ndarray:
        (sigma_s,) = run_flat([torch.from_numpy(np.ascontiguousarray(x)) for x in inputs])
        return sigma_s.numpy()

    return run
