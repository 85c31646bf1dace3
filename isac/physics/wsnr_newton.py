"""Newton's method on the WSNR with targets at directions, over the Cholesky factor of the
covariance (docs/model.md, item 15, "Newton steps").

The objective (28) with directions is f(Z) = alpha Rs/M_s + (1 - alpha) Rc/M_c of the
covariance Z (R_x = U Z U^H, Z r x r, PSD, tr Z <= P), not concave, and its maximum
often lies on a face of the PSD cone (rank Z < r), where projected gradient steps crawl.
Here Z = L L^H, L lower-triangular with a real diagonal, whose r^2 real coordinates x
are those of :func:`cholesky_basis`: unlike a full factor, L has no unitary gauge, and at
a maximum of lower rank the columns that vanish are curved by the complementary part of
the gradient, so the Hessian in x is regular there and Newton's method converges
quadratically. The value, gradient and Hessian in x are closed forms
(:func:`wsnr_derivatives`); the budget tr Z = |x|^2 <= P is a ball, and where it binds
the step is the Newton step of the Lagrangian in the sphere's tangent space, retracted
onto the sphere by scaling. A stationary point of the factor where a column of L has
vanished need not be one of Z (that column cannot grow back): there a Frank-Wolfe step in
Z adds the missing direction (:func:`newton_ascent`).
"""

from __future__ import annotations

import torch

from isac.physics import rates
from isac.physics.directional import DirectionalTerms, gram_of
from isac.physics.log_det_barrier import log_det_curvature, trace_along
from isac.physics.psd_ascent import ARMIJO, SETTLED, Ascent
from isac.physics.system import SystemConfig

BACKTRACKS = 8  # halvings of a Newton step before a sample stays where it is
BINDING = 1e-9  # tr Z >= (1 - BINDING) P counts as on the budget
FLATTEST = 1e-4  # curvature floor of the modified Newton step, relative to the largest
ESCAPE = 1e-6  # Frank-Wolfe gap, relative to the objective, above which a stationary point
# of the factor is left by a Frank-Wolfe step (:func:`newton_ascent`)


def cholesky_basis(
    r: int, dtype: torch.dtype = torch.complex128, device: torch.device | None = None
) -> torch.Tensor:
    """complex [r^2, r, r]: an orthonormal (Re tr(E_p^H E_q)) basis of the lower-triangular
    r x r matrices with a real diagonal: the r diagonal units, then per entry k > l below
    it, the real and the imaginary unit."""
    basis = torch.zeros(r * r, r, r, dtype=dtype, device=device)
    basis[torch.arange(r), torch.arange(r), torch.arange(r)] = 1.0
    lower, upper = torch.tril_indices(r, r, offset=-1)  # k > l
    real = r + 2 * torch.arange(len(lower))
    basis[real, lower, upper] = 1.0
    basis[real + 1, lower, upper] = 1j
    return basis


def factor_of(Z: torch.Tensor) -> torch.Tensor:
    """L [n, r, r], lower-triangular with a real non-negative diagonal, with L L^H = Z for
    a PSD Z [n, r, r] of any rank (from Z = V diag(l) V^H: X = V diag(sqrt l) and
    X^H = Q R, so Z = R^H R and L = R^H, its rows' phases moved into Q)."""
    eigenvalues, vectors = torch.linalg.eigh((Z + Z.mH) / 2)
    X = vectors * eigenvalues.clamp_min(0.0).sqrt().to(vectors.dtype)[..., None, :]
    R = torch.linalg.qr(X.mH).R
    diagonal = torch.diagonal(R, dim1=-2, dim2=-1)
    phase = torch.where(diagonal.abs() > 0, diagonal / diagonal.abs(), 1.0)
    return (R / phase[..., :, None]).mH


def wsnr_derivatives(
    x: torch.Tensor,
    terms: DirectionalTerms,
    A: torch.Tensor,
    basis: torch.Tensor,
    system: SystemConfig,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(value [n], gradient [n, d], Hessian [n, d, d], gradient in Z [n, r, r]) of the
    objective (28) in the coordinates x [n, d] of L (``basis`` [d, r, r]), Z = L L^H, A in
    the span's coordinates [n, r, M].

    With Y = A^H L and F_p = A^H E_p, the Gram matrix G = A^H Z A = Y Y^H moves by
    dG_p = F_p Y^H + Y F_p^H to first order and F_p F_q^H + F_q F_p^H to second. The
    sensing term a log det K, K = I + Psi o G, a = alpha / (L ln 2 M_s), has the Hessian
    -a Re tr(K^-1 dK_p K^-1 dK_q) along dK_p = Psi o dG_p. The communication term
    b Rc(c), b = (1 - alpha)/M_c, depends on the echo powers c_i = s_i^2 G_ii / L only:
    with N = (I + W C)^-1, v_k = N u_k and phi_k = u_k^H C N u_k (docs/model.md, item 15),
    d phi_k / dc_i = |v_ik|^2 and d^2 phi_k / dc_i dc_j = -2 Re(v_ik^* (N W)_ij v_jk), and
    Rc = -mean_k log2(1 - q0_k + phi_k). Gamma = dF/dG (Hermitian) adds the curvature of
    G in L, 2 Re tr(F_q^H Gamma F_p), and A Gamma A^H is the gradient in Z.
    """
    Y = A.mH @ torch.einsum("np,pab->nab", x.to(A.dtype), basis)  # [n, M, r]
    F = A.mH[:, None] @ basis  # [n, d, M, r]
    dG = F @ Y.mH[:, None]
    dG = dG + dG.mH  # [n, d, M, M]
    gram = Y @ Y.mH
    M = gram.shape[-1]
    L_wave = system.waveform_len
    identity = torch.eye(M, dtype=A.dtype, device=A.device)
    a = rates.per_maximum(
        torch.full_like(terms.max_rate_s, system.alpha),
        terms.max_rate_s * L_wave * rates.LN2,
    )
    b = rates.per_maximum(torch.full_like(terms.max_rate_c, 1.0 - system.alpha), terms.max_rate_c)
    K_inverse = torch.linalg.inv(identity + terms.weights * gram)
    along = K_inverse[:, None] @ (terms.weights[:, None] * dG)  # K^-1 dK_p
    hessian = a[:, None, None] * log_det_curvature(along)

    variances = terms.targets.variances
    echo = variances * torch.diagonal(gram, dim1=-2, dim2=-1).real / L_wave  # c [n, M]
    N = torch.linalg.inv(identity + terms.echo_gram * echo.to(A.dtype)[:, None, :])
    v = N @ terms.couplings.mT  # [n, M, K]: v_k = N u_k
    phi = (terms.couplings.conj() * echo[:, None, :] * v.mT).sum(-1).real  # [n, K]
    remainder = 1.0 - terms.base_q + phi
    slope_phi = -1.0 / (remainder * rates.LN2)  # d log2-rate / d phi, [n, K]
    power = v.abs().square()  # [n, M, K]: d phi_k / dc_i
    n_users = remainder.shape[-1]
    rate_slope = b[:, None] * (power * slope_phi[:, None, :]).sum(-1) / n_users  # [n, M]
    coupled = N @ terms.echo_gram  # N W, Hermitian
    phi_curvature = -2.0 * (v.conj()[:, :, None, :] * coupled[..., None] * v[:, None]).real
    rate_curvature = (phi_curvature * slope_phi[:, None, None, :]).sum(-1) + (
        power[:, :, None, :] * power[:, None] * (slope_phi.square() * rates.LN2)[:, None, None]
    ).sum(-1)
    rate_curvature = b[:, None, None] * rate_curvature / n_users  # [n, M, M] in c
    echo_along = variances[:, None] * torch.diagonal(dG, dim1=-2, dim2=-1).real / L_wave
    hessian = hessian + echo_along @ rate_curvature @ echo_along.mT

    echo_weight = (rate_slope * variances / L_wave).to(A.dtype)
    gamma = a[:, None, None] * terms.weights.conj() * K_inverse + torch.diag_embed(echo_weight)
    gradient = trace_along(gamma[:, None] @ dG)
    hessian = hessian + 2.0 * torch.einsum("nqab,nac,npcb->npq", F.conj(), gamma, F).real
    value = terms.wsnr_of(gram, system)
    return value, gradient, hessian, A @ gamma @ A.mH


def newton_ascent(
    Z: torch.Tensor,
    terms: DirectionalTerms,
    A: torch.Tensor,
    system: SystemConfig,
    iterations: int,
) -> Ascent:
    """Maximise the objective (28) from Z [n, r, r] (PSD, tr Z <= P) by ``iterations``
    Newton steps on its Cholesky factor (module docstring), each sample on its own.

    The Hessian of the Lagrangian in the tangent space is negated and factored; where it is
    not negative definite (away from a maximum) its eigenvalues are made negative
    (|lambda|, at least :data:`FLATTEST` of the largest), so every step ascends, and a
    backtracking line search keeps each accepted step an improvement (Armijo). A sample
    whose first-order gain reaches round-off (:data:`~isac.physics.psd_ascent.SETTLED`)
    is at a stationary point of the factor. That is one of Z unless a column of L has
    vanished where Z's maximum has a higher rank: where its Frank-Wolfe gap in Z exceeds
    :data:`ESCAPE` the sample takes a Frank-Wolfe step instead, which adds the missing
    direction; once that finds nothing, or where the gap is below it, the sample has
    converged and is set aside, as in :func:`~isac.physics.psd_ascent.projected_ascent`.
    ``moving`` names the samples that had not when the iterations ran out.
    """
    n, r = Z.shape[0], Z.shape[-1]
    budget = system.sensing_power
    basis = cholesky_basis(r, Z.dtype, Z.device)
    d = r * r
    x = torch.einsum("pab,nab->np", basis.conj(), factor_of(Z)).real
    final_x = x.clone()
    final_value = terms.wsnr_of(gram_of(Z, A), system)
    live = torch.arange(n, device=Z.device)
    failed = torch.zeros(n, dtype=torch.bool, device=Z.device)
    rows = (terms, A)
    identity = torch.eye(d, dtype=x.dtype, device=x.device)
    for _ in range(iterations):
        value, gradient, hessian, z_gradient = wsnr_derivatives(x, *rows, basis, system)
        norm2 = (x * x).sum(-1).clamp_min(torch.finfo(x.dtype).tiny)
        price = (gradient * x).sum(-1) / (2.0 * norm2)  # the budget's multiplier
        binding = (norm2 >= (1.0 - BINDING) * budget) & (price > 0)
        normal = x[:, :, None] * x[:, None, :] / norm2[:, None, None]
        normal = normal * binding[:, None, None]
        tangent = identity - normal
        lagrangian = hessian - (2.0 * price * binding)[:, None, None] * identity
        curvature = -(tangent @ lagrangian @ tangent)
        # the normal direction gets the curvature's scale, so that it does not set the
        # floor of a modified step (and a scale where the tangent space is empty: r = 1)
        scale = torch.diagonal(curvature, dim1=-2, dim2=-1).abs().mean(-1)
        normal = normal * scale.clamp_min(torch.finfo(x.dtype).tiny)[:, None, None]
        gradient = (tangent @ gradient[:, :, None])[..., 0]
        step = _modified_newton(curvature, normal, gradient)
        # no step longer than the ball's radius sqrt(P): a longer one leaves the region where
        # the quadratic model means anything (nearly flat directions of a flat problem)
        length = step.norm(dim=-1).clamp_min(torch.finfo(x.dtype).tiny)
        step = step * (budget**0.5 / length).clamp_max(1.0)[:, None]
        slope = (gradient * step).sum(-1)
        settled = slope <= SETTLED * value.abs().clamp_min(1.0)
        stuck = torch.zeros_like(settled)
        if settled.any():
            # a stationary point of the factor need not be one of Z: a column of L that
            # vanished cannot grow back; the Frank-Wolfe gap in Z tells them apart
            gap = _frank_wolfe_gap(z_gradient[settled], _covariance(x[settled], basis), budget)
            stuck[settled] = gap > ESCAPE * value[settled].abs().clamp_min(1.0)
            stuck &= ~failed  # a Frank-Wolfe step found nothing there before: converged
            settled &= ~stuck
        if settled.any():
            final_x[live[settled]], final_value[live[settled]] = x[settled], value[settled]
            keep = ~settled
            if not keep.any():
                live = live[:0]
                break
            live, x, value, step = live[keep], x[keep], value[keep], step[keep]
            gradient, binding, stuck = gradient[keep], binding[keep], stuck[keep]
            failed = failed[keep]
            z_gradient = z_gradient[keep]
            rows = (terms[live], A[live])
        if stuck.any():
            newton = ~stuck
            x = x.clone()
            x[stuck], escaped = _escape(
                x[stuck],
                value[stuck],
                z_gradient[stuck],
                (rows[0][stuck], rows[1][stuck]),
                basis,
                system,
            )
            failed[stuck] = ~escaped
            x[newton] = _line_search(
                x[newton],
                value[newton],
                gradient[newton],
                step[newton],
                binding[newton],
                (rows[0][newton], rows[1][newton]),
                basis,
                system,
            )
        else:
            x = _line_search(x, value, gradient, step, binding, rows, basis, system)
    if len(live):
        final_x[live] = x
        final_value[live] = terms[live].wsnr_of(gram_of(_covariance(x, basis), A[live]), system)
    return Ascent(_covariance(final_x, basis), final_value, live)


def _line_search(
    x: torch.Tensor,
    value: torch.Tensor,
    gradient: torch.Tensor,
    step: torch.Tensor,
    binding: torch.Tensor,
    rows: tuple[DirectionalTerms, torch.Tensor],
    basis: torch.Tensor,
    system: SystemConfig,
) -> torch.Tensor:
    """x [n, d] moved along ``step`` by the longest of 1, 1/2, 1/4, ... (at most
    :data:`BACKTRACKS` halvings) whose retracted point gains ARMIJO of the first-order
    gain of the move, by ``gradient`` (in the tangent space where the budget binds), and
    never less than nothing; unmoved where none does. The gain is the move's, not the
    step's: a step out of the ball from just inside it moves only to its surface. Each
    halving evaluates only the samples that have not yet accepted a step."""
    pending = torch.arange(len(x), device=x.device)
    fraction = 1.0
    x = x.clone()
    for _ in range(BACKTRACKS + 1):
        start = x[pending]
        trial = _retract(start + fraction * step[pending], binding[pending], system.sensing_power)
        terms, A = rows[0][pending], rows[1][pending]
        with torch.no_grad():
            candidate = terms.wsnr_of(gram_of(_covariance(trial, basis), A), system)
        gain = (gradient[pending] * (trial - start)).sum(-1).clamp_min(0.0)
        good = candidate >= value[pending] + ARMIJO * gain
        x[pending[good]] = trial[good]
        pending = pending[~good]
        if not len(pending):
            break
        fraction *= 0.5
    return x


def _frank_wolfe_gap(z_gradient: torch.Tensor, Z: torch.Tensor, budget: float) -> torch.Tensor:
    """real [n]: max over the budget of <grad, Z' - Z>, P max(lambda_max(grad), 0) -
    <grad, Z>, for the gradient in Z [n, r, r] at Z [n, r, r]: 0 exactly where Z meets
    the first-order conditions of a maximum over the budget."""
    largest = torch.linalg.eigvalsh(z_gradient)[..., -1].clamp_min(0.0)
    return budget * largest - (z_gradient.conj() * Z).real.sum((-2, -1))


def _escape(
    x: torch.Tensor,
    value: torch.Tensor,
    z_gradient: torch.Tensor,
    rows: tuple[DirectionalTerms, torch.Tensor],
    basis: torch.Tensor,
    system: SystemConfig,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(x [n, d], moved: bool [n]) after a Frank-Wolfe step in Z: Z + gamma (S - Z),
    S = P u u^H (u the top eigenvector of the gradient in Z, ``z_gradient`` [n, r, r];
    S = 0 where its largest eigenvalue is negative), gamma the longest of g, g/2, ... (at
    most :data:`BACKTRACKS` halvings) that gains ARMIJO of the first-order gain
    gamma <grad, S - Z>, g the maximum of the parabola through the value, that gain and
    the value at gamma = 1 (at most 1); unmoved where none does. S adds the direction the
    factor could not grow into, so the step leaves a stationary point of the factor that
    is not a maximum in Z."""
    budget = system.sensing_power
    Z = _covariance(x, basis)
    eigenvalues, vectors = torch.linalg.eigh(z_gradient)
    top = vectors[..., -1:] * (eigenvalues[..., -1] > 0).to(vectors.dtype)[:, None, None]
    direction = budget * top @ top.mH - Z
    gain = (z_gradient.conj() * direction).real.sum((-2, -1))
    terms, A = rows
    with torch.no_grad():
        whole = terms.wsnr_of(gram_of(Z + direction, A), system)
    # the first length: the maximum of the parabola through the value, the gain and the
    # whole step's value (where that curves down), so that a maximum much nearer than the
    # whole step is within the halvings' reach
    bend = value + gain - whole
    fraction = torch.where(
        bend > 0, gain / (2.0 * bend.clamp_min(torch.finfo(bend.dtype).tiny)), 1.0
    )
    fraction = fraction.clamp_max(1.0)
    moved = Z.clone()
    pending = torch.arange(len(x), device=x.device)
    for _ in range(BACKTRACKS + 1):
        trial = Z[pending] + fraction[pending, None, None] * direction[pending]
        with torch.no_grad():
            candidate = terms[pending].wsnr_of(gram_of(trial, A[pending]), system)
        good = candidate >= value[pending] + ARMIJO * fraction[pending] * gain[pending]
        moved[pending[good]] = trial[good]
        pending = pending[~good]
        if not len(pending):
            break
        fraction = fraction * 0.5
    escaped = torch.ones(len(x), dtype=torch.bool, device=x.device).index_fill(0, pending, False)
    return torch.einsum("pab,nab->np", basis.conj(), factor_of(moved)).real, escaped


def _modified_newton(
    curvature: torch.Tensor, normal: torch.Tensor, gradient: torch.Tensor
) -> torch.Tensor:
    """real [n, d]: s solving (``curvature`` + ``normal``) s = ``gradient`` (``normal`` the
    projector the tangent space leaves out, so s stays in it), by Cholesky where the
    matrix is positive definite and by its eigenvalues made positive elsewhere."""
    system = curvature + normal
    factor, info = torch.linalg.cholesky_ex(system)
    step = torch.cholesky_solve(gradient[:, :, None], factor)[..., 0]
    indefinite = info > 0
    if indefinite.any():
        eigenvalues, vectors = torch.linalg.eigh(system[indefinite])
        largest = eigenvalues.abs().amax(-1, keepdim=True)
        eigenvalues = eigenvalues.abs().clamp_min(FLATTEST * largest)
        eigenvalues = eigenvalues.clamp_min(torch.finfo(eigenvalues.dtype).tiny)
        along = vectors.mT @ gradient[indefinite][:, :, None]
        step[indefinite] = (vectors @ (along / eigenvalues[:, :, None]))[..., 0]
    return step


def _retract(x: torch.Tensor, binding: torch.Tensor, budget: float) -> torch.Tensor:
    """x [n, d] back onto the sphere |x|^2 = P where the budget binds, and into the ball
    elsewhere, by scaling."""
    norm2 = (x * x).sum(-1)
    outside = binding | (norm2 > budget)
    scale = torch.where(outside, (budget / norm2.clamp_min(torch.finfo(x.dtype).tiny)).sqrt(), 1.0)
    return x * scale[:, None]


def _covariance(x: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
    """Z = L L^H [n, r, r] of the coordinates x [n, d] of L."""
    L = torch.einsum("np,pab->nab", x.to(basis.dtype), basis)
    return L @ L.mH
