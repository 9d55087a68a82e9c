"""``run.logger: trackio``: Hugging Face trackio, a local SQLite database (``pip install 'genpo[trackio]'``).

The database is ``$TRACKIO_DIR/<project>.db`` (``TRACKIO_DIR`` default: ``~/.cache/huggingface/trackio``;
trackio reads it when first imported); the project is ``TRACKIO_PROJECT`` or ``genpo``. genpo starts no
server and no dashboard: ``trackio show --project genpo`` does, when you want one. Setting
``TRACKIO_SPACE_ID`` or ``TRACKIO_SERVER_URL`` makes trackio send the run there instead (its own rules).
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from genpo.loggers.base import RunInfo, Writer, check_tracker_space


class TrackioWriter(Writer):
    """trackio run: scalars, the configuration and episode-return histograms.

    trackio batches records in a background thread and writes them to SQLite; ``close`` waits for it. A
    write that fails there (a full disk) is only a warning of trackio's, so :meth:`flush` checks the free
    space of the database's folder each iteration and stops the run (after saving) when it is nearly full.
    """

    name = "trackio"
    requires = ("trackio",)
    extra = "trackio"

    def __init__(self, run: RunInfo) -> None:
        import trackio

        with contextlib.redirect_stdout(io.StringIO()):  # its banner and dashboard hints, not genpo's output
            self._run = trackio.init(
                project=os.environ.get("TRACKIO_PROJECT") or "genpo",
                name=run.name,
                embed=False,
                auto_log_gpu=False,
                auto_log_cpu=False,
            )
        self.path = Path(trackio.utils.TRACKIO_DIR)  # the folder of the project's database

    def flush(self) -> None:
        check_tracker_space(self.path, "trackio", "TRACKIO_DIR")

    def write(self, values: dict[str, float], step: int) -> None:
        self._run.log(dict(values), step=int(step))

    def config(self, values: dict[str, Any]) -> None:
        self._run.config.update(values)  # stored with the first record

    def episodes(self, returns: Sequence[float], lengths: Sequence[float], step: int) -> None:
        import trackio

        self._run.log(
            {"episodes/return": trackio.Histogram(list(returns)), "episodes/length": trackio.Histogram(list(lengths))},
            step=int(step),
        )

    def close(self) -> None:
        import trackio

        with contextlib.suppress(Exception), contextlib.redirect_stdout(io.StringIO()):
            if trackio.context_vars.current_run.get() is self._run:
                trackio.finish()  # also clears trackio's current run, so its exit hook does not finish it again
            else:
                self._run.finish()
