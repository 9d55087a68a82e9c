"""Stepping Gymnasium environments in groups: in-process, or in worker processes over shared memory.

Layout: the parent owns one shared byte block holding every per-step array (actions, observations,
final observations, rewards, terminated, truncated) for all N sub-environments. Worker ``k`` steps
the contiguous rows ``[start_k, start_k + count_k)`` serially with numpy and writes its rows in
place; commands and acknowledgements travel over one pipe per worker (a few bytes per step), so the
only per-step copies are the parent's numpy->torch conversions.

This module imports neither torch nor gymnasium at import time: worker processes started with
``spawn`` pay only for what they use.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

import numpy as np

# Thread pools a stepping process must not start: N processes x M threads on 2 cores oversubscribe
# them (measured: throughput fell ~10x).
THREAD_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")
_ALIGN = 64


@dataclass(frozen=True)
class BufferLayout:
    """Shapes and dtypes of the per-step arrays of ``num_envs`` sub-environments.

    Attributes:
        num_envs: Rows of every array.
        observation_dim: Width of observations (stored as float64: exact for any float32/float64/int env).
        action_dim: Width of actions.
        action_dtype: Dtype of the action space, so envs receive exactly what a plain Gymnasium env would.
    """

    num_envs: int
    observation_dim: int
    action_dim: int
    action_dtype: str

    def _blocks(self) -> list[tuple[str, int, np.dtype]]:
        n, o = self.num_envs, self.observation_dim
        return [
            ("action", n * self.action_dim, np.dtype(self.action_dtype)),
            # obs | final_obs | reward back to back: the parent converts them to float32 in one call.
            ("floats", 2 * n * o + n, np.dtype(np.float64)),
            ("flags", 2 * n, np.dtype(np.bool_)),  # terminated | truncated, likewise
        ]

    def nbytes(self) -> int:
        """Size of the shared block."""
        return sum(-(-count * dtype.itemsize // _ALIGN) * _ALIGN for _, count, dtype in self._blocks()) or _ALIGN

    def views(self, buffer: Any) -> dict[str, np.ndarray]:
        """Numpy arrays over ``buffer`` (anything exposing the buffer protocol, ``nbytes()`` long).

        Per-env arrays: ``action [N, A]``, ``obs`` / ``final_obs [N, O]`` (float64), ``reward [N]``,
        ``terminated`` / ``truncated [N]``; whole blocks: ``floats`` (obs, final_obs, reward flattened)
        and ``flags [2, N]``.
        """
        raw = np.frombuffer(buffer, dtype=np.uint8)
        blocks, offset = {}, 0
        for name, count, dtype in self._blocks():
            size = count * dtype.itemsize
            blocks[name] = raw[offset : offset + size].view(dtype)
            offset += -(-size // _ALIGN) * _ALIGN
        n, o = self.num_envs, self.observation_dim
        floats, flags = blocks["floats"], blocks["flags"].reshape(2, n)
        return {
            "action": blocks["action"].reshape(n, self.action_dim),
            "obs": floats[: n * o].reshape(n, o),
            "final_obs": floats[n * o : 2 * n * o].reshape(n, o),
            "reward": floats[2 * n * o :],
            "terminated": flags[0],
            "truncated": flags[1],
            "floats": floats,
            "flags": flags,
        }


PER_ENV = ("action", "obs", "final_obs", "reward", "terminated", "truncated")


def slice_views(views: dict[str, np.ndarray], start: int, stop: int) -> dict[str, np.ndarray]:
    """Rows ``[start, stop)`` of the per-env arrays (views, no copy)."""
    return {name: views[name][start:stop] for name in PER_ENV}


class EnvGroup:
    """``count`` Gymnasium environments stepped serially over preallocated numpy rows.

    Args:
        factory: Builds one environment.
        count: Number of environments.
        buffers: Arrays from :meth:`BufferLayout.views` restricted to this group's rows.
    """

    def __init__(self, factory: Callable[[], Any], count: int, buffers: dict[str, np.ndarray]) -> None:
        self.envs: list[Any] = []
        try:
            for _ in range(count):
                self.envs.append(factory())
        except BaseException:
            self.close()
            raise
        self.buffers = buffers

    def reset(self, seeds: Sequence[int] | None) -> None:
        """Resets every environment (``seeds[i]`` for env i, or unseeded) and writes ``obs``."""
        obs_buf = self.buffers["obs"]
        for i, env in enumerate(self.envs):
            obs, _ = env.reset(seed=None if seeds is None else int(seeds[i]))
            obs_buf[i] = obs
        self.buffers["final_obs"][:] = obs_buf

    def step(self) -> None:
        """Steps every environment with its ``action`` row; auto-resets finished episodes.

        ``final_obs`` receives the observation each env stepped into (for finished episodes, their last
        one); ``obs`` receives the observation to act on next (the reset one where an episode ended).
        """
        b = self.buffers
        act, obs_buf, fin_buf = b["action"], b["obs"], b["final_obs"]
        rew_buf, term_buf, trunc_buf = b["reward"], b["terminated"], b["truncated"]
        for i, env in enumerate(self.envs):
            obs, reward, terminated, truncated, _ = env.step(act[i])
            fin_buf[i] = obs
            rew_buf[i] = reward
            term_buf[i] = terminated
            trunc_buf[i] = truncated
            if terminated or truncated:
                obs, _ = env.reset()
            obs_buf[i] = obs

    def get_state(self) -> list[dict[str, Any]]:
        """The complete state of each environment (see :mod:`genpo.envs._gym_state`), in row order."""
        from genpo.envs import _gym_state

        return [_gym_state.get_state(env) for env in self.envs]

    def set_state(self, states: Sequence[dict[str, Any]], first_index: int = 0) -> None:
        """Restores :meth:`get_state` output, one state per environment.

        Every state is checked before any environment changes, so a ``ValueError`` leaves them as they were.

        Args:
            states: One state per environment, in row order.
            first_index: Sub-environment index of this group's first row (for error messages).
        """
        from genpo.envs import _gym_state

        if len(states) != len(self.envs):
            raise ValueError(f"got {len(states)} environment states for {len(self.envs)} environments")
        for i, (env, state) in enumerate(zip(self.envs, states, strict=True)):
            _gym_state.check_state(_gym_state.signature(env), state, f"sub-environment {first_index + i}")
        for env, state in zip(self.envs, states, strict=True):
            _gym_state.set_state(env, state)

    def close(self) -> None:
        """Closes every environment (errors ignored: this runs on shutdown paths)."""
        for env in self.envs:
            with contextlib.suppress(Exception):
                env.close()
        self.envs = []


@contextlib.contextmanager
def single_threaded_environ() -> Iterator[None]:
    """Sets the thread-count variables to 1 while worker processes start (``spawn`` children copy them)."""
    saved = {k: os.environ.get(k) for k in THREAD_ENV_VARS}
    os.environ.update(dict.fromkeys(THREAD_ENV_VARS, "1"))
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _limit_threads() -> None:
    os.environ.update(dict.fromkeys(THREAD_ENV_VARS, "1"))
    torch = sys.modules.get("torch")  # present after fork, or when spawn imported the package
    if torch is not None:
        with contextlib.suppress(Exception):
            torch.set_num_threads(1)


def worker_main(
    conn: Connection,
    shared: Any,
    layout: BufferLayout,
    start: int,
    count: int,
    factory: Callable[[], Any],
    parent_pid: int,
    inherited: Sequence[Connection] = (),
) -> None:
    """Entry point of a worker process: builds its envs, then serves commands.

    Commands: ``step``, ``reset`` (argument: seeds or ``None``), ``get_state`` (answers the list of
    per-env states), ``set_state`` (argument: that list) and ``close``. Replies ``("ready", None)`` once
    built, ``("ok", payload)`` per command (``None`` but for ``get_state``), ``("error", traceback)`` on
    failure. Exits when told to, when the pipe closes, or when the parent process disappears.
    """
    # Parent ends of pipes inherited through fork: holding them would hide the parent's death (no EOF).
    for c in inherited:
        with contextlib.suppress(Exception):
            c.close()
    # Ctrl-C reaches the whole process group, and a cluster's SIGTERM every process of the job: the parent
    # handles both (finishes its iteration, saves) and then shuts workers down, so they must outlive the signal.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _limit_threads()
    group: EnvGroup | None = None
    try:
        try:
            group = EnvGroup(factory, count, slice_views(layout.views(shared), start, start + count))
        except BaseException:
            conn.send(("error", traceback.format_exc()))
            return
        conn.send(("ready", None))
        while True:
            if not conn.poll(1.0):
                if os.getppid() != parent_pid:  # orphaned: the parent died without closing us
                    return
                continue
            cmd, arg = conn.recv()
            if cmd == "close":
                return
            payload = None
            try:
                if cmd == "step":
                    group.step()
                elif cmd == "reset":
                    group.reset(arg)
                elif cmd == "get_state":
                    payload = group.get_state()
                elif cmd == "set_state":
                    group.set_state(arg, start)
                else:
                    raise ValueError(f"unknown worker command {cmd!r}")
            except Exception:
                conn.send(("error", traceback.format_exc()))
            else:
                conn.send(("ok", payload))
    except (EOFError, OSError, KeyboardInterrupt):
        return
    finally:
        if group is not None:
            group.close()
        with contextlib.suppress(Exception):
            conn.close()


class WorkerError(RuntimeError):
    """A worker process failed, died or stopped answering."""


class WorkerPool:
    """Worker processes, each stepping a contiguous block of sub-environments over shared memory.

    The parent may step the first block itself (``local_count`` envs) while the workers step theirs:
    on few cores this saves one process wake-up per step, and the parent would otherwise sit idle.

    Args:
        factory: Picklable zero-argument callable that builds one environment.
        layout: Shapes of the shared arrays (all N sub-environments).
        counts: Number of environments per worker process.
        local_count: Number of environments (rows ``[0, local_count)``) the parent steps itself.
        start_method: ``"fork"``, ``"spawn"`` or ``"forkserver"``.
        timeout: Seconds to wait for any answer before declaring a worker hung.
        start_timeout: Seconds to wait for the workers to build their environments.
    """

    def __init__(
        self,
        factory: Callable[[], Any],
        layout: BufferLayout,
        counts: Sequence[int],
        *,
        local_count: int = 0,
        start_method: str,
        timeout: float,
        start_timeout: float,
    ) -> None:
        import multiprocessing as mp
        import warnings
        import weakref

        ctx = mp.get_context(start_method)
        self.timeout = timeout
        self.layout = layout
        self.starts = [local_count + sum(counts[:k]) for k in range(len(counts))]
        self.counts = list(counts)
        self.procs: list[Any] = []
        self.conns: list[Connection] = []
        self._pids: list[int] = []
        self._closed = False
        # Anonymous shared mmap: freed with the last process holding it, no /dev/shm name to leak.
        self._shared = ctx.RawArray("b", layout.nbytes())
        self.views = layout.views(self._shared)
        self.local: EnvGroup | None = None
        # The finalizer holds the lists (not self): garbage collection and interpreter exit close the pool.
        self._finalizer = weakref.finalize(self, _shutdown, self.procs, self.conns)
        try:
            with single_threaded_environ(), warnings.catch_warnings():
                # Python >= 3.12 warns about fork in a multi-threaded process; children only run numpy/MuJoCo.
                warnings.filterwarnings("ignore", message=".*use of fork\\(\\) may lead to deadlocks.*")
                for k, (start, count) in enumerate(zip(self.starts, self.counts, strict=True)):
                    parent_conn, child_conn = ctx.Pipe(duplex=True)
                    self.conns.append(parent_conn)
                    inherited = list(self.conns) if start_method == "fork" else []
                    proc = ctx.Process(
                        target=worker_main,
                        args=(child_conn, self._shared, layout, start, count, factory, os.getpid(), inherited),
                        name=f"genpo-env-worker-{k}",
                        daemon=True,
                    )
                    proc.start()
                    child_conn.close()
                    self.procs.append(proc)
                    self._pids.append(proc.pid)
            if local_count:
                # Built after the fork: children should not inherit the parent's simulators.
                self.local = EnvGroup(factory, local_count, slice_views(self.views, 0, local_count))
            self._gather(range(len(self.procs)), "ready", "starting", start_timeout)
        except BaseException:
            self.close()
            raise

    @property
    def pids(self) -> list[int]:
        """Process ids of the workers (kept after they exit)."""
        return list(self._pids)

    def step(self) -> None:
        """Steps every environment with the ``action`` rows already written to shared memory."""
        self._command("step", [None] * len(self.procs), "stepping", self.local and self.local.step)

    def reset(self, seeds: Sequence[int] | None) -> None:
        """Resets every environment; ``seeds`` holds one seed per sub-environment (or ``None``)."""
        args = [
            None if seeds is None else list(seeds[s : s + c]) for s, c in zip(self.starts, self.counts, strict=True)
        ]
        local = self.local
        local_fn = None if local is None else lambda: local.reset(None if seeds is None else seeds[: len(local.envs)])
        self._command("reset", args, "resetting", local_fn)

    def get_state(self) -> list[dict[str, Any]]:
        """The complete state of every environment, in sub-environment order (the parent's block first)."""
        local = self.local
        local_states: list[dict[str, Any]] = []
        local_fn = None if local is None else lambda: local_states.extend(local.get_state())
        payloads = self._command("get_state", [None] * len(self.procs), "saving state", local_fn)
        return local_states + [state for block in payloads for state in block]

    def set_state(self, states: Sequence[dict[str, Any]]) -> None:
        """Restores :meth:`get_state` output (one state per sub-environment, already checked by the caller)."""
        args = [list(states[s : s + c]) for s, c in zip(self.starts, self.counts, strict=True)]
        local = self.local
        local_fn = None if local is None else lambda: local.set_state(states[: len(local.envs)])
        self._command("set_state", args, "restoring state", local_fn)

    def _command(self, cmd: str, args: Sequence[Any], what: str, local_fn: Callable[[], None] | None) -> list[Any]:
        """Sends ``cmd`` to every worker, runs ``local_fn`` meanwhile, and returns the workers' payloads."""
        if self._closed:
            raise RuntimeError("the environment worker pool is closed")
        try:
            for k, (conn, arg) in enumerate(zip(self.conns, args, strict=True)):
                try:
                    conn.send((cmd, arg))
                except OSError:  # broken pipe: the worker is gone
                    raise self._died(k, what) from None
            if local_fn is not None:
                local_fn()  # the parent's own block, while the workers step theirs
            payloads = self._gather(range(len(self.procs)), "ok", what, self.timeout)
        except BaseException:
            # A half-finished command leaves workers out of step with the parent: never reuse them.
            self.close()
            raise
        return [payloads[k] for k in range(len(self.procs))]

    def _gather(self, indices: Any, expected: str, what: str, timeout: float) -> dict[int, Any]:
        """Waits for one ``expected`` answer from each worker in ``indices``; returns their payloads by index."""
        pending = {self.conns[k]: k for k in indices}
        payloads: dict[int, Any] = {}
        sentinels = {self.procs[k].sentinel: k for k in indices}
        deadline = time.monotonic() + timeout
        errors: list[str] = []
        while pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                ks = sorted(pending.values())
                raise WorkerError(
                    f"environment worker(s) {ks} did not answer within {timeout:g} s while {what} "
                    f"(pids {[self._pids[k] for k in ks]}); raise the `timeout` option if steps are this slow"
                )
            ready = wait(list(pending) + [s for s, k in sentinels.items() if self.conns[k] in pending], remaining)
            for obj in ready:
                if obj in pending:
                    k = pending[obj]
                    try:
                        status, payload = obj.recv()
                    except (EOFError, OSError):
                        raise self._died(k, what) from None
                    del pending[obj]
                    payloads[k] = payload
                    if status == "error":
                        errors.append(f"environment worker {k} failed while {what}:\n{payload}")
                    elif status != expected:
                        errors.append(f"environment worker {k} answered {status!r} while {what}")
            for obj in ready:
                k = sentinels.get(obj)
                if k is not None and self.conns[k] in pending:
                    raise self._died(k, what)
        if errors:
            raise WorkerError("\n".join(errors))
        return payloads

    def _died(self, k: int, what: str) -> WorkerError:
        proc = self.procs[k]
        proc.join(1.0)
        code = proc.exitcode
        how = f"was killed by signal {-code}" if code is not None and code < 0 else f"exited with code {code}"
        return WorkerError(f"environment worker {k} (pid {self._pids[k]}) {how} while {what}")

    def close(self) -> None:
        """Stops the workers (politely, then by signal) and reaps them; safe to call more than once."""
        self._closed = True
        self._finalizer()
        if self.local is not None:
            self.local.close()
            self.local = None


def _shutdown(procs: list[Any], conns: list[Connection], grace: float = 1.0) -> None:
    for conn in conns:
        with contextlib.suppress(Exception):
            conn.send(("close", None))
    deadline = time.monotonic() + grace
    for proc in procs:
        with contextlib.suppress(Exception):
            proc.join(max(0.0, deadline - time.monotonic()))
    for proc in procs:
        with contextlib.suppress(Exception):
            if proc.is_alive():
                proc.terminate()
                proc.join(1.0)
            if proc.is_alive():
                proc.kill()
                proc.join(1.0)
    for conn in conns:
        with contextlib.suppress(Exception):
            conn.close()
    for proc in procs:
        with contextlib.suppress(Exception):
            proc.close()  # releases the sentinel fd; only valid once the process has exited
