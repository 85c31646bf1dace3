"""DirectionNet (beyond the paper): a learned transmit covariance for targets at directions.

With directions the design is R_x (:mod:`isac.physics.directional`), the objective is
not concave in it, and no closed form gives its optimum (docs/model.md, item 15). The
network reads the problem the BS knows (its :class:`~isac.physics.directional.DirectionalTerms`)
through scale-free summaries, per target and per pair of targets:

- per target i: the sensing SNR towards it alone at the full budget, log(1 + Psi_ii N_t
  P_s); the price the users set on its echo at zero echo, relative to the marginal
  sensing gain there (the trade-off a design must strike); sin(theta_i);
- per pair: how much the targets share the transmit array (|a_i^H a_j| / N_t), the
  receive array in the sensing metric (|Psi_ij| / sqrt(Psi_ii Psi_jj)) and in the users'
  (|W_ij| / sqrt(W_ii W_jj));
- alpha and log M_s, log M_c.

An MLP maps them to a lower-triangular X (M x M, complex) and a power share eta, and
R_x = P_s eta (A X X^H A^H) / tr(A X X^H A^H): feasible by construction, in the span of
the steering vectors, where every useful R_x lies. It trains with the loss (30) like every
network. At inference, ``polish_steps`` projected gradient steps on the WSNR the BS can
compute (:func:`~isac.physics.psd_ascent.projected_ascent`) refine every hypothesis in
the basin it chose, ``leader_steps`` further steps the one with the highest WSNR alone
(they only ascend from the design the shared polish returns, at a quarter of the cost of
a shared step), and ``newton_steps`` Newton steps on its Cholesky factor
(:func:`~isac.physics.wsnr_newton.newton_ascent`) take it to the top of its basin,
where projected gradient steps crawl (docs/training.md, DirectionNet).
"""

from __future__ import annotations

import torch
from torch import nn

from isac import checks
from isac.learning.networks import Network
from isac.learning.problem_batch import ProblemBatch
from isac.physics import rates
from isac.physics.directional import DirectionalTerms, gram_of, span_wsnr
from isac.physics.psd_ascent import projected_ascent
from isac.physics.system import SystemConfig
from isac.physics.wsnr_newton import newton_ascent

LOG_FLOOR = 1e-30
CLIP = 20.0
SHARE_BIAS = 3.0  # the power share starts at sigmoid(3) = 0.95


def summaries(terms: DirectionalTerms, system: SystemConfig) -> torch.Tensor:
    """real [n, F]: the scale-free summaries of the module docstring, F = :func:`feature_width`."""
    targets = terms.targets
    M = targets.A.shape[-1]
    psi = torch.diagonal(terms.weights, dim1=-2, dim2=-1).real  # [n, M]
    snr = torch.log1p(psi * system.n_tx * system.sensing_power)
    # at zero echo, d(alpha Rs/M_s)/dc_i = alpha Psi_ii / (ln 2 s_i^2 M_s) (c_i = s_i^2 G_ii / L)
    sensing_gain = rates.per_maximum(
        system.alpha * psi / (rates.LN2 * targets.variances), terms.max_rate_s[:, None]
    )
    price = terms.echo_prices(system, torch.zeros_like(psi))
    ratio = price.clamp_min(LOG_FLOOR).log() - sensing_gain.clamp_min(LOG_FLOOR).log()
    rows, cols = torch.triu_indices(M, M, offset=1)
    transmit = (targets.A.mH @ targets.A).abs() / system.n_tx
    sensing = _correlation(terms.weights)
    users = _correlation(terms.echo_gram)
    point = torch.stack(
        [
            torch.full_like(terms.max_rate_s, system.alpha),
            terms.max_rate_s.clamp_min(LOG_FLOOR).log(),
            terms.max_rate_c.clamp_min(LOG_FLOOR).log(),
        ],
        dim=-1,
    )
    features = [
        snr,
        ratio.clamp(-CLIP, CLIP),
        torch.sin(targets.angles),
        transmit[..., rows, cols],
        sensing[..., rows, cols],
        users[..., rows, cols],
        point,
    ]
    return torch.cat(features, dim=-1)


def _correlation(gram: torch.Tensor) -> torch.Tensor:
    """real [n, M, M]: |G_ij| / sqrt(G_ii G_jj) of a Hermitian PSD [n, M, M]."""
    scale = torch.diagonal(gram, dim1=-2, dim2=-1).real.clamp_min(LOG_FLOOR).sqrt()
    return gram.abs() / (scale[..., :, None] * scale[..., None, :])


def feature_width(n_targets: int) -> int:
    """F of :func:`summaries`."""
    return 3 * n_targets + 3 * n_targets * (n_targets - 1) // 2 + 3


class DirectionNet(Network):
    """A transmit covariance for targets at directions (module docstring).

    Args:
        system: the system it is trained for.
        n_targets: M.
        hidden: width of the two hidden layers (>= 1).
        hypotheses: designs proposed per problem (>= 1); the one with the highest WSNR the
            BS can compute is kept (in training too, so each learns its own basin).
        polish_steps: projected gradient steps on the BS's WSNR of every hypothesis at
            inference (>= 0).
        leader_steps: further steps on the hypothesis with the highest WSNR after them,
            at inference (>= 0); 0 by default, so that a checkpoint saved before the
            option designs as it did.
        newton_steps: then Newton steps on that design at inference (>= 0); 0 by default
            for the same reason (``conf/model/directional.yaml`` sets 10 polish steps, 0
            leader steps and 6 Newton steps).
    """

    target_models = ("directions",)

    def __init__(
        self,
        system: SystemConfig,
        n_targets: int = 1,
        hidden: int = 64,
        hypotheses: int = 4,
        polish_steps: int = 20,
        leader_steps: int = 0,
        newton_steps: int = 0,
    ) -> None:
        super().__init__(system)
        self.n_targets = checks.positive_int("model.network.n_targets", n_targets)
        hidden = checks.positive_int("model.network.hidden", hidden)
        self.hypotheses = checks.positive_int("model.network.hypotheses", hypotheses)
        self.polish_steps = checks.non_negative_int("model.network.polish_steps", polish_steps)
        self.leader_steps = checks.non_negative_int("model.network.leader_steps", leader_steps)
        self.newton_steps = checks.non_negative_int("model.network.newton_steps", newton_steps)
        M, width = self.n_targets, feature_width(self.n_targets)
        self.norm = nn.BatchNorm1d(width)
        self.trunk = nn.Sequential(
            nn.Linear(width, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU()
        )
        # per hypothesis, X's M^2 real parameters and the logit of the power share eta
        self.head = nn.Linear(hidden, self.hypotheses * (M * M + 1))
        nn.init.zeros_(self.head.weight)
        with torch.no_grad():
            self.head.bias.copy_(initial_hypotheses(M, self.hypotheses).flatten())

    def forward(self, problem: ProblemBatch) -> torch.Tensor:
        system, terms, M = problem.system, problem.terms, self.n_targets
        if problem.targets is None or problem.targets.A.shape[-1] != M:
            held = "none" if problem.targets is None else problem.targets.A.shape[-1]
            raise checks.SettingsError(
                f"DirectionNet designs for {M} targets at directions; the problems have {held}"
            )
        with torch.no_grad():
            features = summaries(terms, system).to(problem.features.dtype)
        out = self.head(self.trunk(self.norm(features))).double()
        out = out.reshape(-1, self.hypotheses, M * M + 1).transpose(0, 1)  # [H, n, M^2 + 1]
        U = terms.targets.basis()
        reduced = U.mH @ terms.targets.A  # A in the span's coordinates, [n, r, M]
        Z = span_design(out, reduced, system.sensing_power)  # [H, n, r, r]
        H, n, r = Z.shape[0], Z.shape[1], Z.shape[-1]
        candidates = terms[torch.arange(n, device=Z.device).repeat(H)]
        stacked = reduced.repeat(H, 1, 1)
        Z = Z.reshape(H * n, r, r)
        if self.training:
            with torch.no_grad():
                value = candidates.wsnr_of(gram_of(Z, stacked), system)
        else:
            Z, value, _ = projected_ascent(
                span_wsnr(system),
                Z.detach(),
                system.sensing_power,
                self.polish_steps,
                (candidates, stacked),
            )
        best = value.reshape(H, n).argmax(0)
        Z = Z.reshape(H, n, r, r)[best, torch.arange(n, device=Z.device)]
        if not self.training and self.leader_steps:
            Z, _, _ = projected_ascent(
                span_wsnr(system),
                Z.detach(),
                system.sensing_power,
                self.leader_steps,
                (terms, reduced),
            )
        if not self.training and self.newton_steps:
            Z = newton_ascent(Z.detach(), terms, reduced, system, self.newton_steps).Z
        R_x = U @ Z @ U.mH
        if not self.training:
            R_x = zero_power_gate(R_x, terms, system)
        complex_type = (
            torch.complex64 if problem.features.dtype == torch.float32 else torch.complex128
        )
        return R_x.to(complex_type)


def initial_hypotheses(n_targets: int, hypotheses: int) -> torch.Tensor:
    """real [H, M^2 + 1]: the head's starting output per hypothesis (its bias), spread so
    that the hypotheses start in different basins: the first X = I (power to every
    target), the others X = diag with 1 on one target and 0.1 on the rest, in turn; the
    power share sigmoid(SHARE_BIAS) = 0.95, every third hypothesis's sigmoid(-SHARE_BIAS)."""
    M = n_targets
    bias = torch.zeros(hypotheses, M * M + 1)
    diagonal = torch.arange(M) * (M + 1)  # X's diagonal in the row-major M x M block
    for h in range(hypotheses):
        weights = (
            torch.ones(M)
            if h == 0
            else torch.full((M,), 0.1).index_fill(0, torch.tensor([(h - 1) % M]), 1.0)
        )
        bias[h, diagonal] = weights
        bias[h, -1] = -SHARE_BIAS if h % 3 == 2 else SHARE_BIAS
    return bias


def span_design(out: torch.Tensor, reduced: torch.Tensor, sensing_power: float) -> torch.Tensor:
    """Z [H, n, r, r] of the head's output ``out`` [H, n, M^2 + 1]: X lower-triangular
    (its strictly upper part the imaginary parts), eta = sigmoid(last), and
    Z = P_s eta (A X X^H A^H) / tr(A X X^H A^H) with A in the span's coordinates
    ``reduced`` [n, r, M]."""
    M = reduced.shape[-1]
    real = out[..., : M * M].reshape(*out.shape[:-1], M, M)
    X = torch.complex(torch.tril(real), torch.triu(real, diagonal=1).mT)
    direction = reduced @ X @ X.mH @ reduced.mH
    trace = torch.diagonal(direction, dim1=-2, dim2=-1).real.sum(-1)
    scale = sensing_power * torch.sigmoid(out[..., -1]) / trace.clamp_min(LOG_FLOOR)
    return direction * scale.to(direction.dtype)[..., None, None]


def zero_power_gate(
    R_x: torch.Tensor, terms: DirectionalTerms, system: SystemConfig
) -> torch.Tensor:
    """R_x [n, N_t, N_t], or no sensing power where that scores higher (WSNR 1 - alpha):
    where sensing pays little the WSNR has a maximum at zero power apart from the one a
    search finds (as in the paper's model, docs/model.md item 13)."""
    silent = terms.wsnr(torch.zeros_like(R_x), system) > terms.wsnr(R_x, system)
    return torch.where(silent[:, None, None], torch.zeros_like(R_x), R_x)
