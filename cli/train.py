"""``genpo train``: parse options into configuration overrides and call :func:`genpo.training.api.train`.

The rules of a run (precedence, resume, run folders) live in :mod:`genpo.training.api`; this module only
maps flags to configuration fields and prints.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from genpo.cli.app import app
from genpo.console import make_console
from genpo.errors import ConfigError

ENV_PANEL, POLICY_PANEL, ALGO_PANEL, RUN_PANEL, RESUME_PANEL, DIST_PANEL = (
    "Environment",
    "Policy",
    "Algorithm",
    "Run",
    "Resume",
    "Distributed",
)

# CLI option -> (config section, field): what an explicitly given option overrides.
OPTION_FIELDS: dict[str, tuple[str, str]] = {
    "env": ("env", "id"),
    "num_envs": ("env", "num_envs"),
    "model": ("policy", "model"),
    "velocity": ("policy", "velocity"),
    "integrator": ("policy", "integrator"),
    "steps": ("policy", "steps"),
    "likelihood": ("policy", "likelihood"),
    "p": ("policy", "p"),
    "compress_coef": ("algo", "compress_coef"),
    "entropy_coef": ("algo", "entropy_coef"),
    "learning_rate": ("algo", "learning_rate"),
    "max_iterations": ("run", "max_iterations"),
    "total_steps": ("run", "total_steps"),
    "seed": ("run", "seed"),
    "device": ("run", "device"),
    "run_name": ("run", "run_name"),
    "logdir": ("run", "logdir"),
    "plugin": ("run", "plugins"),
    "init": ("run", "init"),
}

# Config field -> the option that sets it, named in a message about that field.
FIELD_OPTIONS = {f"{section}.{name}": "--" + opt.replace("_", "-") for opt, (section, name) in OPTION_FIELDS.items()}


def field_help(option: str) -> str:
    """The help line of ``option``: its configuration field's docstring (first sentence) and default."""
    import dataclasses

    from genpo.training.config import SECTIONS
    from genpo.training.config_doc import field_docs

    section, name = OPTION_FIELDS[option]
    doc = field_docs(SECTIONS[section])[name].replace("``", "")
    first = re.split(r"(?<=[.)])\s+(?=[A-Z])", doc, maxsplit=1)[0]
    f = next(f for f in dataclasses.fields(SECTIONS[section]) if f.name == name)
    default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
    return f"{first} ({section}.{name}; default: {default})"


def field_option(option: str, *flags: str, panel: str) -> Any:
    """A ``typer.Option`` for a configuration field: unset (None) unless given, help from the field."""
    return typer.Option(None, *flags, help=field_help(option), rich_help_panel=panel)


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
def train(
    env: str | None = field_option("env", "--env", "--task", panel=ENV_PANEL),
    num_envs: int | None = field_option("num_envs", "--num-envs", "--num_envs", panel=ENV_PANEL),
    preset: str | None = typer.Option(
        None,
        "--preset",
        help="Hyperparameter preset for the task (e.g. 'paper' for the GenPO paper's IsaacLab tasks).",
        rich_help_panel=ENV_PANEL,
    ),
    model: str | None = field_option("model", "--model", panel=POLICY_PANEL),
    velocity: str | None = field_option("velocity", "--velocity", panel=POLICY_PANEL),
    integrator: str | None = field_option("integrator", "--integrator", panel=POLICY_PANEL),
    steps: int | None = field_option("steps", "--steps", panel=POLICY_PANEL),
    likelihood: str | None = field_option("likelihood", "--likelihood", panel=POLICY_PANEL),
    p: float | None = field_option("p", "--p", panel=POLICY_PANEL),
    compress_coef: float | None = field_option("compress_coef", "--compress-coef", "--compress_coef", panel=ALGO_PANEL),
    entropy_coef: float | None = field_option("entropy_coef", "--entropy-coef", "--entropy_coef", panel=ALGO_PANEL),
    learning_rate: float | None = field_option("learning_rate", "--learning-rate", "--lr", panel=ALGO_PANEL),
    config: Path | None = typer.Option(
        None,
        "--config",
        help="YAML file setting any field of the configuration (see docs/configuration.md).",
        rich_help_panel=RUN_PANEL,
    ),
    max_iterations: int | None = field_option(
        "max_iterations", "--max-iterations", "--max_iterations", panel=RUN_PANEL
    ),
    total_steps: int | None = field_option("total_steps", "--total-steps", "--total_steps", panel=RUN_PANEL),
    seed: int | None = field_option("seed", "--seed", panel=RUN_PANEL),
    device: str | None = field_option("device", "--device", panel=RUN_PANEL),
    run_name: str | None = field_option("run_name", "--run-name", "--run_name", panel=RUN_PANEL),
    logdir: str | None = field_option("logdir", "--logdir", panel=RUN_PANEL),
    plugin: list[str] | None = field_option("plugin", "--plugin", panel=RUN_PANEL),
    set_: list[str] = typer.Option(
        [],
        "--set",
        help="FIELD=VALUE for any configuration field, by dotted or short name; VALUE is YAML "
        "(--set hidden=[256,256] --set algo.num_epochs=10). Repeatable.",
        rich_help_panel=RUN_PANEL,
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
    init: str | None = field_option("init", "--init", panel=RESUME_PANEL),
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
    if nproc is not None:
        if nproc < 1:
            raise ConfigError(f"--nproc must be >= 1, got {nproc}")
        if distributed:
            raise ConfigError("--nproc starts torchrun itself; drop --distributed")
        _relaunch_with_torchrun(nproc, console)
    given = dict(
        env=env,
        num_envs=num_envs,
        model=model,
        velocity=velocity,
        integrator=integrator,
        steps=steps,
        likelihood=likelihood,
        p=p,
        compress_coef=compress_coef,
        entropy_coef=entropy_coef,
        learning_rate=learning_rate,
        max_iterations=max_iterations,
        total_steps=total_steps,
        seed=seed,
        device=device,
        run_name=run_name,
        logdir=logdir,
        plugin=plugin or None,
        init=init,
    )
    if resume and checkpoint is not None:
        raise ConfigError("use either --resume or --checkpoint, not both")
    overrides = overrides_from_options(given)
    set_flags = overrides_from_set(set_, overrides)
    overrides.update({dotted: value for dotted, (value, _) in set_flags.items()})
    try:
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
        flag = set_flags[exc.field][1] if exc.field in set_flags else FIELD_OPTIONS.get(exc.field or "")
        if flag is None:
            raise
        raise ConfigError(f"{exc} (option {flag})", field=exc.field) from None
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


def overrides_from_options(given: dict[str, Any]) -> dict[str, Any]:
    """``{"section.field": value}`` for every option given on the command line (None: not given)."""
    return {f"{OPTION_FIELDS[k][0]}.{OPTION_FIELDS[k][1]}": v for k, v in given.items() if v is not None}


def overrides_from_set(assignments: list[str], given: dict[str, Any]) -> dict[str, tuple[Any, str]]:
    """``{"section.field": (value, "--set TEXT")}`` for every ``--set``; a field set twice is refused."""
    from genpo.training.fields import parse_assignment

    out: dict[str, tuple[Any, str]] = {}
    for text in assignments:
        try:
            dotted, value = parse_assignment(text)
        except ConfigError as exc:
            raise ConfigError(f"--set {text!r}: {exc}") from None
        if dotted in given:
            raise ConfigError(f"--set {text!r} sets {dotted}, which {FIELD_OPTIONS[dotted]} already sets")
        if dotted in out:
            raise ConfigError(f"--set {text!r} sets {dotted} again (first: {out[dotted][1]})")
        out[dotted] = (value, f"--set {text}")
    return out
