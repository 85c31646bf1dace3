"""The data module: fixed splits, keyed shuffling, fresh samples, H_hat in and H for the loss."""

from __future__ import annotations

import torch

from isac.config import DataConfig
from isac.learning.data import ISACDataModule
from isac.learning.features import input_features
from isac.physics.problem import ProblemTerms
from isac.physics.scenario import sample_scenario
from isac.physics.system import SystemConfig

SYSTEM = SystemConfig(n_tx=3, n_rx=4, n_users=2, waveform_len=5)


def epoch_order(loader, epoch: int) -> list[torch.Tensor]:
    loader.batch_sampler.sampler.set_epoch(epoch)
    return [batch.problem.features for batch in loader]


def test_training_batches_cover_the_set_and_shuffle_per_epoch_reproducibly():
    data = ISACDataModule(
        SYSTEM, DataConfig(n_train=50, n_val=20, n_test=20, batch_size=16, seed=3), beta=1.0
    )
    loader = data.train_dataloader()
    first = epoch_order(loader, 0)
    assert [len(f) for f in first] == [16, 16, 16, 2]
    all_features = data.problem_set("train").problem.features
    seen = torch.cat(first)
    assert torch.equal(seen.sort(dim=0).values, all_features.sort(dim=0).values)
    second = epoch_order(loader, 1)
    assert not torch.equal(torch.cat(second), seen)
    again = epoch_order(
        ISACDataModule(
            SYSTEM, DataConfig(n_train=50, n_val=20, n_test=20, batch_size=16, seed=3), beta=1.0
        ).train_dataloader(),
        1,
    )
    assert all(torch.equal(a, b) for a, b in zip(second, again, strict=True))


def test_validation_and_test_sets_are_fixed_by_the_seed_alone():
    small = ISACDataModule(SYSTEM, DataConfig(n_train=10, n_val=20, n_test=20, seed=1), beta=1.0)
    large = ISACDataModule(
        SYSTEM, DataConfig(n_train=90, n_val=20, n_test=20, seed=1, batch_size=7), beta=1.0
    )
    for split in ("val", "test"):
        assert torch.equal(
            small.problem_set(split).problem.features, large.problem_set(split).problem.features
        )
    assert not torch.equal(
        small.problem_set("val").problem.features, small.problem_set("test").problem.features
    )
    batches = list(small.val_dataloader())
    assert len(batches) == 1 and len(batches[0]) == 20


def test_resampled_training_set_changes_every_epoch():
    data = ISACDataModule(
        SYSTEM,
        DataConfig(n_train=12, n_val=4, n_test=4, batch_size=12, seed=0, resample_train=True),
        beta=1.0,
    )
    loader = data.train_dataloader()
    epoch0, epoch1 = epoch_order(loader, 0)[0], epoch_order(loader, 1)[0]
    assert not torch.equal(epoch0.sort(0).values, epoch1.sort(0).values)
    assert torch.equal(epoch_order(loader, 0)[0], epoch0)


def test_network_sees_the_estimate_and_the_loss_uses_the_true_channel():
    beta = 0.4
    data = ISACDataModule(SYSTEM, DataConfig(n_train=8, n_val=8, n_test=8, seed=2), beta=beta)
    test_set = data.problem_set("test")
    scenario = sample_scenario(SYSTEM, 8, beta=beta, seed=2, split="test")
    estimated = input_features(scenario.H_hat, scenario.p, scenario.sigma_t, 1.0).float()
    truth = input_features(scenario.H, scenario.p, scenario.sigma_t, 1.0).float()
    features = test_set.problem.features
    assert torch.equal(features, estimated) and not torch.equal(features, truth)
    true_terms = ProblemTerms.from_scenario(scenario, SYSTEM)
    torch.testing.assert_close(test_set.terms.sigma_h, true_terms.sigma_h.float())
    torch.testing.assert_close(test_set.terms.max_rate_c, true_terms.max_rate_c.float())
