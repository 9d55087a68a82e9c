"""Runs the cells of an ablation in parallel, shows a live table, stops them cleanly on Ctrl-C.

Launchers start one cell each: ``local`` (a child process per cell, the default), ``slurm`` (a
submitit job per cell on a Slurm cluster) and ``submitit-local`` (the same submitit path through
submitit's local executor: what tests and single machines use). The grid, the run folders and the
outputs are the same whichever launcher runs them.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from genpo.errors import ConfigError
from genpo.registry import Registry
from genpo.workbench.cell import budget_steps
from genpo.workbench.runs import RETURN_TAG, SPS_TAG, ScalarReader, read_cell, write_json


class Handle(ABC):
    """A started cell."""

    @abstractmethod
    def poll(self) -> int | None:
        """Exit code (0 done, 130 interrupted, other: failed), or ``None`` while it runs."""

    @abstractmethod
    def interrupt(self) -> None:
        """Asks the cell to stop with its checkpoints saved."""

    @abstractmethod
    def kill(self) -> None:
        """Stops it now."""


class ProcessHandle(Handle):
    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc

    def poll(self) -> int | None:
        return self.proc.poll()

    def interrupt(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class JobHandle(Handle):
    """A submitit job running :func:`submitit_entry`."""

    def __init__(self, job: Any) -> None:
        self.job = job

    def poll(self) -> int | None:
        if not self.job.done():
            return None
        try:
            self.job.result()
        except Exception as exc:
            # submitit re-raises a job's exception as an error carrying the job's traceback text.
            return 130 if "Interrupted" in str(exc) or "KeyboardInterrupt" in str(exc) else 1
        return 0

    def interrupt(self) -> None:
        self.job.cancel(check=False)

    def kill(self) -> None:
        self.job.cancel(check=False)


def submitit_entry(spec_path: str) -> str:
    """What a submitit job runs: one cell (exceptions reach ``job.result()``)."""
    from genpo.workbench.cell import run_cell

    return run_cell(json.loads(Path(spec_path).read_text()))


class Launcher(ABC):
    """Starts cells."""

    @abstractmethod
    def start(self, spec_path: Path, log_path: Path) -> Handle:
        """Starts the cell described by ``spec_path``; its output goes to ``log_path``."""


class LocalLauncher(Launcher):
    """A child process per cell, one torch thread each, in its own session (Ctrl-C reaches it once, from us)."""

    def __init__(self, out: Path, options: dict[str, Any]) -> None:
        if options:
            raise ConfigError(f"the local launcher takes no --launcher-option, got {', '.join(options)}")

    def start(self, spec_path: Path, log_path: Path) -> Handle:
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        log = log_path.open("ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "genpo.workbench.cell", str(spec_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        log.close()
        return ProcessHandle(proc)


class SubmititLauncher(Launcher):
    """A submitit job per cell; ``options`` go to ``executor.update_parameters`` (``timeout_min``, ...)."""

    def __init__(self, out: Path, options: dict[str, Any], cluster: str) -> None:
        try:
            import submitit
        except ImportError:
            raise ConfigError(
                "--launcher slurm needs submitit: pip install 'genpo[workbench]' (or pip install submitit)"
            ) from None
        if cluster == "slurm" and shutil.which("sbatch") is None:
            raise ConfigError("--launcher slurm needs Slurm's sbatch on PATH; use --launcher local on this machine")
        folder = out / "submitit" / "%j"
        self.executor = (
            submitit.LocalExecutor(folder=folder) if cluster == "local" else submitit.AutoExecutor(folder, "slurm")
        )
        params = {"timeout_min": 24 * 60, "cpus_per_task": 1, **options}
        if cluster == "local":
            params.pop("cpus_per_task")
        try:
            self.executor.update_parameters(**params)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"--launcher-option: {exc}") from None

    def start(self, spec_path: Path, log_path: Path) -> Handle:
        job = self.executor.submit(submitit_entry, str(spec_path))
        log_path.write_text(f"submitit job {job.job_id}: logs under {self.executor.folder}\n")
        return JobHandle(job)


LAUNCHERS: Registry[Callable[[Path, dict[str, Any]], Launcher]] = Registry("launcher")
LAUNCHERS.add("local", LocalLauncher, "one process per cell on this machine (default)")
LAUNCHERS.add("slurm", lambda out, opts: SubmititLauncher(out, opts, "slurm"), "one Slurm job per cell (submitit)")
LAUNCHERS.add(
    "submitit-local",
    lambda out, opts: SubmititLauncher(out, opts, "local"),
    "the Slurm path through submitit's local executor (tests, one machine)",
)


def default_jobs() -> int:
    """Cores not already busy (1 minute load average), at least one."""
    cores = os.cpu_count() or 1
    try:
        busy = os.getloadavg()[0]
    except OSError:
        busy = 0.0
    return max(1, int(cores - busy + 0.5))


@dataclass
class CellRun:
    """The workbench's view of one cell while the grid runs."""

    name: str
    run_dir: Path
    spec: dict[str, Any]
    state: str = "pending"
    handle: Handle | None = None
    reader: ScalarReader | None = None
    started: float = 0.0
    steps: int = 0
    ret: float | None = None
    sps: float | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @functools.cached_property
    def target(self) -> int:
        """The cell's budget in env steps."""
        from genpo.training.config import TrainConfig

        return budget_steps(TrainConfig.from_dict(self.spec["config"]))

    def refresh(self) -> None:
        if self.reader is None:
            self.reader = ScalarReader(self.run_dir)
        self.reader.poll()
        s, sps = self.reader.series(SPS_TAG)
        if s.size:
            self.steps, self.sps = int(s[-1]), float(sps[-1])
        _, r = self.reader.series(RETURN_TAG)
        if r.size:
            self.ret = float(r[-1])


def table(cells: list[CellRun]) -> Table:
    """The live table: state, env steps, return, env-steps/s, time left."""
    t = Table(title="genpo ablate", title_justify="left")
    for col in ("cell", "state", "env steps", "return", "env-steps/s", "left"):
        t.add_column(col, justify="left" if col in ("cell", "state") else "right")
    colors = {"done": "green", "running": "cyan", "failed": "red", "interrupted": "yellow", "skipped": "green"}
    for c in cells:
        target = c.target
        left = "-"
        if c.state == "running" and c.sps:
            left = f"{max(0, target - c.steps) / c.sps:,.0f}s"
        t.add_row(
            c.name,
            f"[{colors.get(c.state, 'white')}]{c.state}[/]",
            f"{c.steps:,}/{target:,}",
            "-" if c.ret is None else f"{c.ret:.2f}",
            "-" if c.sps is None else f"{c.sps:,.0f}",
            left,
        )
    return t


def run_cells(cells: list[CellRun], launcher: Launcher, jobs: int, console: Console, poll_s: float = 0.5) -> bool:
    """Runs every pending cell, at most ``jobs`` at a time; returns False if interrupted.

    A Ctrl-C asks every running cell to stop (each writes its checkpoint and marks itself
    ``interrupted``), waits for them, and returns; a rerun continues them.
    """
    live_ok = console.is_terminal
    pending = [c for c in cells if c.state == "pending"]
    running: list[CellRun] = []

    def step() -> None:
        for c in list(running):
            c.refresh()
            code = c.handle.poll() if c.handle else 0
            if code is None:
                continue
            running.remove(c)
            cell = read_cell(c.run_dir) or {}
            c.state = cell.get("state", "failed" if code else "done")
            if code not in (0, 130) and c.state == "running":
                c.state = "failed"
            c.refresh()
            if not live_ok:
                console.print(f"{c.name}: {c.state} ({c.steps:,} env steps)", highlight=False)
        while pending and len(running) < jobs:
            c = pending.pop(0)
            c.run_dir.mkdir(parents=True, exist_ok=True)
            spec_path = c.run_dir / "cell_spec.json"
            write_json(spec_path, c.spec)  # atomic: a child never reads half a spec
            c.handle = launcher.start(spec_path, c.run_dir / "cell.log")
            c.state, c.started = "running", time.time()
            running.append(c)
            if not live_ok:
                console.print(f"{c.name}: started", highlight=False)

    live = Live(table(cells), console=console, refresh_per_second=2, transient=False) if live_ok else None
    previous = sigterm_as_interrupt()
    try:
        if live is not None:
            live.start()
        while pending or running:
            step()
            if live is not None:
                live.update(table(cells))
            time.sleep(poll_s)
        return True
    except KeyboardInterrupt:
        console.print("stopping: every running cell saves a checkpoint ...", highlight=False)
        stop_cells(running)
        return False
    except BaseException:
        stop_cells(running)  # never leave orphaned cells behind when the driver itself fails
        raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        if live is not None:
            live.update(table(cells))
            live.stop()


def sigterm_as_interrupt() -> Any:
    """While cells run, SIGTERM (a cluster stopping the driver) stops them like Ctrl-C; returns the old handler."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, handler)


def stop_cells(running: list[CellRun], grace_s: float = 120.0) -> None:
    """Asks every running cell to stop (SIGINT once), waits up to ``grace_s``, then kills what is left."""
    for c in running:
        c.handle.interrupt()
    deadline = time.time() + grace_s
    for c in running:
        while c.handle.poll() is None and time.time() < deadline:
            try:
                time.sleep(0.2)
            except KeyboardInterrupt:  # a second Ctrl-C: stop now
                deadline = 0
        if c.handle.poll() is None:
            c.handle.kill()
        c.state = (read_cell(c.run_dir) or {}).get("state", "interrupted")
        if c.state == "running":
            c.state = "interrupted"
