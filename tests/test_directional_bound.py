"""The certified upper bound on the optimum with targets at directions
(isac/schemes/directional_bound.py, docs/model.md item 15).

Its ingredients are checked one by one against brute force in float64: the convexity of
the communication term in the echo powers (which puts the box's maximum at a vertex),
the Frank-Wolfe bound of the penalised problem against long searches and random
covariances; then the whole bound against 20,000 random covariances per sample, an
independent search (the reference's 16 restarts) and, for one target, the independent
certified 1-D search.
"""

from __future__ import annotations

import torch
from test_directions import draw, random_covariances

from isac.physics.system import SystemConfig
from isac.schemes.directional import (
    DesignSpace,
    DirectionalInputs,
    certified_single_target,
    multistart_optimum,
)
from isac.schemes.directional_bound import (
    certified_gap,
    communication_term,
    echo_range,
    penalised_bound,
)

SYSTEM = SystemConfig(
    n_tx=4, n_rx=4, n_users=2, waveform_len=5, alpha=0.3, snr_s_db=10.0, snr_c_db=15.0
)


def inputs_of(system: SystemConfig, n_targets: int, n: int, seed: int) -> DirectionalInputs:
    scenario, terms = draw(system, n_targets, n=n, seed=seed, width_deg=20.0)
    return DirectionalInputs(terms, scenario.H, scenario.p, system)


def test_the_communication_term_is_convex_in_the_echo_powers():
    """C(c) at the midpoint of random pairs of echo powers is at most the mean of its ends
    (and C decreases along every axis): the box's maximum of C + nu . c is at a vertex."""
    inputs = inputs_of(SYSTEM, 3, 8, seed=1)
    width = echo_range(inputs, DesignSpace.of(inputs.terms))
    generator = torch.Generator().manual_seed(0)
    index = torch.arange(8).repeat(500)
    pairs = inputs.terms[index]
    ends = [
        torch.rand((len(index), 3), generator=generator, dtype=torch.float64) * width[index]
        for _ in range(2)
    ]
    middle = communication_term(pairs, SYSTEM, (ends[0] + ends[1]) / 2)
    mean = (
        communication_term(pairs, SYSTEM, ends[0]) + communication_term(pairs, SYSTEM, ends[1])
    ) / 2
    assert (middle <= mean + 1e-12).all()
    more = ends[0] + torch.eye(3, dtype=torch.float64)[0] * 0.1 * width[index]
    assert (
        communication_term(pairs, SYSTEM, more)
        <= communication_term(pairs, SYSTEM, ends[0]) + 1e-12
    ).all()


def test_the_penalised_bound_holds_and_is_tight():
    """The Frank-Wolfe bound of the penalised problem, after the branch and bound's steps,
    is above its value at 20,000 random covariances per sample and at a 3,000-step
    search. It is first order in the gradient the search leaves (P_s times its largest
    eigenvalue, about 1e-5 where the budget is not used up), so it is as tight as the
    branch and bound's tolerance needs: within 1e-4 of the value, on the WSNR's scale 1."""
    inputs = inputs_of(SYSTEM, 2, 4, seed=2)
    terms, system = inputs.terms, SYSTEM
    space = DesignSpace.of(terms)
    prices = terms.echo_prices(system, echo_range(inputs, space) / 4)
    start = space.scaled_identity(system.sensing_power)
    _, bound = penalised_bound(inputs, space, prices, start)
    Z, converged = penalised_bound(inputs, space, prices, start, steps=3000)

    def penalised(Z: torch.Tensor, which=slice(None)) -> torch.Tensor:
        gram = space.A[which].mH @ Z @ space.A[which]
        sensing = system.alpha * terms[which].sensing_rate_of(gram, system)
        return sensing / terms.max_rate_s[which] - (
            prices[which] * terms[which].echo_of(gram, system)
        ).sum(-1)

    searched = penalised(Z)
    assert (searched <= bound + 1e-12).all()
    assert (converged - searched <= 1e-4).all()
    for b in range(4):
        R = random_covariances(20_000, system.n_tx, system.sensing_power, seed=b)
        Z = space.U[b].mH @ R @ space.U[b]
        which = torch.full((20_000,), b)
        assert penalised(Z, which).max() <= min(bound[b], converged[b]) + 1e-12


def test_the_certified_bound_is_above_every_design_and_close_to_the_reference():
    """U = best + gap is above the WSNR of 20,000 random covariances per sample and of
    the reference (16 restarts), and within 2e-4 of the best design found."""
    inputs = inputs_of(SYSTEM, 2, 4, seed=8)
    terms = inputs.terms
    space = DesignSpace.of(terms)
    reference = terms.wsnr(space.full(multistart_optimum(inputs)), SYSTEM)
    best, gap = certified_gap(inputs, reference)
    upper = best + gap
    assert (best >= reference - 1e-15).all()
    assert (reference <= upper).all()
    assert (gap <= 2e-4 * best).all()
    for b in range(4):
        R = random_covariances(20_000, SYSTEM.n_tx, SYSTEM.sensing_power, seed=b)
        values = terms[torch.full((20_000,), b)].wsnr(R, SYSTEM)
        assert values.max() <= upper[b]


def test_one_target_agrees_with_the_certified_single_target_search():
    """For one target the bound meets the independent certified 1-D search: above its
    optimum, and within the tolerance of it."""
    system = SystemConfig(n_tx=4, n_rx=3, n_users=3, waveform_len=5, alpha=0.3, snr_c_db=15.0)
    scenario, terms = draw(system, 1, n=5, seed=3)
    inputs = DirectionalInputs(terms, scenario.H, scenario.p, system)
    z, single_gap = certified_single_target(inputs)
    a = terms.targets.A[..., 0]
    direction = (a[..., :, None] * a.conj()[..., None, :]) / system.n_tx
    optimum = terms.wsnr(z.to(direction.dtype)[:, None, None] * direction, system)
    best, gap = certified_gap(inputs, torch.zeros_like(optimum))
    assert (best + gap >= optimum - single_gap - 1e-12).all()
    assert (best <= optimum + single_gap + 1e-12).all()
    assert (best + gap <= optimum * (1 + 2e-4) + single_gap).all()
