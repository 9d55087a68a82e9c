"""``genpo bench profile``: where one training iteration's CPU time goes, phase by phase.

The rollout is timed in the trainer itself, with the policy's sampling and the critic's value timed inside
it (the rest is the environment and the bookkeeping). The update's phases are timed on a copy of the
actor-critic, on the real rollout, minibatch by minibatch, each with its own backward pass: the log-prob
pass (the inverse map, with gradient), the compression loss (a fresh forward pass, with gradient), the
critic, and the gradient clip + Adam step. The real update then runs on the real actor-critic and is timed
whole, so the sum of the phases can be checked against it (the difference is the losses, the KL, the one
host read per minibatch and the minibatch indexing, or separate backward passes costing more than one).
"""

from __future__ import annotations

import copy
import io
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import torch
from rich.console import Console
from torch import nn

from genpo.benchmarks.train import model_sections
from genpo.objectives import clipped_surrogate, compression_loss, normalize_advantages, value_loss
from genpo.training.config import TrainConfig
from genpo.training.ppo import compress_rows
from genpo.training.runner import Trainer
from genpo.training.storage import RolloutStorage

ROLLOUT_PHASES = ("rollout: policy sample", "rollout: critic value", "rollout: env + bookkeeping")
UPDATE_PHASES = (
    "update: log-prob pass (fwd + bwd)",
    "update: compression (fwd + bwd)",
    "update: critic (fwd + bwd)",
    "update: grad clip + Adam step",
)


@dataclass
class Profile:
    """CPU seconds per iteration of each phase, and of the whole rollout and update as the trainer ran them."""

    env: str
    model: str
    num_envs: int
    iterations: int
    phases: dict[str, float] = field(default_factory=dict)
    rollout_s: float = 0.0
    update_s: float = 0.0


CLOCK = time.process_time
"""Every phase is timed in this process's CPU seconds: on a shared machine wall-clock time also counts the other
processes' turns on the cores."""


def _timed(fn: Callable[..., Any], sink: list[float], when: Callable[[], bool] = lambda: True) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not when():
            return fn(*args, **kwargs)
        t0 = CLOCK()
        out = fn(*args, **kwargs)
        sink.append(CLOCK() - t0)
        return out

    return wrapper


def profile_update(trainer: Trainer, storage: RolloutStorage, sums: dict[str, float], shared: bool = True) -> None:
    """Times the update's phases on a copy of the actor-critic (the run's own parameters are untouched).

    The minibatches are drawn with a private generator, so the run's random stream is not shifted. With
    ``shared`` the log-prob and compression passes share the time embeddings as the update does (the
    compression phase then adds its gradient through them); without, each pass computes its own (the update
    before issue 15).
    """
    cfg = trainer.cfg.algo
    ac = copy.deepcopy(trainer.ac)
    policy = ac.policy
    for module, name in ((ac, "value"), (policy, "sample")):  # the copy must not call the timed originals
        module.__dict__.pop(name, None)
    opt = torch.optim.Adam(ac.parameters(), lr=cfg.learning_rate, fused=True)
    compress = trainer.algorithm.compress
    gen = torch.Generator().manual_seed(0)
    torch.set_num_threads(trainer.update_threads)

    @contextmanager
    def clock(name: str) -> Iterator[None]:
        t0 = CLOCK()
        yield
        sums[name] += CLOCK() - t0

    for _ in range(cfg.num_epochs):
        for mb in storage.minibatches(cfg.num_minibatches, generator=gen):
            opt.zero_grad(set_to_none=True)
            with policy.shared_terms() if shared else nullcontext():
                with clock(UPDATE_PHASES[0]):
                    new = policy.log_weight(mb["obs"], mb["latents"])
                    adv = normalize_advantages(mb["advantages"]) if cfg.normalize_advantage else mb["advantages"]
                    adv = adv.reshape(adv.shape + (1,) * len(policy.score_shape))
                    loss = clipped_surrogate(new, mb["log_probs"], adv, cfg.clip_param)[0]
                    loss.backward(retain_graph=shared and compress)
                if compress:
                    with clock(UPDATE_PHASES[1]):
                        rows = compress_rows(mb["obs"].shape[0], cfg.compress_fraction)
                        noise = torch.randn(rows, mb["latents"].shape[1], generator=gen).to(mb["latents"])
                        comp = compression_loss(policy.generate_only(mb["obs"][:rows], noise))
                        (cfg.compress_coef * comp).backward()
            with clock(UPDATE_PHASES[2]):
                values = ac.value(mb["critic_obs"])
                clip = cfg.clip_param if cfg.value_clip else None
                (cfg.value_coef * value_loss(values, mb["values"], mb["returns"], clip)).backward()
            with clock(UPDATE_PHASES[3]):
                nn.utils.clip_grad_norm_(ac.parameters(), cfg.max_grad_norm)
                opt.step()


def run(
    env_id: str = "gym:HalfCheetah-v5",
    model: str = "edict",
    num_envs: int = 16,
    iterations: int = 3,
    seed: int = 0,
    options: dict | None = None,
    device: str = "cpu",
    shared: bool = True,
) -> Profile:
    """Profiles ``iterations`` training iterations after one warm-up; ``model`` as ``genpo bench train`` reads it."""
    sections = model_sections(model)
    sections["env"] = {"id": env_id, "num_envs": num_envs, "options": dict(options or {})}
    sections["run"] = {**sections.get("run", {}), "max_iterations": 1, "seed": seed, "device": device}
    cfg = TrainConfig.from_dict(sections)
    cfg.validate()
    trainer = Trainer(cfg, console=Console(file=io.StringIO()))
    out = Profile(env_id, model, num_envs, iterations)
    try:
        trainer.train(None)  # warm-up
        sample_t: list[float] = []
        value_t: list[float] = []
        sums: dict[str, float] = defaultdict(float)
        policy, ac = trainer.ac.policy, trainer.ac
        real_update = trainer.algorithm.optimize

        real_rollout = trainer._rollout
        in_update = [False]
        totals = {"rollout": 0.0, "update": 0.0}

        def rollout(*args: Any) -> Any:
            c0 = CLOCK()
            try:
                return real_rollout(*args)
            finally:
                totals["rollout"] += CLOCK() - c0

        def optimize(storage: RolloutStorage, iteration: int) -> dict[str, float]:
            in_update[0] = True
            try:
                profile_update(trainer, storage, sums, shared)
                c0 = CLOCK()
                out = real_update(storage, iteration)
                totals["update"] += CLOCK() - c0
                return out
            finally:
                in_update[0] = False

        # Instance attributes shadow the methods for the timed iterations only.
        policy.sample = _timed(policy.sample, sample_t)  # type: ignore[method-assign]
        ac.value = _timed(ac.value, value_t, lambda: not in_update[0])  # type: ignore[method-assign]
        trainer.algorithm.optimize = optimize  # type: ignore[method-assign]
        trainer._rollout = rollout  # type: ignore[method-assign]
        try:
            cfg.run.max_iterations = iterations
            trainer.train(None)
        finally:
            del policy.sample, ac.value, trainer.algorithm.optimize, trainer._rollout
        out.rollout_s = totals["rollout"] / iterations
        out.update_s = totals["update"] / iterations
        out.phases[ROLLOUT_PHASES[0]] = sum(sample_t) / iterations
        out.phases[ROLLOUT_PHASES[1]] = sum(value_t) / iterations
        out.phases[ROLLOUT_PHASES[2]] = out.rollout_s - out.phases[ROLLOUT_PHASES[0]] - out.phases[ROLLOUT_PHASES[1]]
        for name in UPDATE_PHASES:
            if name in sums:
                out.phases[name] = sums[name] / iterations
    finally:
        trainer.env.close()
    return out


def format_markdown(p: Profile) -> str:
    """A markdown table of one profile: seconds per iteration and share of the iteration."""
    total = p.rollout_s + p.update_s
    lines = [
        f"{p.env}, {p.model}, {p.num_envs} envs, {p.iterations} iterations after 1 warm-up: "
        f"rollout {p.rollout_s:.3f} CPU-s/it, update {p.update_s:.3f} CPU-s/it (as the trainer ran them)",
        "",
        "| phase | CPU-s/it | share of the iteration |",
        "|---|---|---|",
    ]
    for name, sec in p.phases.items():
        lines.append(f"| {name} | {sec:.3f} | {sec / total:.0%} |")
    phased = sum(v for k, v in p.phases.items() if k.startswith("update"))
    lines.append(
        f"| update: rest (losses, KL, host read, indexing) | {p.update_s - phased:.3f} | "
        f"{(p.update_s - phased) / total:.0%} |"
    )
    return "\n".join(lines)
