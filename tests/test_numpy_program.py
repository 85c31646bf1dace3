"""The numpy program of a network (isac.designer.numpy_program) against torch's float64
forward pass, and what it refuses to compile."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from helpers import TINY, config
from torch import nn

from isac.designer import Designer
from isac.designer.numpy_program import NotCompilable, compile_network
from isac.experiments.training_job import train
from isac.learning.features import feature_count
from isac.learning.networks import FCNN, ISACNN
from isac.learning.price_network import PriceNet
from isac.physics.system import SystemConfig

SYSTEMS = (SystemConfig(), SystemConfig(n_tx=6, n_rx=4, n_users=3, waveform_len=8))


def randomised(network: nn.Module) -> nn.Module:
    """``network`` in eval mode with BatchNorm statistics and affines far from 0 and 1, so
    that a wrong fold (a shift missed at a padded edge, a scale on the wrong axis) shows."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for module in network.modules():
            if isinstance(module, nn.BatchNorm1d):
                size = module.num_features
                module.running_mean.copy_(torch.randn(size, generator=generator))
                module.running_var.copy_(torch.rand(size, generator=generator) * 2 + 0.2)
                module.weight.copy_(torch.randn(size, generator=generator))
                module.bias.copy_(torch.randn(size, generator=generator))
    return network.eval()


@pytest.mark.parametrize("system", SYSTEMS, ids=("table2", "small"))
@pytest.mark.parametrize("network_class", (ISACNN, FCNN))
def test_the_numpy_program_matches_the_float64_torch_network(network_class, system):
    network = randomised(network_class(system))
    program = compile_network(network, system)
    features = torch.randn(32, feature_count(system), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = network.double().from_features(features.double()).numpy()
    actual = np.stack([program(row) for row in features.numpy()])
    assert actual.dtype == np.float32 and actual.shape == (32, system.n_tx)
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-5 * system.sensing_power)
    # the Lambda layer's guarantees hold in the program too
    assert (np.diff(actual, axis=1) <= 0).all()
    assert (actual.sum(axis=1) <= system.sensing_power * (1 + 1e-6)).all()


class DoubledISACNN(ISACNN):
    """A trunk and a PowerHead whose forward is not head(trunk(x))."""

    def from_features(self, features: torch.Tensor) -> torch.Tensor:
        return 0.5 * super().from_features(features)


def test_what_the_numpy_program_cannot_reproduce_is_refused():
    system = SYSTEMS[1]
    with pytest.raises(NotCompilable, match="reads more than the features"):
        compile_network(PriceNet(system).eval(), system)
    with pytest.raises(NotCompilable, match="training mode"):
        compile_network(ISACNN(system).train(), system)
    with pytest.raises(NotCompilable, match="differs from it by .* on features of its scenario"):
        compile_network(randomised(DoubledISACNN(system)), system)
    even_kernel = randomised(ISACNN(system))
    even_kernel.trunk[1] = nn.Conv1d(1, 2, 4, padding=2)
    with pytest.raises(NotCompilable, match="odd-kernel"):
        compile_network(even_kernel, system)
    relu_after_norm = randomised(FCNN(system))
    relu_after_norm.trunk[1] = nn.ReLU()
    with pytest.raises(NotCompilable, match="no numpy step for ReLU"):
        compile_network(relu_after_norm, system)


def test_a_saturated_gate_is_exact_and_silent():
    # float32 exp overflows below -88: the program's sigmoid must not (evaluations of
    # trained networks reach such logits)
    system = SYSTEMS[1]
    network = randomised(ISACNN(system))
    with torch.no_grad():
        network.head.theta.bias[0] = -200.0
    program = compile_network(network, system)
    features = torch.randn(4, feature_count(system), generator=torch.Generator().manual_seed(3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        actual = np.stack([program(row) for row in features.numpy()])
    with torch.no_grad():
        expected = network.double().from_features(features.double()).numpy()
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-5 * system.sensing_power)
    assert (actual[:, -1] == 0).all()  # the saturated share is exactly 0, sorted last


@pytest.mark.parametrize("model", ["isacnn", "fcnn"])
def test_trained_networks_take_the_numpy_path(model, tmp_path):
    """A network trained by train.py (briefly, at small sizes) compiles: the compile check
    runs on features of its own scenario, where its trained gates saturate, and the design
    API says it took the numpy path; the shipped ISACNN is checked in test_pretrained."""
    train(config(*TINY, f"model={model}", "trainer.max_epochs=3"), tmp_path)
    designer = Designer.from_run(tmp_path)
    assert designer.single_sample_path == "numpy"
