"""``genpo bench curves``: learning curves of several models × envs × seeds, against env steps and wall time."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from genpo.console import make_console
from genpo.errors import ConfigError
from genpo.training.config import TrainConfig
from genpo.training.runner import Trainer


@dataclass
class CurvePoint:
    """One iteration of one run."""

    env: str
    model: str
    seed: int
    env_steps: int
    wall_time: float
    mean_return: float | None


def run(
    envs: tuple[str, ...] = ("gym:HalfCheetah-v5", "gym:Hopper-v5", "gym:Ant-v5"),
    models: tuple[str, ...] = ("gaussian", "flow"),
    seeds: tuple[int, ...] = (1, 2, 3),
    total_steps: int = 20_000,
    num_envs: int = 16,
    console: Console | None = None,
) -> list[CurvePoint]:
    """Trains every (env, model, seed) with default settings for ``total_steps`` env steps."""
    console = console or make_console()
    points = []
    for env_id in envs:
        for model in models:
            for seed in seeds:
                cfg = TrainConfig.from_dict(
                    {
                        "env": {"id": env_id, "num_envs": num_envs},
                        "policy": {"model": model},
                        "run": {"max_iterations": None, "total_steps": total_steps, "seed": seed},
                    }
                )
                cfg.validate()
                trainer = Trainer(cfg, console=Console(file=io.StringIO()))
                try:
                    result = trainer.train(None)
                finally:
                    trainer.env.close()
                points += [CurvePoint(env_id, model, seed, s, w, r) for s, w, r in result.history]
                final = result.history[-1][2]
                console.print(
                    f"{env_id} {model} seed {seed}: {result.env_steps} steps in {result.wall_time:.0f}s, "
                    f"mean return of the last 100 episodes {final if final is None else round(final, 1)}",
                    highlight=False,
                )
    return points


def write_csv(points: list[CurvePoint], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["env", "model", "seed", "env_steps", "wall_time", "mean_return"])
        for p in points:
            w.writerow([p.env, p.model, p.seed, p.env_steps, f"{p.wall_time:.3f}", p.mean_return])


def plot(points: list[CurvePoint], path: Path) -> None:
    """One row per env: return vs env steps (left) and vs wall time (right), mean ± min/max over seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    envs = sorted({p.env for p in points if p.mean_return is not None})
    if not envs:
        raise ConfigError("no run finished an episode: raise --total-steps (or lower --num-envs)")
    fig, axes = plt.subplots(len(envs), 2, figsize=(10, 3.2 * len(envs)), squeeze=False)
    for row, env in enumerate(envs):
        for model in sorted({p.model for p in points if p.env == env}):
            runs = {}
            for p in points:
                if p.env == env and p.model == model and p.mean_return is not None:
                    runs.setdefault(p.seed, []).append(p)
            if not runs:
                continue
            n = min(len(v) for v in runs.values())
            steps = np.array([p.env_steps for p in next(iter(runs.values()))[:n]])
            rets = np.array([[p.mean_return for p in v[:n]] for v in runs.values()])
            walls = np.array([[p.wall_time for p in v[:n]] for v in runs.values()]).mean(0)
            label = "GenPO (edict K=5)" if model == "flow" else "PPO (Gaussian)" if model == "gaussian" else model
            for col, x in enumerate((steps, walls)):
                ax = axes[row][col]
                ax.plot(x, rets.mean(0), label=f"{label}, {len(runs)} seeds")
                ax.fill_between(x, rets.min(0), rets.max(0), alpha=0.2)
        axes[row][0].set_title(f"{env}: return vs env steps")
        axes[row][1].set_title(f"{env}: return vs wall time")
        axes[row][0].set_xlabel("env steps")
        axes[row][1].set_xlabel("seconds")
        axes[row][0].set_ylabel("mean return (last 100 episodes)")
        axes[row][0].legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
