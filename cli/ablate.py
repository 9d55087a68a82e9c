"""``genpo ablate``: a grid of runs (settings x varied fields x seeds), resumable, with a summary and figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from genpo.cli.app import app
from genpo.cli.field_options import config_option, field_options
from genpo.console import make_console
from genpo.errors import ConfigError

GRID_PANEL, LAUNCH_PANEL = "Grid", "Launching"


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


# Options of the workbench's drivers (genpo ablate, genpo tune), declared once; `unit` names what each starts.
def config_file_option(unit: str) -> Any:
    """``--config FILE.yaml``: the base configuration of every cell/run."""
    return config_option(f"YAML file: the base configuration of every {unit}.", panel=f"Every {unit}")


def preset_option(unit: str) -> Any:
    """``--preset``: the recipe every cell/run starts from."""
    return typer.Option(None, "--preset", help=f"Recipe of every {unit} (e.g. mujoco-ppo).",
                        rich_help_panel=f"Every {unit}")  # fmt: skip


def episodes_option(unit: str) -> Any:
    """``--episodes``: deterministic evaluation episodes at the end of each cell/run."""
    return typer.Option(10, "--episodes", help=f"Deterministic evaluation episodes at the end of each {unit}.",
                        rich_help_panel=f"Every {unit}")  # fmt: skip


def jobs_option(units: str) -> Any:
    """``--jobs``: how many cells/runs at a time."""
    return typer.Option(None, "--jobs", "-j", help=f"{units} at a time (default: the free cores).",
                        rich_help_panel=LAUNCH_PANEL)  # fmt: skip


def launcher_option() -> Any:
    """``--launcher``: where cells/runs start (genpo.workbench.runner.LAUNCHERS)."""
    return typer.Option("local", "--launcher", help="local, slurm or submitit-local (see genpo list).",
                        rich_help_panel=LAUNCH_PANEL)  # fmt: skip


def launcher_options_option() -> Any:
    """``--launcher-option KEY=VALUE`` (repeatable), for submitit."""
    return typer.Option([], "--launcher-option",
                        help="KEY=VALUE for submitit's update_parameters (timeout_min=120, slurm_partition=gpu).",
                        rich_help_panel=LAUNCH_PANEL)  # fmt: skip


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
    config: Path | None = config_file_option("cell"),
    preset: str | None = preset_option("cell"),
    episodes: int = episodes_option("cell"),
    jobs: int | None = jobs_option("Cells"),
    launcher: str = launcher_option(),
    launcher_option: list[str] = launcher_options_option(),
    smooth: int = typer.Option(5, "--smooth", help="Moving-average window (iterations) of the figures."),
    dry_run: bool = typer.Option(
        False,
        "--dry-run",
        help="Validate the grid and print every cell with what it sets and whether it would run; start nothing.",
        rich_help_panel=GRID_PANEL,
    ),
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
    from genpo.workbench.ablate import base_config, check_launch, plan
    from genpo.workbench.runner import default_jobs

    console = make_console()
    base = base_config(given, config, preset)
    ablation = plan(out, setting, vary, parse_seeds(seeds), base, episodes)
    options = parse_options(launcher_option)
    if smooth < 1:
        raise ConfigError(f"--smooth must be >= 1, got {smooth}")
    jobs = jobs if jobs is not None else default_jobs()
    if dry_run:
        check_launch(jobs, launcher)
        print_plan(console, ablation, launcher, jobs)
        return
    state, report = run_ablation(ablation, jobs, launcher, options, console, smooth)
    print_report(console, report, out, f"summary: {out / 'summary.md'}")
    if state == "interrupted":
        console.print("interrupted: rerun the same command to continue", highlight=False)
        raise typer.Exit(130)
    if state == "failed":
        failed = [c.name for c in ablation.cells if c.state == "failed"]
        console.print(f"[bold red]failed cells:[/] {', '.join(failed)} (see cell.log in each)", highlight=False)
        raise typer.Exit(1)


def print_plan(console: Any, ablation: Any, launcher: str, jobs: int) -> None:
    """``--dry-run``'s output: the notes, one line per cell (name, state, what it sets), the pending budget."""
    from genpo.workbench.ablate import pending_env_steps, planned_cells

    for note in ablation.notes:
        console.print(f"note: {note}", highlight=False)
    rows = planned_cells(ablation)
    width = max(len(name) for name, _, _ in rows)
    for name, state, sets in rows:
        text = " ".join(f"{k}={v}" for k, v in sets.items())
        console.print(f"{name:<{width}}  {'would run' if state == 'pending' else 'done':<9}  {text}",
                      highlight=False, markup=False, soft_wrap=True)  # fmt: skip
    pending = sum(state == "pending" for _, state, _ in rows)
    steps = pending_env_steps(ablation)
    budget = f"{steps:,} env steps" if steps is not None else "budgets in iterations"
    console.print(
        f"dry run: {len(rows)} cells, {pending} would run ({budget}), {jobs} at a time, launcher {launcher}, "
        f"under {ablation.out}; nothing was started or written",
        highlight=False,
    )
