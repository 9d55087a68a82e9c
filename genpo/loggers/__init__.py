"""Run loggers as parts: ``run.logger`` names where a training run's scalars go.

``LOGGERS`` maps the names users type (``--logger``, ``run.logger``) to :class:`~genpo.loggers.base.Writer`
classes: ``tensorboard`` (default), ``wandb``, ``trackio``, or a user's writer by dotted path
(``pkg.mod:MyWriter``) or ``genpo.plugins`` entry point ``logger.<name>``. Several may be named at once.
See docs/loggers.md.
"""

from __future__ import annotations

from typing import Any

from genpo.errors import ConfigError
from genpo.loggers.base import HOOKS, RunInfo, Writer
from genpo.loggers.tensorboard_writer import TensorBoardWriter
from genpo.loggers.trackio_writer import TrackioWriter
from genpo.loggers.wandb_writer import WandbWriter
from genpo.registry import Registry


def _interface() -> Any:
    from genpo.plugins import Interface

    return Interface(Writer)


LOGGERS: Registry[type[Writer]] = Registry("logger", plugin_kind="logger", interface=_interface)
LOGGERS.add("tensorboard", TensorBoardWriter, "TensorBoard event file in the run folder (default)")
LOGGERS.add("wandb", WandbWriter, "Weights & Biases (WANDB_MODE=offline: on disk only; needs the wandb extra)")
LOGGERS.add("trackio", TrackioWriter, "trackio: a local SQLite database, no server (needs the trackio extra)")


def logger_names(spec: Any) -> list[str]:
    """The logger names of ``run.logger``: a list of names, each of which may hold several separated by commas.

    Raises:
        ConfigError: Not a list of strings, an empty name, or a name given twice.
    """
    if isinstance(spec, str):
        spec = [spec]
    if not isinstance(spec, (list, tuple)) or not all(isinstance(s, str) for s in spec):
        raise ConfigError(
            f"run.logger must be a list of logger names, got {spec!r}; choose from: {', '.join(LOGGERS.names())} "
            "or a dotted path pkg.module:Writer",
            field="run.logger",
        )
    names = [part.strip() for s in spec for part in s.split(",")]
    if any(not n for n in names):
        raise ConfigError(f"run.logger has an empty name in {list(spec)!r}", field="run.logger")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"run.logger names {', '.join(twice)} more than once", field="run.logger")
    return names


def check_loggers(spec: Any) -> list[type[Writer]]:
    """The writer classes ``run.logger`` names, checked before any work starts.

    Raises:
        ConfigError: An unknown name (the allowed ones listed), a writer whose package is missing (the extra
            to install named), or a user writer that cannot be imported or does not derive from ``Writer``.
    """
    classes = []
    for name in logger_names(spec):
        try:
            cls = LOGGERS.get(name)
        except ConfigError as exc:
            raise type(exc)(f"run.logger: {exc}", field="run.logger") from None
        cls.check_available(name)
        classes.append(cls)
    return classes


__all__ = [
    "HOOKS",
    "LOGGERS",
    "RunInfo",
    "TensorBoardWriter",
    "TrackioWriter",
    "WandbWriter",
    "Writer",
    "check_loggers",
    "logger_names",
]
