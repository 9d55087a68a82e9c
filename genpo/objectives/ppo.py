"""PPO's clipped surrogate, FPO++'s asymmetric variant, their diagnostics, and advantage normalization."""

from __future__ import annotations

import torch
from torch import Tensor


def normalize_advantages(adv: Tensor, eps: float = 1e-8) -> Tensor:
    """Zero-mean, unit-std advantages (per minibatch, as CleanRL and rsl_rl do)."""
    return (adv - adv.mean()) / (adv.std(unbiased=False) + eps)


def clipped_surrogate(
    new_log_prob: Tensor, old_log_prob: Tensor, advantages: Tensor, clip: float = 0.2
) -> tuple[Tensor, dict[str, Tensor]]:
    """The PPO clipped policy loss ``-E[min(r A, clip(r, 1-c, 1+c) A)]`` with ``r = exp(new - old)``.

    Args:
        new_log_prob: log pi_theta(latent | obs) ``[B]`` (with gradient).
        old_log_prob: log-probs recorded at rollout time ``[B]``.
        advantages: Advantage estimates ``[B]``.
        clip: Clip range c.

    Returns:
        The loss and detached diagnostics: ``approx_kl`` (the ``(r - 1) - log r`` estimator) and
        ``clipfrac`` (fraction of samples whose ratio left the clip range).
    """
    log_ratio = new_log_prob - old_log_prob
    ratio = log_ratio.exp()
    loss = -torch.min(ratio * advantages, ratio.clamp(1.0 - clip, 1.0 + clip) * advantages).mean()
    with torch.no_grad():
        info = {
            "approx_kl": ((ratio - 1.0) - log_ratio).mean(),
            "clipfrac": ((ratio - 1.0).abs() > clip).float().mean(),
        }
    return loss, info


def asymmetric_surrogate(
    new_log_prob: Tensor, old_log_prob: Tensor, advantages: Tensor, clip: float = 0.2
) -> tuple[Tensor, dict[str, Tensor]]:
    """FPO++'s asymmetric trust region: PPO's clipped term where ``A >= 0``, SPO's penalty where ``A < 0``.

    For negative advantages the objective is SPO's (Xie et al. 2024) ``r A - |A| (r - 1)^2 / (2 c)``,
    maximal at ``r = 1 - c`` and with a gradient that pulls ``r`` back from both sides, instead of PPO's
    term, whose gradient vanishes once ``r < 1 - c``. Positive advantages keep PPO's clipped term.

    Args and returns as :func:`clipped_surrogate`.
    """
    log_ratio = new_log_prob - old_log_prob
    ratio = log_ratio.exp()
    ppo = torch.min(ratio * advantages, ratio.clamp(1.0 - clip, 1.0 + clip) * advantages)
    spo = ratio * advantages - advantages.abs() * (ratio - 1.0).pow(2) / (2.0 * clip)
    loss = -torch.where(advantages >= 0, ppo, spo).mean()
    with torch.no_grad():
        info = {
            "approx_kl": ((ratio - 1.0) - log_ratio).mean(),
            "clipfrac": ((ratio - 1.0).abs() > clip).float().mean(),
        }
    return loss, info
