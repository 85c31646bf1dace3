"""The online design API: from what the base station holds to its waveform and beams.

    from isac.designer import Designer
    designer = Designer.from_run("outputs/train/default")  # a trained run, or
    designer = Designer.from_pretrained("universal")       # a design shipped with the package,
    designer = Designer.from_scheme("optimum")             # or a registered scheme
    sigma_s, S, W = designer(R_T, H_hat, p)                # one sample or a batch

Inputs, one sample (a batch adds a leading dimension n to each):

- ``R_T``: complex [n_tx, n_tx], the target response covariance (Hermitian, positive
  semidefinite; path loss folded in, noise-normalised units as in training);
- ``H_hat``: complex [n_rx, n_users], the channel estimate, users' channels as columns;
- ``p``: real [n_users], the users' receive powers (linear, >= 0).

Outputs (:class:`DesignOutput`), in the inputs' precision:

- ``sigma_s``: real [n_tx], the waveform powers along the eigenvectors of R_T, descending
  with its eigenvalues, sum <= P_s;
- ``S``: complex [L, n_tx], the sensing waveform, eq. (31);
- ``W``: complex [n_rx, n_users], the receive beams w_k as columns, eq. (32), or the
  scheme's own beam rule (zero-forcing for ``zfbf``), for the designer's receiver: MMSE
  beams from H_hat, or with ``receiver=Receiver("robust", beta)`` the robust LMMSE beams
  (:mod:`isac.physics.receivers`). A trained network's designer takes the receiver it
  was trained for unless one is given.

A learned design runs as :class:`~isac.designer.pipelines.NetworkPipeline` on a batch; a
single sample of a network that compiles to numpy (ISACNN, FC-NN) runs as
:class:`~isac.designer.pipelines.SingleSamplePipeline`, and one of PriceNet or the
universal network as :class:`~isac.designer.price_graph.PriceGraphPipeline` (its static
graph, with the water-filling in fixed steps, in onnxruntime, or with ``compiled=True``
compiled by AOTInductor, :mod:`~isac.designer.compiled_graph`), where torch's
per-operation dispatch would otherwise dominate; where a faster path does not build, the
next one runs, and the designer logs why (:attr:`Designer.single_sample_path`). Checks of
the inputs (docs/evaluation.md, "The design API") run unless ``check=False``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from isac import checks
from isac.designer.numpy_program import NotCompilable
from isac.designer.pipelines import NetworkPipeline, SingleSamplePipeline
from isac.designer.price_graph import PriceGraphPipeline
from isac.designer.timed import design_scheme
from isac.files import checkpoint_path
from isac.learning.checkpoints import load_checkpoint
from isac.learning.lit_module import ISACModule
from isac.learning.pretrained import pretrained_run
from isac.learning.price_network import PriceNet
from isac.physics.receivers import GENIE, Receiver
from isac.physics.system import SystemConfig
from isac.physics.targets import PAPER
from isac.schemes.registry import SCHEMES, select_schemes

log = logging.getLogger(__name__)

PATH_NAMES = {"aotinductor": "compiled (AOTInductor)", "onnxruntime": "onnxruntime"}
HERMITIAN_TOLERANCE = 100  # multiples of eps * max|R_T| allowed in R_T - R_T^H and below 0


COMPLEX_DTYPES = (torch.complex64, torch.complex128)
REAL_DTYPES = (torch.float32, torch.float64)
ARGUMENT_DTYPES = {"R_T": COMPLEX_DTYPES, "H_hat": COMPLEX_DTYPES, "p": REAL_DTYPES}
"""The precisions the design takes, per argument."""


def _refuse_dtype(name: str, dtype: object) -> None:
    allowed = " or ".join(str(d).removeprefix("torch.") for d in ARGUMENT_DTYPES[name])
    raise checks.SettingsError(f"{name} must be {allowed}, got {dtype}")


def _array(name: str, x: torch.Tensor | np.ndarray) -> np.ndarray:
    """A tensor's values as a numpy array (a view where it can be), or an array with
    positive strides (torch.from_numpy refuses negative ones)."""
    if torch.is_tensor(x):
        if x.dtype not in ARGUMENT_DTYPES[name]:
            _refuse_dtype(name, x.dtype)
        return x.numpy(force=True)
    return np.ascontiguousarray(x)


def _tensor(name: str, x: object) -> torch.Tensor:
    """``x`` as a tensor of a precision the design takes, or a one-line refusal."""
    try:
        tensor = torch.as_tensor(x)
    except (TypeError, ValueError, RuntimeError):
        dtype = getattr(x, "dtype", type(x).__name__)
        _refuse_dtype(name, dtype)
    if tensor.dtype not in ARGUMENT_DTYPES[name]:
        _refuse_dtype(name, tensor.dtype)
    return tensor


def _scale_refusal(what: str, R_T, H_hat, p) -> checks.SettingsError:
    """The one-line refusal of inputs whose scale the design's precision cannot represent."""
    R_T, H_hat, p = (np.asarray(torch.as_tensor(x).cpu()) for x in (R_T, H_hat, p))
    return checks.SettingsError(
        f"the design of these inputs {what} in {H_hat.real.dtype}: their scale "
        f"(max |R_T| = {np.abs(R_T).max():.3g}, max |H_hat| = {np.abs(H_hat).max():.3g}, "
        f"max p = {p.max():.3g}, against the noise power) is beyond what it represents; "
        "use the noise-normalised units of docs/model.md (item 6), or float64"
    )


@contextmanager
def beyond_precision(R_T, H_hat, p) -> Iterator[None]:
    """Turn a singular linear system met in the design (the users' covariance so far above
    the noise that adding the noise changes nothing in this precision) into the refusal
    of :func:`_scale_refusal`."""
    try:
        yield
    except (torch.linalg.LinAlgError, np.linalg.LinAlgError):
        raise _scale_refusal("meets a singular system", R_T, H_hat, p) from None


def _single_sample_pipeline(
    name: str, network: torch.nn.Module, system: SystemConfig, receiver: Receiver, compiled: bool
) -> tuple[object | None, str]:
    """The fastest one-sample pipeline that builds for ``network``, and its path.

    PriceNet's iterative water-filling runs as a static graph, compiled by AOTInductor if
    ``compiled``, else (or where that fails) in onnxruntime; a network of the paper's form
    as a numpy program. Where none builds: None, and torch. Every refusal is logged and
    named in the path, e.g. ``"onnxruntime (AOTInductor could not compile ...)"``.

    Returns:
        (the pipeline or None, :attr:`Designer.single_sample_path`).
    """
    if isinstance(network, PriceNet):
        runtimes = ("aotinductor", "onnxruntime") if compiled else ("onnxruntime",)
        attempts = [(partial(PriceGraphPipeline, runtime=r), PATH_NAMES[r]) for r in runtimes]
    else:
        attempts = [(SingleSamplePipeline, "numpy")]
    refusals = []
    for build, path in attempts:
        try:
            pipeline = build(network, system, receiver)
        except NotCompilable as refusal:
            log.warning("network %r cannot design one sample in %s: %s", name, path, refusal)
            refusals.append(str(refusal))
            continue
        return pipeline, path + (f" ({'; '.join(refusals)})" if refusals else "")
    return None, f"torch ({'; '.join(refusals)})"


class DesignOutput(NamedTuple):
    """The design for one sample or a batch; shapes in the module docstring."""

    sigma_s: torch.Tensor
    S: torch.Tensor
    W: torch.Tensor


class Designer:
    """A design -- a trained network or a registered scheme -- for one system.

    Build it with :meth:`from_run`, :meth:`from_checkpoint`, :meth:`from_module` or
    :meth:`from_scheme`; call it on (R_T, H_hat, p).

    Attributes:
        name: the network's or scheme's name. system: the system it designs for.
        receiver: the receiver it designs for. single_sample_path: how one sample runs:
            ``"numpy"``, ``"compiled (AOTInductor)"``, ``"onnxruntime"``, or ``"torch"``,
            with the reasons of the faster paths refused in parentheses.
    """

    def __init__(
        self,
        name: str,
        system: SystemConfig,
        module: ISACModule | None = None,
        receiver: Receiver = GENIE,
        compiled: bool = False,
    ) -> None:
        self.name = name
        self.system = system
        self.receiver = receiver
        self._pipeline = self._single = None
        self.single_sample_path = "torch (a scheme)"
        if module is not None:
            reason = module.refusal(system, receiver, PAPER)
            if reason is not None:
                raise checks.SettingsError(f"network {name!r} cannot design here: {reason}")
            self._pipeline = NetworkPipeline(module.network, system, receiver).eval()
            n_tx, n_rx, n_users = system.n_tx, system.n_rx, system.n_users
            shapes = ((n_tx, n_tx), (n_rx, n_users), (n_users,))
            self._single_signatures = frozenset(
                (*shapes, r, h, q) for r in "FD" for h in "FD" for q in "fd"
            )
            self._single, self.single_sample_path = _single_sample_pipeline(
                name, module.network, system, receiver, compiled
            )

    @classmethod
    def from_module(
        cls,
        module: ISACModule,
        receiver: Receiver | None = None,
        system: SystemConfig | None = None,
        compiled: bool = False,
    ) -> Designer:
        """The trained network of a loaded module (:func:`load_checkpoint`) for ``system``
        (its own by default; a universal network serves any point of its ranges) with the
        beams of ``receiver`` (by default, the receiver it was trained for).

        ``compiled``: one sample of a PriceNet or universal network runs as its graph
        compiled by AOTInductor (:mod:`~isac.designer.compiled_graph`; under a minute the
        first time for a network and point, then from the cache) instead of in
        onnxruntime. Other networks keep their numpy path.

        Raises:
            checks.SettingsError: the network cannot serve that system and receiver.
        """
        system = module.system if system is None else system
        return cls(module.name, system, module.eval(), receiver or module.receiver, compiled)

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path,
        system: SystemConfig | None = None,
        receiver: Receiver | None = None,
        compiled: bool = False,
    ) -> Designer:
        """The network of a checkpoint, as :meth:`from_module`."""
        return cls.from_module(load_checkpoint(path), receiver, system, compiled)

    @classmethod
    def from_run(
        cls,
        run_dir: str | Path,
        checkpoint: str = "best",
        system: SystemConfig | None = None,
        receiver: Receiver | None = None,
        compiled: bool = False,
    ) -> Designer:
        """The network of a training run: its ``best`` or ``last`` checkpoint, or a path;
        then as :meth:`from_module`."""
        path = checkpoint_path(run_dir, checkpoint)
        return cls.from_checkpoint(path, system, receiver, compiled)

    @classmethod
    def from_pretrained(
        cls,
        name: str,
        system: SystemConfig | None = None,
        receiver: Receiver | None = None,
        compiled: bool = False,
    ) -> Designer:
        """A design shipped with the package (``isacnn``, ``pricenet``, ``universal``;
        :mod:`isac.learning.pretrained`), offline, its files checked against their
        checksums; then as :meth:`from_module`."""
        return cls.from_run(pretrained_run(name), "best", system, receiver, compiled)

    @classmethod
    def from_scheme(
        cls, name: str, system: SystemConfig | None = None, receiver: Receiver = GENIE
    ) -> Designer:
        """The registered scheme ``name`` (:data:`~isac.schemes.registry.SCHEMES`) for
        ``system`` (Table II by default) and ``receiver`` (whose model it optimises and
        whose beams it forms); refused if it cannot serve that system."""
        system = SystemConfig() if system is None else system
        checks.one_of("scheme", name, tuple(SCHEMES))
        select_schemes([name], system)
        return cls(name, system, receiver=receiver)

    def __call__(
        self, R_T: torch.Tensor, H_hat: torch.Tensor, p: torch.Tensor, *, check: bool = True
    ) -> DesignOutput:
        """Design for one sample or a batch (shapes in the module docstring).

        Args:
            R_T, H_hat, p: tensors (or arrays) as in the module docstring.
            check: also refuse NaN or inf, negative powers, a non-Hermitian R_T and an
                R_T with a negative eigenvalue. The shape checks always run; the rest
                costs a few small reductions, which a caller that has validated its
                inputs can skip.

        Raises:
            checks.SettingsError: an input has the wrong shape or, with ``check``, an
                invalid value; the message names it.
        """
        one = getattr(R_T, "ndim", None) == 2  # tensor or array; anything else: as_tensor
        if one and self._single is not None and getattr(R_T, "is_cpu", True):
            return self._design_single(R_T, H_hat, p, check)
        R_T, H_hat, p = _tensor("R_T", R_T), _tensor("H_hat", H_hat), _tensor("p", p)
        single = R_T.dim() == 2
        self._check_shapes(R_T, H_hat, p, None if single else R_T.shape[0])
        if single:
            R_T, H_hat, p = R_T[None], H_hat[None], p[None]
        arrays = (x.detach().cpu().numpy() for x in (R_T, H_hat, p))
        scale = self._check_values(*arrays) if check else None
        with torch.inference_mode(), beyond_precision(R_T, H_hat, p):
            if self._pipeline is None:
                design = design_scheme(self.name, R_T, H_hat, p, self.system, self.receiver)
                sigma_s, S, W, lowest = design.sigma_s, design.S, design.W, design.lowest_eigenvalue
            else:
                sigma_s, S, W, lowest = self._pipeline(R_T, H_hat, p)
        if scale is not None:
            self._check_definite(lowest.cpu().numpy(), scale)
            self._check_finite(sigma_s.sum() + W.sum(), R_T, H_hat, p)
        if single:
            return DesignOutput(sigma_s[0], S[0], W[0])
        return DesignOutput(sigma_s, S, W)

    def _design_single(
        self, R_T: torch.Tensor, H_hat: torch.Tensor, p: torch.Tensor, check: bool
    ) -> DesignOutput:
        """One sample on the CPU through the numpy pipeline, with the checks in numpy too."""
        R, H, powers = _array("R_T", R_T), _array("H_hat", H_hat), _array("p", p)
        signature = (R.shape, H.shape, powers.shape, R.dtype.char, H.dtype.char, powers.dtype.char)
        if signature not in self._single_signatures:  # one set lookup on the hot path
            self._check_shapes(_tensor("R_T", R), _tensor("H_hat", H), _tensor("p", powers), None)
        scale = self._check_values(R, H, powers) if check else None
        with beyond_precision(R, H, powers):
            sigma_s, S, W, lowest = self._single(R, H, powers)
        if scale is not None:
            self._check_definite(lowest, scale)
            self._check_finite(sigma_s.sum() + W.sum(), R, H, powers)
        return DesignOutput(torch.from_numpy(sigma_s), torch.from_numpy(S), torch.from_numpy(W))

    def _check_shapes(
        self, R_T: torch.Tensor, H_hat: torch.Tensor, p: torch.Tensor, n: int | None
    ) -> None:
        """Shapes of one sample (``n`` None) or of a batch of ``n`` >= 1 (precisions are
        checked where the arguments become tensors, :func:`_tensor`)."""
        system = self.system
        if n == 0:
            raise checks.SettingsError(
                f"R_T, H_hat and p must hold one sample or a batch of at least one, got a "
                f"batch of 0 (R_T of shape {list(R_T.shape)})"
            )
        batch = () if n is None else (n,)
        checks.shape("R_T", R_T, (*batch, system.n_tx, system.n_tx))
        checks.shape("H_hat", H_hat, (*batch, system.n_rx, system.n_users))
        checks.shape("p", p, (*batch, system.n_users))

    @staticmethod
    def _check_values(R: np.ndarray, H: np.ndarray, powers: np.ndarray) -> np.ndarray:
        """Refuse NaN or inf, negative powers and a non-Hermitian R_T (arrays of R_T, H_hat
        and p, one sample or a batch).

        In numpy, whose per-operation overhead on a single sample is a fraction of torch's;
        only when a check fails are the conditions taken apart for the message.

        Returns:
            real [n] or [], the tolerance scale of each R_T (its largest |entry|).
        """
        scale = np.abs(R).max(axis=(-2, -1))
        asymmetry = np.abs(R - R.conj().swapaxes(-2, -1)).max(axis=(-2, -1))
        tolerance = HERMITIAN_TOLERANCE * np.finfo(scale.dtype).eps * scale
        # comparisons are false for NaN, and min/max/abs carry NaN and inf through: a few
        # reductions stand for all the checks
        if (
            ((asymmetry <= tolerance) & (scale < np.inf)).all()
            and np.isfinite(H).all()
            and powers.min() >= 0
            and powers.max() < np.inf
        ):
            return scale
        for name, value in (("R_T", R), ("H_hat", H), ("p", powers)):
            if not np.isfinite(value).all():
                raise checks.SettingsError(f"{name} must be finite, it holds NaN or inf")
        if (powers < 0).any():
            raise checks.SettingsError(
                f"p must be >= 0 (the users' receive powers), got min {powers.min()}"
            )
        raise checks.SettingsError(
            f"R_T must be Hermitian, got max |R_T - R_T^H| = {asymmetry.max():.3g} "
            f"against max |R_T| = {scale.max():.3g}"
        )

    @staticmethod
    def _check_finite(total, R_T, H_hat, p) -> None:
        """Refuse a design that overflowed (``total``, the sum of sigma_s and W, is not
        finite): inputs whose scale the precision cannot represent."""
        if not np.isfinite(complex(total)):
            raise _scale_refusal("is not finite", R_T, H_hat, p)

    def _check_definite(self, lowest: np.ndarray, scale: np.ndarray) -> None:
        """Refuse an R_T with a negative eigenvalue (its EVD comes with the design)."""
        tolerance = HERMITIAN_TOLERANCE * np.finfo(scale.dtype).eps * self.system.n_tx * scale
        if (lowest < -tolerance).any():
            raise checks.SettingsError(
                f"R_T must be positive semidefinite, got an eigenvalue {lowest.min():.3g}"
            )
