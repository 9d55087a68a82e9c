"""Runs the real-IsaacLab checks of test_isaaclab.py in a process of its own and writes their results as JSON.

IsaacLab's simulation context, asset root and RNG seeding are process-wide, so the checks run here, one
environment at a time, instead of inside the pytest process. Each check records ``{"ok": bool, ...}``; a
failure records its traceback, and the test that reads it fails with that text.

Usage: ``python tests/envs/_isaaclab_worker.py OUT.json`` with ``GENPO_ISAACLAB_LOCAL_ASSETS`` pointing at a
local asset root.
"""

from __future__ import annotations

import json
import math
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

import torch

from genpo.envs import make_env
from genpo.envs.isaaclab.presets import PRESETS

RESULTS: dict[str, Any] = {}


def check(name: str) -> Callable[[Callable[[], dict[str, Any] | None]], None]:
    """Runs the decorated function now and stores its outcome under ``name``."""

    def deco(fn: Callable[[], dict[str, Any] | None]) -> None:
        start = time.perf_counter()
        try:
            out = fn() or {}
            RESULTS[name] = {"ok": True, **out}
        except BaseException:  # recorded for the test to report
            RESULTS[name] = {"ok": False, "error": traceback.format_exc()}
        RESULTS[name]["seconds"] = round(time.perf_counter() - start, 2)
        print(f"[worker] {name}: {'ok' if RESULTS[name]['ok'] else 'FAILED'} ({RESULTS[name]['seconds']} s)")

    return deco


def describe(t: torch.Tensor) -> list[Any]:
    return [list(t.shape), str(t.dtype), str(t.device)]


def short_episodes(cfg: Any) -> None:
    """Cartpole episodes of 15 steps (1/60 s per step), so time-outs happen quickly."""
    cfg.episode_length_s = 0.25


def observation_groups(env: Any) -> dict[str, int]:
    """IsaacLab's own observation groups and their flat sizes (from the task's gym space)."""
    spaces = env.unwrapped.single_observation_space.spaces
    return {name: int(math.prod(space.shape)) for name, space in spaces.items()}


def run_interface(task: str, steps: int, action_value: float | None, **options: Any) -> dict[str, Any]:
    """Makes the env, checks shapes and per-step invariants, and returns what the test compares."""
    n = 4
    start = time.perf_counter()
    env = make_env(f"isaaclab:{task}", num_envs=n, device="cpu", seed=3, **options)
    built = time.perf_counter()
    try:
        obs, extras = env.reset()
        out: dict[str, Any] = {
            "env_id": env.env_id,
            "observation_dim": env.observation_dim,
            "action_dim": env.action_dim,
            "critic_observation_dim": env.critic_observation_dim,
            "bounded": env.action_low is not None,
            "max_episode_length": env.max_episode_length,
            "device": str(env.device),
            "reset_obs": describe(obs),
            "reset_extras": sorted(extras),
            "build_seconds": round(built - start, 2),
            "is_finite_horizon": env.is_finite_horizon,
            "cfg_is_finite_horizon": bool(getattr(env.cfg, "is_finite_horizon", False)),
            "observation_groups": observation_groups(env),
            "isaaclab_action_dim": int(math.prod(env.unwrapped.single_action_space.shape)),
            "action_high": None if env.action_high is None else float(env.action_high.max()),
        }
        returns = torch.zeros(n, dtype=torch.float64)
        lengths = torch.zeros(n, dtype=torch.long)
        n_term = n_trunc = n_eps = 0
        mismatches: list[str] = []
        final_checked = 0
        for i in range(steps):
            if action_value is None:
                action = torch.rand(n, env.action_dim) * 2 - 1
            else:
                action = torch.full((n, env.action_dim), action_value)
            prev_obs = obs
            if i == 1:
                stepping = time.perf_counter()
            obs, reward, terminated, truncated, extras = env.step(action)
            if i == 0:
                out.update(
                    step_obs=describe(obs),
                    reward=describe(reward),
                    terminated=describe(terminated),
                    truncated=describe(truncated),
                    step_extras=sorted(extras),
                    log_keys=sorted(extras.get("log", {})),
                )
            if not torch.isfinite(obs).all() or not torch.isfinite(reward).all():
                mismatches.append(f"non-finite values at step {i}")
            if obs is prev_obs or obs.data_ptr() == prev_obs.data_ptr():
                mismatches.append(f"observation buffer reused at step {i}")
            done = terminated | truncated
            returns += reward.double()
            lengths += 1
            ep = extras["episode"]
            if len(ep["return"]) != int(done.sum()):
                mismatches.append(f"step {i}: {len(ep['return'])} episode stats for {int(done.sum())} done rows")
            elif done.any():
                if not torch.allclose(ep["return"].double(), returns[done], atol=1e-4):
                    mismatches.append(f"step {i}: episode returns {ep['return']} != {returns[done]}")
                if not torch.equal(ep["length"], lengths[done]):
                    mismatches.append(f"step {i}: episode lengths {ep['length']} != {lengths[done]}")
                # auto-reset inside step: the episode counter restarted for the finished rows
                if (env.episode_length_buf[done] != 0).any():
                    mismatches.append(f"step {i}: episode_length_buf not reset: {env.episode_length_buf[done]}")
                if "final_observation" in extras:
                    fo = extras["final_observation"]
                    if fo.shape != obs.shape:
                        mismatches.append(f"final_observation shape {tuple(fo.shape)}")
                    if torch.equal(fo[done], obs[done]):
                        mismatches.append(f"step {i}: final_observation equals the post-reset observation")
                    final_checked += 1
            returns[done] = 0.0
            lengths[done] = 0
            n_term += int(terminated.sum())
            n_trunc += int(truncated.sum())
            n_eps += int(done.sum())
            if (terminated & truncated).any():
                mismatches.append(f"step {i}: a row both terminated and truncated")
        out.update(
            step_ms=round(1000 * (time.perf_counter() - stepping) / max(1, steps - 1), 1),
            terminated_count=n_term,
            truncated_count=n_trunc,
            episodes=n_eps,
            mismatches=mismatches[:10],
            final_checked=final_checked,
        )
        # reset(seed) reseeds IsaacLab: the same seed gives the same initial state
        a, _ = env.reset(seed=11)
        b, _ = env.reset(seed=11)
        out["seeded_reset_equal"] = bool(torch.equal(a, b))
        return out
    finally:
        env.close()


def short_velocity_episodes(cfg: Any) -> None:
    """10-step episodes (0.2 s at 50 Hz) for the velocity tasks, so time-outs happen within the check."""
    cfg.episode_length_s = 0.2


def short_finite_horizon_episodes(cfg: Any) -> None:
    """As :func:`short_velocity_episodes`, with time-outs declared terminal (``is_finite_horizon``)."""
    cfg.episode_length_s = 0.2
    cfg.is_finite_horizon = True


SMALL_TERRAIN = {
    "overrides": [
        "env.scene.terrain.terrain_generator.num_rows=2",
        "env.scene.terrain.terrain_generator.num_cols=3",
    ]
}
"""Rough terrain of 2 x 3 sub-terrains instead of 10 x 20: generating the full one takes about a minute per build."""


def train_and_resume(task: str, folder: str, options: dict[str, Any]) -> dict[str, Any]:
    """Two GenPO iterations with the task's ``paper`` preset, scaled down; then one more resumed from the run
    (on resume, ``max_iterations`` counts the iterations to add)."""
    import io
    from pathlib import Path

    from rich.console import Console

    from genpo.training import api

    config = {"env": {"id": f"isaaclab:{task}", "num_envs": 8, "options": options}}
    small = {
        "steps_per_env": 8,
        "num_epochs": 1,
        "num_minibatches": 2,
        "logdir": folder,
        "seed": 2,
        "device": "cpu",
        "save_interval": 1,
    }
    log = io.StringIO()
    start = time.perf_counter()
    first = api.train(config, preset="paper", max_iterations=2, console=Console(file=log, width=200), **small)
    trained = time.perf_counter()
    assert first.run_dir is not None
    saved = sorted(p.name for p in Path(first.run_dir).glob("model_*.pt"))
    cfg = first.config
    resumed = api.train(
        checkpoint=str(first.run_dir), max_iterations=1, logdir=folder, console=Console(file=log, width=200)
    )
    return {
        "iterations": first.iterations,
        "env_steps": first.env_steps,
        "checkpoints": saved,
        "resumed_iterations": resumed.iterations,
        "resumed_env_steps": resumed.env_steps,
        "policy": [cfg.policy.model, cfg.policy.integrator, cfg.policy.flow_steps, list(cfg.policy.hidden)],
        "learning_rate": cfg.algo.learning_rate,
        "train_seconds": round(trained - start, 2),
        "resume_seconds": round(time.perf_counter() - trained, 2),
        "log_tail": log.getvalue()[-1500:],
    }


TASK_GROUPS: dict[str, list[tuple[str, dict[str, Any]]]] = {
    # the paper's classic and manipulation tasks: the Humanoid (newton's), Ant (newton's), the Shadow hand
    "classic": [
        ("Isaac-Humanoid", {"train": True}),
        ("Isaac-Ant", {"train": True}),
        ("Isaac-Reorient-Cube-Shadow-Direct", {"train": True}),
    ],
    # the legged robots: flat variants check time-outs, rough variants train (height scan, actuator net)
    "legged": [
        ("Isaac-Velocity-Flat-UnitreeGo2", {"cfg_hook": short_velocity_episodes}),
        ("Isaac-Velocity-Rough-UnitreeGo2", {"train": True, "options": SMALL_TERRAIN}),
        ("Isaac-Velocity-Flat-H1", {"cfg_hook": short_finite_horizon_episodes}),
        ("Isaac-Velocity-Rough-H1", {"train": True, "options": SMALL_TERRAIN}),
        ("Isaac-Velocity-Flat-AnymalD", {"cfg_hook": short_velocity_episodes}),
        ("Isaac-Velocity-Rough-AnymalD", {"train": True, "options": SMALL_TERRAIN}),
    ],
}
"""Task groups of the paper's offline tasks; each group runs in one worker process."""


def run_group(group: str, folder: str) -> None:
    """Runs every task of a group: build, interface and 20 random steps; two training iterations and a resume."""
    for task, spec in TASK_GROUPS[group]:
        spec = dict(spec)
        train = spec.pop("train", False)
        options = spec.pop("options", {})

        def one(task: str = task, spec: dict[str, Any] = spec, train: bool = train, options: Any = options) -> Any:
            out = run_interface(task, 20, None, **spec, **options)
            if train:
                out["train"] = train_and_resume(task, folder, options)
            return out

        check(task)(one)


def main(path: str, group: str = "core") -> None:
    if group != "core":
        import tempfile

        with tempfile.TemporaryDirectory(prefix=f"genpo-isaaclab-{group}-") as folder:
            run_group(group, folder)
        with open(path, "w") as f:
            json.dump(RESULTS, f, indent=1, default=str)
        return

    @check("cartpole_direct")
    def _() -> dict[str, Any]:
        return run_interface("Isaac-Cartpole-Direct", 40, None, cfg_hook=short_episodes)

    @check("contract_cartpole_direct")
    def _() -> dict[str, Any]:
        from env_contract import contract_violations  # tests/envs is this script's folder

        def make() -> Any:
            return make_env("isaaclab:Isaac-Cartpole-Direct", num_envs=4, device="cpu", seed=3, cfg_hook=short_episodes)

        return {"violations": contract_violations(make, steps=40, reproducible_steps=False)}

    @check("cartpole_direct_final_obs")
    def _() -> dict[str, Any]:
        return run_interface("Isaac-Cartpole-Direct", 20, 0.0, cfg_hook=short_episodes, final_observation=True)

    @check("cartpole_manager")
    def _() -> dict[str, Any]:
        # a constant push drives the cart out of bounds: terminations, not time-outs
        return run_interface("Isaac-Cartpole", 150, 1.0)

    @check("ant_direct")
    def _() -> dict[str, Any]:
        return run_interface("Isaac-Ant-Direct-v0", 30, None, clip_actions=1.0)

    @check("one_env_per_process")
    def _() -> dict[str, Any]:
        env = make_env("isaaclab:Isaac-Cartpole-Direct", num_envs=2)
        try:
            try:
                make_env("isaaclab:Isaac-Cartpole-Direct", num_envs=2)
            except RuntimeError as exc:
                return {"message": str(exc)}
            raise AssertionError("a second IsaacLab env in one process did not raise")
        finally:
            env.close()

    @check("errors")
    def _() -> dict[str, Any]:
        messages = {}
        for task in ("Isaac-Cartpol-Direct", "Isaac-Quadcopter-Direct-v0", "IsaacContrib-Lift-Cube-Franka"):
            try:
                make_env(f"isaaclab:{task}", num_envs=2).close()
                messages[task] = None
            except (ValueError, RuntimeError) as exc:
                messages[task] = f"{type(exc).__name__}: {exc}"
        return {"messages": messages}

    @check("agent_clip_actions")
    def _() -> dict[str, Any]:
        from genpo.envs.isaaclab import agent_clip_actions

        # the camera cartpole's rsl_rl config sets clip_actions = 1.0; the state one sets none
        return {
            "camera": agent_clip_actions("Isaac-Cartpole-Camera-Direct"),
            "state": agent_clip_actions("Isaac-Cartpole-Direct"),
            "unknown": agent_clip_actions("Isaac-Fourbar-Pole-Swingup-Nope"),
        }

    @check("presets")
    def _() -> dict[str, Any]:
        import gymnasium as gym
        from isaaclab_tasks.utils import parse_env_cfg
        from isaaclab_tasks.utils.parse_cfg import load_cfg_from_registry

        from genpo.envs.isaaclab import asset_blockers, runtime_blockers

        report: dict[str, Any] = {}
        for name, preset in PRESETS.items():
            task = preset["task"]
            info: dict[str, Any] = {"task": task}
            report[name] = info
            if task is None:
                continue
            info["registered"] = task in gym.registry
            try:
                raw = load_cfg_from_registry(task, "env_cfg_entry_point")
                info["default_num_envs"] = int(raw.scene.num_envs)
                cfg = parse_env_cfg(task, device="cpu", num_envs=2)
                info["cfg_built"] = cfg.sim.device == "cpu" and cfg.scene.num_envs == 2
                info["physics"] = type(cfg.sim.physics).__name__
                info["blockers"] = runtime_blockers(cfg) + asset_blockers(cfg)
            except BaseException:
                info["cfg_error"] = traceback.format_exc()
                continue
            try:
                agent = load_cfg_from_registry(task, "rsl_rl_cfg_entry_point")
                agent = getattr(agent, "default", agent)
                alg = agent.algorithm
                info["agent"] = {
                    "learning_rate": alg.learning_rate,
                    "desired_kl": alg.desired_kl,
                    "num_epochs": alg.num_learning_epochs,
                    "num_minibatches": alg.num_mini_batches,
                    "steps_per_env": agent.num_steps_per_env,
                    "gamma": alg.gamma,
                    "lam": alg.lam,
                    "entropy_coef": alg.entropy_coef,
                    "hidden": list(agent.actor.hidden_dims),
                    "critic_hidden": list(agent.critic.hidden_dims),
                    "max_iterations": agent.max_iterations,
                    "clip_param": alg.clip_param,
                    "value_coef": alg.value_loss_coef,
                    "max_grad_norm": alg.max_grad_norm,
                    "normalize_obs": bool(agent.actor.obs_normalization),
                    "clip_actions": agent.clip_actions,
                }
            except BaseException as exc:
                info["agent_error"] = f"{type(exc).__name__}: {exc}"
            if not info["blockers"]:
                env = make_env(f"isaaclab:{task}", num_envs=2, device="cpu", seed=0)
                try:
                    obs, _ = env.reset()
                    for _ in range(5):
                        obs, reward, *_ = env.step(torch.zeros(2, env.action_dim))
                    info["stepped"] = bool(torch.isfinite(obs).all() and torch.isfinite(reward).all())
                    info["observation_dim"] = env.observation_dim
                finally:
                    env.close()
        return {"presets": report}

    with open(path, "w") as f:
        json.dump(RESULTS, f, indent=1, default=lambda o: None if isinstance(o, float) and math.isnan(o) else str(o))


if __name__ == "__main__":
    main(*sys.argv[1:3])
