"""What a configuration field declares beside itself: its doc and the values it allows.

Each field of the configuration dataclasses is made with :func:`setting`, which stores the field's doc and its
constraint in ``dataclasses.field(metadata=...)``. One routine, :func:`check_fields`, checks every field of a
section against its constraint; :func:`doc_of` gives the doc to ``--help`` and the configuration reference.
A constraint is an :class:`Allowed` (a test and the words naming what it allows: the message reads
``<field> must be <words>, got <value>``) or a function ``(value, field) -> value`` that raises
:class:`~genpo.errors.ConfigError` itself (``check_device`` needs the machine, not only the value).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from genpo.errors import ConfigError


@dataclass(frozen=True)
class Allowed:
    """A constraint on one field's value.

    Attributes:
        ok: True for an allowed value.
        words: What is allowed, as the message says it (``an integer in [1, 1000]``); a callable is asked
            when a message is written (choices registered by plug-ins).
        optional: ``None`` is allowed too (the words should say so).
    """

    ok: Callable[[Any], bool]
    words: str | Callable[[], str]
    optional: bool = False

    def describe(self) -> str:
        """The words naming the allowed values."""
        return self.words() if callable(self.words) else self.words

    def __call__(self, value: Any, what: str) -> Any:
        """``value`` if allowed, else ``ConfigError`` naming the field, the allowed values and the value."""
        if not (self.optional and value is None) and not self.ok(value):
            raise ConfigError(f"{what} must be {self.describe()}, got {value!r}", field=what)
        return value


Check = Callable[[Any, str], Any]
"""A constraint: called with the value and the dotted field name, raises ``ConfigError`` or returns the value."""


def is_int(x: Any) -> bool:
    """An ``int`` that is not a ``bool``."""
    return isinstance(x, int) and not isinstance(x, bool)


def is_number(x: Any) -> bool:
    """An ``int`` or ``float`` that is not a ``bool``."""
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def is_finite(x: Any) -> bool:
    """A finite number."""
    return is_number(x) and math.isfinite(x)


def integer(lo: int, hi: int | None = None, *, optional: bool = False) -> Allowed:
    """An integer in ``[lo, hi]`` (``>= lo`` when ``hi`` is None)."""
    words = f"an integer >= {lo}" if hi is None else f"an integer in [{lo}, {hi}]"
    return Allowed(lambda x: is_int(x) and x >= lo and (hi is None or x <= hi), words, optional)


def number(ok: Callable[[float], bool], words: str, *, finite: bool = True) -> Allowed:
    """A number (finite unless ``finite=False``) for which ``ok`` holds."""
    kind = is_finite if finite else is_number
    return Allowed(lambda x: kind(x) and ok(x), words)


def one_of(choices: Sequence[str] | Callable[[], Sequence[str]]) -> Allowed:
    """One of fixed choices, or of those a callable returns when asked (a registry's names)."""

    def names() -> Sequence[str]:
        return choices() if callable(choices) else choices

    return Allowed(lambda x: isinstance(x, str) and x in names(), lambda: f"one of {', '.join(names())}")


BOOLEAN = Allowed(lambda x: isinstance(x, bool), "true or false")
MAPPING = Allowed(lambda x: isinstance(x, dict), "a mapping of option names to values")
NAMES = Allowed(lambda x: isinstance(x, (list, tuple)) and all(isinstance(m, str) for m in x), "a list of module names")


def text(words: str, ok: Callable[[str], bool] = bool, *, optional: bool = False) -> Allowed:
    """A string for which ``ok`` holds (default: non-empty)."""
    return Allowed(lambda x: isinstance(x, str) and ok(x), words, optional)


def widths(hi: int, *, nullable: bool = False) -> Allowed:
    """A non-empty list of integers in ``[1, hi]`` (or None when ``nullable``)."""
    words = f"a non-empty list of integers in [1, {hi}]" + (" or null (the part's default)" if nullable else "")
    ok = integer(1, hi).ok
    return Allowed(lambda x: isinstance(x, (list, tuple)) and len(x) > 0 and all(ok(h) for h in x), words, nullable)


def setting(
    default: Any = dataclasses.MISSING,
    doc: str = "",
    check: Check | None = None,
    *,
    factory: Callable[[], Any] | None = None,
) -> Any:
    """A dataclass field with its doc and constraint in its metadata.

    Args:
        default: The default value (or give ``factory`` for a mutable one).
        doc: What the field is, its unit and its allowed range, for people (``--help``, docs/configuration.md).
        check: The constraint :func:`check_fields` applies (None: checked elsewhere, e.g. by the part it names).
        factory: A default factory.
    """
    meta = {"doc": " ".join(doc.split()), "check": check}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def doc_of(f: dataclasses.Field) -> str:
    """The declared doc of a field ('' when it has none)."""
    return f.metadata.get("doc", "")


def default_of(f: dataclasses.Field) -> Any:
    """The default value of a field (a fresh one for a factory)."""
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return f.default


def check_fields(obj: Any, section: str) -> None:
    """Checks every field of a dataclass instance against its declared constraint, in declaration order.

    Raises:
        ConfigError: The first field whose value is not allowed, as ``<section>.<field> must be ...``.
    """
    for f in dataclasses.fields(obj):
        check = f.metadata.get("check")
        if check is not None:
            check(getattr(obj, f.name), f"{section}.{f.name}")
