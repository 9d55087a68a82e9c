"""Command-line options that set configuration fields, each declared once and shared by the commands that train.

:data:`FIELD_OPTIONS` lists each option with the field it sets, its flags and its help panel; its help line is
the field's declared doc (:mod:`genpo.training.spec`) and default. A command takes a subset with
:func:`field_options`, which adds those options to the command's signature and hands the command one
``given`` mapping ``{dotted field: value}`` of the options that were given. Names are resolved by
:func:`genpo.training.fields.resolve_field`, like ``--set``.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import typer

from genpo.errors import ConfigError

ENV_PANEL, POLICY_PANEL, ALGO_PANEL, RUN_PANEL, RESUME_PANEL, DIST_PANEL = (
    "Environment",
    "Policy",
    "Algorithm",
    "Run",
    "Resume",
    "Distributed",
)


@dataclass(frozen=True)
class FieldOption:
    """One command-line option that sets one configuration field.

    Attributes:
        name: The option's name as a Python parameter (also a name ``resolve_field`` reads).
        flags: Its flags, the first shown in messages.
        kind: The value's type as the CLI parses it.
        panel: The ``--help`` panel.
    """

    name: str
    flags: tuple[str, ...]
    kind: Any
    panel: str

    @property
    def field(self) -> str:
        """The dotted field this option sets."""
        from genpo.training.fields import resolve_field

        return resolve_field(self.name)

    def help(self) -> str:
        """The field's declared doc (first sentence), the field and its default."""
        from genpo.training.fields import field_of
        from genpo.training.spec import default_of, doc_of

        f = field_of(self.field)
        doc = doc_of(f).replace("``", "")
        first = re.split(r"(?<=[.)])\s+(?=[A-Z])", doc, maxsplit=1)[0]
        return f"{first} ({self.field}; default: {default_of(f)})"


FIELD_OPTIONS: tuple[FieldOption, ...] = (
    FieldOption("env", ("--env", "--task"), str | None, ENV_PANEL),
    FieldOption("num_envs", ("--num-envs", "--num_envs"), int | None, ENV_PANEL),
    FieldOption("model", ("--model",), str | None, POLICY_PANEL),
    FieldOption("velocity", ("--velocity",), str | None, POLICY_PANEL),
    FieldOption("integrator", ("--integrator",), str | None, POLICY_PANEL),
    FieldOption("steps", ("--steps", "--flow-steps"), int | None, POLICY_PANEL),
    FieldOption("likelihood", ("--likelihood",), str | None, POLICY_PANEL),
    FieldOption("p", ("--p", "--mix-p"), float | None, POLICY_PANEL),
    FieldOption("compress_coef", ("--compress-coef", "--compress_coef"), float | None, ALGO_PANEL),
    FieldOption("entropy_coef", ("--entropy-coef", "--entropy_coef"), float | None, ALGO_PANEL),
    FieldOption("learning_rate", ("--learning-rate", "--lr"), float | None, ALGO_PANEL),
    FieldOption("max_iterations", ("--max-iterations", "--max_iterations"), int | None, RUN_PANEL),
    FieldOption("total_steps", ("--total-steps", "--total_steps"), int | None, RUN_PANEL),
    FieldOption("seed", ("--seed",), int | None, RUN_PANEL),
    FieldOption("device", ("--device",), str | None, RUN_PANEL),
    FieldOption("run_name", ("--run-name", "--run_name"), str | None, RUN_PANEL),
    FieldOption("logdir", ("--logdir",), str | None, RUN_PANEL),
    FieldOption("plugin", ("--plugin",), list[str] | None, RUN_PANEL),
    FieldOption("logger", ("--logger",), list[str] | None, RUN_PANEL),
    FieldOption("init", ("--init",), str | None, RESUME_PANEL),
)
"""Every option that sets a configuration field (``--set`` reaches all the others)."""

BY_NAME = {o.name: o for o in FIELD_OPTIONS}


def option_for(dotted: str | None) -> str | None:
    """The flag that sets a field, to name it in a message about that field (None: no option does)."""
    return next((o.flags[0] for o in FIELD_OPTIONS if o.field == dotted), None)


def field_options(*names: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Adds the named :data:`FIELD_OPTIONS` to a typer command; it receives ``given={dotted: value}``.

    The decorated function takes a keyword ``given`` (the options given on the command line, by dotted field;
    an option left out is absent) instead of one parameter per option.
    """
    chosen = [BY_NAME[n] for n in names]

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        sig = inspect.signature(fn, eval_str=True)
        own = [p for p in sig.parameters.values() if p.name != "given"]
        added = [
            inspect.Parameter(
                o.name,
                inspect.Parameter.KEYWORD_ONLY,
                default=typer.Option(None, *o.flags, help=o.help(), rich_help_panel=o.panel),
                annotation=o.kind,
            )
            for o in chosen
        ]
        params = sorted(own + added, key=lambda p: p.kind)  # keyword-only after the rest, each group in order

        @functools.wraps(fn)
        def command(**kwargs: Any) -> Any:
            given = {}
            for o in chosen:
                value = kwargs.pop(o.name)
                if value is not None and value != []:
                    given[o.field] = value
            return fn(**kwargs, given=given)

        command.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        return command

    return wrap


def config_option(help: str, panel: str = RUN_PANEL) -> Any:
    """The ``--config FILE.yaml`` option of a command that trains (its help says what the file may set)."""
    return typer.Option(None, "--config", help=help, rich_help_panel=panel)


def set_option(help: str) -> Any:
    """The repeatable ``--set FIELD=VALUE`` option (names resolved as everywhere: genpo.training.fields)."""
    return typer.Option([], "--set", help=help, rich_help_panel=RUN_PANEL)


def overrides_from_set(assignments: list[str], given: dict[str, Any]) -> dict[str, tuple[Any, str]]:
    """``{"section.field": (value, "--set TEXT")}`` for every ``--set``; a field set twice is refused."""
    from genpo.training.fields import parse_assignment

    out: dict[str, tuple[Any, str]] = {}
    for text in assignments:
        try:
            dotted, value = parse_assignment(text)
        except ConfigError as exc:
            raise ConfigError(f"--set {text!r}: {exc}") from None
        if dotted in given:
            raise ConfigError(f"--set {text!r} sets {dotted}, which {option_for(dotted)} already sets")
        if dotted in out:
            raise ConfigError(f"--set {text!r} sets {dotted} again (first: {out[dotted][1]})")
        out[dotted] = (value, f"--set {text}")
    return out


def with_set(given: dict[str, Any], assignments: list[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The overrides of the named options and ``--set`` together, and ``{field: "--set TEXT"}`` for messages."""
    set_flags = overrides_from_set(assignments, given)
    overrides = {**given, **{dotted: value for dotted, (value, _) in set_flags.items()}}
    return overrides, {dotted: flag for dotted, (_, flag) in set_flags.items()}


def name_option(exc: ConfigError, set_flags: dict[str, str]) -> ConfigError | None:
    """The error with the option that set its field appended (``(option --steps)``), or None when none did."""
    flag = set_flags.get(exc.field or "") or option_for(exc.field)
    if flag is None:
        return None
    return ConfigError(f"{exc} (option {flag})", field=exc.field)
