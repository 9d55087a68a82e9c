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

Exact resume: :meth:`GymVecEnv.state_dict` captures every sub-environment (MuJoCo simulation state, random
generator, wrapper counters), the episode sums and the current observations, for Gymnasium's MuJoCo tasks
and the continuous classic-control ones (Pendulum, MountainCarContinuous); :meth:`GymVecEnv.load_state_dict`
continues bit-identically, whatever the ``workers`` setting on either side. For other tasks
:meth:`GymVecEnv.state_unsupported` says why, and both raise :class:`~genpo.envs.base.StateUnsupported`.

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

from genpo.envs import _gym_state
from genpo.envs._workers import BufferLayout, EnvGroup, WorkerPool, slice_views
from genpo.envs.base import EpisodeTracker, StateUnsupported, StepResult, VecEnv
from genpo.errors import ConfigError

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
        ConfigError: The id is unknown (the message suggests close registered ids) or its module fails to import.
    """
    gym = _gymnasium()
    module, sep, name = task.rpartition(":")
    if sep:
        try:
            importlib.import_module(module)
        except ImportError as e:
            raise ConfigError(f"cannot import module {module!r} named by Gymnasium id {task!r}: {e}") from None
    if name in gym.registry:
        return task
    ids = list(gym.registry)
    by_lower: dict[str, str] = {}
    for i in ids:
        by_lower.setdefault(i.lower(), i)
    close = [by_lower[m] for m in difflib.get_close_matches(name.lower(), list(by_lower), n=5, cutoff=0.6)]
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise ConfigError(
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
    # The first construction of a validated, registered id: here Gymnasium's errors can only come from what the
    # user gave (constructor keywords it rejects with TypeError, an id or dependency it cannot make), so they are
    # translated to ConfigError at this call and nowhere else.
    try:
        return factory()
    except TypeError as e:
        raise ConfigError(f"gym:{factory.task} rejected the options {sorted(factory.kwargs)}: {e}") from None
    except (gym.error.Error, ImportError) as e:
        raise ConfigError(f"cannot create gym:{factory.task}: {e}") from None


def _box_dim(space: Any, what: str, task: str) -> int:
    from gymnasium import spaces

    if what == "action" and not isinstance(space, spaces.Box):
        raise ConfigError(
            f"gym:{task} has action space {space}; genpo's flow policies need continuous actions "
            "(a gymnasium.spaces.Box of shape (action_dim,))"
        )
    if what == "observation" and not isinstance(space, spaces.Box):
        raise ConfigError(
            f"gym:{task} has observation space {space}; only flat Box observations are supported "
            "(wrap the env, e.g. with gymnasium.wrappers.FlattenObservation, and register the wrapped id)"
        )
    if len(space.shape) != 1:
        raise ConfigError(f"gym:{task} has a {what} space of shape {space.shape}; only flat (1-D) Boxes are supported")
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
        ConfigError: Unknown id, unsupported spaces or bad options.
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
            raise ConfigError(f"num_envs must be an integer >= 1, got {num_envs!r}")
        _check_seed(seed)
        if max_episode_steps is not None and (
            isinstance(max_episode_steps, bool) or not isinstance(max_episode_steps, int) or max_episode_steps < 1
        ):
            raise ConfigError(f"max_episode_steps must be an integer >= 1 or None, got {max_episode_steps!r}")
        if workers == "auto":
            workers = auto_workers(num_envs)
        elif isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
            raise ConfigError(f"workers must be an integer >= 0 or 'auto', got {workers!r}")
        workers = min(workers, num_envs)
        if not (isinstance(timeout, (int, float)) and timeout > 0):
            raise ConfigError(f"timeout must be a positive number of seconds, got {timeout!r}")
        start_method = start_method or _default_start_method()
        import multiprocessing as mp

        if start_method not in mp.get_all_start_methods():
            raise ConfigError(f"start_method {start_method!r} is not one of {mp.get_all_start_methods()}")

        task = resolve_task(task)
        factory = GymFactory(task, max_episode_steps, {**(env_kwargs or {}), **kwargs})
        probe = _make_probe(factory)
        try:
            self.observation_dim = _box_dim(probe.observation_space, "observation", task)
            self.action_dim = _box_dim(probe.action_space, "action", task)
            space = probe.action_space
            spec = probe.spec
            unsupported = _gym_state.unsupported_reason(probe)
            state_signature = None if unsupported else _gym_state.signature(probe)
        finally:
            probe.close()

        self.env_id = f"gym:{task}"
        self.task = task
        self.gym_spec = spec  # the Gymnasium EnvSpec of one sub-environment (what a Minari dataset records)
        self.num_envs = num_envs
        self.device = torch.device(device)
        self.max_episode_length = None if spec is None else spec.max_episode_steps
        self.workers = workers
        self.start_method = start_method
        self._seed = seed
        self._started = False
        self._tracker = EpisodeTracker(num_envs)
        self._state_unsupported = unsupported
        self._state_signature = state_signature

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

    def state_unsupported(self) -> str | None:
        """Why this task's state cannot be saved (not a MuJoCo or supported classic-control task, or an unknown
        wrapper), or ``None``."""
        return self._state_unsupported

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue stepping bit-identically (see :meth:`load_state_dict`).

        Per sub-environment (see :mod:`genpo.envs._gym_state`): the MuJoCo simulation state and the quantities
        it computed on the last step, or a classic-control task's state attributes; the random generator;
        the wrappers' counters. Plus the episode returns and lengths so far, the current observations and
        whether the first reset happened. Arrays of the same shape are stacked over sub-environments.

        Returns:
            A dict of tensors, ints, floats, strs, bools, ``None``, lists and dicts (``torch.load``-able with
            ``weights_only=True``).

        Raises:
            StateUnsupported: The task's complete state is unknown (:meth:`state_unsupported`).
        """
        backend = self._check_open()
        if self._state_unsupported is not None:
            raise StateUnsupported(f"{self.env_id} cannot save its state for exact resume: {self._state_unsupported}")
        return {
            "format": _STATE_FORMAT,
            "env_id": self.env_id,
            "num_envs": self.num_envs,
            "observation_dim": self.observation_dim,
            "max_episode_steps": self.max_episode_length,
            "started": self._started,
            "obs": torch.from_numpy(self._buffers["obs"].copy()),
            "episode_returns": self._tracker.returns.clone(),
            "episode_lengths": self._tracker.lengths.clone(),
            "envs": _stack_states(backend.get_state()),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores :meth:`state_dict` output: the next :meth:`step` continues exactly where it was saved.

        The state may come from a :class:`GymVecEnv` with another ``workers`` setting or device.

        Args:
            state: Output of :meth:`state_dict` on the same task with the same number of sub-environments.

        Raises:
            ConfigError: The state belongs to another task, number of sub-environments or time limit, or is
                malformed; nothing is changed then.
            StateUnsupported: This task cannot restore states (:meth:`state_unsupported`).
        """
        backend = self._check_open()
        if self._state_unsupported is not None:
            raise StateUnsupported(f"{self.env_id} cannot restore a saved state: {self._state_unsupported}")
        states = self._check_state(state)
        backend.set_state(states)
        self._buffers["obs"][:] = state["obs"].detach().cpu().numpy()
        self._buffers["final_obs"][:] = self._buffers["obs"]
        tracker = EpisodeTracker(self.num_envs)
        tracker.returns.copy_(state["episode_returns"])
        tracker.lengths.copy_(state["episode_lengths"])
        self._tracker = tracker
        self._started = bool(state["started"])

    def _check_state(self, state: Any) -> list[dict[str, Any]]:
        """Validates a :meth:`state_dict` for this env; returns its per-sub-environment states (numpy)."""
        prefix = f"cannot load this state into {self.env_id} with {self.num_envs} sub-environments"
        if not isinstance(state, dict) or state.get("format") != _STATE_FORMAT:
            got = state.get("format") if isinstance(state, dict) else type(state).__name__
            raise ConfigError(
                f"{prefix}: not a Gymnasium environment state (format {got!r}, expected {_STATE_FORMAT!r})"
            )
        if state.get("env_id") != self.env_id:
            raise ConfigError(f"{prefix}: it was saved from {state.get('env_id')!r}")
        if state.get("num_envs") != self.num_envs:
            raise ConfigError(f"{prefix}: it holds {state.get('num_envs')!r} sub-environments")
        if state.get("max_episode_steps") != self.max_episode_length:
            raise ConfigError(
                f"{prefix}: it was saved with a time limit of {state.get('max_episode_steps')!r} steps, "
                f"this env has {self.max_episode_length!r}"
            )
        n, o = self.num_envs, self.observation_dim
        for key, shape, dtype in (
            ("obs", (n, o), torch.float64),
            ("episode_returns", (n,), torch.float64),
            ("episode_lengths", (n,), torch.long),
        ):
            value = state.get(key)
            if not isinstance(value, Tensor) or tuple(value.shape) != shape or value.dtype != dtype:
                raise ConfigError(f"{prefix}: {key!r} must be a {dtype} tensor of shape {shape}")
        try:
            states = _unstack_states(state.get("envs"), n)
        except (TypeError, ValueError, KeyError, IndexError) as e:
            raise ConfigError(f"{prefix}: malformed sub-environment states ({e})") from None
        assert self._state_signature is not None
        for i, s in enumerate(states):
            _gym_state.check_state(self._state_signature, s, f"{prefix}: sub-environment {i}")
        return states

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


_STATE_FORMAT = "genpo.gym/1"


def _stack_states(states: list[Any]) -> Any:
    """Per-sub-environment states (numpy) as one weights_only-safe tree.

    Dicts with the same keys in every sub-environment become a dict of stacked entries; arrays of one shape
    and dtype become one tensor ``[N, ...]``; anything else becomes the list of per-env values (arrays as
    tensors). :func:`_unstack_states` inverts it.
    """
    first = states[0]
    if isinstance(first, dict) and all(isinstance(s, dict) and s.keys() == first.keys() for s in states):
        return {k: _stack_states([s[k] for s in states]) for k in first}
    if isinstance(first, np.ndarray) and all(
        isinstance(s, np.ndarray) and s.shape == first.shape and s.dtype == first.dtype for s in states
    ):
        return torch.from_numpy(np.stack(states))
    return [_to_torch(s) for s in states]


def _unstack_states(tree: Any, n: int) -> list[Any]:
    """Inverse of :func:`_stack_states`: ``n`` per-sub-environment states with numpy arrays."""
    if isinstance(tree, dict):
        columns = {k: _unstack_states(v, n) for k, v in tree.items()}
        return [{k: col[i] for k, col in columns.items()} for i in range(n)]
    if isinstance(tree, Tensor):
        if tree.dim() == 0 or tree.shape[0] != n:
            raise ValueError(f"a stacked entry of shape {tuple(tree.shape)} for {n} sub-environments")
        array = tree.detach().cpu().numpy()
        return [array[i, ...].copy() for i in range(n)]  # `...`: 0-d rows stay arrays
    if isinstance(tree, list):
        if len(tree) != n:
            raise ValueError(f"a list of {len(tree)} entries for {n} sub-environments")
        return [_to_numpy(v) for v in tree]
    raise TypeError(f"unexpected {type(tree).__name__} in the sub-environment states")


def _to_torch(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value.copy())
    if isinstance(value, dict):
        return {k: _to_torch(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_torch(v) for v in value)
    return value


def _to_numpy(value: Any) -> Any:
    if isinstance(value, Tensor):
        return value.detach().cpu().numpy().copy()
    if isinstance(value, dict):
        return {k: _to_numpy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_numpy(v) for v in value)
    return value


def _check_seed(seed: Any) -> None:
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
        raise ConfigError(f"seed must be a non-negative integer or None, got {seed!r}")


def make_gym_env(
    task: str, num_envs: int = 1, *, seed: int | None = None, device: str = "cpu", **options: Any
) -> GymVecEnv:
    """Backend factory registered as ``"gym"``: see :class:`GymVecEnv` for the options."""
    return GymVecEnv(task, num_envs, seed=seed, device=device, **options)
