"""``genpo export``: a self-contained policy file with the observation normalizer baked in."""

from __future__ import annotations

from pathlib import Path

import typer

from genpo.cli.app import app
from genpo.console import make_console
from genpo.errors import ConfigError


@app.command()
def export(
    checkpoint: str = typer.Option("latest", "--checkpoint", "--load", help="Checkpoint file, run folder or 'latest'."),
    fmt: str = typer.Option("torchscript", "--format", "-f", help="torchscript or onnx."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Destination folder (default: <run folder>/exported)."
    ),
    logdir: str = typer.Option("logs", "--logdir", help="Where 'latest' looks for runs."),
    plugin: list[str] = typer.Option(
        [],
        "--plugin",
        help="Module the checkpoint may import (its dotted parts or run.plugins); repeatable.",
    ),
) -> None:
    """Export policy.pt / policy.onnx (obs -> action, zero noise) and policy_stochastic.* ((obs, noise) -> action)."""
    from genpo.training import api
    from genpo.training.export import FORMATS, export_policy

    console = make_console()
    if fmt not in FORMATS:
        raise ConfigError(f"unknown --format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    path = api.locate_checkpoint(checkpoint, logdir)
    ac, _ = api.load(path, plugins=plugin)
    out_dir = output or Path(path).parent / "exported"
    for f in export_policy(ac, out_dir, fmt):
        console.print(f"wrote {f}", highlight=False)
