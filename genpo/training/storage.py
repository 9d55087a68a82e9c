"""Rollout storage: latents (2d for EDICT), old log-probs, values, rewards; GAE with time-out bootstrapping."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor


class RolloutStorage:
    """Fixed-size ``[T, N, ...]`` buffers for one iteration's rollout.

    Args:
        steps: Rollout length T per sub-environment.
        num_envs: Sub-environments N.
        obs_dim: Policy observation width.
        critic_obs_dim: Critic observation width.
        latent_dim: Width of the stored latent (the action of the reformulated MDP).
        device: Where buffers live.
        score_shape: Per-sample shape of the stored log-weight (``policy.score_shape``: ``()`` for a log-prob,
            ``(N,)`` for FPO++'s per-draw ratio).
    """

    def __init__(
        self,
        steps: int,
        num_envs: int,
        obs_dim: int,
        critic_obs_dim: int,
        latent_dim: int,
        device: torch.device,
        score_shape: tuple[int, ...] = (),
    ) -> None:
        def buf(*shape: int) -> Tensor:
            return torch.zeros(steps, num_envs, *shape, device=device)

        self.steps, self.num_envs = steps, num_envs
        self.obs, self.critic_obs = buf(obs_dim), buf(critic_obs_dim)
        self.latents, self.log_probs = buf(latent_dim), buf(*score_shape)
        self.values, self.rewards, self.dones = buf(), buf(), buf()
        self.advantages, self.returns = buf(), buf()
        self.step = 0

    def add(
        self,
        obs: Tensor,
        critic_obs: Tensor,
        latent: Tensor,
        log_prob: Tensor,
        value: Tensor,
        reward: Tensor,
        done: Tensor,
    ) -> None:
        """Records one transition for every sub-environment (``reward`` already bootstrapped on time-outs)."""
        if self.step >= self.steps:
            raise RuntimeError("rollout storage is full; call clear() after the update")
        t = self.step
        self.obs[t], self.critic_obs[t], self.latents[t] = obs, critic_obs, latent
        self.log_probs[t], self.values[t], self.rewards[t], self.dones[t] = log_prob, value, reward, done
        self.step += 1

    def clear(self) -> None:
        self.step = 0

    @torch.no_grad()
    def compute_returns(self, last_value: Tensor, gamma: float, lam: float) -> None:
        """GAE(gamma, lambda) advantages and returns ``advantages + values``."""
        gae = torch.zeros_like(last_value)
        for t in reversed(range(self.steps)):
            next_value = last_value if t == self.steps - 1 else self.values[t + 1]
            not_done = 1.0 - self.dones[t]
            delta = self.rewards[t] + gamma * next_value * not_done - self.values[t]
            gae = delta + gamma * lam * not_done * gae
            self.advantages[t] = gae
        self.returns.copy_(self.advantages + self.values)

    def minibatches(
        self, num_minibatches: int, generator: torch.Generator | None = None
    ) -> Iterator[dict[str, Tensor]]:
        """Yields ``num_minibatches`` random disjoint minibatches of flattened transitions."""
        total = self.steps * self.num_envs
        perm = torch.randperm(total, generator=generator).to(self.obs.device)
        flat = {
            "obs": self.obs.flatten(0, 1),
            "critic_obs": self.critic_obs.flatten(0, 1),
            "latents": self.latents.flatten(0, 1),
            "log_probs": self.log_probs.flatten(0, 1),
            "values": self.values.flatten(0, 1),
            "advantages": self.advantages.flatten(0, 1),
            "returns": self.returns.flatten(0, 1),
        }
        for idx in perm.tensor_split(num_minibatches):
            yield {k: v[idx] for k, v in flat.items()}
