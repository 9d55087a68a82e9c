"""``genpo list``: every registered part with a one-line description."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from genpo.cli.app import app


def registries() -> dict[str, object]:
    """Title -> registry, for every user-selectable kind of part."""
    from genpo.envs import ENV_BACKENDS
    from genpo.inversion import INTEGRATORS, LIKELIHOODS
    from genpo.models import MODELS, VELOCITIES

    return {
        "models (--model)": MODELS,
        "velocity networks (--velocity)": VELOCITIES,
        "integrators (--integrator)": INTEGRATORS,
        "likelihood estimators (--likelihood)": LIKELIHOODS,
        "environment backends (--env PREFIX:ID)": ENV_BACKENDS,
    }


@app.command("list")
def list_parts() -> None:
    """List models, velocity networks, integrators, likelihood estimators and environment backends."""
    console = Console()
    for title, reg in registries().items():
        table = Table(title=title, title_justify="left", show_header=False, box=None, pad_edge=False)
        table.add_column("name", style="bold cyan", no_wrap=True)
        table.add_column("description")
        for entry in reg.entries():
            table.add_row(entry.name, entry.description)
        console.print(table)
        console.print()
