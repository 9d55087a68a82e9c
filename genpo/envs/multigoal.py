"""``builtin:MultiGoal``: a short-horizon 2-D task with several separated optimal actions.

A point starts at the origin; each step the action ``a in [-1, 1]^2`` moves it to ``p + a`` and the
reward is a Gaussian bump around the nearest of ``num_goals`` goals on a circle of ``radius``:

    r = exp(-min_i ||p' - g_i||^2 / (2 sigma^2))

Observation ``(p_x, p_y, t / episode_length)``; truncation after ``episode_length`` steps. At the
start observation every goal is an equally good first action (``a = g_i``: reward 1), while their
mean, the origin, earns ``exp(-radius^2 / (2 sigma^2))`` (about 0.011 with the defaults): a policy
that averages the modes is poor, one that picks any mode is optimal. A good policy earns about
``episode_length`` per episode (it moves onto a goal and stays); standing still earns ~0.06.

:meth:`MultiGoalEnv.optimal_actions` names the optimal first actions, for mode counting.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from genpo.envs.base import EpisodeTracker, StepResult, VecEnv
from genpo.errors import ConfigError


class MultiGoalEnv(VecEnv):
    """A batched multi-goal task whose whole state can be saved and restored exactly.

    Args:
        num_envs: Sub-environments.
        num_goals: Goals, evenly spaced on a circle starting at angle 0 (>= 2).
        radius: Distance of the goals from the start (> 0, at most 1 so ``a = g_i`` is a valid action).
        sigma: Width of each reward bump (> 0, small against the goals' spacing).
        episode_length: Steps before truncation (>= 1).
        device: Torch device.
    """

    def __init__(
        self,
        num_envs: int,
        num_goals: int = 4,
        radius: float = 0.6,
        sigma: float = 0.2,
        episode_length: int = 5,
        device: str = "cpu",
    ) -> None:
        if isinstance(num_goals, bool) or not isinstance(num_goals, int) or num_goals < 2:
            raise ConfigError(f"num_goals must be an integer >= 2, got {num_goals!r}")
        if not 0 < radius <= 1:
            raise ConfigError(f"radius must be in (0, 1], got {radius!r}")
        spacing = 2 * radius * math.sin(math.pi / num_goals)
        if not 0 < sigma <= spacing / 2:
            raise ConfigError(
                f"sigma must be in (0, {spacing / 2:.3g}] (half the goals' spacing) so the modes stay apart, "
                f"got {sigma!r}"
            )
        if isinstance(episode_length, bool) or not isinstance(episode_length, int) or episode_length < 1:
            raise ConfigError(f"episode_length must be an integer >= 1, got {episode_length!r}")
        self.num_envs, self.observation_dim, self.action_dim = num_envs, 3, 2
        self.device = torch.device(device)
        self.action_low = -torch.ones(2, device=self.device)
        self.action_high = torch.ones(2, device=self.device)
        self.max_episode_length = episode_length
        self.env_id = "builtin:MultiGoal"
        self.sigma = float(sigma)
        angles = torch.arange(num_goals, dtype=torch.float32) * (2 * math.pi / num_goals)
        self.goals = (radius * torch.stack([angles.cos(), angles.sin()], dim=-1)).to(self.device)
        self.pos = torch.zeros(num_envs, 2, device=self.device)
        self.t = torch.zeros(num_envs, dtype=torch.long, device=self.device)
        self.tracker = EpisodeTracker(num_envs, self.device)

    def _obs(self) -> Tensor:
        frac = (self.t.float() / self.max_episode_length).unsqueeze(-1)
        return torch.cat([self.pos, frac], dim=-1)

    def start_observation(self) -> Tensor:
        """The observation every episode starts from ``[3]`` (where the optimal actions are ambiguous)."""
        return torch.zeros(3, device=self.device)

    def optimal_actions(self) -> Tensor:
        """The optimal first actions ``[num_goals, 2]`` (one per goal), each with reward 1."""
        return self.goals.clone()

    def reward_of(self, pos: Tensor) -> Tensor:
        """Reward of standing at ``pos [..., 2]``: a bump around the nearest goal."""
        d2 = ((pos.unsqueeze(-2) - self.goals) ** 2).sum(-1).min(-1).values
        return torch.exp(-d2 / (2 * self.sigma**2))

    def reset(self, seed: int | None = None) -> tuple[Tensor, dict[str, Any]]:
        # The task is deterministic: the seed is accepted for the common interface and changes nothing.
        self.pos.zero_()
        self.t.zero_()
        self.tracker = EpisodeTracker(self.num_envs, self.device)
        return self._obs(), {}

    def step(self, action: Tensor) -> StepResult:
        self.check_action(action)
        a = action.to(self.device, torch.float32).clamp(self.action_low, self.action_high)
        self.pos = self.pos + a
        self.t += 1
        reward = self.reward_of(self.pos)
        terminated = torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)
        truncated = self.t >= self.max_episode_length
        extras: dict[str, Any] = {"episode": self.tracker.update(reward, truncated)}
        if truncated.any():
            extras["final_observation"] = self._obs()
            self.pos[truncated] = 0.0
            self.t[truncated] = 0
        return self._obs(), reward, terminated, truncated, extras

    def state_dict(self) -> dict[str, Tensor]:
        """Positions, clocks and episode sums."""
        return {
            "pos": self.pos.clone(),
            "t": self.t.clone(),
            "returns": self.tracker.returns.clone(),
            "lengths": self.tracker.lengths.clone(),
        }

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        """Restores :meth:`state_dict`; the next ``step`` continues exactly."""
        self.pos, self.t = state["pos"].to(self.device).clone(), state["t"].to(self.device).clone()
        self.tracker.returns, self.tracker.lengths = state["returns"].clone(), state["lengths"].clone()
