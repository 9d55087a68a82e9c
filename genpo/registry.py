"""Name-keyed registries: the names users type on the command line map to classes or factories."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered item.

    Attributes:
        name: The name users type.
        obj: The registered class or factory.
        description: One line shown by ``genpo list``.
    """

    name: str
    obj: T
    description: str


class Registry(Generic[T]):
    """A dict of named parts with a clear error for unknown names.

    Args:
        kind: What the entries are ("integrator", "likelihood estimator", ...), used in messages.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}

    def register(self, name: str, description: str) -> Callable[[T], T]:
        """Decorator that registers ``obj`` under ``name``."""

        def deco(obj: T) -> T:
            self.add(name, obj, description)
            return obj

        return deco

    def add(self, name: str, obj: T, description: str) -> None:
        """Registers ``obj`` under ``name``; a name may be registered once."""
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = Entry(name, obj, description)

    def get(self, name: str) -> T:
        """Returns the entry for ``name`` or raises ``ValueError`` naming the allowed values."""
        try:
            return self._entries[name].obj
        except KeyError:
            raise ValueError(f"unknown {self.kind} {name!r}; choose one of: {', '.join(self.names())}") from None

    def names(self) -> list[str]:
        """Registered names, in registration order."""
        return list(self._entries)

    def entries(self) -> list[Entry[T]]:
        """Registered entries, in registration order."""
        return list(self._entries.values())

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)
