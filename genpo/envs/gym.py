"""The Gymnasium backend (ids ``gym:<Task>`` or bare ``<Task>``): continuous-control tasks as a :class:`VecEnv`.

Sub-environments are stepped serially with numpy, either all in this process (``workers`` 0 or 1) or split
over W processes: this one plus W - 1 workers sharing one memory block with it (see :mod:`genpo.envs._workers`).
numpy -> torch conversion happens once per step, in the parent.

Semantics on top of Gymnasium's:

* sub-env i is seeded with ``seed + i`` at the first reset, whatever the number of workers, so a run is
  reproducible across ``workers`` settings;
* finished episodes reset inside :meth:`GymVecEnv.step`; ``extras["final_observation"]`` holds, in every
  row, the observation the step produced before any reset (the last one of a finished episode), so
  truncated episodes can be bootstrapped;
* actions are clipped to the Box bounds (on a copy) and handed to Gymnasium in the action space's dtype;
* observations and rewards are converted to float32 without any filtering: non-finite values reach the
  caller as they are.

Options (passed through :func:`genpo.envs.make_env`): ``workers`` (int or ``"auto"``), ``parent_steps``,
``max_episode_steps`` (overrides the registered time limit), ``env_kwargs`` (dict for the env constructor;
any other unknown keyword is forwarded there too), ``start_method`` (multiprocessing start method, default
``"fork"`` on Linux) and ``timeout`` (seconds before a silent worker counts as hung).
"""

from __future__ import annotations

import difflib
import importlib
import os
import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from genpo.envs._workers import BufferLayout, EnvGroup, WorkerPool, slice_views
from genpo.envs.base import EpisodeTracker, StepResult, VecEnv

_NUMPY_TO_TORCH = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}


def _gymnasium() -> Any:
    try:
        import gymnasium
    except ImportError as e:  # pragma: no cover - depends on the installation
        raise ImportError("the Gymnasium backend needs gymnasium; install it with `pip install 'genpo[mujoco]'`") from e
    return gymnasium


def resolve_task(task: str) -> str:
    """Checks that ``task`` is a registered Gymnasium id (``"module:Id"`` imports ``module`` first).

    Raises:
        ValueError: The id is unknown (the message suggests close registered ids) or its module fails to import.
    """
    gym = _gymnasium()
    module, sep, name = task.rpartition(":")
    if sep:
        try:
            importlib.import_module(module)
        except ImportError as e:
            raise ValueError(f"cannot import module {module!r} named by Gymnasium id {task!r}: {e}") from None
    if name in gym.registry:
        return task
    ids = list(gym.registry)
    by_lower: dict[str, str] = {}
    for i in ids:
        by_lower.setdefault(i.lower(), i)
    close = [by_lower[m] for m in difflib.get_close_matches(name.lower(), list(by_lower), n=5, cutoff=0.6)]
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(
        f"unknown Gymnasium environment {name!r}{hint} "
        f"(ids are case-sensitive and versioned, e.g. 'HalfCheetah-v5'; {len(ids)} ids registered)"
    )


@dataclass
class GymFactory:
    """Picklable recipe for one Gymnasium environment (what each worker process calls).

    Attributes:
        task: Registered id, possibly ``"module:Id"``.
        max_episode_steps: Time limit override, or ``None`` for the registered one.
        kwargs: Keyword arguments of the environment constructor.
    """

    task: str
    max_episode_steps: int | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)

    def __call__(self) -> Any:
        gym = _gymnasium()
        # The passive checker only re-validates the first calls and costs a wrapper layer per step.
        return gym.make(self.task, max_episode_steps=self.max_episode_steps, disable_env_checker=True, **self.kwargs)


def _make_probe(factory: GymFactory) -> Any:
    gym = _gymnasium()
    try:
        return factory()
    except TypeError as e:
        raise ValueError(f"gym:{factory.task} rejected the options {sorted(factory.kwargs)}: {e}") from None
    except (gym.error.Error, ImportError) as e:
        raise ValueError(f"cannot create gym:{factory.task}: {e}") from None


def _box_dim(space: Any, what: str, task: str) -> int:
    from gymnasium import spaces

    if what == "action" and not isinstance(space, spaces.Box):
        raise ValueError(
            f"gym:{task} has action space {space}; genpo's flow policies need continuous actions "
            "(a gymnasium.spaces.Box of shape (action_dim,))"
        )
    if what == "observation" and not isinstance(space, spaces.Box):
        raise ValueError(
            f"gym:{task} has observation space {space}; only flat Box observations are supported "
            "(wrap the env, e.g. with gymnasium.wrappers.FlattenObservation, and register the wrapped id)"
        )
    if len(space.shape) != 1:
        raise ValueError(f"gym:{task} has a {what} space of shape {space.shape}; only flat (1-D) Boxes are supported")
    return int(space.shape[0])


def usable_cpus() -> int:
    """CPUs this process may run on (affinity-aware)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - non-Linux
        return os.cpu_count() or 1


def auto_workers(num_envs: int, cpus: int | None = None, load: float | None = None) -> int:
    """The ``workers="auto"`` rule (measurements in docs/benchmarks.md, "Environment stepping (Gymnasium)").

    A second process pays off only on a core nobody else uses: each step then costs a process wake-up
    instead of stepping half the envs serially. On this project's shared 2-core machine (load >= 1)
    workers measured 5-25% slower than stepping in-process, every time. So: one process per free core
    (usable CPUs minus the 1-minute load average, rounded), at least 4 envs per process, and in-process
    below 2 processes. Trajectories do not depend on the choice (sub-env i is seeded ``seed + i``).

    Args:
        num_envs: Number of sub-environments.
        cpus: Usable CPUs (default: this process's affinity).
        load: 1-minute load average (default: the system's).
    """
    cpus = usable_cpus() if cpus is None else cpus
    if load is None:
        try:
            load = os.getloadavg()[0]
        except (AttributeError, OSError):  # pragma: no cover - Windows
            load = 0.0
    free = round(cpus - load)
    w = min(cpus, free, num_envs // 4)
    return w if w >= 2 else 0


def _default_start_method() -> str:
    # fork starts workers in milliseconds without re-importing torch; spawn elsewhere (macOS, Windows).
    return "fork" if sys.platform.startswith("linux") else "spawn"


class GymVecEnv(VecEnv):
    """N Gymnasium environments behind the batched torch interface of :class:`~genpo.envs.base.VecEnv`.

    Args:
        task: Registered Gymnasium id (e.g. ``"HalfCheetah-v5"``).
        num_envs: Number of sub-environments N.
        seed: Seed of the first reset (sub-env i gets ``seed + i``); ``None`` seeds from OS entropy.
        device: Where returned tensors live.
        workers: Processes stepping the envs in parallel, this one included when ``parent_steps``:
            0 or 1 step everything in this process, W >= 2 splits the envs into W near-equal contiguous
            blocks; ``"auto"`` picks by :func:`auto_workers`. Capped at N.
        max_episode_steps: Overrides the registered time limit.
        env_kwargs: Keyword arguments of the environment constructor.
        start_method: Multiprocessing start method for workers (default ``"fork"`` on Linux, else ``"spawn"``).
        timeout: Seconds a worker may stay silent during a step or reset before it counts as hung.
        parent_steps: This process steps the first block itself while W - 1 worker processes step the
            others (default: saves a process wake-up per step). ``False``: W worker processes.
        **kwargs: Further constructor keyword arguments (merged into ``env_kwargs``).

    Raises:
        ValueError: Unknown id, unsupported spaces or bad options.
    """

    def __init__(
        self,
        task: str,
        num_envs: int = 1,
        *,
        seed: int | None = None,
        device: str | torch.device = "cpu",
        workers: int | str = "auto",
        max_episode_steps: int | None = None,
        env_kwargs: dict[str, Any] | None = None,
        start_method: str | None = None,
        timeout: float = 60.0,
        parent_steps: bool = True,
        **kwargs: Any,
    ) -> None:
        self._backend: EnvGroup | WorkerPool | None = None
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"num_envs must be an integer >= 1, got {num_envs!r}")
        _check_seed(seed)
        if max_episode_steps is not None and (
            isinstance(max_episode_steps, bool) or not isinstance(max_episode_steps, int) or max_episode_steps < 1
        ):
            raise ValueError(f"max_episode_steps must be an integer >= 1 or None, got {max_episode_steps!r}")
        if workers == "auto":
            workers = auto_workers(num_envs)
        elif isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
            raise ValueError(f"workers must be an integer >= 0 or 'auto', got {workers!r}")
        workers = min(workers, num_envs)
        if not (isinstance(timeout, (int, float)) and timeout > 0):
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        start_method = start_method or _default_start_method()
        import multiprocessing as mp

        if start_method not in mp.get_all_start_methods():
            raise ValueError(f"start_method {start_method!r} is not one of {mp.get_all_start_methods()}")

        task = resolve_task(task)
        factory = GymFactory(task, max_episode_steps, {**(env_kwargs or {}), **kwargs})
        probe = _make_probe(factory)
        try:
            self.observation_dim = _box_dim(probe.observation_space, "observation", task)
            self.action_dim = _box_dim(probe.action_space, "action", task)
            space = probe.action_space
            spec = probe.spec
        finally:
            probe.close()

        self.env_id = f"gym:{task}"
        self.task = task
        self.num_envs = num_envs
        self.device = torch.device(device)
        self.max_episode_length = None if spec is None else spec.max_episode_steps
        self.workers = workers
        self.start_method = start_method
        self._seed = seed
        self._started = False
        self._tracker = EpisodeTracker(num_envs)

        # Actions reach Gymnasium in the space's dtype (rewards' control costs are computed in it).
        act_dtype = np.dtype(space.dtype) if np.dtype(space.dtype) in _NUMPY_TO_TORCH else np.dtype(np.float64)
        self._act_dtype = act_dtype
        low = np.asarray(space.low, dtype=act_dtype)
        high = np.asarray(space.high, dtype=act_dtype)
        self._bounded = bool(np.isfinite(low).any() or np.isfinite(high).any())
        self._low, self._high = low, high
        self.action_low = torch.as_tensor(low, dtype=torch.float32, device=self.device) if self._bounded else None
        self.action_high = torch.as_tensor(high, dtype=torch.float32, device=self.device) if self._bounded else None

        layout = BufferLayout(num_envs, self.observation_dim, self.action_dim, act_dtype.str)
        if workers == 0 or (workers == 1 and parent_steps):
            self._buffers = layout.views(np.zeros(layout.nbytes(), dtype=np.uint8))
            self._backend = EnvGroup(factory, num_envs, slice_views(self._buffers, 0, num_envs))
        else:
            counts = [num_envs // workers + (k < num_envs % workers) for k in range(workers)]
            local = counts.pop(0) if parent_steps else 0
            pool = WorkerPool(
                factory,
                layout,
                counts,
                local_count=local,
                start_method=start_method,
                timeout=float(timeout),
                start_timeout=max(float(timeout), 120.0),
            )
            self._backend = pool
            self._buffers = pool.views

    @property
    def worker_pids(self) -> list[int]:
        """Process ids of the worker processes (empty when stepping in-process)."""
        return self._backend.pids if isinstance(self._backend, WorkerPool) else []

    def _check_open(self) -> EnvGroup | WorkerPool:
        if self._backend is None:
            raise RuntimeError(f"{self.env_id} is closed")
        return self._backend

    def _to_device(self, array: np.ndarray, dtype: torch.dtype) -> Tensor:
        # copy=True: the shared buffers are overwritten by the next step.
        return torch.from_numpy(array).to(device=self.device, dtype=dtype, copy=True)

    def reset(self, seed: int | None = None) -> tuple[Tensor, dict[str, Any]]:
        """Resets every sub-environment.

        Args:
            seed: Sub-env i is reset with ``seed + i``. ``None`` uses the constructor's seed on the first
                reset and continues each sub-env's random stream afterwards.

        Returns:
            ``(obs [N, observation_dim] float32, {})``.
        """
        backend = self._check_open()
        _check_seed(seed)
        if seed is None and not self._started:
            seed = self._seed
        seeds = None if seed is None else [seed + i for i in range(self.num_envs)]
        backend.reset(seeds)
        self._started = True
        self._tracker = EpisodeTracker(self.num_envs)
        return self._to_device(self._buffers["obs"], torch.float32), {}

    def step(self, action: Tensor) -> StepResult:
        """Steps all sub-environments once (resetting finished ones); see the module docstring.

        Args:
            action: ``[N, action_dim]`` tensor (any device / float dtype); clipped to the bounds on a copy.

        Returns:
            ``(obs, reward, terminated, truncated, extras)`` with ``extras["final_observation"]`` and
            ``extras["episode"]``.
        """
        backend = self._check_open()
        if not self._started:
            self.reset()
        action = torch.as_tensor(action)
        if action.shape != (self.num_envs, self.action_dim):
            expected = (self.num_envs, self.action_dim)
            raise ValueError(f"{self.env_id} expects actions of shape {expected}, got {tuple(action.shape)}")
        act = action.detach().to(device="cpu", dtype=_NUMPY_TO_TORCH[self._act_dtype]).numpy()
        if self._bounded:
            np.clip(act, self._low, self._high, out=self._buffers["action"])
        else:
            self._buffers["action"][:] = act
        backend.step()

        b = self._buffers
        n, o = self.num_envs, self.observation_dim
        floats = self._to_device(b["floats"], torch.float32)  # obs | final_obs | reward in one conversion
        flags = self._to_device(b["flags"], torch.bool)
        obs, final_obs, reward = floats[: n * o].view(n, o), floats[n * o : 2 * n * o].view(n, o), floats[2 * n * o :]
        terminated, truncated = flags[0], flags[1]
        # Episode sums in float64 from the raw rewards, on the CPU (float64 is not on every device).
        done = torch.from_numpy(b["terminated"] | b["truncated"])
        stats = self._tracker.update(torch.from_numpy(b["reward"]), done)
        extras = {
            "final_observation": final_obs,
            "episode": {k: v.to(self.device) for k, v in stats.items()},
        }
        return obs, reward, terminated, truncated, extras

    def close(self) -> None:
        """Closes the environments and stops the worker processes (idempotent)."""
        backend, self._backend = self._backend, None
        if backend is not None:
            backend.close()

    def __del__(self) -> None:
        # The pool also has its own finalizer; this closes in-process envs promptly.
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        return (
            f"GymVecEnv({self.task!r}, num_envs={self.num_envs}, workers={self.workers}, "
            f"device={str(self.device)!r}, observation_dim={self.observation_dim}, action_dim={self.action_dim})"
        )


def _check_seed(seed: Any) -> None:
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
        raise ValueError(f"seed must be a non-negative integer or None, got {seed!r}")


def make_gym_env(
    task: str, num_envs: int = 1, *, seed: int | None = None, device: str = "cpu", **options: Any
) -> GymVecEnv:
    """Backend factory registered as ``"gym"``: see :class:`GymVecEnv` for the options."""
    return GymVecEnv(task, num_envs, seed=seed, device=device, **options)
