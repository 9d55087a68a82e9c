"""Run output: scalars to the run's writers, a live rich progress bar on terminals, plain lines elsewhere.

Scalars go to :class:`ScalarSink` objects: the writers ``run.logger`` names (``genpo.loggers``;
TensorBoard by default). Each is called in the calling thread, and :meth:`RunLogger.check` makes every
sink flush once per iteration: a sink that cannot write (a full disk, a removed run folder, a tracker that
fails) raises there, as one :class:`~genpo.errors.GenpoError`, so the trainer can save and stop at the end
of that iteration. The TensorBoard writer runs no background thread whose failure would print a traceback
or be noticed only later (TensorBoard's own ``SummaryWriter`` does both); the W&B and trackio clients do
run their own, and report their failures themselves (docs/loggers.md).
"""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from genpo.console import make_console
from genpo.errors import GenpoError, RunFailed
from genpo.training.files import disk_error

_EVENT_FILE_IDS = itertools.count()


class ScalarSink(Protocol):
    """Somewhere a run's scalars go (TensorBoard; an experiment tracker can be another).

    Attributes:
        name: What it is, for messages ("TensorBoard").
        path: The file it writes, if any (named in a disk failure's message).
    """

    name: str
    path: Path | None

    def write(self, values: dict[str, float], step: int) -> None:
        """Takes the scalars of env step ``step`` (may only buffer them)."""

    def flush(self) -> None:
        """Writes everything taken so far; raises what failed (an ``OSError`` for a file)."""

    def close(self) -> None:
        """Releases the sink; must not raise."""


class TensorBoardSink:
    """A TensorBoard event file, written in the caller's thread: one append per :meth:`flush`.

    The file is reopened for each append (as TensorBoard's own writer does), so a removed run folder or a
    full disk shows on the next flush as an ``OSError``; a file removed from under the run is noticed too.

    Args:
        run_dir: The run folder (must exist).
    """

    name = "TensorBoard"

    def __init__(self, run_dir: Path) -> None:
        from tensorboard.compat.proto import event_pb2, summary_pb2

        self._event, self._summary = event_pb2.Event, summary_pb2.Summary
        stamp = f"{int(time.time()):010d}.{socket.gethostname()}.{os.getpid()}.{next(_EVENT_FILE_IDS)}"
        self.path: Path | None = Path(run_dir) / f"events.out.tfevents.{stamp}"
        self._pending = io.BytesIO()
        self._started = False
        self._record(self._event(wall_time=time.time(), file_version="brain.Event:2"))
        self.flush()

    def _record(self, event: Any) -> None:
        from tensorboard.summary.writer.record_writer import RecordWriter

        RecordWriter(self._pending).write(event.SerializeToString())

    def write(self, values: dict[str, float], step: int) -> None:
        value = [self._summary.Value(tag=tag, simple_value=float(v)) for tag, v in values.items()]
        self._record(self._event(wall_time=time.time(), step=int(step), summary=self._summary(value=value)))

    def flush(self) -> None:
        assert self.path is not None
        if self._started:
            os.stat(self.path)  # removed from under the run (or with its folder): say so, do not start a new file
        data = self._pending.getvalue()
        if data or not self._started:
            with open(self.path, "ab") as f:
                f.write(data)
            self._pending = io.BytesIO()
            self._started = True

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.flush()


class RunLogger:
    """Writes scalars and shows progress; a no-op writer on non-zero ranks.

    Args:
        run_dir: Run folder (TensorBoard events go here); ``None`` disables the writers.
        total_iterations: Iterations planned in this invocation.
        start_iteration: Iteration the run resumes from.
        console: Where to print; a terminal gets a live progress bar.
        enabled: False on non-zero ranks.
        print_every: Seconds between plain lines when output is not a terminal.
        loggers: The writers to open (``run.logger``: names of ``genpo.loggers.LOGGERS``).
        config: The run's configuration, handed to writers that take it (``Writer.config``).
    """

    def __init__(
        self,
        run_dir: Path | None,
        total_iterations: int,
        start_iteration: int = 0,
        console: Console | None = None,
        enabled: bool = True,
        print_every: float = 10.0,
        loggers: Sequence[str] = ("tensorboard",),
        config: dict[str, Any] | None = None,
    ) -> None:
        self.enabled = enabled
        self.console = console or make_console()
        self.sinks: list[ScalarSink] = []
        self._write_failures: dict[int, Exception] = {}  # id(sink) -> what its write raised
        if enabled and run_dir is not None:
            self.open_writers(loggers, Path(run_dir), config or {})
        self.total, self.start = total_iterations, start_iteration
        self.print_every = print_every
        self.t0 = self.last_print = time.perf_counter()
        self.progress: Progress | None = None
        if enabled and self.console.is_terminal and sys.stdout.isatty():
            self.progress = Progress(
                TextColumn("[bold]iter {task.fields[it]}"),
                BarColumn(),
                TextColumn("{task.fields[sps]} steps/s  return {task.fields[ret]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=self.console,
            )
            self.task = self.progress.add_task("train", total=total_iterations, it=start_iteration, sps="-", ret="-")
            self.progress.start()

    def add_sink(self, make: Any, name: str, path: Path | None = None) -> None:
        """Adds the sink ``make()`` returns; a failure to create it raises as :meth:`check` would."""
        try:
            self.sinks.append(make())
        except Exception as exc:
            raise self._failure(exc, name, path) from None

    def open_writers(self, loggers: Sequence[str], run_dir: Path, config: dict[str, Any]) -> None:
        """Opens each writer ``loggers`` names (``genpo.loggers``) on ``run_dir`` and hands it the config.

        Writers open in the order named; one that cannot be created raises as :meth:`check` would, after
        closing the writers opened before it.
        """
        from genpo.loggers import LOGGERS, RunInfo, logger_names
        from genpo.loggers.git_state import git_state

        run = RunInfo(run_dir, run_dir.name)
        try:
            for name in logger_names(loggers):
                cls = LOGGERS.get(name)
                where = run_dir / cls.files if cls.files else None
                self.add_sink(lambda cls=cls: cls(run), cls.name or name, where)
        except GenpoError:
            for sink in self.sinks:
                sink.close()
            self.sinks = []
            raise
        self._hook("config", config)
        if any(self._handles(sink, "git") for sink in self.sinks):
            state = git_state()
            if state is not None:
                self._hook("git", state)

    @staticmethod
    def _handles(sink: ScalarSink, hook: str) -> bool:
        from genpo.loggers import Writer

        return isinstance(sink, Writer) and sink.handles(hook)

    def _hook(self, hook: str, *args: Any) -> None:
        """Calls the optional hook on every writer that implements it (failures surface in :meth:`check`)."""
        for sink in self.sinks:
            if id(sink) in self._write_failures or not self._handles(sink, hook):
                continue
            try:
                getattr(sink, hook)(*args)
            except Exception as exc:
                self._write_failures[id(sink)] = exc

    def episodes(self, returns: Sequence[float], lengths: Sequence[float], step: int) -> None:
        """Hands the episodes that ended (returns, lengths) at env step ``step`` to writers that take them."""
        self._hook("episodes", list(returns), list(lengths), step)

    def video(self, path: Path, step: int) -> None:
        """Hands a recorded video file of env step ``step`` to writers that take videos."""
        self._hook("video", Path(path), step)

    @staticmethod
    def _failure(exc: Exception, name: str, path: Path | None) -> GenpoError:
        if isinstance(exc, GenpoError):
            return exc
        err = disk_error(exc, path) if path is not None else None
        return err or RunFailed(f"the {name} logger failed: {type(exc).__name__}: {exc}")

    def scalars(self, values: dict[str, float], step: int) -> None:
        """Hands ``{tag: value}`` at env step ``step`` to every sink (failures surface in :meth:`check`)."""
        for sink in self.sinks:
            if id(sink) in self._write_failures:
                continue
            try:
                sink.write(values, step)
            except Exception as exc:
                self._write_failures[id(sink)] = exc

    def check(self) -> None:
        """Flushes every sink; call once per iteration.

        Raises:
            DiskError: A sink's file could not be written (the file and the cause named).
            RunFailed: A sink failed otherwise. The failed sink is dropped, so the run can save and stop.
        """
        for sink in list(self.sinks):
            try:
                if id(sink) in self._write_failures:
                    raise self._write_failures.pop(id(sink))
                sink.flush()
            except Exception as exc:
                self.sinks.remove(sink)
                sink.close()
                raise self._failure(exc, sink.name, sink.path) from None

    def iteration(self, it: int, done: int, sps: float, mean_return: float | None, extra: dict[str, Any]) -> None:
        """Advances the progress display after iteration ``it`` (``done`` iterations of this invocation)."""
        if not self.enabled:
            return
        ret = "-" if mean_return is None else f"{mean_return:.2f}"
        if self.progress is not None:
            self.progress.update(self.task, completed=done, it=it, sps=f"{sps:,.0f}", ret=ret)
        elif time.perf_counter() - self.last_print >= self.print_every or done == self.total or done == 1:
            self.last_print = time.perf_counter()
            elapsed = self.last_print - self.t0
            left = elapsed / done * (self.total - done)
            fields = "  ".join(f"{k} {v:.4g}" for k, v in extra.items())
            self.console.print(
                f"iter {it} ({done}/{self.total})  {sps:,.0f} steps/s  return {ret}  {fields}  "
                f"elapsed {elapsed:.0f}s  left {left:.0f}s",
                highlight=False,
            )

    def message(self, text: str) -> None:
        if self.enabled:
            self.console.print(text, highlight=False)

    def close(self) -> None:
        """Stops the progress display and closes the sinks (never raises: call :meth:`check` first)."""
        if self.progress is not None:
            self.progress.stop()
        for sink in self.sinks:
            sink.close()
        self.sinks = []
