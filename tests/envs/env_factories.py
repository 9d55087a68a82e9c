"""A user environment factory, named by dotted path (``env_factories:make_point_mass``) in the contract test."""

from __future__ import annotations

from typing import Any

from genpo.envs.base import VecEnv
from genpo.envs.builtin import make_builtin_env


def make_point_mass(num_envs: int, seed: int | None = None, device: str = "cpu", **options: Any) -> VecEnv:
    """PointMass with 10-step episodes, built by a factory outside genpo."""
    return make_builtin_env("PointMass", num_envs=num_envs, seed=seed, device=device, episode_length=10, **options)
