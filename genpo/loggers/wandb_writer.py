"""``run.logger: wandb``: Weights & Biases (``pip install 'genpo[wandb]'``).

wandb's own settings apply: ``WANDB_MODE=offline`` keeps the run on disk (upload later with ``wandb sync``),
``WANDB_MODE=disabled`` turns it off, ``WANDB_PROJECT`` / ``WANDB_ENTITY`` choose where it goes (project
default: ``genpo``). The run's files go under ``WANDB_DIR`` if set, else into the run folder (``<run>/wandb``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from genpo.loggers.base import RunInfo, Writer, check_tracker_space


class WandbWriter(Writer):
    """Weights & Biases run: scalars, the configuration, episode-return histograms and videos.

    ``wandb.log`` hands each record to wandb's own service process, which writes the transaction log
    (``run-<id>.wandb``) and uploads it. A write that fails there is only logged by wandb (its
    ``logs/debug-internal.log``), so :meth:`flush` checks the free space of the run's folder each iteration
    and stops the run (after saving) when it is nearly full. wandb records the git state itself.
    """

    name = "W&B"
    requires = ("wandb",)
    extra = "wandb"
    files = "wandb"

    def __init__(self, run: RunInfo) -> None:
        import wandb

        folder = os.environ.get("WANDB_DIR") or str(run.run_dir)
        self._run = wandb.init(
            project=os.environ.get("WANDB_PROJECT") or "genpo",
            name=run.name,
            dir=folder,
            reinit="create_new",
            # genpo prints its own progress; wandb capturing the terminal would wrap it.
            settings=wandb.Settings(console="off"),
        )
        self.path = Path(self._run.dir).parent  # offline-run-<time>-<id>/ (or run-...): its records and files

    def flush(self) -> None:
        check_tracker_space(self.path, "W&B", "WANDB_DIR")

    def write(self, values: dict[str, float], step: int) -> None:
        self._run.log(dict(values), step=int(step))

    def config(self, values: dict[str, Any]) -> None:
        self._run.config.update(values, allow_val_change=True)

    def episodes(self, returns: Sequence[float], lengths: Sequence[float], step: int) -> None:
        import wandb

        self._run.log(
            {"episodes/return": wandb.Histogram(list(returns)), "episodes/length": wandb.Histogram(list(lengths))},
            step=int(step),
        )

    def video(self, path: Path, step: int) -> None:
        import wandb

        self._run.log({"video": wandb.Video(str(path), format="mp4")}, step=int(step))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._run.finish()
