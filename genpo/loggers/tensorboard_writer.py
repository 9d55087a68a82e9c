"""``run.logger: tensorboard``: the run folder's TensorBoard event file (the default)."""

from __future__ import annotations

from genpo.loggers.base import RunInfo, Writer


class TensorBoardWriter(Writer):
    """TensorBoard event file in the run folder, written synchronously (no background thread).

    The file itself is :class:`genpo.training.logger.TensorBoardSink`: one append per iteration, so a full
    disk or a removed run folder shows at that iteration's check, and the run saves and stops.
    """

    name = "TensorBoard"
    files = "events.out.tfevents.*"

    def __init__(self, run: RunInfo) -> None:
        from genpo.training.logger import TensorBoardSink

        self._sink = TensorBoardSink(run.run_dir)
        self.path = self._sink.path

    def write(self, values: dict[str, float], step: int) -> None:
        self._sink.write(values, step)

    def flush(self) -> None:
        self._sink.flush()

    def close(self) -> None:
        self._sink.close()
