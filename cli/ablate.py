"""``genpo ablate``: a grid of runs (settings x varied fields x seeds), resumable, with a summary and figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from genpo.cli.app import app
from genpo.cli.field_options import field_options
from genpo.console import make_console
from genpo.errors import ConfigError

GRID_PANEL, RUN_PANEL, LAUNCH_PANEL = "Grid", "Every cell", "Launching"


def parse_seeds(text: str) -> list[int]:
    """``1,2,3`` or ``1-5`` (inclusive)."""
    out: list[int] = []
    for part in text.split(","):
        part = part.strip()
        lo, dash, hi = part.partition("-")
        try:
            out += list(range(int(lo), int(hi) + 1)) if dash and lo else [int(part)]
        except ValueError:
            raise ConfigError(f"--seeds must be integers like 1,2,3 or 1-5, got {text!r}") from None
    return out


def parse_options(items: list[str]) -> dict[str, object]:
    """``KEY=VALUE`` pairs (values read as YAML)."""
    from genpo.training.fields import parse_value

    out: dict[str, object] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise ConfigError(f"--launcher-option expects KEY=VALUE (e.g. slurm_partition=gpu), got {item!r}")
        out[key] = parse_value(value)
    return out


@app.command()
@field_options("env", "num_envs", "total_steps")  # the base of every cell
def ablate(
    out: Path = typer.Option(..., "--out", help="Folder of the ablation (rerun with the same --out to resume)."),
    setting: list[str] = typer.Option(
        [],
        "--setting",
        help='A named recipe: NAME="field=value field=value" (repeat for several).',
        rich_help_panel=GRID_PANEL,
    ),
    vary: list[str] = typer.Option(
        [],
        "--vary",
        help="FIELD=v1,v2,...: any configuration field by dotted name (policy.flow_steps) or short name (steps).",
        rich_help_panel=GRID_PANEL,
    ),
    seeds: str = typer.Option("1", "--seeds", help="Seeds of every setting: 1,2,3 or 1-5.", rich_help_panel=GRID_PANEL),
    config: Path | None = typer.Option(
        None, "--config", help="YAML file: the base configuration of every cell.", rich_help_panel=RUN_PANEL
    ),
    preset: str | None = typer.Option(
        None, "--preset", help="Recipe of every cell (e.g. mujoco-ppo).", rich_help_panel=RUN_PANEL
    ),
    episodes: int = typer.Option(
        10, "--episodes", help="Deterministic evaluation episodes at the end of each cell.", rich_help_panel=RUN_PANEL
    ),
    jobs: int | None = typer.Option(
        None, "--jobs", "-j", help="Cells at a time (default: the free cores).", rich_help_panel=LAUNCH_PANEL
    ),
    launcher: str = typer.Option(
        "local", "--launcher", help="local, slurm or submitit-local (see genpo list).", rich_help_panel=LAUNCH_PANEL
    ),
    launcher_option: list[str] = typer.Option(
        [],
        "--launcher-option",
        help="KEY=VALUE for submitit's update_parameters (timeout_min=120, slurm_partition=gpu).",
        rich_help_panel=LAUNCH_PANEL,
    ),
    smooth: int = typer.Option(5, "--smooth", help="Moving-average window (iterations) of the figures."),
    *,
    given: dict[str, Any],
) -> None:
    """Run a grid of trainings and summarize it across seeds.

    The grid is the product of the --setting recipes (one 'default' if none), the --vary values and the
    seeds; each cell is an ordinary run folder under OUT/genpo/<env>/<cell>. Finished cells are skipped
    and interrupted ones continue from their newest checkpoint; Ctrl-C stops every cell with its progress saved.

    [bold]genpo ablate --env builtin:PointMass --vary steps=1,5 --seeds 1,2 --total-steps 20000 --out abl[/]

    [bold]genpo ablate --env gym:Hopper-v5 --setting genpo="integrator=edict" --setting ppo="model=gaussian"
    --seeds 1-3 --total-steps 300000 --out ablations/hopper[/]
    """
    from genpo.cli.plot import print_report
    from genpo.workbench.ablate import ablate as run_ablation
    from genpo.workbench.ablate import base_config, plan
    from genpo.workbench.runner import default_jobs

    console = make_console()
    base = base_config(given, config, preset)
    ablation = plan(out, setting, vary, parse_seeds(seeds), base, episodes)
    options = parse_options(launcher_option)
    if smooth < 1:
        raise ConfigError(f"--smooth must be >= 1, got {smooth}")
    state, report = run_ablation(
        ablation, jobs if jobs is not None else default_jobs(), launcher, options, console, smooth
    )
    print_report(console, report, out, f"summary: {out / 'summary.md'}")
    if state == "interrupted":
        console.print("interrupted: rerun the same command to continue", highlight=False)
        raise typer.Exit(130)
    if state == "failed":
        failed = [c.name for c in ablation.cells if c.state == "failed"]
        console.print(f"[bold red]failed cells:[/] {', '.join(failed)} (see cell.log in each)", highlight=False)
        raise typer.Exit(1)
