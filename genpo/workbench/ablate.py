"""An ablation end to end: resolve and validate the grid, run what is not done, write tables and figures.

Layout of ``out``: one ordinary run folder per cell at ``out/genpo/<env>/<cell>`` (what ``genpo train``
writes, plus ``cell.json``), and ``runs.csv``, ``summary.csv``, ``summary.md`` and
``figures/returns_<env>.{png,svg}`` next to them. ``.ablate.lock`` holds the pid of the driver running
on ``out`` (a second driver on the same folder is refused, never run beside it).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from genpo.console import make_console
from genpo.errors import ConfigError, RunFolderError
from genpo.training.config import TrainConfig
from genpo.training.files import ensure_folder, write_atomic
from genpo.workbench.grid import Grid, build_grid
from genpo.workbench.runner import LAUNCHERS, CellRun, run_cells
from genpo.workbench.runs import find_runs, read_cell, read_run
from genpo.workbench.summary import group_runs, markdown, write_runs_csv, write_summary_csv


@dataclass
class AblationPlan:
    """A validated grid and where each cell lives."""

    grid: Grid
    cells: list[CellRun]
    out: Path
    notes: list[str] = field(default_factory=list)


def base_config(overrides: dict[str, Any], config_file: Path | None, preset: str | None = None) -> TrainConfig:
    """defaults < ``--preset`` < ``--config`` file < the ablation's own options (then each cell's overrides).

    Args:
        overrides: Fields the command sets for every cell (``{"env.id": ..., "run.total_steps": ...}``); a
            budget in env steps replaces the iteration count, as in ``genpo train``.
        config_file: A YAML configuration.
        preset: A recipe or task preset.
    """
    from genpo.training.api import resolve_config

    return resolve_config(config_file, overrides, preset=preset)


def plain_json(data: Any) -> Any:
    """``data`` as JSON reads it back (tuples as lists, keys as strings): what a spec or identity file holds."""
    return json.loads(json.dumps(data))


def plan(
    out: Path,
    settings: list[str],
    varies: list[str],
    seeds: list[int],
    base: TrainConfig,
    episodes: int,
) -> AblationPlan:
    """Resolves every cell and checks it against what ``out`` already holds; touches no file.

    Raises:
        ConfigError: A bad field, value or seed; or a cell folder that holds a run of another configuration.
    """
    from genpo.training.runner import env_folder_name

    if episodes < 1:
        raise ConfigError(f"--episodes must be >= 1, got {episodes}")
    grid, notes = build_grid(settings, varies, seeds, base)
    configs = grid.configs(base)
    cells = []
    for cell in grid.cells:
        cfg = configs[cell.name]
        cfg.run.logdir, cfg.run.run_name = str(out), cell.name
        run_dir = out / "genpo" / env_folder_name(cfg.env.id) / cell.name
        spec = {
            "name": cell.name,
            "group": cell.group,
            "setting": cell.setting,
            "varied": cell.varied,
            "seed": cell.seed,
            "env": cfg.env.id,
            "config": plain_json(cfg.to_dict()),
            "episodes": episodes,
            "run_dir": str(run_dir),
        }
        old = read_cell(run_dir)
        if old is not None and (old.get("config") != spec["config"] or old.get("episodes") != episodes):
            raise ConfigError(
                f"{run_dir} holds cell {cell.name} with another configuration (or --episodes); "
                "use another --out, or delete that folder to rerun it"
            )
        state = "skipped" if old is not None and old.get("state") == "done" else "pending"
        cells.append(CellRun(cell.name, run_dir, spec, state=state))
    return AblationPlan(grid, cells, out, notes)


def write_report(
    run_dirs: list[Path],
    out: Path,
    episodes: int | None = None,
    window: int = 5,
    baselines: dict[str, float] | None = None,
) -> dict[str, Any]:
    """``runs.csv``, ``summary.csv``, ``summary.md`` and the figures of these run folders, into ``out``
    (``baselines``: horizontal reference lines of the return figures, ``label -> return``).

    Returns:
        ``runs`` (the records), ``summaries``, ``figures`` (paths) and ``warnings``: one line per file of a run
        that could not be read to its end (the summary marks those runs' settings as damaged).
    """
    from genpo.workbench.plots import return_curves

    runs = [read_run(d) for d in run_dirs]
    if episodes is None:  # genpo plot: the cells' own evaluation length
        lengths = {len(r.eval_returns) for r in runs if r.eval_returns}
        episodes = lengths.pop() if len(lengths) == 1 else None
    summaries = group_runs(runs)
    ensure_folder(out, "report folder")
    write_runs_csv(runs, out / "runs.csv")
    write_summary_csv(summaries, out / "summary.csv")
    write_atomic(out / "summary.md", markdown(summaries, episodes))
    figures = return_curves(runs, out / "figures", window=window, baselines=baselines)
    warnings = [f"{r.run_dir}: {problem}" for r in runs for problem in r.problems]
    return {"runs": runs, "summaries": summaries, "figures": figures, "warnings": warnings}


LOCK_FILE = ".ablate.lock"


@contextlib.contextmanager
def driver_lock(out: Path, command: str = "genpo ablate") -> Iterator[None]:
    """Holds ``out/.ablate.lock`` while one driver runs the grid; the kernel frees it if the driver dies.

    ``command`` names the driver in the refusal (``genpo tune`` holds the same lock on its study folder).

    Raises:
        RunFolderError: Another driver holds it (two drivers would run the same cells into the same folders).
    """
    out.mkdir(parents=True, exist_ok=True)
    fd = os.open(out / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise RunFolderError(
                f"another {command} (pid {pid}) is running on {out}; wait for it, or stop it (kill {pid}) "
                "and rerun this command to continue"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def check_launch(jobs: int, launcher: str) -> Callable[[Path, dict[str, Any]], Any]:
    """The launcher ``launcher`` names (:data:`~genpo.workbench.runner.LAUNCHERS`), once ``jobs`` is checked too.

    Raises:
        ConfigError: ``jobs`` below 1, or an unknown launcher (naming the registered ones).
    """
    if jobs < 1:
        raise ConfigError(f"--jobs must be >= 1, got {jobs}")
    if launcher not in LAUNCHERS:
        raise ConfigError(f"unknown launcher {launcher!r}; choose one of: {', '.join(LAUNCHERS.names())}")
    return LAUNCHERS.get(launcher)


def planned_cells(ablation: AblationPlan) -> list[tuple[str, str, dict[str, Any]]]:
    """``(cell name, state, what the cell sets on top of the base)`` for every cell, in grid order: what a run
    of ``ablation`` would start (``pending``) or skip (``skipped``: finished before)."""
    return [(c.name, c.state, dict(g.overrides)) for c, g in zip(ablation.cells, ablation.grid.cells, strict=True)]


def pending_env_steps(ablation: AblationPlan) -> int | None:
    """The env-step budget of the cells still to run, or None when one of them is budgeted in iterations."""
    budgets = [c.spec["config"]["run"]["total_steps"] for c in ablation.cells if c.state == "pending"]
    return None if any(b is None for b in budgets) else sum(budgets)


def ablate(
    ablation: AblationPlan,
    jobs: int,
    launcher: str = "local",
    launcher_options: dict[str, Any] | None = None,
    console: Console | None = None,
    window: int = 5,
) -> tuple[str, dict[str, Any]]:
    """Runs the pending cells, then writes the report; returns (``done`` | ``failed`` | ``interrupted``, report)."""
    console = console or make_console()
    start = check_launch(jobs, launcher)
    ensure_folder(ablation.out, "ablation folder (--out)", create=False)  # a file in the way fails before any cell
    runner = start(ablation.out, dict(launcher_options or {}))  # a bad launcher is refused before any folder
    with driver_lock(ablation.out):  # before any output: a second driver is refused first
        for note in ablation.notes:
            console.print(f"note: {note}", highlight=False)
        skipped = sum(c.state == "skipped" for c in ablation.cells)
        console.print(
            f"{len(ablation.cells)} cells ({skipped} already done), {jobs} at a time, launcher {launcher}: "
            f"{ablation.out}",
            highlight=False,
        )
        t0 = time.perf_counter()
        finished = run_cells(ablation.cells, runner, jobs, console)
        ran = sum(c.state not in ("skipped", "pending") for c in ablation.cells)
        console.print(f"{ran} cells ran in {time.perf_counter() - t0:,.0f} s (wall clock)", highlight=False)
        present = set(find_runs([ablation.out]))
        dirs = [d for c in ablation.cells if (d := c.run_dir.resolve()) in present]  # in grid order
        report = write_report(dirs, ablation.out, episodes=ablation.cells[0].spec["episodes"], window=window)
    if not finished:
        return "interrupted", report
    if any(c.state == "failed" for c in ablation.cells):
        return "failed", report
    return "done", report
