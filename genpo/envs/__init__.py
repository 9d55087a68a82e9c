"""Batched, torch-native environments behind one interface (see :mod:`genpo.envs.base`).

Environment ids carry a backend prefix: ``gym:HalfCheetah-v5``, ``isaaclab:Isaac-Ant``. A bare id
goes to Gymnasium. Backends register a factory ``make(task, num_envs=..., seed=..., device=..., **options)``
in :data:`ENV_BACKENDS`; they import their simulator lazily, so ``import genpo`` needs none of them.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable
from typing import Any

from genpo.envs.base import EpisodeTracker, VecEnv
from genpo.errors import ConfigError, PluginError
from genpo.plugins import Interface, is_dotted, load_dotted
from genpo.registry import Registry


def _backend_interface() -> Any:
    return Interface(object, factory_ok=True)


ENV_BACKENDS: Registry[Callable[..., VecEnv]] = Registry("environment backend", "env", _backend_interface)
DEFAULT_BACKEND = "gym"


DOTTED = "python"
"""The pseudo-backend :func:`parse_env_id` returns for a ``pkg.mod:make_env`` factory path."""


def parse_env_id(env_id: str) -> tuple[str, str]:
    """Splits an environment id into ``(backend, task)``; ``ConfigError`` names the backends.

    Forms: ``backend:Task`` (a registered or installed backend), a bare Gymnasium id, Gymnasium's
    ``pkg.mod:EnvId-v0`` with its version (-> ``gym``), or a factory path ``pkg.mod:make_env`` (-> ``("python", id)``,
    see :func:`make_env`).
    """
    if not isinstance(env_id, str) or not env_id.strip():
        raise ConfigError(f"environment id must be a non-empty string, got {env_id!r}")
    backend, sep, task = env_id.partition(":")
    if not sep:
        return DEFAULT_BACKEND, env_id
    if ENV_BACKENDS.find(backend) is not None:
        if not task:
            raise ConfigError(f"environment id {env_id!r} names no task after {backend + ':'!r}")
        return backend, task
    # A module path: a factory ``pkg.mod:make_env`` or Gymnasium's own ``pkg.mod:EnvId-v0``. Whether its
    # top-level package exists is asked without importing anything (a typo'd backend gets the message below).
    if (is_dotted(env_id) or _MODULE_ID.match(env_id)) and importlib.util.find_spec(backend.split(".")[0]):
        return (DOTTED, env_id) if is_dotted(env_id) else (DEFAULT_BACKEND, env_id)
    raise ConfigError(
        f"unknown environment backend {backend!r} in {env_id!r}; choose one of: {', '.join(ENV_BACKENDS.names())}, "
        "or a factory path pkg.module:make_env of an importable module"
    )


# Gymnasium's "module:EnvId" form, told apart from a factory path and a typo'd backend by the id's version.
_MODULE_ID = re.compile(r"^[A-Za-z_][\w.]*:[\w/.-]+-v\d+$")


def load_env_factory(spec: str) -> Callable[..., VecEnv]:
    """The callable a ``pkg.mod:make_env`` path names (``PluginError`` if it is not callable)."""
    factory = load_dotted(spec, "environment factory")
    Interface(VecEnv, factory_ok=True).check(factory, f"environment factory {spec!r}")
    return factory


def make_env(env_id: str, num_envs: int = 1, *, seed: int | None = None, device: str = "cpu", **options: Any) -> VecEnv:
    """Builds a batched environment from an id such as ``gym:HalfCheetah-v5`` or ``isaaclab:Isaac-Ant``.

    A factory path ``pkg.mod:make_env`` is called as ``make_env(num_envs=..., seed=..., device=..., **options)``
    (a :class:`VecEnv` subclass with that constructor works too) and must return a :class:`VecEnv`.

    Raises:
        ConfigError: An unknown id, a task genpo cannot drive (e.g. discrete actions) or a bad option, raised by
            the backend where it checks them (any other exception is a bug of the backend, not bad input).
    """
    if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
        raise ConfigError(f"num_envs must be an integer >= 1, got {num_envs!r}")
    backend, task = parse_env_id(env_id)
    if backend != DOTTED:
        return ENV_BACKENDS.get(backend)(task, num_envs=num_envs, seed=seed, device=device, **options)
    env = load_env_factory(task)(num_envs=num_envs, seed=seed, device=device, **options)
    if not isinstance(env, VecEnv):
        raise PluginError(f"environment factory {task!r} returned a {type(env).__name__}, not a genpo.envs.VecEnv")
    env.env_id = env.env_id or env_id
    return env


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
