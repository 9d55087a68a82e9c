"""``genpo pretrain``: parse options and call :func:`genpo.training.pretrain.pretrain`; print the result.

The run options (``--config``, ``--set``, ``--seed``, ``--run-name``, ``--logdir``) map to configuration fields
exactly as in ``genpo train``; the pretraining options (``--epochs``, ``--lr``, ...) and
``--set pretrain.FIELD=VALUE`` set the fields of the ``pretrain`` section
(:class:`~genpo.training.pretrain.PretrainConfig`), declared with the others in :mod:`genpo.cli.field_options`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from genpo.cli.app import app
from genpo.cli.field_options import ENV_PANEL, PRETRAIN_PANEL, config_option, field_options, set_option, with_set
from genpo.console import make_console


@app.command()
@field_options("pretrain_epochs", "pretrain_batch_size", "pretrain_learning_rate", "pretrain_objective",
               "pretrain_validation_fraction", "pretrain_eval_episodes",
               "model", "velocity", "integrator", "steps", "likelihood", "p", "seed", "device", "run_name", "logdir",
               "plugin")  # fmt: skip
def pretrain(
    dataset: str = typer.Option(
        ...,
        "--dataset",
        help="Minari dataset id or path, or an .npz / HDF5 file with observations and actions.",
        rich_help_panel=PRETRAIN_PANEL,
    ),
    env: str | None = typer.Option(
        None,
        "--env",
        "--task",
        help="Environment id, where the dataset records none (a plain .npz); must agree with a recorded one.",
        rich_help_panel=ENV_PANEL,
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
    from genpo.training.pretrain import SECTION
    from genpo.training.pretrain import pretrain as run_pretrain

    overrides, _ = with_set(given, set_, own=(SECTION,))
    settings = {k.partition(".")[2]: overrides.pop(k) for k in list(overrides) if k.startswith(f"{SECTION}.")}
    console = make_console()
    run_pretrain(dataset, config, env=env, pretrain=settings, console=console, **overrides)
