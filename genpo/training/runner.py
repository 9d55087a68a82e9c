"""The training loop: it steps the environment through the algorithm (``algo.name``), logs, checkpoints and resumes.

What happens in each environment step, the returns and the update belong to the algorithm
(:mod:`genpo.training.algorithm`); the :class:`Trainer` only orchestrates.
"""

from __future__ import annotations

import random
import re
import signal
import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from torch import Tensor

from genpo.console import make_console
from genpo.envs import VecEnv, make_env, parse_env_id
from genpo.errors import ConfigError, DiskError, GenpoError, RunFailed
from genpo.inversion.base import InversionError
from genpo.training.actor_critic import ActorCritic
from genpo.training.algorithm import make_algorithm
from genpo.training.checkpoint import CheckpointError, estimate_checkpoint_bytes, load_checkpoint, save_checkpoint
from genpo.training.config import TrainConfig, build_actor, save_yaml
from genpo.training.distributed import DistInfo, broadcast_module
from genpo.training.files import check_free_space, exists, file_size_limit, format_bytes
from genpo.training.interrupt import Interrupted, StopSignals, signal_name
from genpo.training.logger import RunLogger
from genpo.training.ppo import NonFiniteError, check_finite


def env_folder_name(env_id: str) -> str:
    """The run-folder name of an environment id (``gym:HalfCheetah-v5`` -> ``HalfCheetah-v5``)."""
    _, task = parse_env_id(env_id)
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", task)


def make_run_dir(cfg: TrainConfig) -> Path:
    """``<logdir>/genpo/<env>/<YYYY-MM-DD_HH-MM-SS>[_<run_name>]`` (not created here)."""
    stamp = datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    name = f"{stamp}_{cfg.run.run_name}" if cfg.run.run_name else stamp
    base = Path(cfg.run.logdir) / "genpo" / env_folder_name(cfg.env.id) / name
    path, i = base, 1
    while exists(path):  # two runs in the same second
        path = base.with_name(f"{base.name}-{i}")
        i += 1
    return path


def seed_everything(seed: int) -> None:
    """Seeds Python, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    """RNG states as tensors and plain types (loadable with ``weights_only=True``)."""
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy_keys": torch.from_numpy(np_state[1].astype(np.int64)),
        "numpy_pos": int(np_state[2]),
        "python": list(random.getstate()[1]),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Inverse of :func:`rng_state`."""
    torch.set_rng_state(state["torch"])
    np.random.set_state(("MT19937", state["numpy_keys"].numpy().astype(np.uint32), state["numpy_pos"], 0, 0.0))
    random.setstate((3, tuple(state["python"]), None))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


@dataclass
class TrainResult:
    """What a finished run reports.

    Attributes:
        run_dir: The run folder (None on non-zero ranks).
        iterations: Iterations done in total (including resumed ones).
        env_steps: Env steps done in this invocation, all ranks.
        mean_return: Mean return of the last 100 finished episodes (this rank), if any.
        wall_time: Seconds spent in this invocation.
        history: Per-iteration ``(global_step, wall_time, mean_return)`` rows.
        config: The configuration the run used.
        rank: This process's rank (0 outside a distributed job).
        world_size: Processes in the job.
        parameter_checksum: A hash of the final parameters (distributed jobs, so ranks can be compared).
    """

    run_dir: Path | None
    iterations: int
    env_steps: int
    mean_return: float | None
    wall_time: float
    history: list[tuple[int, float, float | None]] = field(default_factory=list)
    config: TrainConfig | None = None
    rank: int = 0
    world_size: int = 1
    parameter_checksum: str | None = None


class EnvFailed(RunFailed):
    """The environment's own code raised during a run."""


def env_call(env: VecEnv, method: str, iteration: int, *args: Any, **kwargs: Any) -> Any:
    """Calls ``env.<method>``; an exception from the environment's own code says which env, call and iteration.

    Raises:
        EnvFailed: Wrapping the environment's exception (kept as ``__cause__`` for debugging).
    """
    try:
        return getattr(env, method)(*args, **kwargs)
    except GenpoError:
        raise
    except Exception as exc:
        frames = traceback.extract_tb(exc.__traceback__)
        where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
        env_id = getattr(env, "env_id", type(env).__name__)
        raise EnvFailed(
            f"environment {env_id} raised {type(exc).__name__} in {method}() during iteration {iteration}{where}: {exc}"
        ) from exc


class RolloutInfo:
    """What one rollout saw, kept as tensors on the device and read on the host once per iteration.

    Args:
        device: Device of the rollout.
    """

    def __init__(self, device: torch.device) -> None:
        self.finite = {name: torch.ones((), dtype=torch.bool, device=device) for name in ("observation", "reward")}
        self._returns: list[Tensor] = []
        self._lengths: list[Tensor] = []
        self._logs: dict[str, Tensor | float] = {}
        self.returns: list[float] = []
        self.lengths: list[float] = []
        self.last_obs_n: Tensor | None = None

    def watch(self, obs: Tensor, reward: Tensor) -> None:
        """Folds one step's values into the finiteness flags (no host sync)."""
        for name, x in (("observation", obs), ("reward", reward)):
            self.finite[name] &= torch.isfinite(x).all().to(self.finite[name].device)

    def collect(self, extras: dict[str, Any]) -> None:
        """Keeps finished episodes' statistics and the backend's logged values (last value wins)."""
        if "episode" in extras:
            self._returns.append(extras["episode"]["return"])
            self._lengths.append(extras["episode"]["length"])
        self._logs.update(extras.get("log", {}))

    def check_finite(self, it: int, more: dict[str, Tensor] | None = None) -> None:
        """One host sync for every step's checks, and the episode statistics read in the same pass.

        Args:
            it: The iteration (named in the error).
            more: Further ``{quantity: device bool}`` flags (the algorithm's, e.g. its scores).

        Raises:
            NonFiniteError: Naming the first non-finite quantity and the iteration.
        """
        finite = {**self.finite, **{k: v.to(self.finite["reward"].device) for k, v in (more or {}).items()}}
        flags = torch.stack(list(finite.values())).cpu().tolist()
        for name, ok in zip(finite, flags, strict=True):
            if not ok:
                raise NonFiniteError(f"non-finite {name} at iteration {it}; stopping (the last checkpoint is intact)")
        if self._returns:
            self.returns = torch.cat([r.float().flatten() for r in self._returns]).cpu().tolist()
            self.lengths = torch.cat([n.float().flatten() for n in self._lengths]).cpu().tolist()

    def env_logs(self) -> dict[str, float]:
        """The backend's ``extras["log"]`` values as floats."""
        return {k: float(v.float().mean()) if isinstance(v, Tensor) else float(v) for k, v in self._logs.items()}


@dataclass
class Progress:
    """Counters of this invocation: env steps, timings, recent returns, the history rows."""

    env_steps: int = 0
    t_start: float = field(default_factory=time.perf_counter)
    recent: deque[float] = field(default_factory=lambda: deque(maxlen=100))
    history: list[tuple[int, float, float | None]] = field(default_factory=list)
    rollout_times: list[float] = field(default_factory=list)
    update_times: list[float] = field(default_factory=list)
    last_sps: float = 0.0

    def record(self, rollout: RolloutInfo, steps: int, global_step: int, t_rollout: float, t_iter: float) -> None:
        """Adds one finished iteration of ``steps`` env steps."""
        self.env_steps += steps
        self.rollout_times.append(t_rollout)
        self.update_times.append(t_iter - t_rollout)
        self.last_sps = steps / t_iter
        self.recent.extend(rollout.returns)
        self.history.append((global_step, time.perf_counter() - self.t_start, self.mean_return()))

    def mean_return(self) -> float | None:
        """Mean of the last 100 finished episodes' returns, if any."""
        return float(np.mean(self.recent)) if self.recent else None

    def result(self, run_dir: Path | None, iterations: int) -> TrainResult:
        """The :class:`TrainResult` of this invocation."""
        return TrainResult(
            run_dir, iterations, self.env_steps, self.mean_return(), time.perf_counter() - self.t_start, self.history
        )


class Trainer:
    """Runs one process (rank) of a job: environment, the algorithm ``algo.name`` names, logs and checkpoints.

    Args:
        cfg: Resolved, validated configuration.
        checkpoint: A loaded checkpoint to resume from, or None.
        dist: This process's rank info.
        console: Where messages go.
        env: An already-built environment (tests); default: ``make_env`` from ``cfg.env``.
        checkpoint_path: Where ``checkpoint`` was read (named when a failed run tells how to resume).
    """

    def __init__(
        self,
        cfg: TrainConfig,
        checkpoint: dict[str, Any] | None = None,
        dist: DistInfo | None = None,
        console: Console | None = None,
        env: VecEnv | None = None,
        checkpoint_path: Path | None = None,
    ) -> None:
        self.cfg, self.dist = cfg, dist or DistInfo()
        self.console = console or make_console()
        self.device = torch.device(cfg.run.device)
        # Rollouts run small batches between env steps: one thread avoids OpenMP spinning against the
        # env workers (throughput fell ~10x with two busy threads on two cores). Updates use `threads`.
        self.update_threads = cfg.run.threads or torch.get_num_threads()
        seed = cfg.run.seed + self.dist.rank
        seed_everything(seed)
        self.env = env or make_env(cfg.env.id, cfg.env.num_envs, seed=seed, device=cfg.run.device, **cfg.env.options)
        e = self.env
        policy = build_actor(cfg.policy, e.observation_dim, e.action_dim)
        policy.validate_inputs = False  # the loop checks env outputs itself, once per step
        self.asymmetric = e.critic_observation_dim is not None
        self.ac = ActorCritic(
            policy,
            e.critic_observation_dim,
            list(cfg.policy.critic_hidden),
            cfg.policy.activation,
            cfg.policy.normalize_obs,
        ).to(self.device)
        self.algorithm = make_algorithm(self.ac, cfg.algo, e.num_envs, self.device, self.dist)
        self.anneal_end = 0  # env step where the linear schedule reaches 0 (set by train)
        self.iteration = 0
        self.global_step = 0
        self._resumed_env_state: dict[str, Any] | None = None
        self.last_checkpoint: Path | None = None
        self.last_checkpoint_iteration: int | None = None
        self.resumed_from = (
            (Path(checkpoint_path), int(checkpoint["iteration"])) if checkpoint and checkpoint_path else None
        )
        self.last_timings: dict[str, list[float]] = {"rollout": [], "update": []}
        if checkpoint is not None:
            self._load(checkpoint)
        elif cfg.run.init is not None:  # a new run from pretrained weights: actor and normalizer only
            from genpo.training.checkpoint import load_checkpoint
            from genpo.training.init import apply_init

            apply_init(self.ac, load_checkpoint(cfg.run.init, map_location=self.device), cfg.run.init)
        broadcast_module(self.ac)  # every rank starts from rank 0's parameters

    # -- checkpoints ------------------------------------------------------------------------------
    def _load(self, ckpt: dict[str, Any]) -> None:
        try:
            self.ac.load_state_dict(ckpt["model_state"])
        except RuntimeError as exc:
            msg = str(exc).split("\n\t", 1)[-1][:600]
            raise CheckpointError(
                f"checkpoint does not fit this task/model (trained on {ckpt['config']['env']['id']!r}, "
                f"model {ckpt['config']['policy']['model']!r}): {msg}"
            ) from None
        saved_algo = (ckpt["config"].get("algo") or {}).get("name", "ppo")  # written before algo.name: PPO's
        if saved_algo != self.cfg.algo.name:
            raise ConfigError(
                f"algo.name={self.cfg.algo.name!r}: the checkpoint was trained by algorithm {saved_algo!r}, whose "
                "optimizer state this one cannot continue; resume with the same algorithm, or start a new run from "
                "its weights with run.init (--init)",
                field="algo.name",
            )
        self.algorithm.load_state_dict(ckpt)
        self.iteration = int(ckpt["iteration"])
        self.global_step = int(ckpt["global_step"])
        if self.dist.world_size == 1:
            set_rng_state(ckpt["rng"])
            self._resumed_env_state = ckpt.get("env_state")
        else:
            # The checkpoint holds rank 0's streams and environments only: every rank restarts its
            # episodes and draws a fresh, rank-specific stream, so ranks stay decorrelated.
            seed_everything(self.cfg.run.seed + self.dist.rank + 7919 * self.iteration)
        saved_envs = (ckpt["config"].get("env") or {}).get("num_envs")
        if saved_envs is not None and saved_envs != self.cfg.env.num_envs:
            # rsl_rl / IsaacLab users change the env count on resume: what was learned carries over, the
            # episodes in flight (saved per sub-environment) cannot.
            self._resumed_env_state = None
            self.console.print(
                f"[yellow]note:[/] resuming with {self.cfg.env.num_envs} environments instead of the checkpoint's "
                f"{saved_envs}: the policy, optimizer, normalizers and counters are kept; episodes restart",
                highlight=False,
            )

    def checkpoint_payload(self, obs: Tensor, critic_obs: Tensor) -> dict[str, Any]:
        """Everything needed to continue exactly where this iteration ended."""
        env_state: dict[str, Any] = {"obs": obs.cpu(), "critic_obs": critic_obs.cpu()}
        if self.env.state_unsupported() is None:  # otherwise, on resume, _reset prints a note and restarts episodes
            env_state["backend"] = self.env.state_dict()
        return {
            "iteration": self.iteration,
            "global_step": self.global_step,
            "model_state": self.ac.state_dict(),
            **self.algorithm.state_dict(),
            "rng": rng_state(),
            "config": self.cfg.to_dict(),
            "dims": {
                "obs": self.env.observation_dim,
                "action": self.env.action_dim,
                "latent": self.ac.policy.latent_dim,
                "critic_obs": self.env.critic_observation_dim,
            },
            "env_state": env_state,
        }

    def checkpoint_bytes(self) -> int:
        """About the size of one checkpoint of this run (see :func:`estimate_checkpoint_bytes`)."""
        e = self.env
        obs = e.num_envs * (e.observation_dim + (e.critic_observation_dim or e.observation_dim)) * 4
        estimate = estimate_checkpoint_bytes(self.ac, self.algorithm.optimizer, extra=obs)
        if self.resumed_from is not None and self.resumed_from[0].is_file():  # a real one of this run
            estimate = max(estimate, self.resumed_from[0].stat().st_size)
        return estimate

    def planned_saves(self) -> int:
        """Checkpoints this invocation writes if it runs to the end."""
        n, every = self.planned_iterations(), self.cfg.run.save_interval
        return n // every + (1 if n % every else 0)

    def check_disk_space(self, folder: Path) -> None:
        """Refuses to start when ``folder`` clearly cannot hold this run's checkpoints.

        Clearly: less free space than two checkpoints (one for a run that saves once), or a file-size
        limit (``ulimit -f``) below one. A run that passes can still fill the disk later; that write fails
        with a :class:`~genpo.errors.DiskError` naming the newest intact checkpoint.

        Raises:
            DiskError: Naming the folder, the free space and what the run needs.
        """
        one = self.checkpoint_bytes()
        limit = file_size_limit()
        if limit is not None and limit < one:
            raise DiskError(
                str(folder),
                f"the file-size limit (ulimit -f) is {format_bytes(limit)} and one checkpoint of this run is about "
                f"{format_bytes(one)}; raise the limit",
                action="start writing checkpoints into",
            )
        count = min(2, self.planned_saves())
        size = format_bytes(one)
        what = f"one checkpoint, about {size}" if count == 1 else f"two checkpoints, about {size} each"
        check_free_space(folder, count * one, what)

    # -- the loop ---------------------------------------------------------------------------------
    def _observe(self, obs: Tensor, extras: dict[str, Any]) -> Tensor:
        """Critic observation for this step (the policy observation unless the env has a critic group)."""
        return extras["critic_observation"] if self.asymmetric else obs

    def _reset(self) -> tuple[Tensor, Tensor]:
        st = self._resumed_env_state
        if st is not None and "backend" in st and self.env.state_unsupported() is None:
            self.env.load_state_dict(st["backend"])
            return st["obs"].to(self.device), st["critic_obs"].to(self.device)
        if st is not None:
            self.console.print(
                "[yellow]note:[/] this environment backend cannot save its state: episodes restart on resume"
            )
        obs, extras = env_call(self.env, "reset", self.iteration, seed=self.cfg.run.seed + self.dist.rank)
        return obs, self._observe(obs, extras)

    @property
    def steps_per_iteration(self) -> int:
        """Env steps of one iteration, all ranks."""
        return self.cfg.algo.steps_per_env * self.env.num_envs * self.dist.world_size

    def planned_iterations(self) -> int:
        r = self.cfg.run
        if r.total_steps is not None:
            return max(1, -(-r.total_steps // self.steps_per_iteration))
        assert r.max_iterations is not None
        return r.max_iterations

    def train(self, run_dir: Path | None = None) -> TrainResult:
        """Runs the planned iterations; writes logs and checkpoints to ``run_dir`` on rank 0.

        A first SIGINT or SIGTERM finishes the iteration in progress, saves a checkpoint and raises
        :class:`~genpo.training.interrupt.Interrupted` (exit code 130 / 143); a second one stops at once.
        """
        with StopSignals(self.console) as stop:
            try:
                return self._run(run_dir, stop)
            except KeyboardInterrupt:  # a second signal, or Ctrl-C where no handler could be installed
                raise Interrupted(self._saved_note("stopped at once"), signal.SIGINT) from None

    def _run(self, run_dir: Path | None, stop: StopSignals) -> TrainResult:
        n_iter = self.planned_iterations()
        self.anneal_end = self.global_step + n_iter * self.steps_per_iteration
        if run_dir is not None and self.dist.is_main:
            save_yaml(self.cfg, run_dir / "params" / "config.yaml")
        logger = RunLogger(
            run_dir if self.dist.is_main else None,
            n_iter,
            self.iteration,
            self.console,
            enabled=self.dist.is_main,
            loggers=self.cfg.run.logger,
            config=self.cfg.to_dict(),
        )
        progress = Progress()
        self.last_timings = {"rollout": progress.rollout_times, "update": progress.update_times}
        try:
            obs, critic_obs = self._start_episodes()
            for done_iters in range(1, n_iter + 1):
                it = self.iteration + 1
                t0 = time.perf_counter()
                obs, critic_obs, rollout = self._rollout(obs, critic_obs, it)
                t_rollout = time.perf_counter() - t0
                stats = self._update(it)
                steps = self._advance(it)
                progress.record(rollout, steps, self.global_step, t_rollout, time.perf_counter() - t0)
                self._log(logger, progress, stats, rollout, done_iters)
                log_failure = self._check_logs(logger)
                stopping = stop.requested(self.dist.enabled, self.device)
                due = done_iters % self.cfg.run.save_interval == 0 or done_iters == n_iter
                if log_failure is not None or stopping or due:
                    self._save(run_dir, obs, critic_obs)
                if log_failure is not None:
                    raise self._stopped_by(log_failure)
                if stopping:
                    assert stop.signum is not None
                    raise Interrupted(self._saved_note(f"stopped by {signal_name(stop.signum)}"), stop.signum)
        finally:
            logger.close()
        return progress.result(run_dir if self.dist.is_main else None, self.iteration)

    def _saved_note(self, how: str) -> str:
        """What an interrupted run tells the user: where it stopped and what is on disk."""
        ckpt = self.last_checkpoint
        if ckpt is None:
            saved = "no checkpoint was written by this run" if self.dist.is_main else "rank 0 writes the checkpoints"
        elif self.last_checkpoint_iteration == self.iteration:
            saved = f"saved {ckpt} (iteration {self.iteration}); resume with --checkpoint {ckpt.parent}"
        else:
            saved = (
                f"the newest checkpoint is {ckpt} (iteration {self.last_checkpoint_iteration}; the unfinished "
                f"iteration {self.iteration + 1} is lost); resume with --checkpoint {ckpt.parent}"
            )
        return f"{how} after iteration {self.iteration}: {saved}"

    def newest_intact_checkpoint(self) -> tuple[Path, int] | None:
        """The newest checkpoint of this run that still loads (written now, or resumed from), and its iteration."""
        candidates = []
        if self.last_checkpoint is not None and self.last_checkpoint_iteration is not None:
            candidates.append((self.last_checkpoint, self.last_checkpoint_iteration))
        if self.resumed_from is not None:
            candidates.append(self.resumed_from)
        for path, it in candidates:
            try:
                load_checkpoint(path)
            except GenpoError:  # removed with its folder, or damaged
                continue
            return path, it
        return None

    def resume_note(self, disk: DiskError | None = None) -> str:
        """What is safe on disk after a failure and the command that resumes from it.

        Args:
            disk: The file system's failure, if that is what stopped the run (the note then says how to write
                elsewhere, or that the removed run folder was re-created for the checkpoint).
        """
        found = self.newest_intact_checkpoint()
        if found is None:
            written = self.last_checkpoint is not None or self.resumed_from is not None
            return "no checkpoint of this run is left" if written else "no checkpoint was written by this run"
        path, it = found
        if it == self.iteration:
            where = f"iteration {it} is saved in {path}"
        else:
            lost = f"iterations {it + 1}-{self.iteration}" if self.iteration > it + 1 else f"iteration {self.iteration}"
            where = f"the newest intact checkpoint is {path} (iteration {it}; {lost} will be redone)"
        removed = disk is not None and "was removed" in disk.cause
        if removed and it == self.iteration:
            where += " (the run folder was re-created for it)"
        hint = " (add --logdir OTHER_FOLDER to write the resumed run elsewhere)" if disk and not removed else ""
        return f"{where}; resume with: genpo train --checkpoint {path}{hint}"

    def _check_logs(self, logger: RunLogger) -> GenpoError | None:
        """The failure of a sink that could not write this iteration's logs, if any (rank 0)."""
        try:
            logger.check()
        except GenpoError as exc:
            return exc
        return None

    def _stopped_by(self, failure: GenpoError) -> GenpoError:
        """``failure`` (a logger's), with what was saved and how to resume, to stop the run with."""
        if isinstance(failure, DiskError):
            return failure.with_note(f"stopped after iteration {self.iteration}: {self.resume_note(failure)}")
        return RunFailed(f"{failure}; stopped after iteration {self.iteration}: {self.resume_note()}")

    # -- the steps of an iteration ----------------------------------------------------------------
    def _save(self, run_dir: Path | None, obs: Tensor, critic_obs: Tensor) -> None:
        """Writes ``model_<iteration>.pt`` (rank 0, when there is a run folder).

        Raises:
            DiskError: The write failed; the message names the newest intact checkpoint and how to resume.
        """
        if run_dir is not None and self.dist.is_main:
            path = run_dir / f"model_{self.iteration}.pt"
            try:
                save_checkpoint(self.checkpoint_payload(obs, critic_obs), path)
            except DiskError as exc:
                raise exc.with_note(f"stopped after iteration {self.iteration}: {self.resume_note(exc)}") from None
            self.last_checkpoint, self.last_checkpoint_iteration = path, self.iteration

    def _start_episodes(self) -> tuple[Tensor, Tensor]:
        """Resets the env, or restores the resumed env state (used once: a later ``train`` resets)."""
        resumed = self._resumed_env_state is not None and "backend" in self._resumed_env_state
        obs, critic_obs = self._reset()
        check_finite(obs, "observation", self.iteration)
        # A restored state's observation was already folded into the statistics.
        self.algorithm.start(obs, critic_obs, fold=not resumed)
        self._resumed_env_state = None
        return obs, critic_obs

    @torch.no_grad()
    def _rollout(self, obs: Tensor, critic_obs: Tensor, it: int) -> tuple[Tensor, Tensor, RolloutInfo]:
        """``steps_per_env`` env steps into the algorithm, then its returns; one host sync for all finiteness checks."""
        ac, alg, info = self.ac, self.algorithm, RolloutInfo(self.device)
        torch.set_num_threads(1)
        with ac.policy.static_parameters():
            for _ in range(self.cfg.algo.steps_per_env):
                action = alg.act(obs, critic_obs)
                obs, reward, terminated, truncated, extras = env_call(self.env, "step", it, action)
                info.watch(obs, reward)
                critic_obs = self._observe(obs, extras)
                alg.process_env_step(obs, critic_obs, reward, terminated, truncated, extras)
                info.collect(extras)
            info.check_finite(it, alg.rollout_flags())
            alg.compute_returns(critic_obs)
            info.last_obs_n = ac.obs_norm(obs)
        return obs, critic_obs, info

    def _update(self, it: int) -> dict[str, float]:
        torch.set_num_threads(self.update_threads)
        # Schedules anneal over the invocation's budget: 1 - (steps done) / (step where the budget ends).
        return self.algorithm.update(it, remaining=1.0 - self.global_step / max(self.anneal_end, 1))

    def _advance(self, it: int) -> int:
        """Counts iteration ``it`` as done; returns its env steps (all ranks)."""
        self.iteration = it
        step_count = self.steps_per_iteration
        self.global_step += step_count
        return step_count

    def _log(
        self, logger: RunLogger, progress: Progress, stats: dict[str, float], rollout: RolloutInfo, done_iters: int
    ) -> None:
        """Scalars to the loggers every ``log_interval`` iterations; the progress line every iteration."""
        sps, t_rollout, t_update = progress.last_sps, progress.rollout_times[-1], progress.update_times[-1]
        if self.dist.is_main and done_iters % self.cfg.run.log_interval == 0:
            scalars = dict(stats)
            scalars.update({"perf/sps": sps, "perf/rollout_time": t_rollout, "perf/update_time": t_update})
            if rollout.returns:
                scalars["charts/episodic_return"] = float(np.mean(rollout.returns))
                scalars["charts/episodic_length"] = float(np.mean(rollout.lengths))
            scalars["inversion/roundtrip_error"] = self.roundtrip_error(rollout.last_obs_n)
            scalars.update({f"env/{k}": v for k, v in rollout.env_logs().items()})
            logger.scalars(scalars, self.global_step)
            if rollout.returns:
                logger.episodes(rollout.returns, rollout.lengths, self.global_step)
        shown = {"kl": "losses/sample_kl", "lr": "charts/learning_rate"}  # those an algorithm reports
        extra = {short: stats[key] for short, key in shown.items() if key in stats}
        logger.iteration(self.iteration, done_iters, sps, progress.mean_return(), extra)

    def parameter_checksum(self) -> str:
        """A short hash of every parameter and buffer (ranks of a job must agree on it)."""
        import hashlib

        h = hashlib.sha256()
        for name, t in sorted(self.ac.state_dict().items()):
            h.update(name.encode())
            h.update(t.detach().cpu().contiguous().numpy().tobytes())
        return h.hexdigest()[:16]

    @torch.no_grad()
    def roundtrip_error(self, obs_n: Tensor, n: int = 256) -> float:
        """Max |invert(generate(noise)) - noise| on a sample batch: how exact inversion is right now."""
        policy = self.ac.policy
        obs_n = obs_n[:n]
        # A private generator: the check must not shift the run's random stream (resume stays exact).
        gen = torch.Generator(device=obs_n.device).manual_seed(self.iteration)
        noise = torch.randn(obs_n.shape[0], policy.latent_dim, device=obs_n.device, generator=gen)
        try:
            back = policy.invert_only(obs_n, policy.generate_only(obs_n, noise))
        except InversionError:  # an integrator that failed to invert (euler) reports inf
            return float("inf")
        return float((back - noise).abs().max())
