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
