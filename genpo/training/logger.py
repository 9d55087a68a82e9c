"""Run output: TensorBoard scalars, a live rich progress bar on terminals, plain lines elsewhere."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class RunLogger:
    """Writes scalars and shows progress; a no-op writer on non-zero ranks.

    Args:
        run_dir: Run folder (TensorBoard events go here); ``None`` disables files.
        total_iterations: Iterations planned in this invocation.
        start_iteration: Iteration the run resumes from.
        console: Where to print; a terminal gets a live progress bar.
        enabled: False on non-zero ranks.
        print_every: Seconds between plain lines when output is not a terminal.
    """

    def __init__(
        self,
        run_dir: Path | None,
        total_iterations: int,
        start_iteration: int = 0,
        console: Console | None = None,
        enabled: bool = True,
        print_every: float = 10.0,
    ) -> None:
        self.enabled = enabled
        self.console = console or Console(stderr=False)
        self.writer = None
        if enabled and run_dir is not None:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(log_dir=str(run_dir), flush_secs=10)
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

    def scalars(self, values: dict[str, float], step: int) -> None:
        """Writes ``{tag: value}`` at env step ``step``."""
        if self.writer is not None:
            for tag, val in values.items():
                self.writer.add_scalar(tag, val, step)

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
        if self.progress is not None:
            self.progress.stop()
        if self.writer is not None:
            self.writer.flush()
            self.writer.close()
