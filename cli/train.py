"""``genpo train``: parse options into configuration overrides and call :func:`genpo.training.api.train`.

The rules of a run (precedence, resume, run folders) live in :mod:`genpo.training.api`; this module only
maps flags to configuration fields and prints.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from genpo.cli.app import app
from genpo.cli.field_options import (
    DIST_PANEL,
    ENV_PANEL,
    FIELD_OPTIONS,
    RESUME_PANEL,
    config_option,
    field_options,
    name_option,
    set_option,
    with_set,
)
from genpo.console import make_console
from genpo.errors import ConfigError


def _relaunch_with_torchrun(nproc: int, console: Console) -> None:
    """Re-runs this very command under torchrun with ``--distributed`` and without ``--nproc``."""
    argv, skip = [], False
    for arg in sys.argv[1:]:
        if skip:
            skip = False
            continue
        if arg == "--nproc":
            skip = True
            continue
        if arg.startswith("--nproc="):
            continue
        argv.append(arg)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", "-m", "genpo"]
    cmd += [*argv, "--distributed"]
    console.print(f"launching: {' '.join(cmd)}", highlight=False)
    raise typer.Exit(subprocess.call(cmd))


@app.command(no_args_is_help=False)
@field_options(*(o.name for o in FIELD_OPTIONS))  # every field option
def train(
    preset: str | None = typer.Option(
        None,
        "--preset",
        help="Hyperparameter preset for the task (e.g. 'paper' for the GenPO paper's IsaacLab tasks).",
        rich_help_panel=ENV_PANEL,
    ),
    config: Path | None = config_option(
        "YAML file setting any field of the configuration (see docs/configuration.md)."
    ),
    set_: list[str] = set_option(
        "FIELD=VALUE for any configuration field, by dotted or short name; VALUE is YAML "
        "(--set hidden=[256,256] --set algo.num_epochs=10); one part option: --set policy.options.KEY=VALUE. "
        "Repeatable."
    ),
    resume: bool = typer.Option(
        False,
        "--resume",
        help="Resume from the newest checkpoint of this env under --logdir.",
        rich_help_panel=RESUME_PANEL,
    ),
    checkpoint: str | None = typer.Option(
        None,
        "--checkpoint",
        "--load",
        help="Resume from a checkpoint file, a run folder, or 'latest'.",
        rich_help_panel=RESUME_PANEL,
    ),
    distributed: bool = typer.Option(
        False,
        "--distributed",
        help="Join a torchrun job (one process per rank; gloo on CPU, NCCL on CUDA).",
        rich_help_panel=DIST_PANEL,
    ),
    nproc: int | None = typer.Option(
        None,
        "--nproc",
        help="Start N processes on this machine with torchrun (implies --distributed).",
        rich_help_panel=DIST_PANEL,
    ),
    dry_run: bool = typer.Option(
        False,
        "--dry-run",
        help="Resolve and validate the configuration (and the checkpoint a resume or --init reads), print it as "
        "the run's params/config.yaml would hold it, and exit; builds no environment, writes nothing.",
    ),
    *,
    given: dict[str, Any],
) -> None:
    """Train a policy with GenPO / PPO.

    Defaults follow the GenPO authors' configuration: EDICT flow policy, K=5, p=0.95, exact likelihood.

    [bold]genpo train[/]  (edict K=5 on InvertedPendulum-v5)

    [bold]genpo train --env HalfCheetah-v5 --integrator edict --steps 5[/]

    [bold]genpo train --model gaussian --env Ant-v5 --total-steps 1000000[/]

    [bold]genpo train --checkpoint latest --max-iterations 100[/]  (resume)

    [bold]genpo train --init logs/genpo/MultiGoal/<pretrain run> --integrator euler --likelihood cfm[/]  (fine-tune)
    """
    from genpo.training import api

    console = make_console()
    if dry_run and (nproc is not None or distributed):
        raise ConfigError("--dry-run prints the configuration of one process; drop --nproc/--distributed")
    if nproc is not None:
        if nproc < 1:
            raise ConfigError(f"--nproc must be >= 1, got {nproc}")
        if distributed:
            raise ConfigError("--nproc starts torchrun itself; drop --distributed")
        _relaunch_with_torchrun(nproc, console)
    if resume and checkpoint is not None:
        raise ConfigError("use either --resume or --checkpoint, not both")
    overrides, set_flags = with_set(given, set_)
    try:
        if dry_run:
            _print_resolved(console, api.prepare(config, preset=preset, resume=resume, checkpoint=checkpoint,
                                                 **overrides))  # fmt: skip
            return
        result = api.train(
            config,
            preset=preset,
            resume=resume,
            checkpoint=checkpoint,
            distributed=distributed,
            console=console,
            **overrides,
        )
    except ConfigError as exc:
        named = name_option(exc, set_flags)
        if named is None:
            raise
        raise named from None
    if result.world_size > 1:
        console.print(
            f"rank {result.rank}/{result.world_size}: parameter checksum {result.parameter_checksum}", highlight=False
        )
    if result.rank == 0:
        ret = "n/a" if result.mean_return is None else f"{result.mean_return:.2f}"
        console.print(
            f"done: {result.iterations} iterations, {result.env_steps} env steps in {result.wall_time:.0f}s, "
            f"mean return (last 100 episodes) {ret}",
            highlight=False,
        )


def _print_resolved(console: Any, run: Any) -> None:
    """``--dry-run``'s output: where the run would resume from, its configuration as YAML, where it would write."""
    import yaml

    from genpo.training.runner import make_run_dir

    if run.checkpoint is not None:
        console.print(f"# resumes from {run.checkpoint_path} (iteration {run.checkpoint['iteration']})",
                      highlight=False, markup=False)  # fmt: skip
    text = yaml.safe_dump(run.config.to_dict(), sort_keys=False).rstrip("\n")
    console.print(text, highlight=False, markup=False, soft_wrap=True)
    console.print(f"# dry run: valid; a run started now would write {make_run_dir(run.config)}; the environment was "
                  "not built, nothing was written", highlight=False, markup=False)  # fmt: skip
