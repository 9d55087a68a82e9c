"""Diagonal Gaussian policy with a state-independent log-std: the PPO baseline."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from genpo.models.policy import Policy
from genpo.models.velocity import mlp


class GaussianPolicy(Policy):
    """``latent = mean(obs) + exp(log_std) * noise``; the latent is the action.

    Args:
        obs_dim: Observation width.
        action_dim: Action width.
        hidden: Hidden widths of the mean MLP.
        activation: Activation name.
        init_log_std: Initial log standard deviation.
    """

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        hidden: Sequence[int] = (400, 200, 100),
        activation: str = "mish",
        init_log_std: float = 0.0,
    ) -> None:
        super().__init__(obs_dim, action_dim, action_dim)
        self.mean = mlp([obs_dim, *hidden, action_dim], activation)
        self.log_std = nn.Parameter(torch.full((action_dim,), float(init_log_std)))

    def flow_forward(self, obs: Tensor, noise: Tensor) -> tuple[Tensor, Tensor]:
        latent = self.mean(obs) + self.log_std.exp() * noise
        return latent, self.log_std.sum().expand(noise.shape[0])

    def flow_inverse(self, obs: Tensor, latent: Tensor) -> tuple[Tensor, Tensor]:
        noise = (latent - self.mean(obs)) * torch.exp(-self.log_std)
        return noise, (-self.log_std.sum()).expand(latent.shape[0])
