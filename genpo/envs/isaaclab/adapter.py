"""The adapter: an IsaacLab ``DirectRLEnv`` / ``ManagerBasedRLEnv`` as a :class:`genpo.envs.base.VecEnv`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from genpo.envs.base import EpisodeTracker, StepResult, VecEnv
from genpo.errors import ConfigError


def _flat_dim(space: Any, what: str) -> int:
    """Width of a flat Box observation/action space; ``ValueError`` otherwise."""
    shape = getattr(space, "shape", None)
    if shape is None or len(shape) != 1:
        raise ConfigError(
            f"the IsaacLab {what} must be a flat vector (a concatenated observation group), got space {space!r}"
        )
    return int(shape[0])


class IsaacLabVecEnv(VecEnv):
    """An IsaacLab RL environment (``DirectRLEnv`` or ``ManagerBasedRLEnv``) as a :class:`VecEnv`.

    Args:
        env: The environment from ``gym.make`` (or the bare IsaacLab env).
        env_id: The id it was made from, for messages and logs.
        clip_actions: Clamp actions to ``[-clip_actions, clip_actions]`` (rsl_rl's ``clip_actions``); ``None``
            keeps IsaacLab's unbounded action space (a bounded ``Box`` action space is used as is).
        critic_group: Observation group holding privileged critic observations, or ``None`` to ignore it.
        final_observation: Whether the env config computes terminal observations (``compute_final_obs``), to be
            passed on as ``extras["final_observation"]``.
        on_close: Called once after the environment is closed (stops the simulation runtime).

    Attributes:
        unwrapped: The bare IsaacLab environment.
        is_finite_horizon: Whether time-outs are terminal for this task (then ``truncated`` is always False).
    """

    one_per_process = True  # IsaacLab's SimulationContext is a process-wide singleton

    def __init__(
        self,
        env: Any,
        *,
        env_id: str = "",
        clip_actions: float | None = None,
        critic_group: str | None = "critic",
        final_observation: bool = False,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self._env = env
        self.unwrapped = getattr(env, "unwrapped", env)
        self.env_id = env_id
        self._on_close = on_close
        self._closed = False
        u = self.unwrapped
        self.num_envs = int(u.num_envs)
        self.device = torch.device(u.device)
        self.max_episode_length = int(u.max_episode_length) if u.max_episode_length is not None else None
        cfg = getattr(u, "cfg", None)
        self.is_finite_horizon = bool(getattr(cfg, "is_finite_horizon", False))

        obs_space = u.single_observation_space
        if "policy" not in obs_space.spaces:
            raise ConfigError(f"IsaacLab task {env_id!r} has no 'policy' observation group: {list(obs_space.spaces)}")
        self.observation_dim = _flat_dim(obs_space["policy"], "'policy' observation group")
        self.critic_group = critic_group if critic_group and critic_group in obs_space.spaces else None
        self.critic_observation_dim = (
            _flat_dim(obs_space[self.critic_group], f"{critic_group!r} observation group")
            if self.critic_group
            else None
        )
        action_manager = getattr(u, "action_manager", None)
        if action_manager is not None:
            self.action_dim = int(action_manager.total_action_dim)
        else:
            self.action_dim = _flat_dim(u.single_action_space, "action space")

        self.action_low, self.action_high = self._action_bounds(u.single_action_space, clip_actions)
        self._final_observation = final_observation
        self._tracker = EpisodeTracker(self.num_envs, self.device)

    def _action_bounds(self, space: Any, clip_actions: float | None) -> tuple[Tensor | None, Tensor | None]:
        """Bounds from ``clip_actions`` or from a finite Box action space; ``(None, None)`` when unbounded."""
        if clip_actions is not None:
            if not clip_actions > 0:
                raise ConfigError(f"clip_actions must be > 0, got {clip_actions!r}")
            high = torch.full((self.action_dim,), float(clip_actions), device=self.device)
            return -high, high
        low, high = getattr(space, "low", None), getattr(space, "high", None)
        if low is None or high is None:
            return None, None
        low_t = torch.as_tensor(low, dtype=torch.float32).reshape(-1)
        high_t = torch.as_tensor(high, dtype=torch.float32).reshape(-1)
        if low_t.numel() != self.action_dim or not (torch.isfinite(low_t).all() and torch.isfinite(high_t).all()):
            return None, None
        return low_t.to(self.device), high_t.to(self.device)

    @property
    def cfg(self) -> Any:
        """The IsaacLab environment config."""
        return self.unwrapped.cfg

    @property
    def episode_length_buf(self) -> Tensor:
        """Steps taken in each sub-environment's episode (settable, e.g. to spread initial episode lengths)."""
        return self.unwrapped.episode_length_buf

    @episode_length_buf.setter
    def episode_length_buf(self, value: Tensor) -> None:
        self.unwrapped.episode_length_buf = value

    def _split_obs(self, obs: dict[str, Any]) -> tuple[Tensor, Tensor | None]:
        """``(policy, critic or None)`` copies of an IsaacLab observation dict (IsaacLab reuses its buffers)."""
        policy = obs["policy"].clone()
        critic = obs[self.critic_group].clone() if self.critic_group and self.critic_group in obs else None
        return policy, critic

    def reset(self, seed: int | None = None) -> tuple[Tensor, dict[str, Any]]:
        """Resets every sub-environment; ``seed`` reseeds IsaacLab (which seeds torch, numpy and warp globally)."""
        obs, env_extras = self._env.reset(seed=seed)
        self._tracker = EpisodeTracker(self.num_envs, self.device)
        policy, critic = self._split_obs(obs)
        extras: dict[str, Any] = {}
        if critic is not None:
            extras["critic_observation"] = critic
        if isinstance(env_extras, dict) and "log" in env_extras:
            extras["log"] = dict(env_extras["log"])
        return policy, extras

    def step(self, action: Tensor) -> StepResult:
        """Steps every sub-environment with ``action [N, action_dim]``; IsaacLab resets finished ones itself."""
        if action.shape != (self.num_envs, self.action_dim):
            raise ValueError(f"action must have shape ({self.num_envs}, {self.action_dim}), got {tuple(action.shape)}")
        action = action.to(device=self.device, dtype=torch.float32)
        if self.action_low is not None and self.action_high is not None:
            action = torch.clamp(action, self.action_low, self.action_high)
        obs, reward, terminated, time_outs, env_extras = self._env.step(action)
        policy, critic = self._split_obs(obs)
        reward = reward.to(torch.float32).clone()
        terminated = terminated.to(torch.bool).clone()
        truncated = time_outs.to(torch.bool).clone()
        if self.is_finite_horizon:
            terminated |= truncated
            truncated = torch.zeros_like(truncated)
        done = terminated | truncated

        extras: dict[str, Any] = {"episode": self._tracker.update(reward, done)}
        if critic is not None:
            extras["critic_observation"] = critic
        if isinstance(env_extras, dict):
            if "log" in env_extras:
                extras["log"] = dict(env_extras["log"])
            final = env_extras.get("final_obs")
            if self._final_observation and isinstance(final, dict) and bool(done.any()):
                extras["final_observation"] = final["policy"].clone()
                if self.critic_group and self.critic_group in final:
                    extras["final_critic_observation"] = final[self.critic_group].clone()
        return policy, reward, terminated, truncated, extras

    def close(self) -> None:
        """Closes the IsaacLab environment, then stops the simulation runtime; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        try:
            self._env.close()
        finally:
            if self._on_close is not None:
                self._on_close()
