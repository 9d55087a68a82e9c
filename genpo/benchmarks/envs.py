"""Environment stepping throughput: env-steps per second of :func:`genpo.envs.make_env` under random actions.

Run ``python -m genpo.benchmarks.envs`` (defaults: HalfCheetah-v5 and Ant-v5, 8 and 16 envs, workers 0/1/2).

Two numbers per combination: ``mean`` (batched steps x envs / wall time, best trial) is what you get on the
machine as it is; ``quiet`` (envs / 10th percentile of single-step wall times) estimates the speed without
other load: on a shared machine most steps still run undisturbed, the slow tail is preemption.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor


@dataclass(frozen=True)
class EnvBenchRow:
    """One measurement.

    Attributes:
        env_id: Environment id.
        num_envs: Sub-environments stepped together.
        workers: The ``workers`` option as resolved by the env (0/1: in-process; W >= 2: W processes).
        steps_per_s: Env-steps per second over the best trial (``num_envs`` x batched steps / wall time),
            including numpy<->torch conversion, clipping and auto-resets.
        quiet_steps_per_s: ``num_envs`` / 10th percentile of the single batched-step wall times.
        batch_steps: Batched steps timed in all trials.
    """

    env_id: str
    num_envs: int
    workers: int
    steps_per_s: float
    quiet_steps_per_s: float
    batch_steps: int


def measure_env_stepping(
    env_ids: Sequence[str],
    num_envs: Iterable[int],
    workers: Iterable[int],
    *,
    seconds: float = 0.5,
    repeats: int = 3,
    warmup: int = 20,
    seed: int = 0,
    device: str = "cpu",
    options: dict | None = None,
) -> list[EnvBenchRow]:
    """Times ``env.step`` with uniform random actions in the action bounds for each combination.

    All combinations are built first and then timed round-robin, ``repeats`` trials of ``seconds`` each:
    interleaving spreads other load on a shared machine over all combinations. An environment whose backend holds
    one per process (IsaacLab, :attr:`~genpo.envs.VecEnv.one_per_process`) is timed as soon as it is built and
    closed before the next one is made.

    Args:
        env_ids: Ids for :func:`genpo.envs.make_env`.
        num_envs: Batch sizes to try.
        workers: Values of the ``workers`` option to try.
        seconds: Wall time of one trial.
        repeats: Trials per combination.
        warmup: Untimed steps first (workers start, caches warm).
        seed: Seed of the environments and of the actions.
        device: Device of the environments.
        options: Extra backend options for ``make_env`` (the ``workers`` values apply to Gymnasium ids only).

    Returns:
        One row per combination, in loop order.
    """
    from genpo.envs import make_env, parse_env_id

    torch.set_num_threads(1)  # the parent only converts tensors: leave the cores to the envs
    gen = torch.Generator().manual_seed(seed)
    workers = list(workers)
    combos = [(e, n, w) for e in env_ids for n in num_envs for w in (workers if parse_env_id(e)[0] == "gym" else [0])]
    open_envs: dict[int, Any] = {}
    timings = [_Timing() for _ in combos]
    try:
        for k, (env_id, n, w) in enumerate(combos):
            extra = {"workers": w} if parse_env_id(env_id)[0] == "gym" else {}
            env = make_env(env_id, n, seed=seed, device=device, **extra, **(options or {}))
            open_envs[k] = env
            env.reset()
            timings[k].start(env, gen, warmup)
            if env.one_per_process:
                for _ in range(repeats):
                    timings[k].trial(env, seconds)
                open_envs.pop(k).close()
        for _ in range(repeats):
            for k, env in open_envs.items():
                timings[k].trial(env, seconds)
    finally:
        for env in open_envs.values():
            env.close()
    return [
        EnvBenchRow(env_id, n, t.workers, t.best, n / float(np.quantile(t.durations, 0.1)), len(t.durations))
        for (env_id, n, _), t in zip(combos, timings, strict=True)
    ]


class _Timing:
    """One combination's random actions, best rate and single-step durations."""

    def __init__(self) -> None:
        self.best, self.durations, self.workers = 0.0, [], 0
        self.actions: Tensor | None = None

    def start(self, env: Any, gen: torch.Generator, warmup: int) -> None:
        low = env.action_low.cpu() if env.action_low is not None else -torch.ones(env.action_dim)
        high = env.action_high.cpu() if env.action_high is not None else torch.ones(env.action_dim)
        # Random actions drawn up front: the timing covers the env, not the RNG.
        rand = torch.rand(64, env.num_envs, env.action_dim, generator=gen)
        self.actions = (low + (high - low) * rand).to(env.device)
        self.workers = int(getattr(env, "workers", 0))
        for i in range(warmup):
            env.step(self.actions[i % 64])

    def trial(self, env: Any, seconds: float) -> None:
        count, t0 = 0, time.perf_counter()
        last = t0
        while last - t0 < seconds:
            env.step(self.actions[count % 64])
            now = time.perf_counter()
            self.durations.append(now - last)
            last, count = now, count + 1
        self.best = max(self.best, env.num_envs * count / (last - t0))


def measure_gymnasium_single(env_id: str, seconds: float = 0.5, repeats: int = 3, seed: int = 0) -> tuple[float, float]:
    """One plain Gymnasium env (no genpo), the machine's reference speed: ``(mean, quiet)`` steps/s as above."""
    import gymnasium as gym

    env = gym.make(env_id.removeprefix("gym:"))
    env.reset(seed=seed)
    action = env.action_space.sample()
    best, durations = 0.0, []
    for _ in range(repeats):
        count, t0 = 0, time.perf_counter()
        last = t0
        while last - t0 < seconds:
            _, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                env.reset()
            now = time.perf_counter()
            durations.append(now - last)
            last, count = now, count + 1
        best = max(best, count / (last - t0))
    env.close()
    return best, 1.0 / float(np.quantile(durations, 0.1))


def format_markdown(rows: Sequence[EnvBenchRow]) -> str:
    """A markdown table: one line per (env, num_envs), one column per worker count, ``mean / quiet`` k steps/s."""
    workers = sorted({r.workers for r in rows})
    keys = list(dict.fromkeys((r.env_id, r.num_envs) for r in rows))
    head = "| env | envs | " + " | ".join(f"workers={w}" for w in workers) + " |"
    lines = [head, "|---|---|" + "---|" * len(workers)]
    for env_id, n in keys:
        cells = []
        for w in workers:
            match = [r for r in rows if (r.env_id, r.num_envs, r.workers) == (env_id, n, w)]
            cells.append(
                f"{match[0].steps_per_s / 1e3:.1f}k / {match[0].quiet_steps_per_s / 1e3:.1f}k" if match else "-"
            )
        lines.append(f"| {env_id} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m genpo.benchmarks.envs``: prints the table of docs/benchmarks.md (Environment stepping)."""
    import argparse
    import os

    from genpo.envs.gym import usable_cpus

    p = argparse.ArgumentParser(description="Env-steps per second of genpo's Gymnasium backend (mean / quiet).")
    p.add_argument("--envs", nargs="+", default=["HalfCheetah-v5", "Ant-v5"])
    p.add_argument("--num-envs", nargs="+", type=int, default=[8, 16])
    p.add_argument("--workers", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--seconds", type=float, default=0.5)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    print(f"cpus: {usable_cpus()}, load average before: {os.getloadavg()[0]:.1f}")
    for env_id in args.envs:
        mean, quiet = measure_gymnasium_single(env_id, args.seconds, args.repeats)
        print(f"plain gymnasium, 1 env, {env_id}: {mean / 1e3:.1f}k / {quiet / 1e3:.1f}k steps/s (mean / quiet)")
    rows = measure_env_stepping(args.envs, args.num_envs, args.workers, seconds=args.seconds, repeats=args.repeats)
    print(format_markdown(rows))
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
