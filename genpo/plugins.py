"""User parts without forking genpo: dotted paths (``pkg.mod:Attr``) and ``genpo.plugins`` entry points.

Wherever a part is named (``policy.velocity``, ``policy.integrator``, ``policy.likelihood``,
``policy.model``, ``algo.name``, the backend of ``env.id``, each ``run.logger``) a registry accepts, besides its
built-in names:

* a **dotted path** ``pkg.mod:Attr`` (``Attr`` may be ``Outer.Inner``): the module is imported with
  :func:`importlib.import_module` and the attribute looked up with ``getattr``; nothing is evaluated;
* a name an installed distribution registers as an **entry point** in group ``genpo.plugins``, spelled
  ``<kind>.<name>`` (kinds: ``model``, ``velocity``, ``integrator``, ``likelihood``, ``env``, ``algorithm``,
  ``logger``)::

      [project.entry-points."genpo.plugins"]
      "velocity.film" = "mypkg.nets:FiLMVelocity"

Either way the object is checked against the kind's interface (a subclass of the base class, with its
required methods) before any work starts; a failed import, a missing attribute or a missing method
raises :class:`~genpo.errors.PluginError`.

**Checkpoints never import on their own.** A checkpoint's configuration is data from disk: before one is
rebuilt (``play``, ``export``, resume, :func:`genpo.load <genpo.training.api.load>`),
:func:`genpo.training.loading.check_checkpoint_imports` lists every
module its configuration would import (dotted parts, ``run.plugins``, a Gymnasium ``module:EnvId``) and
refuses any that is neither named by the user in this process (the command line's options and
``--plugin``, a config file or overrides the user passed) nor the module of an installed
``genpo.plugins`` entry point.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from genpo.errors import PluginError

GROUP = "genpo.plugins"
KINDS = ("model", "velocity", "integrator", "likelihood", "env", "algorithm", "logger")
_DOTTED = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
_MODULE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def is_dotted(spec: object) -> bool:
    """Whether ``spec`` is a ``pkg.mod:Attr`` path (an attribute name, not a Gymnasium id, after the colon)."""
    return isinstance(spec, str) and bool(_DOTTED.match(spec))


def import_module(module: str, what: str) -> Any:
    """Imports ``module`` for ``what``; its own error (missing module, syntax error, ...) is in the message."""
    if not _MODULE.match(module):
        raise PluginError(f"{what}: {module!r} is not a module path (pkg.mod)")
    try:
        return importlib.import_module(module)
    except Exception as exc:  # any failure of user code at import time is a plug-in fault
        raise PluginError(f"{what}: cannot import module {module!r}: {type(exc).__name__}: {exc}") from None


def load_dotted(spec: str, what: str) -> Any:
    """The object a ``pkg.mod:Attr`` path names (imported, never evaluated)."""
    module, _, attr = spec.partition(":")
    obj = import_module(module, f"{what} {spec!r}")
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise PluginError(f"{what} {spec!r}: module {module!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    return obj


@dataclass(frozen=True)
class Interface:
    """What a part of one kind must be: a subclass of ``base`` implementing ``methods``.

    Attributes:
        base: The base class (``VelocityNet``, ``Integrator``, ...).
        methods: Methods a subclass must define itself (beyond the base's abstract methods).
        factory_ok: Whether a plain callable (a factory function) is also accepted.
    """

    base: type
    methods: tuple[str, ...] = ()
    factory_ok: bool = False

    def check(self, obj: Any, what: str) -> None:
        """Raises :class:`~genpo.errors.PluginError` unless ``obj`` satisfies the interface."""
        base = f"{self.base.__module__}.{self.base.__qualname__}"
        if not inspect.isclass(obj):
            if self.factory_ok and callable(obj):
                return
            raise PluginError(f"{what} is a {type(obj).__name__}, not a class deriving from {base}")
        if not issubclass(obj, self.base):
            raise PluginError(f"{what} ({obj.__qualname__}) does not derive from {base}")
        missing = set(getattr(obj, "__abstractmethods__", ()))
        for name in self.methods:
            impl = getattr(obj, name, None)
            if impl is None or any(impl is getattr(c, name, None) for c in _defaults(self.base)):
                missing.add(name)
        if missing:
            raise PluginError(f"{what} ({obj.__qualname__}) lacks {', '.join(sorted(missing))} of the {base} interface")


def _defaults(base: type) -> list[type]:
    """Classes whose version of a method does not count as an implementation (the base and torch's Module)."""
    import torch.nn as nn

    return [base, nn.Module]


def entry_points(kind: str | None = None) -> list[importlib.metadata.EntryPoint]:
    """Installed ``genpo.plugins`` entry points (of one kind, if given), in a stable order."""
    found = sorted(importlib.metadata.entry_points(group=GROUP), key=lambda ep: ep.name)
    if kind is None:
        return found
    return [ep for ep in found if ep.name.partition(".")[0] == kind]


def find_entry_point(kind: str, name: str) -> importlib.metadata.EntryPoint | None:
    """The entry point ``<kind>.<name>``, if an installed distribution declares it."""
    for ep in entry_points(kind):
        if ep.name == f"{kind}.{name}":
            return ep
    return None


def entry_point_origin(ep: importlib.metadata.EntryPoint) -> str:
    """``entry point <dist> (<value>)``, as ``genpo list`` shows it."""
    dist = ep.dist.name if getattr(ep, "dist", None) is not None else "?"
    return f"entry point of {dist} ({ep.value})"


def load_entry_point(ep: importlib.metadata.EntryPoint, what: str) -> Any:
    """Loads an entry point; import errors name the entry point and carry the module's own error."""
    module, _, attr = ep.value.partition(":")
    if not attr:
        return import_module(module, f"{what} (entry point {ep.name!r})")
    return load_dotted(ep.value.replace(" ", ""), f"{what} (entry point {ep.name!r})")


def first_line(obj: Any) -> str:
    """The first line of ``obj``'s docstring (a registry description for user parts)."""
    doc = inspect.getdoc(obj) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def import_plugins(modules: Iterable[str]) -> None:
    """Imports each module of ``run.plugins`` (their import registers parts by name)."""
    for module in modules:
        import_module(str(module), "run.plugins")


def resolver(
    kind: str, what: str, interface: Callable[[], Interface] | None
) -> Callable[[str], tuple[Any, str, str] | None]:
    """A function ``name -> (obj, description, origin) | None`` for a registry of ``kind``.

    Args:
        kind: Entry-point kind (``velocity``, ...).
        what: The registry's human name ("velocity network").
        interface: Returns the interface user objects must satisfy (called lazily: bases import torch).
    """

    def resolve(name: str) -> tuple[Any, str, str] | None:
        ep = find_entry_point(kind, name)
        if ep is not None:
            label = f"{what} {name!r}"
            obj = load_entry_point(ep, what)
            origin = entry_point_origin(ep)
        elif is_dotted(name):
            label = f"{what} {name!r}"
            obj = load_dotted(name, what)
            origin = f"module {name.partition(':')[0]}"
        else:
            return None
        if interface is not None:
            interface().check(obj, label)
        return obj, first_line(obj), origin

    return resolve
