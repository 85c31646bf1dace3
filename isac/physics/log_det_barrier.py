"""The sensing optimum with directions by a barrier method: max log det(I + W o (A^H Z A))
over Hermitian Z >= 0 with tr Z = P, to a certified duality gap.

M_s (docs/model.md, item 15) maximises F(Z) = log det K(Z), K = I + W o (A^H Z A), a
concave function that never decreases in Z (W >= 0 and A^H dZ A >= 0 give W o (A^H dZ
A) >= 0, Schur), so the budget binds. The projected gradient search
(:mod:`isac.physics.psd_ascent`) settles most samples in a few dozen steps, but where the
optimum lies on a face of the PSD cone and the problem is flat it crawls, and those few
samples set the batch's time. This is the primal barrier method (Boyd and Vandenberghe,
Convex Optimization, 2004, sec. 11.3) for them: for a growing t it maximises
t F(Z) + log det Z over tr Z = P by Newton's method, in the real coordinates of an
orthonormal basis of the Hermitian r x r matrices. Both terms are self-concordant (and
so is t F for t >= 1), so the damped step 1/(1 + lambda), lambda the Newton decrement,
keeps Z positive definite and converges without a line search (ibid., sec. 9.6). At a
centred point F is within r/t of the maximum (the duality gap, ibid., sec. 11.2.2): the
method stops once r/t is below :data:`GAP` of max(F, 1).
"""

from __future__ import annotations

import torch

GAP = 1e-12  # the duality gap r/t at which a sample stops, relative to max(F, 1) (nats)
CENTRED = 0.05  # lambda^2 below which a point counts as centred and t grows
GROWTH = 30.0  # the factor t grows by at a centred point
MOST_STEPS = 200  # a cap on the Newton steps; samples stop long before (tests)


def hermitian_basis(
    r: int, dtype: torch.dtype = torch.complex128, device: torch.device | None = None
) -> torch.Tensor:
    """complex [r^2, r, r]: an orthonormal (Frobenius) basis of the Hermitian r x r
    matrices: the r diagonal units, then per pair k < l (E_kl + E_lk)/sqrt 2 and
    i(E_lk - E_kl)/sqrt 2."""
    basis = torch.zeros(r * r, r, r, dtype=dtype, device=device)
    basis[torch.arange(r), torch.arange(r), torch.arange(r)] = 1.0
    upper, lower = torch.triu_indices(r, r, offset=1)  # k < l
    real = r + 2 * torch.arange(len(upper))
    basis[real, upper, lower] = basis[real, lower, upper] = 2**-0.5
    basis[real + 1, upper, lower], basis[real + 1, lower, upper] = -1j * 2**-0.5, 1j * 2**-0.5
    return basis


def log_det_curvature(X: torch.Tensor) -> torch.Tensor:
    """real [n, d, d]: -Re tr(X_p X_q) of [n, d, m, m], the Hessian of log det along the
    basis when X_p = K^-1 dK_p."""
    return -torch.einsum("npab,nqba->npq", X, X).real


def log_det_optimum(weights: torch.Tensor, A: torch.Tensor, budget: float) -> torch.Tensor:
    """Z [n, r, r] maximising log det(I + weights o (A^H Z A)) over Z >= 0, tr Z = ``budget``
    (> 0), to a duality gap of :data:`GAP` (module docstring).

    Args:
        weights: complex [n, M, M], Hermitian PSD.
        A: complex [n, r, M].
    """
    n, r, M = A.shape
    basis = hermitian_basis(r, A.dtype, A.device)
    d = r * r
    traces = torch.diagonal(basis, dim1=-2, dim2=-1).real.sum(-1)  # [d]: tr of each element
    # dK_p = W o (A^H E_p A): K is affine in the coordinates z, K = I + sum_p z_p dK_p
    slopes = weights[:, None] * (A.mH[:, None] @ basis @ A[:, None])  # [n, d, M, M]
    z = (traces * (budget / r)).expand(n, d).clone()  # Z = P/r I
    t = torch.ones(n, dtype=torch.float64, device=A.device)
    identity = torch.eye(M, dtype=A.dtype, device=A.device)
    constraint = torch.cat([traces, traces.new_zeros(1)])  # the KKT border: tr dZ = 0
    out = z.clone()
    live = torch.arange(n, device=A.device)
    for _ in range(MOST_STEPS):
        Z = torch.einsum("np,pab->nab", z.to(A.dtype), basis)
        K = identity + torch.einsum("np,npab->nab", z.to(A.dtype), slopes)
        along_K = torch.linalg.inv(K)[:, None] @ slopes  # K^-1 dK_p
        along_Z = torch.linalg.inv(Z)[:, None] @ basis  # Z^-1 E_p
        gradient = t[:, None] * trace_along(along_K) + trace_along(along_Z)
        hessian = t[:, None, None] * log_det_curvature(along_K) + log_det_curvature(along_Z)
        kkt = torch.zeros(len(z), d + 1, d + 1, dtype=torch.float64, device=A.device)
        kkt[:, :d, :d] = hessian
        kkt[:, d], kkt[:, :, d] = constraint, constraint
        rhs = torch.cat([-gradient, gradient.new_zeros(len(z), 1)], -1)
        step = torch.linalg.solve(kkt, rhs)[:, :d]
        # lambda^2 = -step^T hessian step >= 0: the Hessian is negative definite
        decrement = (-(step[:, None, :] @ hessian @ step[:, :, None])[:, 0, 0]).clamp_min(0.0)
        decrement = decrement.sqrt()
        damping = torch.where(decrement > 0.25, 1.0 / (1.0 + decrement), 1.0)
        z = z + damping[:, None] * step
        centred = decrement.square() < CENTRED
        value = torch.linalg.slogdet(K).logabsdet
        done = centred & (r / t <= GAP * value.clamp_min(1.0))
        t = torch.where(centred, t * GROWTH, t)
        if done.any():
            out[live[done]] = z[done]
            keep = ~done
            live, z, t, slopes = live[keep], z[keep], t[keep], slopes[keep]
            if not len(live):
                break
    out[live] = z
    Z = torch.einsum("np,pab->nab", out.to(A.dtype), basis)
    Z = (Z + Z.mH) / 2
    trace = torch.diagonal(Z, dim1=-2, dim2=-1).real.sum(-1)
    return Z * (budget / trace).to(Z.dtype)[:, None, None]  # the budget to round-off


def trace_along(X: torch.Tensor) -> torch.Tensor:
    """real [n, d]: Re tr X_p of [n, d, m, m]."""
    return torch.diagonal(X, dim1=-2, dim2=-1).real.sum(-1)
