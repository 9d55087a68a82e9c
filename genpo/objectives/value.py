"""The critic's loss."""

from __future__ import annotations

from torch import Tensor


def value_loss(values: Tensor, old_values: Tensor, returns: Tensor, clip: float | None = 0.2) -> Tensor:
    """Squared-error value loss, clipped around the rollout-time values when ``clip`` is set.

    ``max((V - R)^2, (V_old + clip(V - V_old, -c, c) - R)^2)``, averaged (rsl_rl's form).
    """
    unclipped = (values - returns).pow(2)
    if clip is None:
        return unclipped.mean()
    clipped = old_values + (values - old_values).clamp(-clip, clip)
    return unclipped.max((clipped - returns).pow(2)).mean()


def explained_variance(values: Tensor, returns: Tensor) -> Tensor:
    """``1 - Var[R - V] / Var[R]`` (1 is perfect, 0 is no better than a constant)."""
    var = returns.var(unbiased=False)
    return 1.0 - (returns - values).var(unbiased=False) / var.clamp_min(1e-12)
