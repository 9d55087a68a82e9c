"""Entropy estimate from log-probabilities."""

from __future__ import annotations

from torch import Tensor


def entropy_estimate(log_prob: Tensor) -> Tensor:
    """Monte-Carlo entropy ``-E[log pi]`` over a batch of the policy's own samples.

    For an EDICT flow the entropy of the whole 2d latent is a constant
    (``H(N(0, I)) + 2 d K log p``); on PPO minibatches, drawn from the rollout policy, this estimate
    is the cross-entropy term the authors use, and its gradient is not zero.
    """
    return -log_prob.mean()
