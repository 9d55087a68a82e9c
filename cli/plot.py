"""``genpo plot``: figures and a summary of existing run folders, or a policy's action distribution."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from genpo.cli.app import app
from genpo.errors import ConfigError, GenpoError


@app.command()
def plot(
    paths: list[str] = typer.Argument(
        None, help="Run folders or folders above them (an ablation's --out); or 'actions' (see below)."
    ),
    out: Path | None = typer.Option(None, "--out", help="Where figures and tables go (default: the first folder)."),
    smooth: int = typer.Option(5, "--smooth", help="Moving-average window (iterations) of the return curves."),
    checkpoint: str | None = typer.Option(
        None, "--checkpoint", "--load", help="plot actions: checkpoint file or run folder."
    ),
    obs: str | None = typer.Option(
        None, "--obs", help="plot actions: observation as comma-separated numbers (default: the env's start)."
    ),
    samples: int = typer.Option(2000, "--samples", help="plot actions: actions to draw."),
    radius: float = typer.Option(0.15, "--radius", help="plot actions: distance that counts a sample at an optimum."),
    seed: int = typer.Option(0, "--seed", help="plot actions: seed of the samples."),
) -> None:
    """Draw return curves and a summary across seeds from run folders, or a policy's action distribution.

    [bold]genpo plot ablations/hopper[/]  (runs.csv, summary.md/.csv, figures/returns_<env>.png/.svg)

    [bold]genpo plot logs/genpo/Hopper-v5/run_a logs/genpo/Hopper-v5/run_b --out cmp[/]

    [bold]genpo plot actions --checkpoint RUN_FOLDER [--obs 0,0,0] [--out DIR][/]
    (a 2-D histogram of 2,000 sampled actions; on builtin:MultiGoal also the share of samples at each optimum)
    """
    console = Console()
    paths = list(paths or [])
    if paths[:1] == ["actions"]:
        if len(paths) > 1:
            raise ConfigError(f"plot actions takes no folders (use --checkpoint), got {' '.join(paths[1:])}")
        _plot_actions(console, checkpoint, obs, out, samples, radius, seed)
        return
    if checkpoint is not None or obs is not None:
        raise ConfigError("--checkpoint and --obs belong to 'genpo plot actions'")
    if not paths:
        raise ConfigError("name run folders (or an ablation's folder), or use 'genpo plot actions'")
    if smooth < 1:
        raise ConfigError(f"--smooth must be >= 1, got {smooth}")
    from genpo.workbench.ablate import write_report
    from genpo.workbench.runs import find_runs

    try:
        runs = find_runs([Path(p) for p in paths])
    except ValueError as exc:  # a path that does not exist
        raise ConfigError(str(exc)) from None
    if not runs:
        raise ConfigError(f"no run folder (params/config.yaml) under {', '.join(paths)}")
    dest = out or Path(paths[0])
    report = write_report(runs, dest, window=smooth)
    console.print(f"{len(runs)} run folders; tables in {dest}", highlight=False)
    console.print((dest / "summary.md").read_text(), highlight=False, markup=False)
    for path in report["figures"]:
        console.print(f"figure: {path}", highlight=False)


def _plot_actions(
    console: Console, checkpoint: str | None, obs: str | None, out: Path | None, n: int, radius: float, seed: int
) -> None:
    from genpo.training.api import locate_checkpoint
    from genpo.workbench.actions import MODE_SHARE, mode_shares, modes_held, sample_actions
    from genpo.workbench.plots import action_histogram

    if checkpoint is None:
        raise ConfigError("plot actions needs --checkpoint FILE_OR_RUN_FOLDER")
    if n < 1:
        raise ConfigError(f"--samples must be >= 1, got {n}")
    if not radius > 0:
        raise ConfigError(f"--radius must be > 0, got {radius}")
    path = locate_checkpoint(checkpoint, "logs")
    try:
        sample = sample_actions(path, obs, n, seed)
    except GenpoError:
        raise
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    dest = out or Path(path).parent / "actions"
    obs_text = ", ".join(f"{x:.3g}" for x in sample.obs)
    title = f"{Path(path).parent.name}/{Path(path).name}\n{n} actions at obs ({obs_text})"
    if sample.optima is not None:
        shares = mode_shares(sample.actions, sample.optima, radius)
        held = modes_held(shares)
        title += (
            f"\nshare within {radius:g} of each optimum: {', '.join(f'{s:.0%}' for s in shares)}; modes held {held}"
        )
        console.print(
            f"share of samples within {radius:g} of each optimal action: {', '.join(f'{s:.3f}' for s in shares)}; "
            f"modes holding >= {MODE_SHARE:.0%}: {held}",
            highlight=False,
        )
    paths = action_histogram(
        sample.actions, dest, f"actions_{Path(path).stem}", title, sample.low, sample.high, sample.optima
    )
    for p in paths:
        console.print(f"figure: {p}", highlight=False)
