"""Environment stepping throughput: env-steps per second of :func:`genpo.envs.make_env` under random actions."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class EnvBenchRow:
    """One measurement.

    Attributes:
        env_id: Environment id.
        num_envs: Sub-environments stepped together.
        workers: Worker processes (0: in-process).
        steps_per_s: Env-steps per second (``num_envs`` x batched steps / wall time), including the
            numpy<->torch conversion, clipping and auto-resets.
        batch_steps: Batched steps timed.
    """

    env_id: str
    num_envs: int
    workers: int
    steps_per_s: float
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
) -> list[EnvBenchRow]:
    """Times ``env.step`` with uniform random actions in the action bounds for each combination.

    All combinations are built first and then timed round-robin, ``repeats`` trials of ``seconds`` each,
    keeping each one's best trial: on a shared machine, interleaving spreads other load over all
    combinations and the best trial is the least disturbed.

    Args:
        env_ids: Ids for :func:`genpo.envs.make_env`.
        num_envs: Batch sizes to try.
        workers: Worker counts to try (the ``workers`` option; 0 steps in-process).
        seconds: Wall time of one trial.
        repeats: Trials per combination.
        warmup: Untimed steps first (workers start, caches warm).
        seed: Seed of the environments and of the actions.

    Returns:
        One row per combination, in loop order.
    """
    from genpo.envs import make_env

    torch.set_num_threads(1)  # the parent only draws actions: leave the cores to the workers
    gen = torch.Generator().manual_seed(seed)
    combos = [(e, n, w) for e in env_ids for n in num_envs for w in workers]
    envs, best, steps = [], [0.0] * len(combos), [0] * len(combos)
    try:
        for env_id, n, w in combos:
            env = make_env(env_id, n, seed=seed, workers=w)
            envs.append(env)
            env.reset()
        actions = []
        for env in envs:
            low = env.action_low if env.action_low is not None else -torch.ones(env.action_dim)
            high = env.action_high if env.action_high is not None else torch.ones(env.action_dim)
            # A pool of random actions drawn up front: the timing covers the env, not the RNG.
            actions.append(low + (high - low) * torch.rand(64, env.num_envs, env.action_dim, generator=gen))
            for i in range(warmup):
                env.step(actions[-1][i % 64])
        for _ in range(repeats):
            for k, env in enumerate(envs):
                count, t0 = 0, time.perf_counter()
                while (elapsed := time.perf_counter() - t0) < seconds:
                    env.step(actions[k][count % 64])
                    count += 1
                rate = env.num_envs * count / elapsed
                if rate > best[k]:
                    best[k], steps[k] = rate, count
    finally:
        for env in envs:
            env.close()
    return [
        EnvBenchRow(env_id, n, int(getattr(env, "workers", w)), best[k], steps[k])
        for k, ((env_id, n, w), env) in enumerate(zip(combos, envs, strict=True))
    ]


def measure_gymnasium_single(env_id: str, seconds: float = 0.5, repeats: int = 3, seed: int = 0) -> float:
    """Steps/s of one plain Gymnasium env (no genpo), the machine's reference speed; best of ``repeats``."""
    import gymnasium as gym

    env = gym.make(env_id.removeprefix("gym:"))
    env.reset(seed=seed)
    action = env.action_space.sample()
    best = 0.0
    for _ in range(repeats):
        count, t0 = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - t0) < seconds:
            _, _, terminated, truncated, _ = env.step(action)
            count += 1
            if terminated or truncated:
                env.reset()
        best = max(best, count / elapsed)
    env.close()
    return best


def format_markdown(rows: Sequence[EnvBenchRow]) -> str:
    """A markdown table with one line per (env, num_envs) and one column per worker count."""
    workers = sorted({r.workers for r in rows})
    keys = list(dict.fromkeys((r.env_id, r.num_envs) for r in rows))
    head = "| env | envs | " + " | ".join(f"workers={w}" for w in workers) + " |"
    sep = "|---|---|" + "---|" * len(workers)
    lines = [head, sep]
    for env_id, n in keys:
        cells = []
        for w in workers:
            match = [r for r in rows if (r.env_id, r.num_envs, r.workers) == (env_id, n, w)]
            cells.append(f"{match[0].steps_per_s / 1000:.1f}k" if match else "-")
        lines.append(f"| {env_id} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m genpo.benchmarks.envs``: prints the markdown table of docs/benchmarks.md."""
    import argparse
    import os

    from genpo.envs.gym import usable_cpus

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--envs", nargs="+", default=["HalfCheetah-v5", "Ant-v5"])
    p.add_argument("--num-envs", nargs="+", type=int, default=[8, 16])
    p.add_argument("--workers", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--seconds", type=float, default=0.5)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    print(f"cpus: {usable_cpus()}, load average: {os.getloadavg()[0]:.1f}")
    for env_id in args.envs:
        rate = measure_gymnasium_single(env_id, args.seconds, args.repeats)
        print(f"plain gymnasium, 1 env, {env_id}: {rate / 1000:.1f}k steps/s")
    rows = measure_env_stepping(args.envs, args.num_envs, args.workers, seconds=args.seconds, repeats=args.repeats)
    print(format_markdown(rows))


if __name__ == "__main__":
    main()
