"""The actor (any policy of the zoo), the critic and the observation normalizers, as one module."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from genpo.models.policy import Policy
from genpo.models.velocity import mlp
from genpo.training.normalizer import RunningNormalizer


class ActorCritic(nn.Module):
    """Holds what a checkpoint must restore to act: policy, critic, normalizers.

    Args:
        policy: The actor.
        critic_obs_dim: Width of a privileged critic observation (asymmetric critic), or ``None`` for a
            critic that reads the policy observation (and shares its normalizer).
        critic_hidden: Hidden widths of the critic MLP.
        activation: Activation of the critic.
        normalize_obs: Whether to keep running observation normalizers.
    """

    def __init__(
        self,
        policy: Policy,
        critic_obs_dim: int | None,
        critic_hidden: list[int],
        activation: str = "mish",
        normalize_obs: bool = True,
    ) -> None:
        super().__init__()
        self.policy = policy
        self.asymmetric = critic_obs_dim is not None
        critic_in = critic_obs_dim if critic_obs_dim is not None else policy.obs_dim
        self.critic = mlp([critic_in, *critic_hidden, 1], activation)
        self.obs_norm = RunningNormalizer(policy.obs_dim) if normalize_obs else nn.Identity()
        if self.asymmetric:
            self.critic_obs_norm = RunningNormalizer(critic_in) if normalize_obs else nn.Identity()
        else:
            self.critic_obs_norm = self.obs_norm  # one set of statistics, updated once per step

    def value(self, critic_obs: Tensor) -> Tensor:
        """V(s) ``[B]`` from a normalized critic observation."""
        return self.critic(critic_obs).squeeze(-1)

    @torch.no_grad()
    def act_deterministic(self, raw_obs: Tensor) -> Tensor:
        """The deterministic action for a raw observation (evaluation, export)."""
        return self.policy.deterministic_action(self.obs_norm(raw_obs))
