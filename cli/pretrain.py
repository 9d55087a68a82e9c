"""``genpo pretrain``: parse options and call :func:`genpo.training.pretrain.pretrain`; print the result.

The run options (``--config``, ``--set``, ``--seed``, ``--run-name``, ``--logdir``) map to configuration fields
exactly as in ``genpo train``; ``--set pretrain.FIELD=VALUE`` sets a pretraining field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from genpo.cli.app import app
from genpo.cli.train import ENV_PANEL, POLICY_PANEL, RUN_PANEL, field_option, overrides_from_options, overrides_from_set
from genpo.console import make_console
from genpo.errors import ConfigError

DATA_PANEL = "Pretraining"


def _pretrain_sets(assignments: list[str]) -> tuple[dict[str, Any], list[str]]:
    """Splits ``--set`` into ``pretrain.FIELD=VALUE`` (returned as a mapping) and the rest."""
    from genpo.training.fields import parse_value

    mine, rest = {}, []
    for text in assignments:
        key, eq, value = text.partition("=")
        if eq and key.strip().startswith("pretrain."):
            name = key.strip()[len("pretrain.") :].replace("-", "_")
            if name in mine:
                raise ConfigError(f"--set {text!r} sets pretrain.{name} again")
            mine[name] = parse_value(value)
        else:
            rest.append(text)
    return mine, rest


@app.command()
def pretrain(
    dataset: str = typer.Option(
        ...,
        "--dataset",
        help="Minari dataset id or path, or an .npz / HDF5 file with observations and actions.",
        rich_help_panel=DATA_PANEL,
    ),
    env: str | None = typer.Option(
        None,
        "--env",
        "--task",
        help="Environment id, where the dataset records none (a plain .npz); must agree with a recorded one.",
        rich_help_panel=ENV_PANEL,
    ),
    model: str | None = field_option("model", "--model", panel=POLICY_PANEL),
    velocity: str | None = field_option("velocity", "--velocity", panel=POLICY_PANEL),
    integrator: str | None = field_option("integrator", "--integrator", panel=POLICY_PANEL),
    steps: int | None = field_option("steps", "--steps", panel=POLICY_PANEL),
    likelihood: str | None = field_option("likelihood", "--likelihood", panel=POLICY_PANEL),
    p: float | None = field_option("p", "--p", panel=POLICY_PANEL),
    epochs: int | None = typer.Option(
        None, "--epochs", help="Passes over the data (default 100).", rich_help_panel=DATA_PANEL
    ),
    batch_size: int | None = typer.Option(
        None, "--batch-size", help="Steps per gradient step (default 256).", rich_help_panel=DATA_PANEL
    ),
    learning_rate: float | None = typer.Option(
        None, "--learning-rate", "--lr", help="Adam learning rate (default 1e-3).", rich_help_panel=DATA_PANEL
    ),
    objective: str | None = typer.Option(
        None,
        "--objective",
        help="Imitation objective (default: the family's): flow-matching (flows), likelihood (densities; doubled "
        "latents at (a, a) + compression), flow-matching+likelihood; 'A,B' runs A for half the epochs, then B.",
        rich_help_panel=DATA_PANEL,
    ),
    validation_fraction: float | None = typer.Option(
        None, "--validation-fraction", help="Share of episodes held out (default 0.1).", rich_help_panel=DATA_PANEL
    ),
    eval_episodes: int | None = typer.Option(
        None,
        "--eval-episodes",
        help="Episodes the pretrained policy runs at the end (default 10; 0: none).",
        rich_help_panel=DATA_PANEL,
    ),
    config: Path | None = typer.Option(
        None,
        "--config",
        help="YAML file setting configuration fields (and a pretrain section).",
        rich_help_panel=RUN_PANEL,
    ),
    seed: int | None = field_option("seed", "--seed", panel=RUN_PANEL),
    device: str | None = field_option("device", "--device", panel=RUN_PANEL),
    run_name: str | None = field_option("run_name", "--run-name", "--run_name", panel=RUN_PANEL),
    logdir: str | None = field_option("logdir", "--logdir", panel=RUN_PANEL),
    plugin: list[str] | None = field_option("plugin", "--plugin", panel=RUN_PANEL),
    set_: list[str] = typer.Option(
        [],
        "--set",
        help="FIELD=VALUE for any configuration field (as genpo train), or pretrain.FIELD=VALUE. Repeatable.",
        rich_help_panel=RUN_PANEL,
    ),
) -> None:
    """Pretrain a policy by imitation of demonstrations; writes a run folder genpo train --init starts from.

    Velocity-network families learn by conditional flow matching, densities by maximum likelihood
    (docs/finetune.md).

    [bold]genpo pretrain --dataset genpo/multigoal-4-v0 --integrator euler --epochs 200[/]

    [bold]genpo pretrain --dataset demos.npz --env gym:Hopper-v5 --model gaussian[/]
    """
    from genpo.training.pretrain import pretrain as run_pretrain

    given = dict(
        model=model,
        velocity=velocity,
        integrator=integrator,
        steps=steps,
        likelihood=likelihood,
        p=p,
        seed=seed,
        device=device,
        run_name=run_name,
        logdir=logdir,
        plugin=plugin or None,
    )
    settings = {
        "epochs": epochs,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "objective": objective,
        "validation_fraction": validation_fraction,
        "eval_episodes": eval_episodes,
    }
    settings = {k: v for k, v in settings.items() if v is not None}
    from_set, rest = _pretrain_sets(set_)
    both = sorted(set(settings) & set(from_set))
    if both:
        raise ConfigError(f"--set pretrain.{both[0]} and its option both set it; use one")
    overrides = overrides_from_options(given)
    set_flags = overrides_from_set(rest, overrides)
    overrides.update({dotted: value for dotted, (value, _) in set_flags.items()})
    console = make_console()
    run_pretrain(dataset, config, env=env, pretrain={**settings, **from_set}, console=console, **overrides)
