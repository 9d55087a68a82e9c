"""Built-in torch-native tasks: tiny, dependency-free, fully batched (tests, diagnostics, CI).

``builtin:PointMass`` — a point mass in d dimensions (default 2) pushed by a bounded force toward a
goal drawn per episode. Observation ``(position, velocity, goal)``, action the force in [-1, 1]^d,
reward ``-||position - goal||`` per step, truncation after ``episode_length`` steps, no termination.
A good policy earns about -3 per 50-step episode; random actions earn about -60.

``builtin:MultiGoal`` — several separated optimal actions and a poor mean one (:mod:`genpo.envs.multigoal`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from genpo.envs.base import EpisodeTracker, StepResult, VecEnv
from genpo.errors import ConfigError


class PointMassEnv(VecEnv):
    """A batched point-mass reaching task whose whole state can be saved and restored exactly.

    Args:
        num_envs: Sub-environments.
        dim: Space dimension d.
        episode_length: Steps before truncation.
        device: Torch device.
        nan_after: Test hook: from this many steps on, observations turn NaN (``None``: never).
    """

    def __init__(
        self,
        num_envs: int,
        dim: int = 2,
        episode_length: int = 50,
        device: str = "cpu",
        nan_after: int | None = None,
    ) -> None:
        if dim < 1 or episode_length < 1:
            raise ConfigError(f"dim and episode_length must be >= 1, got {dim}, {episode_length}")
        self.num_envs, self.dim = num_envs, dim
        self.observation_dim, self.action_dim = 3 * dim, dim
        self.device = torch.device(device)
        self.action_low = -torch.ones(dim, device=self.device)
        self.action_high = torch.ones(dim, device=self.device)
        self.max_episode_length = episode_length
        self.env_id = "builtin:PointMass"
        self.nan_after = nan_after
        self.gen = torch.Generator(device=self.device)
        z = torch.zeros(num_envs, dim, device=self.device)
        self.pos, self.vel, self.goal = z.clone(), z.clone(), z.clone()
        self.t = torch.zeros(num_envs, dtype=torch.long, device=self.device)
        self.steps_taken = 0
        self.tracker = EpisodeTracker(num_envs, self.device)

    def _obs(self) -> Tensor:
        obs = torch.cat([self.pos, self.vel, self.goal], dim=-1)
        if self.nan_after is not None and self.steps_taken >= self.nan_after:
            obs = torch.full_like(obs, float("nan"))
        return obs

    def _new_episodes(self, mask: Tensor) -> None:
        n = int(mask.sum())
        shape = (n, self.dim)
        self.pos[mask] = torch.rand(shape, generator=self.gen, device=self.device) * 2 - 1
        self.goal[mask] = torch.rand(shape, generator=self.gen, device=self.device) * 2 - 1
        self.vel[mask] = 0.0
        self.t[mask] = 0

    def reset(self, seed: int | None = None) -> tuple[Tensor, dict[str, Any]]:
        if seed is not None:
            self.gen.manual_seed(seed)
        self._new_episodes(torch.ones(self.num_envs, dtype=torch.bool, device=self.device))
        self.tracker = EpisodeTracker(self.num_envs, self.device)
        return self._obs(), {}

    def step(self, action: Tensor) -> StepResult:
        self.check_action(action)
        a = action.to(self.device).clamp(self.action_low, self.action_high)
        self.vel = 0.8 * self.vel + 0.1 * a
        self.pos = self.pos + self.vel
        self.t += 1
        self.steps_taken += 1
        reward = -torch.linalg.vector_norm(self.pos - self.goal, dim=-1)
        terminated = torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)
        truncated = self.t >= self.max_episode_length
        extras: dict[str, Any] = {"episode": self.tracker.update(reward, truncated)}
        if truncated.any():
            extras["final_observation"] = self._obs()
            self._new_episodes(truncated)
        return self._obs(), reward, terminated, truncated, extras

    def state_dict(self) -> dict[str, Tensor]:
        """The whole simulator state (positions, velocities, goals, clocks, episode sums, RNG)."""
        return {
            "pos": self.pos.clone(),
            "vel": self.vel.clone(),
            "goal": self.goal.clone(),
            "t": self.t.clone(),
            "returns": self.tracker.returns.clone(),
            "lengths": self.tracker.lengths.clone(),
            "rng": self.gen.get_state(),
            "steps_taken": torch.tensor(self.steps_taken),
        }

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        """Restores :meth:`state_dict`; the next ``step`` continues exactly."""
        for k in ("pos", "vel", "goal", "t"):
            setattr(self, k, state[k].to(self.device).clone())
        self.tracker.returns, self.tracker.lengths = state["returns"].clone(), state["lengths"].clone()
        self.gen.set_state(state["rng"])
        self.steps_taken = int(state["steps_taken"])


def _make_point_mass(num_envs: int, device: str, **options: Any) -> VecEnv:
    return PointMassEnv(num_envs, device=device, **options)


def _make_multigoal(num_envs: int, device: str, **options: Any) -> VecEnv:
    from genpo.envs.multigoal import MultiGoalEnv

    return MultiGoalEnv(num_envs, device=device, **options)


# task -> (factory, accepted options)
TASKS: dict[str, tuple[Any, set[str]]] = {
    "PointMass": (_make_point_mass, {"dim", "episode_length", "nan_after"}),
    "MultiGoal": (_make_multigoal, {"num_goals", "radius", "sigma", "episode_length"}),
}


def make_builtin_env(
    task: str, num_envs: int = 1, *, seed: int | None = None, device: str = "cpu", **options: Any
) -> VecEnv:
    """Factory registered as the ``builtin`` backend."""
    if task not in TASKS:
        raise ConfigError(f"unknown builtin task {task!r}; choose one of: {', '.join(TASKS)}")
    factory, allowed = TASKS[task]
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ConfigError(
            f"unknown option(s) {', '.join(unknown)} for builtin:{task}; accepted: {', '.join(sorted(allowed))}"
        )
    env = factory(num_envs, device, **options)
    if seed is not None and isinstance(env, PointMassEnv):
        env.gen.manual_seed(seed)
    return env
