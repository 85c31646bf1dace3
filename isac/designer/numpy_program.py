"""A trained network as a short numpy program for one feature vector (the design API's hot path).

At batch size 1 a torch operation costs 2-20 us of dispatch, several times the
arithmetic; a numpy operation on the same few hundred numbers costs about 1 us. So a
network of the paper's form, ``head(trunk(features))`` with a ``trunk``
(``nn.Sequential`` of BatchNorm1d, Conv1d, Linear, ReLU and Flatten) and a
:class:`~isac.learning.networks.PowerHead` -- ISACNN and FC-NN -- is compiled, once,
into numpy steps on a flat float32 vector:

- an eval-mode BatchNorm is an affine map per channel and is folded into the Conv1d or
  Linear that follows it. With zero 'same' padding a folded shift reaches fewer taps at
  the edges, so a convolution's bias becomes a per-position map;
- a Conv1d is one gather of its input windows (padding read from an appended zero) and
  one matrix product;
- the head's two Linear layers are merged into one, followed by the Lambda layer, the
  same function the torch head calls (:func:`~isac.learning.networks.lambda_layer`).

:func:`compile_network` checks the program against the torch network on features of the
network's own scenario and refuses any network it cannot reproduce (docs/evaluation.md,
"The design API").
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from isac.learning.features import feature_count, input_features
from isac.learning.networks import FeatureNetwork, PowerHead, lambda_layer
from isac.physics.scenario import sample_scenario
from isac.physics.system import SystemConfig

Step = Callable[[np.ndarray], np.ndarray]
AGREEMENT_RTOL = 1e-4  # float32 round-off of a reordered sum, relative to the largest sigma_s


class NotCompilable(TypeError):
    """The network has a layer or a structure the numpy program does not reproduce."""


def _array(tensor: torch.Tensor) -> np.ndarray:
    """A parameter or buffer in float64, for folding without round-off."""
    return tensor.detach().double().numpy()


def _bias(layer: nn.Conv1d | nn.Linear) -> np.ndarray:
    out = layer.out_channels if isinstance(layer, nn.Conv1d) else layer.out_features
    return np.zeros(out) if layer.bias is None else _array(layer.bias)


def _affine(norm: nn.BatchNorm1d) -> tuple[np.ndarray, np.ndarray]:
    """(scale, shift) per channel of an eval-mode BatchNorm: norm(x) = scale x + shift."""
    scale = _array(norm.weight) / np.sqrt(_array(norm.running_var) + norm.eps)
    return scale, _array(norm.bias) - _array(norm.running_mean) * scale


def _identity_affine(channels: int) -> tuple[np.ndarray, np.ndarray]:
    return np.ones(channels), np.zeros(channels)


def _linear_step(
    weight: np.ndarray, bias: np.ndarray, scale: np.ndarray, shift: np.ndarray, relu: bool
) -> Step:
    """x -> W (scale x + shift) + b, folded: W' = W diag(scale), b' = b + W shift; then
    max(., 0) if ``relu``."""
    folded_weight = (weight * scale).astype(np.float32)
    folded_bias = (bias + weight @ shift).astype(np.float32)

    def step(x: np.ndarray) -> np.ndarray:
        out = folded_weight @ x
        out += folded_bias
        return np.maximum(out, 0.0, out=out) if relu else out

    return step


def _conv_step(
    conv: nn.Conv1d, length: int, scale: np.ndarray, shift: np.ndarray, relu: bool
) -> Step:
    """A 'same' zero-padded Conv1d on [C_in, length] (flat), after an affine map per channel
    and followed by max(., 0) if ``relu``.

    out[o, f] = b[o] + sum_{c, j} w[o, c, j] (scale[c] x[c, f + j - pad] + shift[c]) over the
    taps inside the signal, = (W' X)[o, f] + B[o, f] with X[c k + j, f] = x[c, f + j - pad]
    (0 outside), W'[o, c k + j] = w[o, c, j] scale[c] and B the bias with the shift's taps.
    """
    if (
        conv.stride != (1,)
        or conv.dilation != (1,)
        or conv.groups != 1
        or conv.padding_mode != "zeros"
        or conv.padding != (conv.kernel_size[0] // 2,)
        or conv.kernel_size[0] % 2 == 0
    ):
        raise NotCompilable(f"only odd-kernel, stride-1, 'same' zero-padded Conv1d, got {conv}")
    weight = _array(conv.weight)  # [C_out, C_in, k]
    bias = _bias(conv)
    c_in, k = conv.in_channels, conv.kernel_size[0]
    positions = np.arange(length)[None, :] + np.arange(k)[:, None] - k // 2  # [k, length]
    inside = (positions >= 0) & (positions < length)
    # window index into the flat input with a zero appended at c_in * length
    windows = np.where(inside, positions + length * np.arange(c_in)[:, None, None], c_in * length)
    windows = windows.reshape(c_in * k, length)
    folded_weight = (weight * scale[None, :, None]).reshape(conv.out_channels, c_in * k)
    bias_map = bias[:, None] + np.einsum("ocj,c,jf->of", weight, shift, inside.astype(float))
    folded_weight, bias_map = folded_weight.astype(np.float32), bias_map.astype(np.float32)
    zero = np.zeros(1, dtype=np.float32)

    def step(x: np.ndarray) -> np.ndarray:
        out = folded_weight @ np.concatenate((x, zero))[windows]
        out += bias_map
        return (np.maximum(out, 0.0, out=out) if relu else out).ravel()

    return step


def _head_step(head: PowerHead) -> Step:
    """PowerHead: BN folded into the theta and eta Linear layers, merged as one; then the
    Lambda layer."""
    weight = _array(torch.cat([head.theta.weight, head.eta.weight]))
    bias = _array(torch.cat([head.theta.bias, head.eta.bias]))
    logits = _linear_step(weight, bias, *_affine(head.norm), relu=False)
    sensing_power = np.float32(head.sensing_power)

    def step(x: np.ndarray) -> np.ndarray:
        return lambda_layer(logits(x), sensing_power)

    return step


def _trunk_steps(trunk: nn.Sequential, in_features: int) -> list[Step]:
    """The trunk's steps, on a flat vector of ``in_features`` entries; a ReLU right after
    a Conv1d or Linear runs in that layer's step."""
    steps: list[Step] = []
    pending: tuple[np.ndarray, np.ndarray] | None = None  # a BatchNorm awaiting its layer
    size = in_features  # of the flat activation; a convolution's is channels x length
    layers = list(trunk)
    fused = False  # the last step took the ReLU that comes next
    for layer, after in zip(layers, [*layers[1:], None], strict=True):
        relu = isinstance(after, nn.ReLU)
        if isinstance(layer, nn.BatchNorm1d) and pending is None:
            pending = _affine(layer)
        elif isinstance(layer, nn.Conv1d):
            length = size // layer.in_channels
            affine = pending or _identity_affine(layer.in_channels)
            steps.append(_conv_step(layer, length, *affine, relu=relu))
            size, pending = layer.out_channels * length, None
        elif isinstance(layer, nn.Linear):
            weight, bias = _array(layer.weight), _bias(layer)
            affine = pending or _identity_affine(layer.in_features)
            steps.append(_linear_step(weight, bias, *affine, relu=relu))
            size, pending = layer.out_features, None
        elif not (
            (isinstance(layer, nn.ReLU) and fused)
            or (isinstance(layer, nn.Flatten) and pending is None)
        ):
            raise NotCompilable(f"no numpy step for {layer} at this place of the trunk")
        fused = relu and isinstance(layer, (nn.Conv1d, nn.Linear))
    if pending is not None:
        raise NotCompilable("the trunk ends with a BatchNorm that no layer follows")
    return steps


class NumpyNetwork:
    """A compiled network: ``network(features)`` maps float32 features
    [2 n_rx n_users + n_tx] to sigma_s float32 [n_tx], as the torch network in eval mode."""

    def __init__(self, steps: list[Step]) -> None:
        self._steps = steps

    def __call__(self, features: np.ndarray) -> np.ndarray:
        x = features
        for step in self._steps:
            x = step(x)
        return x


def compile_network(network: nn.Module, system: SystemConfig, checks: int = 64) -> NumpyNetwork:
    """Compile ``network`` (``head(trunk(features))``, in eval mode) into numpy steps.

    Args:
        network: a :class:`~isac.learning.networks.FeatureNetwork` with a ``trunk``
            ``nn.Sequential`` and a :class:`PowerHead` ``head``.
        system: the system it designs for; the check's features are drawn from its scenario.
        checks: feature vectors (29) of that scenario on which the program must match it.

    Raises:
        NotCompilable: another structure, or a forward pass the program does not match
            to :data:`AGREEMENT_RTOL` (e.g. one that is not ``head(trunk(features))``).
    """
    if not isinstance(network, FeatureNetwork):
        raise NotCompilable(f"{type(network).__name__} reads more than the features (29)")
    trunk, head = getattr(network, "trunk", None), getattr(network, "head", None)
    if not isinstance(trunk, nn.Sequential) or not isinstance(head, PowerHead):
        raise NotCompilable(f"{type(network).__name__} is not a trunk and a PowerHead")
    if network.training:
        raise NotCompilable("the network is in training mode; its BatchNorms use batch statistics")
    scenario = sample_scenario(system, checks, seed=0, split="compile-check")
    features = input_features(scenario.H_hat, scenario.p, scenario.sigma_t, system.noise_power)
    features = features.float()
    with torch.no_grad():
        program = NumpyNetwork([*_trunk_steps(trunk, feature_count(system)), _head_step(head)])
        expected = _array(network.from_features(features))
    actual = np.stack([program(row) for row in features.numpy()])
    if not np.allclose(actual, expected, rtol=0.0, atol=AGREEMENT_RTOL * np.abs(expected).max()):
        worst = np.abs(actual - expected).max() / np.abs(expected).max()
        raise NotCompilable(
            f"the numpy program of {type(network).__name__} differs from it by {worst:.3g} of "
            f"the largest sigma_s on features of its scenario (allowed {AGREEMENT_RTOL:g})"
        )
    return program
