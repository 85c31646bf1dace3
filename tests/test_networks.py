"""Networks: eq. (29) features, the Lambda layer's feasibility, ISACNN and FC-NN shapes,
and networks built from their model configs."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from isac.checks import SettingsError
from isac.config import CONF_DIR
from isac.learning.features import feature_count, input_features
from isac.learning.lit_module import build_network
from isac.learning.networks import FCNN, ISACNN, lambda_layer
from isac.physics.scenario import sample_scenario
from isac.physics.system import SystemConfig


def model_config(name: str) -> dict:
    return OmegaConf.to_container(OmegaConf.load(CONF_DIR / "model" / f"{name}.yaml"))


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
    theta = torch.rand((500, 7), generator=generator) * 0.98 + 0.01
    eta = torch.rand((500, 1), generator=generator)
    sigma_s = lambda_layer(theta, eta, sensing_power=10.0)
    assert (sigma_s >= 0).all()
    assert (sigma_s[:, :-1] >= sigma_s[:, 1:]).all()
    torch.testing.assert_close(sigma_s.sum(-1), 10.0 * eta[:, 0])
    # equal theta splits eta P_s equally; the paper's l2 norm would give P_s / sqrt(16) each
    # and spend sqrt(16) = 4 times the budget (docs/model.md, item 1)
    flat = lambda_layer(torch.full((1, 16), 0.3), torch.full((1, 1), 0.5), sensing_power=10.0)
    torch.testing.assert_close(flat, torch.full((1, 16), 0.5 * 10.0 / 16))


@pytest.mark.parametrize("sizes", [(16, 16, 5), (4, 8, 2), (6, 3, 3), (2, 2, 1)])
@pytest.mark.parametrize("name", ["isacnn", "fcnn"])
def test_networks_adapt_to_any_size_and_stay_feasible(sizes, name):
    n_tx, n_rx, n_users = sizes
    system = SystemConfig(
        n_tx=n_tx, n_rx=n_rx, n_users=n_users, waveform_len=n_tx + 4, snr_s_db=20.0
    )
    network = build_network(model_config(name), system)
    features = torch.randn(32, feature_count(system)) * 5
    for mode in (network.train, network.eval):
        mode()
        sigma_s = network(features)
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


def test_model_configs_build_their_networks_and_bad_targets_are_refused():
    assert isinstance(build_network(model_config("isacnn"), SystemConfig()), ISACNN)
    assert isinstance(build_network(model_config("fcnn"), SystemConfig()), FCNN)
    for spec, message in [
        ({"name": "x"}, r"model.network._target_ must name a network class"),
        ({"network": {"_target_": "isac.nowhere.Net"}}, r"cannot build 'isac.nowhere.Net'"),
        ({"network": {"_target_": "isac.learning.networks.ISACNN", "depth": 3}}, r"depth"),
        ({"network": {"_target_": "builtins.str"}}, r"must build a torch"),
    ]:
        with pytest.raises(SettingsError, match=message):
            build_network(spec, SystemConfig())
