"""``genpo pretrain``: parse options and call :func:`genpo.training.pretrain.pretrain`; print the result.

The run options (``--config``, ``--set``, ``--seed``, ``--run-name``, ``--logdir``) map to configuration fields
exactly as in ``genpo train``; ``--set pretrain.FIELD=VALUE`` sets a pretraining field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from genpo.cli.app import app
from genpo.cli.field_options import ENV_PANEL, config_option, field_options, set_option, with_set
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
@field_options("model", "velocity", "integrator", "steps", "likelihood", "p", "seed", "device", "run_name", "logdir",
               "plugin")  # fmt: skip
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
    config: Path | None = config_option("YAML file setting configuration fields (and a pretrain section)."),
    set_: list[str] = set_option(
        "FIELD=VALUE for any configuration field (as genpo train), or pretrain.FIELD=VALUE. Repeatable."
    ),
    *,
    given: dict[str, Any],
) -> None:
    """Pretrain a policy by imitation of demonstrations; writes a run folder genpo train --init starts from.

    Velocity-network families learn by conditional flow matching, densities by maximum likelihood
    (docs/finetune.md).

    [bold]genpo pretrain --dataset genpo/multigoal-4-v0 --integrator euler --epochs 200[/]

    [bold]genpo pretrain --dataset demos.npz --env gym:Hopper-v5 --model gaussian[/]
    """
    from genpo.training.pretrain import pretrain as run_pretrain

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
    overrides, _ = with_set(given, rest)
    console = make_console()
    run_pretrain(dataset, config, env=env, pretrain={**settings, **from_set}, console=console, **overrides)
