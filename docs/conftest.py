"""Runs the documentation's examples as tests (Sybil): ``pytest docs``.

* Every page: each ```` ```python ```` block runs; the blocks of one page share one namespace, in order.
* Tutorials (``docs/tutorials/``): each ```` ```bash ```` block runs too (``bash -euo pipefail``), so the
  commands a reader types are the commands that were tested. Elsewhere shell blocks are long runs with their
  budgets written beside them, and are shown, not run.
* A block that cannot run here follows ``% skip: next "the reason"`` (a MyST comment): pytest reports it as
  skipped with that reason, and the site prints the reason above the block (``docs/_ext/genpo_docs.py``).

Each page runs in a fresh temporary directory (its working directory, on ``sys.path``: run folders land
there, and a tutorial's ``docs/tutorials/*.py`` files are copied there, as the reader saves them) with one
torch thread, and the part registries are restored afterwards, so that a page registering its own parts
leaves no trace in the next one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from sybil import Example, Sybil
from sybil.parsers.myst import CodeBlockParser, PythonCodeBlockParser, SkipParser

SHELL_TIMEOUT_S = 300


def _registries() -> list[Any]:
    from genpo.data.scripted import DEMONSTRATORS
    from genpo.envs import ENV_BACKENDS
    from genpo.inversion import INTEGRATORS, LIKELIHOODS
    from genpo.loggers import LOGGERS
    from genpo.models import MODELS, VELOCITIES
    from genpo.workbench.runner import LAUNCHERS

    return [MODELS, VELOCITIES, INTEGRATORS, LIKELIHOODS, ENV_BACKENDS, LAUNCHERS, DEMONSTRATORS, LOGGERS]


def _setup(namespace: dict[str, Any], files: tuple[Path, ...] = ()) -> None:
    import torch

    folder = Path(tempfile.mkdtemp(prefix="genpo-docs-"))
    for file in files:  # what a tutorial asks the reader to save in the working folder
        shutil.copy(file, folder / file.name)
    sys.path.insert(0, str(folder))
    namespace["_docs"] = {
        "cwd": os.getcwd(),
        "folder": folder,
        "threads": torch.get_num_threads(),
        "registries": [(r, dict(r._entries)) for r in _registries()],
    }
    torch.set_num_threads(1)
    os.chdir(folder)


def _teardown(namespace: dict[str, Any]) -> None:
    import torch

    state = namespace["_docs"]
    os.chdir(state["cwd"])
    sys.path.remove(str(state["folder"]))
    for file in state["folder"].glob("*.py"):  # the page's own modules (myflow), imported from its folder
        sys.modules.pop(file.stem, None)
    torch.set_num_threads(state["threads"])
    for registry, entries in state["registries"]:
        registry._entries.clear()
        registry._entries.update(entries)
    shutil.rmtree(state["folder"], ignore_errors=True)


class ShellBlockParser(CodeBlockParser):
    """Runs a ```` ```bash ```` block in the page's folder; its output is left in ``shell_output``."""

    language = "bash"

    def evaluate(self, example: Example) -> str | None:
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", example.parsed],
            cwd=example.namespace["_docs"]["folder"],
            env=env,
            capture_output=True,
            text=True,
            timeout=SHELL_TIMEOUT_S,
        )
        example.namespace["shell_output"] = done.stdout
        if done.returncode != 0:
            return f"exit {done.returncode}\n--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}"
        return None


TUTORIAL_FILES = tuple(sorted((Path(__file__).resolve().parent / "tutorials").glob("*.py")))
_common = {"setup": _setup, "teardown": _teardown, "excludes": ["_build/**", "_ext/**"]}
pytest_collect_file = (
    Sybil(
        parsers=[PythonCodeBlockParser(), ShellBlockParser(), SkipParser()],
        patterns=["tutorials/*.md"],
        **{**_common, "setup": lambda namespace: _setup(namespace, TUTORIAL_FILES)},
    )
    + Sybil(
        parsers=[PythonCodeBlockParser(), SkipParser()],
        patterns=["*.md"],
        **{**_common, "excludes": [*_common["excludes"], "tutorials/*.md"]},
    )
).pytest()
