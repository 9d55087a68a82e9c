"""The Typer application object; command modules attach themselves to it.

:class:`GenpoGroup` is the one place where a library error becomes a message and an exit code: every
command (``bench`` subcommands included) runs inside its ``invoke``, so a :class:`~genpo.errors.GenpoError`
prints ``error: <message>`` and exits with the error's ``exit_code``, never a traceback.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from genpo.errors import GenpoError
from genpo.training.files import disk_error


def report(exc: GenpoError, console: Console | None = None) -> typer.Exit:
    """Prints ``exc`` as a one-line error and returns the exit to raise."""
    # escape: a message's own brackets (pip install 'genpo[wandb]') are text, not rich markup
    (console or Console()).print(f"[bold red]{exc.label}:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
    return typer.Exit(exc.exit_code)


class GenpoGroup(TyperGroup):
    """A Typer group whose commands report :class:`GenpoError` and Ctrl-C without a traceback."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GenpoError as exc:
            raise report(exc) from None
        except OSError as exc:  # a writer genpo does not wrap met a full disk, a quota, a read-only file system
            err = disk_error(exc, exc.filename or "a file")
            if err is None:
                raise
            raise report(err) from None
        except KeyboardInterrupt:  # outside a training loop (which reports what it saved itself)
            Console().print("interrupted (Ctrl-C)", highlight=False)
            raise typer.Exit(130) from None


app = typer.Typer(
    name="genpo",
    cls=GenpoGroup,
    help="On-policy RL with generative flow policies whose log-likelihood is exact (GenPO).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode="rich",
)
