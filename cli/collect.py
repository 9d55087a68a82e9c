"""``genpo collect``: record a policy's (or a scripted demonstrator's) episodes as a Minari dataset."""

from __future__ import annotations

import sys
import time

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from genpo.cli.app import app
from genpo.console import make_console


class _EpisodeProgress:
    """A live bar on a terminal, a plain line every ``every`` seconds elsewhere (as ``genpo train`` shows progress)."""

    def __init__(self, console: Console, total: int, every: float = 10.0) -> None:
        self.console, self.total, self.every = console, total, every
        self.t0 = self.last = time.perf_counter()
        self.sum = 0.0
        self.bar: Progress | None = None
        if console.is_terminal and sys.stdout.isatty():
            self.bar = Progress(
                TextColumn("[bold]episodes"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("return {task.fields[ret]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=console,
            )
            self.task = self.bar.add_task("collect", total=total, ret="-")
            self.bar.start()

    def __call__(self, done: int, total: int, episode_return: float) -> None:
        self.sum += episode_return
        mean = self.sum / done
        if self.bar is not None:
            self.bar.update(self.task, completed=done, ret=f"{mean:.2f}")
            return
        now = time.perf_counter()
        if now - self.last >= self.every or done == total or done == 1:
            self.last = now
            elapsed = now - self.t0
            self.console.print(
                f"episodes {done}/{total}  mean return {mean:.2f}  elapsed {elapsed:.0f}s  "
                f"left {elapsed / done * (total - done):.0f}s",
                highlight=False,
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


@app.command()
def collect(
    checkpoint: str = typer.Option(
        ...,
        "--checkpoint",
        "--load",
        help="Checkpoint file, run folder or 'latest' of a trained policy, or scripted:NAME for a scripted "
        "demonstrator (scripted:MultiGoal; genpo list).",
    ),
    episodes: int = typer.Option(..., "--episodes", help="Whole episodes to record."),
    out: str = typer.Option(
        ...,
        "--out",
        "-o",
        help="Minari dataset id in the local store ($MINARI_DATASETS_PATH or ~/.minari/datasets), e.g. "
        "genpo/hopper-medium-v0, or a folder path (starting with /, . or ~). Never overwritten.",
    ),
    stochastic: bool = typer.Option(
        False,
        "--stochastic/--deterministic",
        help="Sample the policy's actions, or take its zero-noise action (default).",
    ),
    action_noise: float = typer.Option(
        0.0, "--action-noise", help="Std of Gaussian noise added to each action before clipping to the bounds."
    ),
    seed: int = typer.Option(0, "--seed", help="Seeds the environments, sampling, noise and scripted choices."),
    num_envs: int | None = typer.Option(None, "--num-envs", help="Parallel environments (default: min(episodes, 16))."),
    env_option: list[str] = typer.Option(
        [],
        "--env-option",
        help="Environment option KEY=VALUE over the checkpoint's (e.g. num_goals=6 for scripted:MultiGoal); "
        "repeatable.",
    ),
    device: str = typer.Option("cpu", "--device", help="cpu or cuda[:N]."),
    logdir: str = typer.Option("logs", "--logdir", help="Where 'latest' looks for runs."),
    plugin: list[str] = typer.Option(
        [], "--plugin", help="Module to import first (the checkpoint's parts, a scripted demonstrator); repeatable."
    ),
) -> None:
    """Record whole episodes of a policy as a Minari dataset of demonstrations (docs/finetune.md).

    The dataset holds the raw observation of each step and the action the environment executed (clipped to its
    bounds), and records the environment (genpo's id and options, and Gymnasium's spec for gym tasks).

    genpo collect --checkpoint logs/genpo/Hopper-v5/RUN --episodes 100 --stochastic --out genpo/hopper-medium-v0

    genpo collect --checkpoint scripted:MultiGoal --episodes 2000 --out genpo/multigoal-v0
    """
    from genpo.data import collect as run_collect
    from genpo.errors import ConfigError
    from genpo.training.fields import parse_value

    console = make_console()
    options = {}
    for text in env_option:
        key, eq, value = text.partition("=")
        if not eq or not key.strip():
            raise ConfigError(f"--env-option expects KEY=VALUE (e.g. num_goals=6), got {text!r}")
        options[key.strip()] = parse_value(value)
    progress = _EpisodeProgress(console, episodes) if isinstance(episodes, int) and episodes >= 1 else None
    try:
        result = run_collect(
            checkpoint,
            episodes,
            out,
            stochastic=stochastic,
            action_noise=action_noise,
            seed=seed,
            num_envs=num_envs,
            env_options=options,
            device=device,
            logdir=logdir,
            plugins=plugin,
            progress=progress,
        )
    finally:
        if progress is not None:
            progress.close()
    r = result.returns
    console.print(f"dataset: {result.dataset_id} at {result.path}", highlight=False)
    console.print(
        f"{result.env_id}: {result.episodes} episodes, {result.steps} steps, return {r.mean():.2f} ± "
        f"{r.std(unbiased=False):.2f} (min {r.min():.2f}, max {r.max():.2f}), {result.seconds:.1f}s",
        highlight=False,
    )
