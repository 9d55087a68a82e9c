"""Entry point of the ``genpo`` command: assembles the Typer app from the command modules."""

from __future__ import annotations

import typer

import genpo
from genpo.cli import (  # noqa: F401  (registers the commands)
    ablate,
    collect,
    dataset,
    export,
    listing,
    play,
    plot,
    pretrain,
    train,
    tune,
)
from genpo.cli.app import app
from genpo.cli.bench import bench_app

app.add_typer(bench_app, name="bench")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"genpo {genpo.__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(False, "--version", "-V", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """On-policy RL with generative flow policies whose log-likelihood is exact (GenPO)."""


def main() -> None:
    """Runs the CLI."""
    app()


if __name__ == "__main__":
    main()
