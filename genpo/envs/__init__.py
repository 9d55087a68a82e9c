"""Batched, torch-native environments behind one interface (see :mod:`genpo.envs.base`).

Environment ids carry a backend prefix: ``gym:HalfCheetah-v5``, ``isaaclab:Isaac-Ant``. A bare id
goes to Gymnasium. Backends register a factory ``make(task, num_envs=..., seed=..., device=..., **options)``
in :data:`ENV_BACKENDS`; they import their simulator lazily, so ``import genpo`` needs none of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from genpo.envs.base import EpisodeTracker, VecEnv
from genpo.registry import Registry

ENV_BACKENDS: Registry[Callable[..., VecEnv]] = Registry("environment backend")
DEFAULT_BACKEND = "gym"


def parse_env_id(env_id: str) -> tuple[str, str]:
    """Splits ``"backend:task"`` (a bare task means Gymnasium); ``ValueError`` names the backends."""
    if not isinstance(env_id, str) or not env_id.strip():
        raise ValueError(f"environment id must be a non-empty string, got {env_id!r}")
    backend, sep, task = env_id.partition(":")
    if not sep:
        return DEFAULT_BACKEND, env_id
    if backend not in ENV_BACKENDS:
        raise ValueError(
            f"unknown environment backend {backend!r} in {env_id!r}; choose one of: {', '.join(ENV_BACKENDS.names())}"
        )
    if not task:
        raise ValueError(f"environment id {env_id!r} names no task after {backend + ':'!r}")
    return backend, task


def make_env(env_id: str, num_envs: int = 1, *, seed: int | None = None, device: str = "cpu", **options: Any) -> VecEnv:
    """Builds a batched environment from an id such as ``gym:HalfCheetah-v5`` or ``isaaclab:Isaac-Ant``."""
    if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
        raise ValueError(f"num_envs must be an integer >= 1, got {num_envs!r}")
    backend, task = parse_env_id(env_id)
    return ENV_BACKENDS.get(backend)(task, num_envs=num_envs, seed=seed, device=device, **options)


# Backends register themselves on import; each imports its simulator lazily.
from genpo.envs.gym import GymVecEnv, make_gym_env  # noqa: E402

ENV_BACKENDS.add(
    "gym", make_gym_env, "Gymnasium continuous-control tasks (MuJoCo v5, ...), stepped in-process or in workers"
)

__all__ = ["DEFAULT_BACKEND", "ENV_BACKENDS", "EpisodeTracker", "GymVecEnv", "VecEnv", "make_env", "parse_env_id"]

from genpo.envs.builtin import make_builtin_env  # noqa: E402
from genpo.envs.isaaclab import make_isaaclab_env  # noqa: E402,F401  (registers the "isaaclab" backend)

ENV_BACKENDS.add(
    "builtin",
    make_builtin_env,
    "built-in torch-native tasks (PointMass; MultiGoal: 4 optimal modes): fast, no simulator",
)
