"""The projected gradient ascent over covariances against water-filling (brute force over
its active sets), the optimum of log det(I + W^1/2 Z W^1/2) under a trace budget, with
samples set aside as they settle."""

import numpy as np
import torch
from helpers import water_filling_by_active_sets

from isac.physics.psd_ascent import projected_ascent

BUDGET = 2.0


def log_det(Z: torch.Tensor, root: torch.Tensor) -> torch.Tensor:
    """real [m]: log det(I + W^1/2 Z W^1/2) of Z [m, r, r], ``root`` W^1/2 [m, r, r]."""
    identity = torch.eye(Z.shape[-1], dtype=Z.dtype)
    return torch.linalg.slogdet(identity + root @ Z @ root).logabsdet


def test_the_ascent_reaches_water_filling_and_sets_settled_samples_aside():
    generator = torch.Generator().manual_seed(3)
    n, r = 12, 3
    # equal eigenvalues make the start (the budget spread evenly) optimal, so those
    # samples settle at once; spread ones need many steps
    spread = torch.rand((n, r), generator=generator, dtype=torch.float64) * 20 + 0.05
    eigenvalues = torch.where(torch.arange(n)[:, None] % 3 == 0, torch.ones(n, r) * 4.0, spread)
    X = torch.randn((n, r, r, 2), generator=generator, dtype=torch.float64)
    vectors, _ = torch.linalg.qr(torch.view_as_complex(X))
    root = (vectors * eigenvalues.sqrt().to(vectors.dtype)[..., None, :]) @ vectors.mH
    start = torch.eye(r, dtype=root.dtype).expand(n, r, r) * (BUDGET / r)
    sizes = []

    def objective(Z: torch.Tensor, root_rows: torch.Tensor) -> torch.Tensor:
        sizes.append(Z.shape[0])
        return log_det(Z, root_rows)

    Z, value, moving = projected_ascent(objective, start, BUDGET, 300, (root,))

    expected = [water_filling_by_active_sets(e.numpy(), BUDGET) for e in eigenvalues]
    np.testing.assert_allclose(value.numpy(), expected, rtol=1e-9)
    np.testing.assert_allclose(log_det(Z, root).numpy(), value.numpy(), rtol=1e-14)
    trace = torch.diagonal(Z, dim1=-2, dim2=-1).real.sum(-1)
    assert (trace <= BUDGET * (1 + 1e-12)).all()
    assert (torch.linalg.eigvalsh(Z) >= -1e-12).all()
    assert min(sizes) < n  # settled samples left the batch
    assert len(moving) == 0
    # stopped early, it names the samples still moving: never one that settled at once
    _, early_value, early_moving = projected_ascent(objective, start, BUDGET, 2, (root,))
    assert len(early_moving) and not (early_moving % 3 == 0).any()
    short = np.asarray(expected)[early_moving.numpy()] - early_value[early_moving].numpy()
    assert (short > 1e-12).all()
    # each sample's result is the one it gets alone
    for i in (0, 1, 5):
        alone, alone_value, _ = projected_ascent(
            lambda Z, rows: log_det(Z, rows), start[i : i + 1], BUDGET, 300, (root[i : i + 1],)
        )
        np.testing.assert_allclose(alone_value.numpy(), value[i : i + 1].numpy(), rtol=1e-12)
        np.testing.assert_allclose(alone.numpy(), Z[i : i + 1].numpy(), atol=1e-9)
