"""``genpo play``: evaluate a checkpoint; optionally record a video of one episode."""

from __future__ import annotations

from pathlib import Path

import typer

from genpo.cli.app import app
from genpo.console import make_console
from genpo.errors import RunFailed


@app.command()
def play(
    checkpoint: str = typer.Option("latest", "--checkpoint", "--load", help="Checkpoint file, run folder or 'latest'."),
    env: str | None = typer.Option(None, "--env", "--task", help="Evaluate on this env id (default: the trained one)."),
    episodes: int = typer.Option(10, "--episodes", help="Episodes to run (one per parallel environment)."),
    deterministic: bool = typer.Option(
        True, "--deterministic/--stochastic", help="Zero-noise actions, or sampled actions."
    ),
    video: bool = typer.Option(False, "--video", help="Also record one episode to an mp4 (MuJoCo tasks)."),
    video_length: int = typer.Option(1000, "--video-length", help="Maximum frames in the video."),
    seed: int = typer.Option(10_000, "--seed", help="Seed of the evaluation environments."),
    device: str = typer.Option("cpu", "--device", help="cpu or cuda[:N]."),
    logdir: str = typer.Option("logs", "--logdir", help="Where 'latest' looks for runs."),
    plugin: list[str] = typer.Option(
        [],
        "--plugin",
        help="Module the checkpoint may import (its dotted parts or run.plugins); repeatable.",
    ),
) -> None:
    """Evaluate a trained policy and print the mean ± std episode return."""
    from genpo.training import api

    console = make_console()
    api.check_episodes(episodes)  # before loading or rendering anything
    path = api.locate_checkpoint(checkpoint, logdir, env)
    ac, cfg = api.load(path, device=device, env=env, plugins=plugin)
    env_id = env or cfg.env.id
    mode = "deterministic" if deterministic else "stochastic"
    if video:  # first: a machine that cannot render fails before the evaluation's work
        from genpo.training.video import VideoError, record_video

        out = Path(path).parent / "videos" / f"{Path(path).stem}_{mode}.mp4"
        try:
            n = record_video(ac, env_id, out, deterministic=deterministic, seed=seed, max_frames=video_length)
        except VideoError as exc:
            raise RunFailed(str(exc)) from None
        console.print(f"video: {out} ({n} frames)", highlight=False)
    returns = api.evaluate(ac, env_id, episodes=episodes, deterministic=deterministic, seed=seed, config=cfg)
    console.print(f"checkpoint: {path}", highlight=False)
    console.print(
        f"{env_id}: {mode} return over {episodes} episodes: {returns.mean():.2f} ± {returns.std(unbiased=False):.2f}",
        highlight=False,
    )
