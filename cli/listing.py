"""``genpo list``: every registered part with a one-line description and where it comes from.

Installed ``genpo.plugins`` entry points are loaded here (an installed plug-in is trusted), so their
parts appear with their distribution as origin; ``--plugin MODULE`` imports a module first.
"""

from __future__ import annotations

import typer
from rich.table import Table

from genpo.cli.app import app
from genpo.console import make_console


def registries() -> dict[str, object]:
    """Title -> registry, for every user-selectable kind of part."""
    from genpo.data.scripted import DEMONSTRATORS
    from genpo.envs import ENV_BACKENDS
    from genpo.inversion import INTEGRATORS, LIKELIHOODS
    from genpo.loggers import LOGGERS
    from genpo.models import MODELS, VELOCITIES
    from genpo.training.algorithm import ALGORITHMS
    from genpo.workbench.runner import LAUNCHERS
    from genpo.workbench.tune import OBJECTIVES, PRUNERS

    return {
        "models (--model)": MODELS,
        "velocity networks (--velocity)": VELOCITIES,
        "integrators (--integrator)": INTEGRATORS,
        "likelihood estimators (--likelihood)": LIKELIHOODS,
        "environment backends (--env PREFIX:ID)": ENV_BACKENDS,
        "algorithms (--set algo.name=NAME)": ALGORITHMS,
        "run loggers (--logger)": LOGGERS,
        "ablation launchers (genpo ablate --launcher)": LAUNCHERS,
        "tuning objectives (genpo tune --objective)": OBJECTIVES,
        "tuning pruners (genpo tune --pruner)": PRUNERS,
        "scripted demonstrators (genpo collect --checkpoint scripted:NAME)": DEMONSTRATORS,
    }


@app.command("list")
def list_parts(
    plugin: list[str] = typer.Option([], "--plugin", help="Import this module first (repeatable)."),
) -> None:
    """List models, velocity networks, integrators, likelihood estimators, env backends, algorithms, loggers, ..."""
    from genpo.plugins import import_plugins

    console = make_console()
    import_plugins(plugin)
    for title, reg in registries().items():
        reg.load_plugins()
        table = Table(title=title, title_justify="left", show_header=False, box=None, pad_edge=False)
        table.add_column("name", style="bold cyan", no_wrap=True)
        table.add_column("description")
        table.add_column("origin", style="dim")
        for entry in reg.entries():
            table.add_row(entry.name, entry.description, entry.origin)
        console.print(table)
        console.print()
