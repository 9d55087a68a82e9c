"""The Typer application object; command modules attach themselves to it.

:class:`GenpoGroup` is the one error boundary: every command (``bench`` subcommands included) runs inside its
``invoke``. A :class:`~genpo.errors.GenpoError` (bad input, a run that failed) prints ``error: <message>`` on one
line and exits with the error's ``exit_code``, never a traceback. Anything else is a bug: the traceback, then one
line saying so with genpo's version, exit 1 (never 2: a bug is not the user's bad input).
"""

from __future__ import annotations

import traceback
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from genpo.console import make_console
from genpo.errors import GenpoError
from genpo.training.files import disk_error


def bug_line() -> str:
    """The line printed under the traceback of an unexpected exception."""
    from genpo import __version__

    return (
        f"this is a bug in genpo {__version__} (or in a plug-in it ran), not a fault of your input: please report it "
        "with the traceback above and the command you ran"
    )


def report_bug(exc: BaseException) -> typer.Exit:
    """Prints the traceback of ``exc`` and :func:`bug_line` on stderr; returns the exit (code 1) to raise."""
    traceback.print_exception(exc)
    make_console(stderr=True).print(f"[bold red]error:[/] {bug_line()}", highlight=False, soft_wrap=True)
    return typer.Exit(1)


def report(exc: GenpoError, console: Console | None = None) -> typer.Exit:
    """Prints ``exc`` as a one-line error and returns the exit to raise."""
    # escape: a message's own brackets (pip install 'genpo[wandb]') are text, not rich markup
    (console or make_console()).print(f"[bold red]{exc.label}:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
    return typer.Exit(exc.exit_code)


class GenpoGroup(TyperGroup):
    """A Typer group whose commands report :class:`GenpoError` and Ctrl-C without a traceback, and bugs with one."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GenpoError as exc:
            raise report(exc) from None
        except OSError as exc:  # a writer genpo does not wrap met a full disk, a quota, a read-only file system
            err = disk_error(exc, exc.filename or "a file")
            if err is None:
                raise report_bug(exc) from None
            raise report(err) from None
        except KeyboardInterrupt:  # outside a training loop (which reports what it saved itself)
            make_console().print("interrupted (Ctrl-C)", highlight=False)
            raise typer.Exit(130) from None
        except (typer.Exit, typer.Abort):
            raise
        except typer.TyperException as exc:  # a usage error: rich's boxed panel on a terminal, plain lines elsewhere
            if make_console(stderr=True).is_terminal or not hasattr(exc, "show"):
                raise
            exc.show()
            raise typer.Exit(getattr(exc, "exit_code", 2)) from None
        except Exception as exc:
            raise report_bug(exc) from None


app = typer.Typer(
    name="genpo",
    cls=GenpoGroup,
    help="On-policy RL with generative flow policies whose log-likelihood is exact (GenPO).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode="rich",
)
