"""``genpo bench train``: env-steps/s over whole iterations (rollout + update), one trainer, several policies."""

from __future__ import annotations

import io
import time
from dataclasses import dataclass

from rich.console import Console

from genpo.training.config import TrainConfig
from genpo.training.runner import Trainer


@dataclass
class TrainRow:
    """Throughput of one (env, model) pair."""

    env: str
    model: str
    num_envs: int
    iterations: int
    steps_per_s: float
    rollout_s: float
    update_s: float


ZOO: dict[str, dict] = {
    "edict": {"model": "flow", "integrator": "edict"},
    "reversible-heun": {"model": "flow", "integrator": "reversible-heun"},
    "reversible-rk": {"model": "flow", "integrator": "reversible-rk"},
    "gaussian-chain": {"model": "flow", "integrator": "gaussian-chain"},
    "gaussian-chain-learned": {"model": "flow", "integrator": "gaussian-chain", "options": {"noise": "learned"}},
    "cfm": {"model": "flow", "integrator": "euler", "likelihood": "cfm"},
}
"""Flow-policy variants ``--model`` also accepts, as policy sections (every other name is a model family)."""


def policy_section(name: str) -> dict:
    """The policy section of a benchmarked name: a :data:`ZOO` variant or a registered model."""
    return dict(ZOO[name]) if name in ZOO else {"model": name}


def run(
    envs: tuple[str, ...] = ("gym:HalfCheetah-v5", "gym:Ant-v5"),
    models: tuple[str, ...] = ("gaussian", "flow"),
    num_envs: int = 16,
    iterations: int = 5,
    warmup: int = 1,
    seed: int = 0,
    options: dict | None = None,
) -> list[TrainRow]:
    """Trains each pair for ``warmup + iterations`` iterations with default settings; times the last ones."""
    rows = []
    for env_id in envs:
        for model in models:
            cfg = TrainConfig.from_dict(
                {
                    "env": {"id": env_id, "num_envs": num_envs, "options": dict(options or {})},
                    "policy": policy_section(model),
                    "run": {"max_iterations": warmup, "seed": seed},
                }
            )
            cfg.validate()
            trainer = Trainer(cfg, console=Console(file=io.StringIO()))
            try:
                trainer.train(None)
                cfg.run.max_iterations = iterations
                t0 = time.perf_counter()
                result = trainer.train(None)
                wall = time.perf_counter() - t0
            finally:
                trainer.env.close()
            rollout = sum(h for h in trainer.last_timings["rollout"])
            update = sum(h for h in trainer.last_timings["update"])
            rows.append(
                TrainRow(
                    env_id,
                    model,
                    num_envs,
                    iterations,
                    result.env_steps / wall,
                    rollout / iterations,
                    update / iterations,
                )
            )
    return rows
