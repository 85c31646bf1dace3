"""The barrier method for the sensing optimum with directions (docs/model.md, item 15)
against water-filling (brute force over its active sets), the projected gradient search,
random covariances and the Frank-Wolfe bound of the concave problem."""

import numpy as np
import pytest
import torch
from helpers import water_filling_by_active_sets
from test_directions import draw

from isac.physics import log_det_barrier
from isac.physics.directional import (
    gram_of,
    log_det_rate,
    sensing_search,
    sensing_weights_without_users,
)
from isac.physics.log_det_barrier import hermitian_basis, log_det_optimum
from isac.physics.psd_ascent import frank_wolfe_bound, project_psd_trace
from isac.physics.system import SystemConfig


@pytest.mark.parametrize("r", [1, 2, 3, 4])
def test_the_basis_is_an_orthonormal_basis_of_hermitian_matrices(r):
    basis = hermitian_basis(r)
    torch.testing.assert_close(basis, basis.mH, rtol=0, atol=0)
    gram = torch.einsum("pab,qab->pq", basis.conj(), basis)
    torch.testing.assert_close(gram, torch.eye(r * r, dtype=gram.dtype), rtol=0, atol=1e-15)


def test_the_optimum_is_water_filling():
    """With weights all ones (M = r) and A = W^1/2 the objective is log det(I + W^1/2 Z
    W^1/2), whose maximum over the budget is water-filling on W's eigenvalues."""
    generator = torch.Generator().manual_seed(7)
    n, r, budget = 10, 3, 2.0
    eigenvalues = torch.rand((n, r), generator=generator, dtype=torch.float64) * 20 + 0.05
    X = torch.randn((n, r, r, 2), generator=generator, dtype=torch.float64)
    vectors, _ = torch.linalg.qr(torch.view_as_complex(X))
    root = (vectors * eigenvalues.sqrt().to(vectors.dtype)[..., None, :]) @ vectors.mH
    ones = torch.ones((n, r, r), dtype=root.dtype)

    Z = log_det_optimum(ones, root, budget)

    identity = torch.eye(r, dtype=Z.dtype)
    value = torch.linalg.slogdet(identity + root @ Z @ root).logabsdet
    expected = [water_filling_by_active_sets(e.numpy(), budget) for e in eigenvalues]
    np.testing.assert_allclose(value.numpy(), expected, rtol=1e-11)
    trace = torch.diagonal(Z, dim1=-2, dim2=-1).real.sum(-1)
    np.testing.assert_allclose(trace.numpy(), budget, rtol=1e-14)
    assert (torch.linalg.eigvalsh(Z) > 0).all()  # an interior point


def test_the_flat_three_target_problem_is_certified(monkeypatch):
    """Three targets 20 degrees apart make the sensing problem flat: the projected
    gradient search leaves it short on some samples; the barrier method reaches every
    sample's maximum to round-off (the Frank-Wolfe bound), stops well before its cap,
    and no random covariance does better."""
    system = SystemConfig()
    scenario, _ = draw(system, 3, n=120, seed=4, width_deg=20.0)
    targets = scenario.targets.to(torch.float64)
    reduced = targets.basis().mH @ targets.A
    free = sensing_weights_without_users(targets, system.noise_power)
    budget = system.sensing_power

    def rate(Z: torch.Tensor) -> torch.Tensor:
        return log_det_rate(free, gram_of(Z, reduced), system.waveform_len)

    Z = log_det_optimum(free, reduced, budget)
    value, bound = frank_wolfe_bound(rate, Z, budget)
    assert ((bound - value) / value).max() <= 1e-10
    searched = sensing_search(free, reduced, system, 300).value
    assert (value >= searched * (1 - 1e-12)).all()
    assert ((value - searched) / value).max() > 1e-8  # the search was short somewhere

    monkeypatch.setattr(log_det_barrier, "MOST_STEPS", 100)
    torch.testing.assert_close(log_det_optimum(free, reduced, budget), Z, rtol=0, atol=0)

    generator = torch.Generator().manual_seed(1)
    for i in range(0, len(free), 30):
        X = torch.view_as_complex(
            torch.randn((4000, 3, 3, 2), generator=generator, dtype=torch.float64)
        )
        random = project_psd_trace(X @ X.mH, budget)
        random = random * (budget / torch.diagonal(random, dim1=-2, dim2=-1).real.sum(-1))[
            :, None, None
        ].to(random.dtype)
        values = log_det_rate(
            free[i].expand(4000, 3, 3),
            gram_of(random, reduced[i].expand(4000, 3, 3)),
            system.waveform_len,
        )
        assert values.max() <= value[i] * (1 + 1e-12)
