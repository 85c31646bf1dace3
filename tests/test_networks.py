"""Networks: eq. (29) features, the Lambda layer's feasibility and its limit where every
sigmoid underflows, ISACNN and FC-NN shapes, and networks built from their registry keys."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from isac.checks import SettingsError
from isac.config import CONF_DIR
from isac.learning.features import feature_count, input_features
from isac.learning.network_registry import build_network
from isac.learning.networks import FCNN, ISACNN, lambda_layer
from isac.physics.scenario import sample_scenario
from isac.physics.system import SystemConfig


def network_config(name: str) -> dict:
    """The ``network`` node of ``conf/model/<name>.yaml``."""
    return OmegaConf.to_container(OmegaConf.load(CONF_DIR / "model" / f"{name}.yaml"))["network"]


def test_input_features_follow_eq_29():
    system = SystemConfig(n_tx=3, n_rx=2, n_users=2, waveform_len=4, snr_c_db=6.0)
    scenario = sample_scenario(system, 2, seed=1)
    features = input_features(scenario.H, scenario.p, scenario.sigma_t, noise_power=2.0)
    assert features.shape == (2, feature_count(system))
    for b in range(2):
        scale = (scenario.p[b] / 2.0).sqrt()
        h = [scale[k] * scenario.H[b, :, k] for k in range(2)]  # h_k in C^{n_rx}
        expected = torch.cat([h[0].real, h[1].real, h[0].imag, h[1].imag, scenario.sigma_t[b]])
        torch.testing.assert_close(features[b], expected)


def test_lambda_layer_is_feasible_descending_and_spends_eta_of_the_budget():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn((500, 8), generator=generator) * 3  # 7 theta logits, then eta's
    sigma_s = lambda_layer(logits, sensing_power=10.0)
    assert (sigma_s >= 0).all()
    assert (sigma_s[:, :-1] >= sigma_s[:, 1:]).all()
    # the shares are theta / sum(theta), (theta, eta) = sigmoid(logits), here in float64
    gates = 1.0 / (1.0 + np.exp(-logits.double().numpy()))
    theta, eta = gates[:, :-1], gates[:, -1:]
    np.testing.assert_allclose(sigma_s.sum(-1).numpy(), 10.0 * eta[:, 0], rtol=1e-5)
    shares = -np.sort(-theta / theta.sum(-1, keepdims=True), axis=-1)
    np.testing.assert_allclose(sigma_s.numpy(), 10.0 * eta * shares, rtol=1e-5)
    # equal theta splits eta P_s equally; the paper's l2 norm would give P_s / sqrt(16) each
    # and spend sqrt(16) = 4 times the budget (docs/model.md, item 1)
    flat = lambda_layer(torch.tensor([[-0.8] * 16 + [0.0]]), sensing_power=10.0)
    torch.testing.assert_close(flat, torch.full((1, 16), 0.5 * 10.0 / 16))


@pytest.mark.parametrize("n_tx", [1, 2, 5])
def test_lambda_layer_where_every_sigmoid_underflows(n_tx):
    # float32 sigmoids of logits below about -104 are 0: theta / sum(theta) is 0/0, but the
    # shares are still e^(z_i) / sum_j e^(z_j), which float64 represents directly
    theta_logits = -200.0 - 3.0 * torch.arange(n_tx, dtype=torch.float32)
    logits = torch.cat([theta_logits, torch.tensor([-1.1])])[None]  # eta = sigmoid(-1.1)
    eta = 1.0 / (1.0 + np.exp(1.1))
    theta = 1.0 / (1.0 + np.exp(-theta_logits.double().numpy()))
    expected = 8.0 * eta * theta / theta.sum()
    for argument in (logits, logits.numpy()):
        sigma_s = np.asarray(lambda_layer(argument, sensing_power=8.0))[0]
        assert np.isfinite(sigma_s).all()
        np.testing.assert_allclose(sigma_s, expected, rtol=1e-6)
    # and the gradient stays finite there
    logits.requires_grad_(True)
    lambda_layer(logits, sensing_power=8.0).square().sum().backward()
    assert torch.isfinite(logits.grad).all()


@pytest.mark.parametrize("sizes", [(16, 16, 5), (4, 8, 2), (6, 3, 3), (2, 2, 1)])
@pytest.mark.parametrize("name", ["isacnn", "fcnn"])
def test_networks_adapt_to_any_size_and_stay_feasible(sizes, name):
    n_tx, n_rx, n_users = sizes
    system = SystemConfig(
        n_tx=n_tx, n_rx=n_rx, n_users=n_users, waveform_len=n_tx + 4, snr_s_db=20.0
    )
    network = build_network(network_config(name), system)
    features = torch.randn(32, feature_count(system)) * 5
    for mode in (network.train, network.eval):
        mode()
        sigma_s = network.from_features(features)
        assert sigma_s.shape == (32, n_tx)
        assert (sigma_s >= 0).all()
        assert (sigma_s.sum(-1) <= system.sensing_power * (1 + 1e-6)).all()
        assert (sigma_s[:, :-1] >= sigma_s[:, 1:]).all()


def test_isacnn_and_fcnn_layers_match_the_paper():
    system = SystemConfig()
    isacnn = ISACNN(system)
    convolutions = [m for m in isacnn.modules() if isinstance(m, nn.Conv1d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size[0]) for c in convolutions] == [
        (1, 2, 5),
        (2, 4, 3),
        (4, 8, 3),
    ]
    norms = [m for m in isacnn.modules() if isinstance(m, nn.BatchNorm1d)]
    assert len(norms) == 4  # before each convolution and before the FC heads
    heads = [m for m in isacnn.modules() if isinstance(m, nn.Linear)]
    assert [h.out_features for h in heads] == [16, 1]
    assert heads[0].in_features == 8 * feature_count(system)
    fcnn = FCNN(system)
    widths = [m.out_features for m in fcnn.modules() if isinstance(m, nn.Linear)]
    assert widths == [8 * 16, 4 * 16, 2 * 16, 16, 1]
    assert sum(isinstance(m, nn.BatchNorm1d) for m in fcnn.modules()) == 4


def test_model_configs_build_their_networks_and_unregistered_ones_are_refused():
    assert isinstance(build_network(network_config("isacnn"), SystemConfig()), ISACNN)
    assert isinstance(build_network(network_config("fcnn"), SystemConfig()), FCNN)
    for spec, message in [
        ({"name": "x"}, r"model.network.kind must be one of \['isacnn', 'fcnn', 'pricenet'"),
        ({"_target_": "isac.learning.networks.ISACNN"}, r"model.network.kind must be one of"),
        ({"kind": "builtins.exec"}, r"model.network.kind must be one of"),
        ({"kind": "isacnn", "depth": 3}, r"model.network.depth is not an option of network"),
        ({"kind": "pricenet", "hidden": "32"}, r"model.network.hidden must be an integer >= 1"),
        ({"kind": "pricenet", "hidden": {"_target_": "os.system"}}, r"hidden must be an integer"),
        ("isacnn", r"model.network must be a mapping"),
    ]:
        with pytest.raises(SettingsError, match=message):
            build_network(spec, SystemConfig())
