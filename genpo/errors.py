"""The exceptions genpo raises for faults a user can cause, and the exit code each maps to.

The library raises these with a message that names the configuration field, path or part at fault;
the CLI turns any of them into that message and its exit code, never a traceback. Each class also
derives from the builtin a caller would expect (``ValueError``, ``OSError``, ``RuntimeError``), so
``except ValueError`` keeps working in user code.
"""

from __future__ import annotations


class GenpoError(Exception):
    """Base class of user-facing genpo errors.

    Attributes:
        exit_code: Process exit code the CLI uses for this error (2: bad input, 1: a run that failed).
        label: The word the CLI prints before the message.
    """

    exit_code: int = 1
    label: str = "error"


class ConfigError(GenpoError, ValueError):
    """An option, configuration value or part name is invalid; raised before any work starts.

    Args:
        message: What is wrong and what is allowed.
        field: The configuration field at fault (``"run.seed"``), when there is one: a front end can name
            its own option for it.
    """

    exit_code = 2

    def __init__(self, message: str = "", field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class PluginError(ConfigError):
    """A user part named by dotted path or entry point cannot be imported or lacks the interface."""


class RunFolderError(GenpoError, OSError):
    """A run folder, log directory or output path cannot be created, found or written."""

    exit_code = 2


class RunFailed(GenpoError, RuntimeError):
    """A run started and then failed (non-finite loss, an environment that raised, ...)."""

    exit_code = 1


class DiskError(RunFailed):
    """The file system failed a write: no space, a quota, a read-only file system, a folder removed mid-run.

    The input was fine, so the exit code is 1. Raised by :func:`genpo.training.files.disk_error` (the one
    place that reads such failures) with the file and the cause in plain words; a caller that knows more
    (a training run: the newest intact checkpoint and how to resume it) adds a ``note``.

    Args:
        path: The file (or folder) that could not be written.
        cause: Why, in plain words ("no space left on the device").
        action: What was being done ("write", "create the run folder").
        note: What is safe and what to do next, appended after the cause.
    """

    def __init__(self, path: str, cause: str, action: str = "write", note: str = "") -> None:
        self.path, self.cause, self.action, self.note = str(path), cause, action, note
        text = f"cannot {action} {self.path!r}: {cause}"
        super().__init__(f"{text}; {note}" if note else text)

    def with_note(self, note: str) -> DiskError:
        """The same failure with ``note`` (what is safe, how to go on) in its message."""
        return DiskError(self.path, self.cause, self.action, note)
