"""Command-line options that set configuration fields, each declared once and shared by the commands that train.

:data:`FIELD_OPTIONS` lists each option with the field it sets, its flags and its help panel; its help line is
the field's declared doc (:mod:`genpo.training.spec`) and default. A command takes a subset with
:func:`field_options`, which adds those options to the command's signature and hands the command one
``given`` mapping ``{dotted field: value}`` of the options that were given. Names are resolved by
:func:`genpo.training.fields.resolve_field`, like ``--set``.

:data:`PRETRAIN_OPTIONS` set fields of a command's own section instead (:func:`genpo.training.fields.command_sections`:
``genpo pretrain``'s ``pretrain.epochs``), each naming its field in ``FieldOption.sets``: their help comes from
that field's declaration the same way, and :func:`with_set` reads ``--set pretrain.FIELD=VALUE`` for a command
that names the section in ``own``. ``genpo train`` takes :data:`FIELD_OPTIONS` and names no section, so neither
its options nor its ``--set`` reach them.
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

ENV_PANEL, POLICY_PANEL, ALGO_PANEL, RUN_PANEL, RESUME_PANEL, DIST_PANEL, PRETRAIN_PANEL = (
    "Environment",
    "Policy",
    "Algorithm",
    "Run",
    "Resume",
    "Distributed",
    "Pretraining",
)


@dataclass(frozen=True)
class FieldOption:
    """One command-line option that sets one configuration field.

    Attributes:
        name: The option's name as a Python parameter (also a name ``resolve_field`` reads, unless ``sets``).
        flags: Its flags, the first shown in messages.
        kind: The value's type as the CLI parses it.
        panel: The ``--help`` panel.
        sets: The dotted field of a command's own section it sets (``pretrain.epochs``); None: the
            training field ``resolve_field(name)`` names.
    """

    name: str
    flags: tuple[str, ...]
    kind: Any
    panel: str
    sets: str | None = None

    @property
    def field(self) -> str:
        """The dotted field this option sets."""
        from genpo.training.fields import resolve_field

        return self.sets or resolve_field(self.name)

    def help(self) -> str:
        """The field's declared doc (first sentence), the field and its default."""
        from genpo.training.fields import field_of
        from genpo.training.spec import default_of, doc_of

        f = field_of(self.field)
        doc = doc_of(f).replace("``", "")
        first = re.split(r"(?<=[.)])\s+(?=[A-Z])", doc, maxsplit=1)[0]
        return f"{first} ({self.field}; default: {default_of(f)})"


def _pretrain(name: str, flags: tuple[str, ...], kind: Any) -> FieldOption:
    """An option of ``genpo pretrain`` that sets ``pretrain.<name>`` (its parameter: ``pretrain_<name>``)."""
    return FieldOption(f"pretrain_{name}", flags, kind, PRETRAIN_PANEL, sets=f"pretrain.{name}")


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
"""Every option that sets a training configuration field (``--set`` reaches all the others)."""

PRETRAIN_OPTIONS: tuple[FieldOption, ...] = (
    _pretrain("epochs", ("--epochs",), int | None),
    _pretrain("batch_size", ("--batch-size",), int | None),
    _pretrain("learning_rate", ("--learning-rate", "--lr"), float | None),
    _pretrain("objective", ("--objective",), str | None),
    _pretrain("validation_fraction", ("--validation-fraction",), float | None),
    _pretrain("eval_episodes", ("--eval-episodes",), int | None),
)
"""The options of ``genpo pretrain`` that set a field of its ``pretrain`` section (``--set pretrain.FIELD=VALUE``
reaches the others)."""

BY_NAME = {o.name: o for o in (*FIELD_OPTIONS, *PRETRAIN_OPTIONS)}


def option_for(dotted: str | None) -> str | None:
    """The flag that sets a field, to name it in a message about that field (None: no option does)."""
    return next((o.flags[0] for o in BY_NAME.values() if o.field == dotted), None)


def field_options(*names: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Adds the named :data:`FIELD_OPTIONS` and :data:`PRETRAIN_OPTIONS` to a typer command; it receives
    ``given={dotted: value}``.

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


def _assignment(text: str, own: tuple[str, ...]) -> tuple[str, Any]:
    """``FIELD=VALUE`` -> (dotted field, value); ``SECTION.FIELD`` of a section in ``own`` is taken as written
    (the command that reads the section refuses an unknown field)."""
    from genpo.training.fields import parse_assignment, parse_value

    key, eq, value = text.partition("=")
    section, dot, name = key.strip().partition(".")
    if eq and dot and section in own:
        return f"{section}.{name.strip().replace('-', '_')}", parse_value(value)
    return parse_assignment(text)


def overrides_from_set(
    assignments: list[str], given: dict[str, Any], own: tuple[str, ...] = ()
) -> dict[str, tuple[Any, str]]:
    """``{"section.field": (value, "--set TEXT")}`` for every ``--set``; a field set twice is refused.

    Args:
        assignments: The ``--set`` texts.
        given: The named options given (a field set by one and by ``--set`` is refused).
        own: The command's own sections (``("pretrain",)``) that ``--set SECTION.FIELD=VALUE`` may set too.
    """
    out: dict[str, tuple[Any, str]] = {}
    for text in assignments:
        try:
            dotted, value = _assignment(text, own)
        except ConfigError as exc:
            raise ConfigError(f"--set {text!r}: {exc}") from None
        if dotted in given:
            raise ConfigError(f"--set {text!r} sets {dotted}, which {option_for(dotted)} already sets")
        if dotted in out:
            raise ConfigError(f"--set {text!r} sets {dotted} again (first: {out[dotted][1]})")
        out[dotted] = (value, f"--set {text}")
    return out


def with_set(
    given: dict[str, Any], assignments: list[str], own: tuple[str, ...] = ()
) -> tuple[dict[str, Any], dict[str, str]]:
    """The overrides of the named options and ``--set`` together, and ``{field: "--set TEXT"}`` for messages.

    ``own`` names the command's own sections ``--set`` may set too (:func:`overrides_from_set`).
    """
    set_flags = overrides_from_set(assignments, given, own)
    overrides = {**given, **{dotted: value for dotted, (value, _) in set_flags.items()}}
    return overrides, {dotted: flag for dotted, (_, flag) in set_flags.items()}


def name_option(exc: ConfigError, set_flags: dict[str, str]) -> ConfigError | None:
    """The error with the option that set its field appended (``(option --steps)``), or None when none did."""
    flag = set_flags.get(exc.field or "") or option_for(exc.field)
    if flag is None:
        return None
    return ConfigError(f"{exc} (option {flag})", field=exc.field)
