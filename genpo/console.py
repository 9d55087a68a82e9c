"""The console every command and run prints to: live displays on a terminal, whole lines everywhere else.

On a terminal rich wraps text to the window and the trainer shows a live progress bar. Anywhere else (a pipe,
``> log``, ``| tee``, Slurm, CI) rich would wrap every message at 80 columns, splitting progress and error lines
mid-sentence; there each message is printed as one line, however long, and tables are laid out as wide as
their rows (:data:`LINE_WIDTH`), so a log reads as lines and ``grep`` finds whole messages.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console

LINE_WIDTH = 100_000
"""Width given to a console that is not a terminal: wider than any line genpo prints (tables do not expand)."""


def make_console(*, stderr: bool = False, **options: Any) -> Console:
    """A rich :class:`~rich.console.Console` on stdout (or stderr) that never wraps lines off a terminal.

    Args:
        stderr: Print to stderr.
        **options: Further :class:`~rich.console.Console` options (``file``, ``quiet``, ...).
    """
    console = Console(stderr=stderr, **options)
    if console.is_terminal:
        return console
    return Console(stderr=stderr, soft_wrap=True, width=LINE_WIDTH, **options)
