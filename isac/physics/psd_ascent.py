"""Projected gradient ascent over transmit covariances: Hermitian Z >= 0 with tr Z <= P.

With targets at directions (:mod:`isac.physics.directional`) the design is a covariance
Z (r x r, r <= M small), and both the sensing optimum M_s (a concave problem) and the
schemes' searches (:mod:`isac.schemes.directional`) maximise a smooth function of it over
that set. :func:`projected_ascent` is the spectral projected gradient method (Birgin,
Martinez and Raydan, SIAM J. Optim. 2000) for a batch, each sample on its own: the
direction is the projected step of Barzilai-Borwein length, and a backtracking line
search along it keeps every accepted step an improvement (Armijo).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch

ARMIJO = 1e-4  # the share of the first-order gain an accepted step must achieve
SETTLED = 1e-13  # first-order gain, relative to the objective, below which a sample has converged
BACKTRACKS = 4  # halvings of a step before the sample stays where it is, its next
# step that much shorter
LONGEST = 1e10  # bounds on the Barzilai-Borwein length, relative to the budget
SHORTEST = 1e-12


def project_onto_budget(values: torch.Tensor, budget: torch.Tensor | float) -> torch.Tensor:
    """Euclidean projection of real [..., r] onto {v >= 0, sum v <= budget} (sort-based)."""
    budget = torch.as_tensor(budget, dtype=values.dtype, device=values.device)
    clipped = values.clamp_min(0.0)
    inside = clipped.sum(-1) <= budget
    ordered = values.sort(dim=-1, descending=True).values
    excess = ordered.cumsum(-1) - budget[..., None]
    counts = torch.arange(1, values.shape[-1] + 1, dtype=values.dtype, device=values.device)
    n_active = (ordered - excess / counts > 0).sum(-1, keepdim=True).clamp_min(1)
    threshold = excess.gather(-1, n_active - 1) / n_active
    return torch.where(inside[..., None], clipped, (values - threshold).clamp_min(0.0))


def project_psd_trace(Z: torch.Tensor, budget: torch.Tensor | float) -> torch.Tensor:
    """The nearest (Frobenius) Hermitian [..., r, r] to Z that is PSD with trace <= budget:
    Z's eigenvalues projected by :func:`project_onto_budget`, its eigenvectors kept."""
    Z = (Z + Z.mH) / 2
    eigenvalues, vectors = torch.linalg.eigh(Z)
    projected = project_onto_budget(eigenvalues, budget)
    return (vectors * projected.to(vectors.dtype)[..., None, :]) @ vectors.mH


def _inner(X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """real [n]: Re tr(X^H Y) of Hermitian [n, r, r]."""
    return (X.conj() * Y).real.sum((-2, -1))


class Ascent(NamedTuple):
    """What :func:`projected_ascent` returns: Z [n, r, r] and value [n] of the last point
    (every accepted step improves, so it is the best point seen), and ``moving`` (long
    [k]), the samples that had not settled when the steps ran out."""

    Z: torch.Tensor
    value: torch.Tensor
    moving: torch.Tensor


def projected_ascent(
    objective: Callable[..., torch.Tensor],
    start: torch.Tensor,
    budget: float,
    steps: int,
    per_sample: tuple = (),
) -> Ascent:
    """Maximise ``objective`` from ``start`` [n, r, r] over {Z >= 0, tr Z <= budget}, per
    sample, for ``steps`` iterations.

    ``objective(Z, *rows)`` maps Z [m, r, r] to real [m], differentiably, where ``rows``
    are the items of ``per_sample`` (tensors or :class:`~isac.physics.instances.PerInstance`
    of n samples) at the m samples of Z. A sample whose first-order gain has reached
    round-off (:data:`SETTLED`) is a fixed point of the iteration -- it does not move, so
    its gradient and step length stay as they are -- and is set aside: the iterations
    go on with the others only, at the cost of the samples still moving. The iterates are
    those of the whole batch up to the round-off of batched arithmetic at another batch
    size (docs/model.md, item 15, "Solvers"). The start is projected first.
    """
    n = start.shape[0]
    dtype = start.real.dtype
    scale = max(float(budget), torch.finfo(dtype).tiny)

    def value_and_gradient(Z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.enable_grad():
            Z = Z.detach().requires_grad_(True)
            value = objective(Z, *rows)
            (gradient,) = torch.autograd.grad(value.sum(), Z)
        return value.detach(), (gradient + gradient.mH) / 2

    rows = per_sample
    Z = project_psd_trace(start.detach(), budget)
    value, gradient = value_and_gradient(Z)
    final_Z, final_value = Z.clone(), value.clone()
    live = torch.arange(n, device=Z.device)  # the samples still iterating, in Z's order
    norm = torch.linalg.matrix_norm(gradient).clamp_min(torch.finfo(dtype).tiny)
    length = scale / norm  # a first step of about the whole budget
    for _ in range(steps):
        direction = project_psd_trace(Z + length.to(Z.dtype)[:, None, None] * gradient, budget) - Z
        slope = _inner(gradient, direction)  # >= 0: a projected step never descends
        settled = slope <= SETTLED * value.abs().clamp_min(1.0)
        if settled.any():
            final_Z[live[settled]], final_value[live[settled]] = Z[settled], value[settled]
            keep = ~settled
            if not keep.any():
                return Ascent(final_Z, final_value, live[:0])
            live, Z, value, gradient = live[keep], Z[keep], value[keep], gradient[keep]
            direction, slope, length, norm = direction[keep], slope[keep], length[keep], norm[keep]
            rows = tuple(item[live] for item in per_sample)
        fraction = torch.ones_like(value)
        accepted = torch.zeros_like(value, dtype=torch.bool)
        for _ in range(BACKTRACKS):
            trial = Z + fraction.to(Z.dtype)[:, None, None] * direction
            with torch.no_grad():
                candidate = objective(trial, *rows)
            good = ~accepted & (candidate >= value + ARMIJO * fraction * slope)
            accepted |= good
            fraction = torch.where(accepted, fraction, fraction * 0.5)
            if accepted.all():
                break
        new_Z = Z + torch.where(accepted, fraction, 0.0).to(Z.dtype)[:, None, None] * direction
        new_value, new_gradient = value_and_gradient(new_Z)
        s = new_Z - Z
        y = gradient - new_gradient  # minus the change of the gradient: ascent
        curvature = _inner(s, y)
        spectral = _inner(s, s) / curvature.clamp_min(torch.finfo(dtype).tiny)
        # a sample whose line search failed tries the shorter step next time, even when no
        # sample of the batch passed: ending the loop there made a sample's result depend
        # on its batch (docs/model.md, item 15, "Solvers")
        length = torch.where(accepted & (curvature > 0), spectral, length * fraction)
        length = length.clamp(SHORTEST * scale / norm, LONGEST * scale / norm)
        Z, value, gradient = new_Z, torch.where(accepted, new_value, value), new_gradient
    final_Z[live], final_value[live] = Z, value
    return Ascent(final_Z, final_value, live)


def frank_wolfe_bound(
    objective: Callable[..., torch.Tensor],
    Z: torch.Tensor,
    budget: float,
    per_sample: tuple = (),
) -> tuple[torch.Tensor, torch.Tensor]:
    """(value [n], an upper bound [n] on the maximum) of a concave ``objective`` (as
    :func:`projected_ascent` takes it) over {Z >= 0, tr Z <= budget}, at Z [n, r, r].

    Concavity gives f(Z') <= f(Z) + <grad f(Z), Z' - Z>, whose largest value over the set
    is at budget times the top eigenvector of the gradient (or at 0): the bound is
    f(Z) + budget max(lambda_max, 0) - <grad, Z>, the Frank-Wolfe gap added.
    """
    with torch.enable_grad():
        Z = Z.detach().requires_grad_(True)
        value = objective(Z, *per_sample)
        (gradient,) = torch.autograd.grad(value.sum(), Z)
    Z, value = Z.detach(), value.detach()
    gradient = (gradient + gradient.mH) / 2
    largest = torch.linalg.eigvalsh(gradient)[..., -1].clamp_min(0.0)
    linear = _inner(gradient, Z)
    return value, value + (budget * largest - linear).clamp_min(0.0)
