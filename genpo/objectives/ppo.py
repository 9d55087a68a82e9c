"""PPO's clipped surrogate, its diagnostics, and advantage normalization."""

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
