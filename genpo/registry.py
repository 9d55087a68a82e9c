"""Name-keyed registries: the names users type on the command line map to classes or factories.

A registry made with a ``kind`` also resolves names it does not hold: an installed ``genpo.plugins``
entry point ``<kind>.<name>``, or a dotted path ``pkg.mod:Attr`` (see :mod:`genpo.plugins`). A resolved
part is checked against the registry's interface and then cached under the name the user typed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from genpo.errors import ConfigError

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered item.

    Attributes:
        name: The name users type.
        obj: The registered class or factory.
        description: One line shown by ``genpo list``.
        origin: Where it comes from: ``genpo``, ``entry point of <dist> (...)``, ``module <pkg.mod>``.
    """

    name: str
    obj: T
    description: str
    origin: str = "genpo"


class Registry(Generic[T]):
    """A dict of named parts with a clear error for unknown names.

    Args:
        kind: What the entries are ("integrator", "likelihood estimator", ...), used in messages.
        plugin_kind: Entry-point kind (``velocity``, ``integrator``, ...) for user parts; None: built-ins only.
        interface: Returns the :class:`genpo.plugins.Interface` user parts must satisfy.
    """

    def __init__(self, kind: str, plugin_kind: str | None = None, interface: Callable[[], Any] | None = None) -> None:
        self.kind = kind
        self.plugin_kind = plugin_kind
        self._interface = interface
        self._entries: dict[str, Entry[T]] = {}
        Registry._created.append(self)

    _created: ClassVar[list[Registry[Any]]] = []

    @classmethod
    def instances(cls) -> list[Registry[Any]]:
        """Every registry made so far (one per kind of part), in the order their modules were imported."""
        return list(cls._created)

    def register(self, name: str, description: str) -> Callable[[T], T]:
        """Decorator that registers ``obj`` under ``name``."""

        def deco(obj: T) -> T:
            self.add(name, obj, description)
            return obj

        return deco

    def add(self, name: str, obj: T, description: str, origin: str | None = None) -> None:
        """Registers ``obj`` under ``name``; a name may be registered once.

        Args:
            name: The name users type.
            obj: The class or factory.
            description: One line for ``genpo list``.
            origin: Where it comes from (default: the module that defines ``obj``).
        """
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        if origin is None:
            module = getattr(obj, "__module__", "") or ""
            origin = "genpo" if module.split(".")[0] == "genpo" else f"module {module}"
        self._entries[name] = Entry(name, obj, description, origin)

    def find(self, name: str) -> Entry[T] | None:
        """The entry for ``name``: registered, an installed entry point, or a dotted path; None if none.

        Raises:
            PluginError: A user part that fails to import or lacks the interface.
        """
        entry = self._entries.get(name)
        if entry is not None or self.plugin_kind is None or not isinstance(name, str):
            return entry
        from genpo.plugins import resolver

        found = resolver(self.plugin_kind, self.kind, self._interface)(name)
        if found is None:
            return None
        obj, description, origin = found
        self._entries[name] = Entry(name, obj, description, origin)
        return self._entries[name]

    def get(self, name: str) -> T:
        """Returns the entry for ``name`` or raises ``ConfigError`` (a ``ValueError``) naming the allowed values."""
        entry = self.find(name)
        if entry is None:
            extra = " or a dotted path pkg.module:Name" if self.plugin_kind else ""
            raise ConfigError(f"unknown {self.kind} {name!r}; choose one of: {', '.join(self.names())}{extra}")
        return entry.obj

    def load_plugins(self) -> None:
        """Resolves every installed entry point of this kind (``genpo list`` shows them)."""
        if self.plugin_kind is None:
            return
        from genpo.plugins import entry_points

        for ep in entry_points(self.plugin_kind):
            self.find(ep.name.partition(".")[2])

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
