"""``genpo plot``: figures and a summary of existing run folders, or a policy's action distribution."""

from __future__ import annotations

import math
from pathlib import Path

import typer
from rich.console import Console

from genpo.cli.app import app
from genpo.console import make_console
from genpo.errors import ConfigError


@app.command()
def plot(
    paths: list[str] = typer.Argument(
        None, help="Run folders or folders above them (an ablation's --out); or 'actions' (see below)."
    ),
    out: Path | None = typer.Option(None, "--out", help="Where figures and tables go (default: the first folder)."),
    smooth: int = typer.Option(5, "--smooth", help="Moving-average window (iterations) of the return curves."),
    evaluate: int = typer.Option(
        0,
        "--evaluate",
        help="Also evaluate runs without an end-of-run evaluation: N deterministic episodes of the newest "
        "checkpoint, as genpo play (stored in the run folder as evaluation.json).",
    ),
    baseline: list[str] = typer.Option(
        [],
        "--baseline",
        help="LABEL=RETURN: a dashed reference line on the return figures (e.g. the pretrained policy's own "
        "return); repeatable.",
    ),
    checkpoint: list[str] = typer.Option(
        [], "--checkpoint", "--load", help="plot actions: checkpoint file or run folder (repeatable)."
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

    [bold]genpo plot logs/genpo/Hopper-v5/run_a logs/genpo/Hopper-v5/run_b --out cmp --evaluate 10[/]

    [bold]genpo plot actions --checkpoint RUN_FOLDER [--obs 0,0,0] [--out DIR][/]
    (a 2-D histogram of 2,000 sampled actions; on builtin:MultiGoal also the share of samples at each optimum)

    [bold]genpo plot actions ABLATION_DIR --out DIR[/]  (every run's newest checkpoint: one figure each, a grid
    of all, and actions.csv / actions.md with the modes each setting holds across seeds)
    """
    console = make_console()
    paths = list(paths or [])
    if paths[:1] == ["actions"]:
        if baseline:
            raise ConfigError("--baseline belongs to the return figures, not to 'genpo plot actions'")
        _plot_actions(console, paths[1:], checkpoint, obs, out, samples, radius, seed)
        return
    if checkpoint or obs is not None:
        raise ConfigError("--checkpoint and --obs belong to 'genpo plot actions'")
    lines = {}
    for text in baseline:
        label, _, value = text.rpartition("=")
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not label or not math.isfinite(number):
            raise ConfigError(f"--baseline expects LABEL=RETURN (a finite number), got {text!r}")
        lines[label] = number
    if not paths:
        raise ConfigError("name run folders (or an ablation's folder), or use 'genpo plot actions'")
    if smooth < 1:
        raise ConfigError(f"--smooth must be >= 1, got {smooth}")
    from genpo.workbench.ablate import write_report
    from genpo.workbench.runs import find_runs

    runs = find_runs([Path(p) for p in paths])
    if not runs:
        raise ConfigError(f"no run folder (params/config.yaml) under {', '.join(paths)}")
    if evaluate < 0:
        raise ConfigError(f"--evaluate must be >= 0, got {evaluate}")
    if evaluate:
        from genpo.workbench.cell import evaluate_missing

        for run_dir, returns in evaluate_missing(runs, evaluate):
            console.print(f"{run_dir.name}: evaluation {sum(returns) / len(returns):.2f}", highlight=False)
    dest = out or Path(paths[0])
    report = write_report(runs, dest, window=smooth, baselines=lines)
    print_report(console, report, dest, f"{len(runs)} run folders; tables in {dest}")


def print_report(console: Console, report: dict, dest: Path, heading: str) -> None:
    """The warnings of a report (files of runs that could not be read fully), a heading, the summary, the figures."""
    for line in report["warnings"]:
        console.print(f"[bold yellow]warning:[/] {line}", highlight=False, soft_wrap=True)
    console.print(heading, highlight=False)
    console.print((dest / "summary.md").read_text(), highlight=False, markup=False, soft_wrap=True)
    for path in report["figures"]:
        console.print(f"figure: {path}", highlight=False)


def _plot_actions(
    console: Console,
    folders: list[str],
    checkpoints: list[str],
    obs: str | None,
    out: Path | None,
    n: int,
    radius: float,
    seed: int,
) -> None:
    from genpo.training.api import locate_checkpoint
    from genpo.training.checkpoint import checkpoints_in
    from genpo.workbench.actions import MODE_SHARE, mode_shares, row_for, sample_actions, write_table
    from genpo.workbench.plots import action_grid, action_histogram
    from genpo.workbench.runs import find_runs

    if not checkpoints and not folders:
        raise ConfigError("plot actions needs --checkpoint FILE_OR_RUN_FOLDER (or run folders to search)")
    if n < 1:
        raise ConfigError(f"--samples must be >= 1, got {n}")
    if not radius > 0:
        raise ConfigError(f"--radius must be > 0, got {radius}")
    paths = [locate_checkpoint(c, "logs") for c in checkpoints]
    runs = find_runs([Path(f) for f in folders]) if folders else []
    paths += [ckpts[-1] for d in runs if (ckpts := checkpoints_in(d))]
    if not paths:
        raise ConfigError(f"no checkpoint (model_<iteration>.pt) under {', '.join(folders)}")
    rows, panels = [], []
    for path in paths:
        sample = sample_actions(path, obs, n, seed)
        dest = out or Path(path).parent / "actions"
        obs_text = ", ".join(f"{x:.3g}" for x in sample.obs)
        title = f"{Path(path).parent.name}/{Path(path).name}\n{n} actions at obs ({obs_text})"
        shares = None
        if sample.optima is not None:
            shares = mode_shares(sample.actions, sample.optima, radius)
            share_text = ", ".join(f"{s:.0%}" for s in shares)
            title += f"\nwithin {radius:g} of each optimum: {share_text}"
            console.print(
                f"{path}: share of samples within {radius:g} of each optimal action: "
                f"{', '.join(f'{s:.3f}' for s in shares)}; modes holding >= {MODE_SHARE:.0%}: "
                f"{int((shares >= MODE_SHARE).sum())}",
                highlight=False,
            )
        row = row_for(Path(path), shares)
        rows.append(row)
        kwargs = {"actions": sample.actions, "low": sample.low, "high": sample.high, "optima": sample.optima}
        panels.append((row.group, row.seed, kwargs))
        stem = f"actions_{Path(path).parent.name}_{Path(path).stem}"
        for p in action_histogram(sample.actions, dest, stem, title, sample.low, sample.high, sample.optima):
            console.print(f"figure: {p}", highlight=False)
    if out is not None and len(paths) > 1:
        title = f"{n} sampled actions at the start observation of each run (red: optimal actions)"
        for p in action_grid(panels, out, "actions_grid", title):
            console.print(f"figure: {p}", highlight=False)
        table = write_table(rows, out, radius)
        if table:
            console.print(table, highlight=False, markup=False, soft_wrap=True)
