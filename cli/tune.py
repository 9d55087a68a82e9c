"""``genpo tune``: an Optuna study over configuration fields, resumable, with the best configuration as YAML."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from genpo.cli.ablate import (
    config_file_option,
    episodes_option,
    jobs_option,
    launcher_option,
    launcher_options_option,
    parse_options,
    parse_seeds,
    preset_option,
)
from genpo.cli.app import app
from genpo.cli.field_options import field_options
from genpo.console import make_console

STUDY_PANEL, RUN_PANEL = "Study", "Every run"


@app.command()
@field_options("env", "num_envs", "total_steps")  # the base of every run
def tune(
    out: Path = typer.Option(..., "--out", help="Folder of the study (rerun the same command to resume it)."),
    space: Path = typer.Option(
        ...,
        "--space",
        help="YAML search space: FIELD: {type: float|int, low, high, log} or {type: categorical, values: [...]}.",
        rich_help_panel=STUDY_PANEL,
    ),
    trials: int = typer.Option(
        20,
        "--trials",
        help="Trials in the whole study (a rerun continues up to this many).",
        rich_help_panel=STUDY_PANEL,
    ),
    objective: str = typer.Option(
        "train",
        "--objective",
        help="train: mean training return over the last 10% of env steps; eval: deterministic evaluation at the "
        "end (--episodes); both averaged across seeds.",
        rich_help_panel=STUDY_PANEL,
    ),
    pruner: str = typer.Option(
        "median",
        "--pruner",
        help="median, hyperband or none (fed every 5% of the budget).",
        rich_help_panel=STUDY_PANEL,
    ),
    sampler_seed: int = typer.Option(0, "--sampler-seed", help="Seed of the TPE sampler.", rich_help_panel=STUDY_PANEL),
    startup_trials: int | None = typer.Option(
        None,
        "--startup-trials",
        help="Random trials before TPE models the results (default: a third of --trials, 1-10).",
        rich_help_panel=STUDY_PANEL,
    ),
    setting: list[str] = typer.Option(
        [],
        "--setting",
        help='The recipe every trial starts from: NAME="field=value field=value" (once).',
        rich_help_panel=RUN_PANEL,
    ),
    seeds: str = typer.Option("1", "--seeds", help="Seeds of every trial: 1,2,3 or 1-5.", rich_help_panel=RUN_PANEL),
    config: Path | None = config_file_option("run"),
    preset: str | None = preset_option("run"),
    episodes: int = episodes_option("run"),
    jobs: int | None = jobs_option("Runs"),
    launcher: str = launcher_option(),
    launcher_option: list[str] = launcher_options_option(),
    dry_run: bool = typer.Option(
        False,
        "--dry-run",
        help="Validate the study and print its space, setting and budget; start nothing, write nothing.",
        rich_help_panel=STUDY_PANEL,
    ),
    *,
    given: dict[str, Any],
) -> None:
    """Search configuration fields with Optuna (TPE sampler, pruning) and write the best configuration.

    Each trial draws the --space fields, runs one ordinary run folder per seed under OUT/genpo/<env>/t<N>_s<seed>
    (the workbench's runner: local processes or Slurm), and reports its training return every 5% of the budget
    to the pruner. The study is an Optuna journal in OUT: Ctrl-C stops every run with a checkpoint and a rerun
    resumes the trials that were running. At the end: OUT/best.yaml (for genpo train --config), trials.csv,
    trials.md and figures/history + importance (PNG, SVG).

    [bold]genpo tune --env gym:Hopper-v5 --setting fpo="integrator=euler likelihood=cfm" --space space.yaml
    --trials 40 --seeds 1,2 --total-steps 200000 --pruner median --out tune/hopper-fpo[/]
    """
    from genpo.workbench.ablate import base_config, check_launch
    from genpo.workbench.runner import default_jobs
    from genpo.workbench.tune import plan_study
    from genpo.workbench.tune import tune as run_study

    console = make_console()
    base = base_config(given, config, preset)
    plan = plan_study(out, setting, space, parse_seeds(seeds), base, trials, objective, pruner, episodes,
                      sampler_seed, startup_trials)  # fmt: skip
    options = parse_options(launcher_option)
    jobs = jobs if jobs is not None else default_jobs()
    if dry_run:
        check_launch(jobs, launcher)
        print_plan(console, plan, launcher, jobs)
        return
    state, results = run_study(plan, jobs, launcher, options, console)
    console.print(f"trials: {out / 'trials.md'}", highlight=False)
    console.print((out / "trials.md").read_text(), highlight=False, markup=False, soft_wrap=True)
    for path in results["figures"]:
        console.print(f"figure: {path}", highlight=False)
    if results["best"] is not None:
        console.print(f"best configuration: {out / 'best.yaml'} (genpo train --config {out / 'best.yaml'})",
                      highlight=False)  # fmt: skip
    if state == "interrupted":
        console.print("interrupted: rerun the same command to resume the study", highlight=False)
        raise typer.Exit(130)
    if state == "failed":
        console.print("[bold red]some trials failed[/] (their error is in trials.csv; see cell.log in each run)",
                      highlight=False)  # fmt: skip
        raise typer.Exit(1)


def print_plan(console: Any, plan: Any, launcher: str, jobs: int) -> None:
    """``--dry-run``'s output: the setting, each searched field with its range, the objective and the budget."""
    from genpo.workbench.tune import OBJECTIVES, STUDY_FILE

    fixed = " ".join(f"{k}={v}" for k, v in plan.fixed.items()) or "nothing beyond the base"
    console.print(f"setting {plan.setting}: {fixed}; env {plan.base.env.id}", highlight=False, markup=False)
    width = max(len(p.field) for p in plan.space.params)
    for p in plan.space.params:
        if p.kind == "categorical":
            what = "one of " + ", ".join(map(str, p.values))
        else:
            what = f"{p.kind} in [{p.low}, {p.high}]" + (", log scale" if p.log else "")
        console.print(f"  {p.field:<{width}}  {what}", highlight=False, markup=False, soft_wrap=True)
    console.print(f"objective: {OBJECTIVES.get(plan.objective).describe}", highlight=False, markup=False)
    runs = plan.trials * len(plan.seeds)
    again = " (OUT holds this study: a run continues it)" if (plan.out / STUDY_FILE).exists() else ""
    console.print(
        f"dry run: {plan.trials} trials x {len(plan.seeds)} seed(s) = {runs} runs of {plan.budget:,} env steps "
        f"(at most {runs * plan.budget:,}; the {plan.pruner} pruner stops some early), {jobs} at a time, "
        f"launcher {launcher}, under {plan.out}{again}; nothing was started or written",
        highlight=False,
    )
