"""Exact water-filling (docs/model.md, item 2: the level of eq. (38) is exact only when
every eigen-channel is active)."""

from __future__ import annotations

import torch


def water_filling(gains: torch.Tensor, total_power: torch.Tensor | float) -> torch.Tensor:
    """Powers x maximising sum_i log(1 + g_i x_i) s.t. sum_i x_i <= P, x >= 0.

    Sorted closed form: with the gains in descending order, the water level for the
    m strongest channels is mu_m = (P + sum_{i<=m} 1/g_i) / m, and the optimum uses
    the largest m with mu_m > 1/g_m; then x_i = max(mu_m - 1/g_i, 0).

    It is computed relative to the strongest channel, d_i = 1/g_i - 1/g_1 =
    (g_1 - g_i)/(g_1 g_i) >= 0 and mu_m - 1/g_1 = (P + sum_{i<=m} d_i)/m, so that the
    budget is not lost beside 1/g when g P is below round-off (a target echo 1e-20 of
    the noise, say): then every power goes to the strongest channels, as it should.

    Args:
        gains: real [..., n], channel gains g_i >= 0, any order.
        total_power: the budget P >= 0, a float or real [...].

    Returns:
        real [..., n], the optimal powers, in the order of ``gains``; 0 where no gain is
        positive (no channel carries anything).
    """
    sorted_gains, order = gains.sort(dim=-1, descending=True)
    strongest = sorted_gains[..., :1]
    # 1/g_i - 1/g_1; inf for a zero gain (and 0/0 where every gain is 0: masked below)
    excess = (strongest - sorted_gains) / (strongest * sorted_gains)
    budget = torch.as_tensor(total_power, dtype=gains.dtype, device=gains.device)
    counts = torch.arange(1, gains.shape[-1] + 1, dtype=gains.dtype, device=gains.device)
    levels = (budget[..., None] + excess.cumsum(dim=-1)) / counts  # mu_m - 1/g_1
    n_active = (levels > excess).sum(dim=-1, keepdim=True)
    level = levels.gather(-1, (n_active - 1).clamp_min(0))
    usable = (n_active > 0) & (strongest > 0)
    sorted_powers = torch.where(usable & (level > excess), level - excess, 0.0)
    return torch.empty_like(sorted_powers).scatter_(-1, order, sorted_powers)
