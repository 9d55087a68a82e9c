"""``genpo dataset``: load a demonstration dataset, check it, and print what it holds."""

from __future__ import annotations

import typer

from genpo.cli.app import app
from genpo.console import make_console


@app.command()
def dataset(
    source: str = typer.Argument(..., help="Minari dataset id or folder, or an .npz / .h5 / .hdf5 file."),
    env: str | None = typer.Option(
        None, "--env", "--task", help="Check it against this environment (default: the one it records, if any)."
    ),
) -> None:
    """Check a demonstration dataset (read by genpo.data.load_demonstrations); print its size, returns, environment.

    genpo dataset genpo/hopper-medium-v0

    genpo dataset demos.npz --env gym:Hopper-v5
    """
    from genpo.data import describe_dataset

    console = make_console()
    for line in describe_dataset(source, env, on_warning=lambda m: console.print(f"[yellow]warning:[/] {m}")):
        console.print(line, highlight=False)
