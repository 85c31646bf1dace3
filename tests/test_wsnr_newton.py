"""Newton's method on the WSNR with targets at directions (docs/model.md, item 15, "Newton
steps"): its closed-form derivatives against central finite differences and autograd of
the objective, and its result against the first-order conditions of a local maximum and
a brute-force search around it."""

import dataclasses

import pytest
import torch
from test_directions import SYSTEM, draw

from isac.physics.directional import gram_of
from isac.physics.psd_ascent import project_psd_trace
from isac.physics.system import SystemConfig
from isac.physics.wsnr_newton import (
    cholesky_basis,
    factor_of,
    newton_ascent,
    wsnr_derivatives,
)
from isac.schemes.directional import DesignSpace


def random_starts(n: int, r: int, budget: float, seed: int) -> torch.Tensor:
    """complex128 [n, r, r]: PSD covariances of random rank (1 to r) and trace <= budget."""
    generator = torch.Generator().manual_seed(seed)
    X = torch.view_as_complex(torch.randn((n, r, r, 2), generator=generator, dtype=torch.float64))
    rank = torch.randint(1, r + 1, (n, 1, 1), generator=generator)
    X = X * (torch.arange(r)[None, None, :] < rank)
    Z = X @ X.mH
    trace = torch.diagonal(Z, dim1=-2, dim2=-1).real.sum(-1)[:, None, None]
    fraction = torch.rand((n, 1, 1), generator=generator, dtype=torch.float64) * 0.9 + 0.1
    return Z * (fraction * budget / trace)


def wsnr_of_coordinates(x, terms, A, basis, system):
    L = torch.einsum("np,pab->nab", x.to(basis.dtype), basis)
    return terms.wsnr_of(gram_of(L @ L.mH, A), system)


@pytest.mark.parametrize("r", [1, 2, 3])
def test_the_basis_spans_lower_triangular_matrices_with_a_real_diagonal(r):
    basis = cholesky_basis(r)
    gram = torch.einsum("pab,qab->pq", basis.conj(), basis).real
    torch.testing.assert_close(gram, torch.eye(r * r, dtype=gram.dtype), rtol=0, atol=0)
    torch.testing.assert_close(basis, basis.tril(), rtol=0, atol=0)
    assert torch.diagonal(basis, dim1=-2, dim2=-1).imag.abs().max() == 0


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_the_factor_reproduces_a_covariance_of_any_rank(rank):
    generator = torch.Generator().manual_seed(rank)
    X = torch.view_as_complex(
        torch.randn((20, 3, rank, 2), generator=generator, dtype=torch.float64)
    )
    Z = X @ X.mH
    L = factor_of(Z)
    torch.testing.assert_close(L @ L.mH, Z, rtol=0, atol=1e-13 * Z.abs().max().item())
    torch.testing.assert_close(L, L.tril(), rtol=0, atol=0)
    diagonal = torch.diagonal(L, dim1=-2, dim2=-1)
    assert diagonal.imag.abs().max() == 0 and (diagonal.real >= 0).all()


@pytest.mark.parametrize("n_targets", [1, 2, 3])
def test_the_derivatives_match_finite_differences_and_autograd(n_targets):
    scenario, terms = draw(SYSTEM, n_targets, n=8, seed=n_targets, width_deg=30.0)
    space = DesignSpace.of(terms)
    r = space.A.shape[-2]
    basis = cholesky_basis(r)
    generator = torch.Generator().manual_seed(11)
    x = torch.randn((8, r * r), generator=generator, dtype=torch.float64) * 0.6

    value, gradient, hessian, z_gradient = wsnr_derivatives(x, terms, space.A, basis, SYSTEM)

    def f(points):
        return wsnr_of_coordinates(points, terms, space.A, basis, SYSTEM)

    torch.testing.assert_close(value, f(x), rtol=1e-15, atol=0)
    step = 1e-5
    for p in range(r * r):
        unit = torch.zeros(r * r, dtype=x.dtype).index_fill(0, torch.tensor([p]), step)
        difference = (f(x + unit) - f(x - unit)) / (2 * step)
        torch.testing.assert_close(gradient[:, p], difference, rtol=1e-7, atol=1e-9)
    leaf = x.clone().requires_grad_(True)
    (first,) = torch.autograd.grad(f(leaf).sum(), leaf, create_graph=True)
    second = torch.stack(
        [torch.autograd.grad(first[:, p].sum(), leaf, retain_graph=True)[0] for p in range(r * r)],
        dim=1,
    )
    torch.testing.assert_close(gradient, first.detach(), rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(hessian, second, rtol=1e-11, atol=1e-13)
    L = torch.einsum("np,pab->nab", x.to(basis.dtype), basis)
    Z = (L @ L.mH).requires_grad_(True)
    (in_z,) = torch.autograd.grad(terms.wsnr_of(gram_of(Z, space.A), SYSTEM).sum(), Z)
    torch.testing.assert_close(z_gradient, (in_z + in_z.mH) / 2, rtol=1e-12, atol=1e-14)


def test_newton_reaches_local_maxima_that_no_nearby_covariance_beats():
    """Three targets 20 degrees apart and users among them (the sweep's hardest kind of
    problem): from random starts of every rank, every sample's value rises, stays
    feasible, and the samples that settle meet the first-order conditions of a maximum
    over the budget (the Frank-Wolfe gap of the linearisation, to the tolerance at which
    a stationary point of the factor is left), and no covariance drawn around them,
    projected onto the budget, does better."""
    system = dataclasses.replace(SystemConfig(), alpha=0.2)
    _, terms = draw(system, 3, n=60, seed=5, width_deg=20.0)
    space = DesignSpace.of(terms)
    budget = system.sensing_power
    start = random_starts(60, 3, budget, seed=2)
    before = terms.wsnr_of(space.gram(start), system)

    Z, value, moving = newton_ascent(start, terms, space.A, system, 30)

    assert (value >= before - 1e-14 * before.abs()).all()
    torch.testing.assert_close(value, terms.wsnr_of(space.gram(Z), system), rtol=1e-14, atol=0)
    trace = torch.diagonal(Z, dim1=-2, dim2=-1).real.sum(-1)
    assert (trace <= budget * (1 + 1e-12)).all()
    assert (torch.linalg.eigvalsh(Z) >= -1e-12 * budget).all()
    assert len(moving) <= 8  # 55 of 60 settle within 30 steps (the rest: flat problems)
    settled = torch.ones(60, dtype=torch.bool).index_fill(0, moving, False)

    # the gradient in Z by the closed form the test above checks against autograd: autograd
    # of the objective itself reads 0 for a target whose echo is negative by round-off
    # (the clamp at c = 0), as it is at a maximum of lower rank
    basis = cholesky_basis(3)
    x = torch.einsum("pab,nab->np", basis.conj(), factor_of(Z)).real
    gradient = wsnr_derivatives(x, terms, space.A, basis, system)[3]
    largest = torch.linalg.eigvalsh(gradient)[..., -1].clamp_min(0.0)
    gap = budget * largest - (gradient.conj() * Z).real.sum((-2, -1))
    assert (gap[settled] <= 1e-6 * value[settled]).all()

    generator = torch.Generator().manual_seed(3)
    for scale in (1e-2, 1e-4):
        for _ in range(20):
            noise = torch.view_as_complex(
                torch.randn((60, 3, 3, 2), generator=generator, dtype=torch.float64)
            )
            nearby = project_psd_trace(Z + scale * budget * (noise + noise.mH) / 2, budget)
            assert (
                terms.wsnr_of(space.gram(nearby), system)[settled] <= value[settled] + 1e-13
            ).all()
