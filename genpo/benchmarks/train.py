"""``genpo bench train``: env-steps/s over whole iterations (rollout + update), one trainer, several policies."""

from __future__ import annotations

import io
import time
from dataclasses import dataclass

from rich.console import Console

from genpo.errors import ConfigError
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
    steps_per_cpu_s: float = 0.0
    """Env steps per second of this process's CPU time (user + system, all its threads): on a shared machine
    this follows the work done, where wall-clock rates follow the other processes' load too."""


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


def model_sections(spec: str) -> dict[str, dict]:
    """Configuration sections of a benchmarked model: ``NAME`` or ``NAME:FIELD=VALUE[:FIELD=VALUE...]``.

    ``NAME`` is a :data:`ZOO` variant or a registered model; each ``FIELD=VALUE`` sets one configuration field
    the way ``genpo train --set`` does (``edict:compress_fraction=0.25``, ``edict:steps=3``), except the
    environment and run fields the benchmark sets itself.

    Raises:
        ConfigError: An empty name, a malformed or unknown field, or one the benchmark sets.
    """
    from genpo.training.fields import parse_assignment

    name, *assignments = spec.split(":")
    if not name:
        raise ConfigError(f"--model {spec!r}: expected NAME or NAME:FIELD=VALUE, e.g. edict:compress_fraction=0.25")
    sections: dict[str, dict] = {"policy": policy_section(name)}
    reserved = {
        f: "genpo bench train"
        for f in (
            "env.id",
            "env.num_envs",
            "env.options",
            "run.max_iterations",
            "run.total_steps",
            "run.seed",
            "run.device",
        )
    }
    for text in assignments:
        dotted, value = parse_assignment(text, reserved)
        section, field = dotted.split(".", 1)
        sections.setdefault(section, {})[field] = value
    return sections


def run(
    envs: tuple[str, ...] = ("gym:HalfCheetah-v5", "gym:Ant-v5"),
    models: tuple[str, ...] = ("gaussian", "flow"),
    num_envs: int = 16,
    iterations: int = 5,
    warmup: int = 1,
    seed: int = 0,
    options: dict | None = None,
    device: str = "cpu",
) -> list[TrainRow]:
    """Trains each pair for ``warmup + iterations`` iterations with default settings; times the last ones.

    ``models`` are names :func:`model_sections` reads (``edict``, ``edict:compress_fraction=0.25``); every
    configuration is built and validated before the first one runs.
    """
    rows = []
    configs = []
    for env_id in envs:
        for model in models:
            sections = model_sections(model)
            sections["env"] = {"id": env_id, "num_envs": num_envs, "options": dict(options or {})}
            sections["run"] = {**sections.get("run", {}), "max_iterations": warmup, "seed": seed, "device": device}
            cfg = TrainConfig.from_dict(sections)
            cfg.validate()
            configs.append((env_id, model, cfg))
    for env_id, model, cfg in configs:
        trainer = Trainer(cfg, console=Console(file=io.StringIO()))
        try:
            trainer.train(None)
            cfg.run.max_iterations = iterations
            t0, c0 = time.perf_counter(), time.process_time()
            result = trainer.train(None)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
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
                result.env_steps / cpu,
            )
        )
    return rows
