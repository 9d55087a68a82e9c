"""The writer interface: where a run's scalars (and, optionally, more) go.

A writer is a class deriving from :class:`Writer`, built once per run on rank 0 as ``cls(run)`` with a
:class:`RunInfo`. Only :meth:`Writer.write` (scalars) is required. The other hooks have no-op defaults;
``genpo.training.logger.RunLogger`` calls a hook only on writers whose class overrides it
(:meth:`Writer.handles`), so a writer that does not care about videos is never handed one, and the git state
is not even collected when no writer wants it.

Every call happens in the training thread, between iterations' work; an exception from any hook is held and
raised by the iteration's check, which saves a checkpoint and stops the run naming the writer.
"""

from __future__ import annotations

import abc
import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from genpo.errors import ConfigError

HOOKS = ("config", "episodes", "video", "git")

MIN_FREE_BYTES = 1 << 20
"""Free space a tracker's folder must keep (:func:`check_tracker_space`): an iteration's records are a few KB."""


def check_tracker_space(folder: Path, name: str, setting: str) -> None:
    """Raises ``DiskError`` when ``folder``'s file system has less than :data:`MIN_FREE_BYTES` free.

    W&B and trackio write from their own process or thread and only log their write failures (a full disk
    loses records with no error in the run), so their writers call this from :meth:`Writer.flush`: the run
    then saves a checkpoint and stops, as for TensorBoard's full disk.

    Args:
        folder: Where the tracker writes.
        name: The tracker ("W&B"), for the message.
        setting: The environment variable that moves its folder (``WANDB_DIR``), for the message.
    """
    from genpo.training.files import check_free_space, format_bytes

    need = format_bytes(MIN_FREE_BYTES)
    check_free_space(
        folder,
        MIN_FREE_BYTES,
        f"{name} writes its records here every iteration and keeps {need} free; {setting} moves them",
    )


@dataclass(frozen=True)
class RunInfo:
    """What a writer is told about the run it logs.

    Attributes:
        run_dir: The run folder (exists; checkpoints and ``params/config.yaml`` are there).
        name: The run's name: the run folder's name (``2026-12-02_19-47-59_myrun``).
    """

    run_dir: Path
    name: str


class Writer(abc.ABC):
    """Base class of run loggers (``run.logger``): TensorBoard, W&B, trackio, or a user's.

    Attributes:
        name: What it is, in messages ("TensorBoard").
        path: The file it writes, if any: a disk failure's message names it.
        requires: Modules it imports; :meth:`check_available` imports them before any work starts.
        extra: The genpo extra that installs them (``pip install 'genpo[<extra>]'``).
        files: Where in the run folder it writes (a glob), named when it cannot even be created.
    """

    name: ClassVar[str] = ""
    requires: ClassVar[tuple[str, ...]] = ()
    extra: ClassVar[str] = ""
    files: ClassVar[str | None] = None
    path: Path | None = None

    @classmethod
    def check_available(cls, label: str) -> None:
        """Imports every module of :attr:`requires`; a missing one is a ``ConfigError`` naming the extra.

        Args:
            label: The name the user typed (``wandb``), for the message.
        """
        for module in cls.requires:
            try:
                importlib.import_module(module)
            except ImportError as exc:
                how = f"pip install 'genpo[{cls.extra}]'" if cls.extra else f"pip install {module}"
                raise ConfigError(
                    f"run.logger {label!r} needs the {module} package, which cannot be imported ({exc}); "
                    f"install it with: {how}",
                    field="run.logger",
                ) from None

    @classmethod
    def handles(cls, hook: str) -> bool:
        """Whether this class overrides the optional hook ``hook`` (one of ``config, episodes, video, git``)."""
        return getattr(cls, hook) is not getattr(Writer, hook)

    @abc.abstractmethod
    def write(self, values: dict[str, float], step: int) -> None:
        """Takes the scalars ``{tag: value}`` of env step ``step`` (may only buffer them until :meth:`flush`)."""

    def flush(self) -> None:  # noqa: B027 (a no-op by design)
        """Writes what was taken so far; called once per iteration. Raises what failed (``OSError`` for a file)."""

    def close(self) -> None:  # noqa: B027 (a no-op by design)
        """Releases the writer at the end of the run (also after a failure); must not raise."""

    # -- optional hooks: called only when a subclass overrides them ---------------------------------
    def config(self, values: dict[str, Any]) -> None:  # noqa: B027 (a no-op by design)
        """Takes the run's resolved configuration (``{section: {field: value}}``), once, before any scalar."""

    def episodes(self, returns: Sequence[float], lengths: Sequence[float], step: int) -> None:  # noqa: B027 (a no-op by design)
        """Takes the returns and lengths of the episodes that ended in the iteration logged at env step ``step``."""

    def video(self, path: Path, step: int) -> None:  # noqa: B027 (a no-op by design)
        """Takes a recorded video file (an mp4) of env step ``step``."""

    def git(self, state: dict[str, str]) -> None:  # noqa: B027 (a no-op by design)
        """Takes the git state of the working directory (``commit``, ``branch``, ``dirty``), once, at the start."""
