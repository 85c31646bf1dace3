"""The schemes with targets at directions: every design a transmit covariance R_x.

With directions (:mod:`isac.physics.directional`) the design is R_x = U Z U^H, Z an r x r
covariance with tr Z <= P_s, and the objective (28) is the concave sensing term plus the
convex communication term of the targets' echo powers c_i = s_i^2 a_i^H R_x a_i / L
(docs/model.md, item 15). At the optimum the KKT conditions are those of the concave
problem ``max alpha Rs/M_s - sum_i nu_i c_i`` for one price nu_i >= 0 per target
(:func:`penalised_optimum`), which no closed form solves:

- ``average``, ``zero_power``: R_x = P_s/N_t I, and 0;
- ``waterfilling``: the sensing optimum without users (the maximiser of M_s);
- ``price_prior``: the penalised optimum at the prices the communication term sets at the
  echo of the sensing optimum;
- ``traditional``: alternating optimisation, beams (25) at the current echo, then the
  penalised optimum at the prices of the rate with those beams fixed (its tangent, a
  lower bound: the rate is convex in c), until the WSNR stops improving;
- ``optimum``: for one target, a certified global maximum over the power z towards it
  (:func:`certified_single_target`); for more, the best of :data:`RESTARTS` projected
  gradient searches (:func:`multistart_optimum`).

ZFBF's model senses after cancelling the users, for the paper's isotropic echo; with
directions it is refused (its entry in :mod:`isac.schemes.registry` says why).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from isac.physics import rates
from isac.physics.directional import DirectionalTerms, gram_of, span_wsnr
from isac.physics.psd_ascent import projected_ascent
from isac.physics.system import SystemConfig
from isac.schemes.registry import Powers

RESTARTS = 16  # searches of the reference optimum for two or more targets
SEARCH_STEPS = 150  # projected-gradient steps of each search
PENALISED_STEPS = 60  # steps of a penalised (concave) optimum
TRADITIONAL_ROUNDS = 20  # AO rounds at most
CELLS = 256  # first grid of the certified single-target search
REFINED_CELLS = 8  # cells refined per round, each into CELLS / REFINED_CELLS
CERTIFY_ROUNDS = 6


@dataclass(frozen=True)
class DirectionalInputs:
    """What a scheme knows with directions: the terms of the BS's model of the channel
    (the receiver's), that channel H [n, N_r, K], the powers p [n, K], the system."""

    terms: DirectionalTerms
    H: torch.Tensor
    p: torch.Tensor
    system: SystemConfig


@dataclass(frozen=True)
class DesignSpace:
    """R_x = U Z U^H: U [n, N_t, r] an orthonormal basis of the span of A, and A in its
    coordinates, U^H A [n, r, M], so that A^H R_x A = (U^H A)^H Z (U^H A)."""

    U: torch.Tensor
    A: torch.Tensor

    @classmethod
    def of(cls, terms: DirectionalTerms) -> DesignSpace:
        U = terms.targets.basis()
        return cls(U, U.mH @ terms.targets.A)

    def full(self, Z: torch.Tensor) -> torch.Tensor:
        """R_x [n, N_t, N_t] of Z [n, r, r]."""
        return self.U @ Z @ self.U.mH

    def gram(self, Z: torch.Tensor) -> torch.Tensor:
        """A^H R_x A [n, M, M] of Z [n, r, r]."""
        return gram_of(Z, self.A)

    def scaled_identity(self, power: float) -> torch.Tensor:
        """Z [n, r, r] = power/r I: ``power`` spread evenly over the span."""
        n, r = self.A.shape[0], self.A.shape[-2]
        return torch.eye(r, dtype=self.A.dtype).expand(n, r, r) * (power / r)


def penalised_objective(
    system: SystemConfig,
) -> Callable[[torch.Tensor, DirectionalTerms, torch.Tensor, torch.Tensor], torch.Tensor]:
    """(Z [n, r, r], the terms [n], A in the span's coordinates [n, r, M], the prices
    nu [n, M]) -> real [n]: alpha Rs/M_s - sum_i nu_i c_i, concave in Z."""

    def penalised(
        Z: torch.Tensor, terms: DirectionalTerms, A: torch.Tensor, prices: torch.Tensor
    ) -> torch.Tensor:
        gram = gram_of(Z, A)
        sensing = rates.per_maximum(
            system.alpha * terms.sensing_rate_of(gram, system), terms.max_rate_s
        )
        return sensing - (prices * terms.echo_of(gram, system)).sum(-1)

    return penalised


def penalised_optimum(
    inputs: DirectionalInputs, space: DesignSpace, prices: torch.Tensor, start: torch.Tensor
) -> torch.Tensor:
    """Z [n, r, r] maximising :func:`penalised_objective` over the budget, from ``start``
    [n, r, r], for the prices nu [n, M]."""
    Z, _, _ = projected_ascent(
        penalised_objective(inputs.system),
        start,
        inputs.system.sensing_power,
        PENALISED_STEPS,
        (inputs.terms, space.A, prices),
    )
    return Z


def average_design(inputs: DirectionalInputs) -> Powers:
    system = inputs.system
    identity = torch.eye(system.n_tx, dtype=torch.complex128)
    n = len(inputs.terms)
    return Powers(identity.expand(n, -1, -1) * (system.sensing_power / system.n_tx))


def zero_power_design(inputs: DirectionalInputs) -> Powers:
    n_tx = inputs.system.n_tx
    return Powers(torch.zeros((len(inputs.terms), n_tx, n_tx), dtype=torch.complex128))


def waterfilling_design(inputs: DirectionalInputs) -> Powers:
    space = DesignSpace.of(inputs.terms)
    return Powers(space.full(inputs.terms.sensing_design))


def prior_start(inputs: DirectionalInputs, space: DesignSpace) -> tuple[torch.Tensor, torch.Tensor]:
    """(the sensing optimum, the penalised optimum at the prices the communication term
    sets at its echo), Z [n, r, r] each: the closed-form start of the searches."""
    terms, system = inputs.terms, inputs.system
    Z_s = terms.sensing_design
    prices = terms.echo_prices(system, terms.echo_of(space.gram(Z_s), system))
    return Z_s, penalised_optimum(inputs, space, prices, Z_s)


def price_prior_design(inputs: DirectionalInputs) -> Powers:
    space = DesignSpace.of(inputs.terms)
    return Powers(space.full(prior_start(inputs, space)[1]))


def fixed_beam_prices(inputs: DirectionalInputs, gram: torch.Tensor) -> torch.Tensor:
    """real [n, M]: the prices of the communication term with the MMSE beams of the echo
    of ``gram`` fixed: the slope of a rate convex in the echo powers, whose tangent is
    therefore a lower bound."""
    terms, system = inputs.terms, inputs.system
    H, p = inputs.H.to(torch.complex128), inputs.p.double()
    B = terms.targets.B
    echo = terms.echo_of(gram, system)
    identity = torch.eye(system.n_rx, dtype=H.dtype)
    users = rates.received_user_covariance(H, p).conj()
    omega = users + (B.conj() * echo.to(H.dtype)[..., None, :]) @ B.mT
    omega = omega + terms.comm_noise.to(H.dtype)[:, None, None] * identity
    W = torch.linalg.solve(omega, H.conj())  # MMSE beams up to scale, as columns
    signal, interference, beam_norm = rates.beam_terms(H, p, W)
    leak = (B.mT @ W).abs().square()  # [n, M, K]: |b_i^T w_k|^2
    with torch.enable_grad():
        c = echo.detach().requires_grad_(True)
        echo_leak = (c[..., :, None] * leak).sum(-2)
        denominator = interference + echo_leak + terms.comm_noise[:, None] * beam_norm
        rate = torch.log1p(signal / denominator).mean(-1) / rates.LN2
        comm = rates.per_maximum((1.0 - system.alpha) * rate, terms.max_rate_c)
        (slope,) = torch.autograd.grad(comm.sum(), c)
    return (-slope).clamp_min(0.0)


def traditional_design(inputs: DirectionalInputs) -> Powers:
    terms, system = inputs.terms, inputs.system
    space = DesignSpace.of(terms)
    Z = space.scaled_identity(system.sensing_power * space.A.shape[-2] / system.n_tx)
    value = terms.wsnr_of(space.gram(Z), system)
    rounds = torch.zeros(len(terms))
    active = torch.ones(len(terms), dtype=torch.bool)
    for _ in range(TRADITIONAL_ROUNDS):
        prices = fixed_beam_prices(inputs, space.gram(Z))
        step = penalised_optimum(inputs, space, prices, Z)
        new_value = terms.wsnr_of(space.gram(step), system)
        improved = active & (new_value > value + 1e-9 * value.abs())
        Z = torch.where(improved[:, None, None], step, Z)
        value = torch.where(improved, new_value, value)
        rounds += active
        active &= improved
        if not active.any():
            break
    return Powers(space.full(Z), {"outer_iterations": rounds.mean().item()})


def multistart_optimum(inputs: DirectionalInputs, restarts: int = RESTARTS) -> torch.Tensor:
    """Z [n, r, r]: the best of ``restarts`` projected gradient searches on the WSNR, run
    as one batch, from the traditional (AO-SCA) solution, the sensing optimum, the price
    prior, the average, almost no power and seeded random covariances (the same every
    run); no sensing power where that scores higher."""
    terms, system = inputs.terms, inputs.system
    space = DesignSpace.of(terms)
    n, r = space.A.shape[0], space.A.shape[-2]
    power = system.sensing_power
    traditional = space.U.mH @ traditional_design(inputs).sigma_s @ space.U
    starts = [traditional, *prior_start(inputs, space), space.scaled_identity(power)]
    starts.append(space.scaled_identity(power * 1e-3))
    generator = torch.Generator().manual_seed(0)
    while len(starts) < restarts:
        X = torch.view_as_complex(
            torch.randn((n, r, r, 2), generator=generator, dtype=torch.float64)
        )
        Z = X @ X.mH
        fraction = torch.rand((n, 1, 1), generator=generator, dtype=torch.float64)
        trace = torch.diagonal(Z, dim1=-2, dim2=-1).real.sum(-1)[:, None, None]
        starts.append(Z * (fraction * power / trace))
    stacked = torch.cat(starts[:restarts])  # restart-major: [restarts n, r, r]
    copies = terms[torch.arange(n).repeat(restarts)]
    repeated = DesignSpace(space.U.repeat(restarts, 1, 1), space.A.repeat(restarts, 1, 1))
    Z, value, _ = projected_ascent(
        span_wsnr(system), stacked, power, SEARCH_STEPS, (copies, repeated.A)
    )
    value = value.reshape(restarts, n)
    best = value.argmax(0)
    Z = Z.reshape(restarts, n, r, r)[best, torch.arange(n)]
    silent = (1.0 - system.alpha) > value.max(0).values  # no power, no search needed
    return torch.where(silent[:, None, None], torch.zeros_like(Z), Z)


def certified_single_target(inputs: DirectionalInputs) -> tuple[torch.Tensor, torch.Tensor]:
    """For one target: (z [n], certified gap [n]) of the global maximum of the WSNR over
    the power z in [0, P_s] sent towards it (R_x = z a a^H / N_t).

    With one target everything is a closed form of z: the sensing term
    f(z) = alpha log2(1 + kappa z) / (L M_s), kappa = Psi N_t, is concave, and the
    communication term g(z) = (1 - alpha) Rc(c)/M_c, c = s^2 N_t z / L, with
    q_k(c) = q0_k - |u_k|^2 c / (1 + W c), is convex. So on a cell [l, u] the WSNR is at
    most min(tangents of f at l and u) plus the chord of g, a bound whose maximum over
    the cell is at l, u or where the tangents cross. Each round refines the
    :data:`REFINED_CELLS` cells with the highest bounds; the others are set aside with
    their bounds, and the gap is the largest bound set aside or left, minus the best
    value found.
    """
    terms, system = inputs.terms, inputs.system
    n, power, alpha, L = len(terms), system.sensing_power, system.alpha, system.waveform_len
    kappa = terms.weights[..., 0, 0].real * system.n_tx  # [n]
    echo_per_power = terms.targets.variances[..., 0] * system.n_tx / L
    sensing_weight = rates.per_maximum(
        torch.full_like(kappa, alpha), terms.max_rate_s * L * rates.LN2
    )
    coupling = terms.couplings[..., 0].abs().square()  # [n, K]
    gram = terms.echo_gram[..., 0, 0].real  # [n]

    def values(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """z [n, c] -> (f, f', g), each [n, c]."""
        f = sensing_weight[:, None] * torch.log1p(kappa[:, None] * z)
        slope = sensing_weight[:, None] * kappa[:, None] / (1.0 + kappa[:, None] * z)
        c = (echo_per_power[:, None] * z)[..., None]  # [n, c, 1]
        q = terms.base_q[:, None, :] - coupling[:, None, :] * c / (1.0 + gram[:, None, None] * c)
        remainder = (1.0 - q).clamp_min(torch.finfo(z.dtype).tiny)
        rate = -torch.log(remainder).mean(-1) / rates.LN2
        g = rates.per_maximum((1.0 - alpha) * rate, terms.max_rate_c[:, None])
        return f, slope, g

    def cell_bounds(points: torch.Tensor, at: tuple) -> torch.Tensor:
        """Bounds of the cells between consecutive ``points`` [n, c + 1]."""
        f, d, g = at
        low, high = points[:, :-1], points[:, 1:]
        f_l, f_h, d_l, d_h, g_l, g_h = f[:, :-1], f[:, 1:], d[:, :-1], d[:, 1:], g[:, :-1], g[:, 1:]
        denominator = d_l - d_h
        crossing = (f_h - f_l + d_l * low - d_h * high) / torch.where(
            denominator > 0, denominator, 1.0
        )
        crossing = torch.where(
            denominator > 0, torch.minimum(torch.maximum(crossing, low), high), high
        )
        width = torch.where(high > low, high - low, 1.0)

        def bound(z: torch.Tensor) -> torch.Tensor:
            tangent = torch.minimum(f_l + d_l * (z - low), f_h + d_h * (z - high))
            return tangent + g_l + (g_h - g_l) * (z - low) / width

        return torch.maximum(torch.maximum(bound(low), bound(high)), bound(crossing))

    points = torch.linspace(0.0, 1.0, CELLS + 1, dtype=torch.float64).expand(n, -1) * power
    at = values(points)
    total = at[0] + at[2]
    best, where = total.max(-1)
    best_z = points.gather(-1, where[:, None])[:, 0]
    lows, highs = points[:, :-1], points[:, 1:]
    upper = cell_bounds(points, at)
    set_aside = torch.full_like(best, -torch.inf)
    split = CELLS // REFINED_CELLS
    fractions = torch.linspace(0.0, 1.0, split + 1, dtype=torch.float64)
    for _ in range(CERTIFY_ROUNDS):
        chosen = upper.topk(REFINED_CELLS, dim=-1).indices
        others = torch.ones_like(upper, dtype=torch.bool).scatter(-1, chosen, False)
        set_aside = torch.maximum(set_aside, torch.where(others, upper, -torch.inf).max(-1).values)
        cell_low, cell_high = lows.gather(-1, chosen), highs.gather(-1, chosen)
        grid = cell_low[..., None] + (cell_high - cell_low)[..., None] * fractions  # [n, K, s+1]
        at = values(grid.reshape(n, -1))
        total = at[0] + at[2]
        round_best, where = total.max(-1)
        better = round_best > best
        best_z = torch.where(better, grid.reshape(n, -1).gather(-1, where[:, None])[:, 0], best_z)
        best = torch.maximum(best, round_best)
        cells = [
            cell_bounds(grid[:, k], tuple(v.reshape(n, REFINED_CELLS, -1)[:, k] for v in at))
            for k in range(REFINED_CELLS)
        ]
        upper = torch.cat(cells, dim=-1)
        lows = grid[..., :-1].reshape(n, -1)
        highs = grid[..., 1:].reshape(n, -1)
    gap = (torch.maximum(set_aside, upper.max(-1).values) - best).clamp_min(0.0)
    return best_z, gap


def optimum_design(inputs: DirectionalInputs) -> Powers:
    """The reference optimum: certified for one target, the best of the restarts for more
    (their certified gap, for one target, in the info)."""
    terms, system = inputs.terms, inputs.system
    if terms.targets.A.shape[-1] == 1:
        z, gap = certified_single_target(inputs)
        a = terms.targets.A[..., 0]
        direction = (a[..., :, None] * a.conj()[..., None, :]) / system.n_tx
        return Powers(
            z.to(direction.dtype)[:, None, None] * direction, {"certified_gap": gap.max().item()}
        )
    return Powers(DesignSpace.of(terms).full(multistart_optimum(inputs)))
