"""The training loop: rollouts, PPO updates, logging, checkpoints and exact resume."""

from __future__ import annotations

import random
import re
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from torch import Tensor

from genpo.envs import VecEnv, make_env, parse_env_id
from genpo.training.actor_critic import ActorCritic
from genpo.training.checkpoint import CheckpointError, save_checkpoint
from genpo.training.config import TrainConfig, build_actor, save_yaml
from genpo.training.distributed import DistInfo, all_reduce_sum, broadcast_module
from genpo.training.logger import RunLogger
from genpo.training.ppo import PPO, check_finite
from genpo.training.storage import RolloutStorage


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
    while path.exists():  # two runs in the same second
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


class Trainer:
    """Runs GenPO/PPO for one process (rank) of a job.

    Args:
        cfg: Resolved, validated configuration.
        checkpoint: A loaded checkpoint to resume from, or None.
        dist: This process's rank info.
        console: Where messages go.
        env: An already-built environment (tests); default: ``make_env`` from ``cfg.env``.
    """

    def __init__(
        self,
        cfg: TrainConfig,
        checkpoint: dict[str, Any] | None = None,
        dist: DistInfo | None = None,
        console: Console | None = None,
        env: VecEnv | None = None,
    ) -> None:
        self.cfg, self.dist = cfg, dist or DistInfo()
        self.console = console or Console()
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
        self.ppo = PPO(self.ac, cfg.algo)
        self.iteration = 0
        self.global_step = 0
        self._resumed_env_state: dict[str, Any] | None = None
        self.last_timings: dict[str, list[float]] = {"rollout": [], "update": []}
        if checkpoint is not None:
            self._load(checkpoint)
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
        self.ppo.optimizer.load_state_dict(ckpt["optimizer_state"])
        self.ppo.set_learning_rate(float(ckpt["learning_rate"]))
        self.iteration = int(ckpt["iteration"])
        self.global_step = int(ckpt["global_step"])
        if self.dist.world_size == 1:
            set_rng_state(ckpt["rng"])
            self._resumed_env_state = ckpt.get("env_state")
        else:
            # The checkpoint holds rank 0's streams and environments only: every rank restarts its
            # episodes and draws a fresh, rank-specific stream, so ranks stay decorrelated.
            seed_everything(self.cfg.run.seed + self.dist.rank + 7919 * self.iteration)

    def checkpoint_payload(self, obs: Tensor, critic_obs: Tensor) -> dict[str, Any]:
        """Everything needed to continue exactly where this iteration ended."""
        env_state: dict[str, Any] = {"obs": obs.cpu(), "critic_obs": critic_obs.cpu()}
        if hasattr(self.env, "state_dict"):
            try:
                env_state["backend"] = self.env.state_dict()
            except NotImplementedError:
                pass  # this task cannot save its state: on resume, _reset prints a note and restarts episodes
        return {
            "iteration": self.iteration,
            "global_step": self.global_step,
            "model_state": self.ac.state_dict(),
            "optimizer_state": self.ppo.optimizer.state_dict(),
            "learning_rate": self.ppo.learning_rate,
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

    # -- the loop ---------------------------------------------------------------------------------
    def _observe(self, obs: Tensor, extras: dict[str, Any]) -> Tensor:
        """Critic observation for this step (the policy observation unless the env has a critic group)."""
        return extras["critic_observation"] if self.asymmetric else obs

    def _reset(self) -> tuple[Tensor, Tensor]:
        st = self._resumed_env_state
        if st is not None and "backend" in st and hasattr(self.env, "load_state_dict"):
            self.env.load_state_dict(st["backend"])
            return st["obs"].to(self.device), st["critic_obs"].to(self.device)
        if st is not None:
            self.console.print(
                "[yellow]note:[/] this environment backend cannot save its state: episodes restart on resume"
            )
        obs, extras = self.env.reset(seed=self.cfg.run.seed + self.dist.rank)
        return obs, self._observe(obs, extras)

    def _update_normalizers(self, obs: Tensor, critic_obs: Tensor) -> None:
        if not self.cfg.policy.normalize_obs:
            return
        self.ac.obs_norm.update(obs, all_reduce_sum)
        if self.asymmetric:
            self.ac.critic_obs_norm.update(critic_obs, all_reduce_sum)

    def planned_iterations(self) -> int:
        r = self.cfg.run
        if r.total_steps is not None:
            per_iter = self.cfg.algo.steps_per_env * self.env.num_envs * self.dist.world_size
            return max(1, -(-r.total_steps // per_iter))
        assert r.max_iterations is not None
        return r.max_iterations

    def train(self, run_dir: Path | None = None) -> TrainResult:
        """Runs the planned iterations; writes logs and checkpoints to ``run_dir`` on rank 0."""
        cfg, ac, env, dev = self.cfg, self.ac, self.env, self.device
        a = cfg.algo
        is_main = self.dist.is_main
        if run_dir is not None and is_main:
            save_yaml(cfg, run_dir / "params" / "config.yaml")
        n_iter = self.planned_iterations()
        logger = RunLogger(run_dir if is_main else None, n_iter, self.iteration, self.console, enabled=is_main)
        storage = RolloutStorage(
            a.steps_per_env, env.num_envs, env.observation_dim, ac.critic[0].in_features, ac.policy.latent_dim, dev
        )
        recent: deque[float] = deque(maxlen=100)
        history: list[tuple[int, float, float | None]] = []
        t_start = time.perf_counter()
        steps_this_run = 0
        self.last_timings = {"rollout": [], "update": []}
        obs, critic_obs = self._reset()
        check_finite(obs, "observation", self.iteration)
        if self._resumed_env_state is None or "backend" not in self._resumed_env_state:
            self._update_normalizers(obs, critic_obs)
        self._resumed_env_state = None  # used once: a later train() call starts from a reset
        last_obs_n = obs
        try:
            for done_iters in range(1, n_iter + 1):
                it = self.iteration + 1
                t0 = time.perf_counter()
                ep_returns: list[float] = []
                ep_lengths: list[float] = []
                env_logs: dict[str, float] = {}
                torch.set_num_threads(1)
                with torch.no_grad(), ac.policy.static_parameters():
                    for _ in range(a.steps_per_env):
                        obs_n, critic_n = ac.obs_norm(obs), ac.critic_obs_norm(critic_obs)
                        action, latent, log_prob = ac.policy.sample(obs_n)
                        check_finite(log_prob, "log-probability", it)
                        value = ac.value(critic_n)
                        next_obs, reward, terminated, truncated, extras = env.step(action)
                        check_finite(next_obs, "observation", it)
                        check_finite(reward, "reward", it)
                        next_critic = self._observe(next_obs, extras)
                        reward = reward.to(dev, torch.float32)
                        time_out = truncated & ~terminated
                        if time_out.any():
                            # Bootstrap truncated episodes from the state they were cut at (rsl_rl falls
                            # back to V(s_t) when the backend has no final observation).
                            final = extras.get("final_critic_observation" if self.asymmetric else "final_observation")
                            boot = (
                                ac.value(ac.critic_obs_norm(final[time_out])) if final is not None else value[time_out]
                            )
                            reward = reward.clone()
                            reward[time_out] += a.gamma * boot
                        storage.add(obs_n, critic_n, latent, log_prob, value, reward, (terminated | truncated).float())
                        self._update_normalizers(next_obs, next_critic)
                        obs, critic_obs = next_obs, next_critic
                        if "episode" in extras:
                            ep_returns += extras["episode"]["return"].tolist()
                            ep_lengths += extras["episode"]["length"].float().tolist()
                        for k, v in extras.get("log", {}).items():
                            env_logs[k] = float(v.float().mean()) if isinstance(v, Tensor) else float(v)
                    last_value = ac.value(ac.critic_obs_norm(critic_obs))
                    storage.compute_returns(last_value, a.gamma, a.lam)
                    last_obs_n = ac.obs_norm(obs)
                t_rollout = time.perf_counter() - t0
                torch.set_num_threads(self.update_threads)
                stats = self.ppo.update(storage, it)
                storage.clear()
                self.iteration = it
                step_count = a.steps_per_env * env.num_envs * self.dist.world_size
                self.global_step += step_count
                steps_this_run += step_count
                dt = time.perf_counter() - t0
                sps = step_count / dt
                self.last_timings["rollout"].append(t_rollout)
                self.last_timings["update"].append(dt - t_rollout)
                recent.extend(ep_returns)
                mean_ret = float(np.mean(recent)) if recent else None
                history.append((self.global_step, time.perf_counter() - t_start, mean_ret))
                if is_main and done_iters % cfg.run.log_interval == 0:
                    scalars = dict(stats)
                    scalars.update(
                        {"perf/sps": sps, "perf/rollout_time": t_rollout, "perf/update_time": dt - t_rollout}
                    )
                    if ep_returns:
                        scalars["charts/episodic_return"] = float(np.mean(ep_returns))
                        scalars["charts/episodic_length"] = float(np.mean(ep_lengths))
                    scalars["inversion/roundtrip_error"] = self.roundtrip_error(last_obs_n)
                    scalars.update({f"env/{k}": v for k, v in env_logs.items()})
                    logger.scalars(scalars, self.global_step)
                logger.iteration(
                    it,
                    done_iters,
                    sps,
                    mean_ret,
                    {"kl": stats["losses/sample_kl"], "lr": stats["charts/learning_rate"]},
                )
                if (
                    run_dir is not None
                    and is_main
                    and (done_iters % cfg.run.save_interval == 0 or done_iters == n_iter)
                ):
                    save_checkpoint(self.checkpoint_payload(obs, critic_obs), run_dir / f"model_{it}.pt")
        finally:
            logger.close()
        return TrainResult(
            run_dir if is_main else None,
            self.iteration,
            steps_this_run,
            float(np.mean(recent)) if recent else None,
            time.perf_counter() - t_start,
            history,
        )

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
        except ValueError:  # an integrator that failed to invert (euler) reports inf
            return float("inf")
        return float((back - noise).abs().max())
