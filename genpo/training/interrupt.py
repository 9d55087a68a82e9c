"""Stopping a run cleanly on Ctrl-C (SIGINT) or a cluster's SIGTERM: finish the iteration, save, then exit.

While :class:`StopSignals` is active, the first SIGINT or SIGTERM only records a stop request; the
training loop finishes the iteration in progress (rollout, update, logs), writes a checkpoint and raises
:class:`Interrupted`, whose exit code is the shell's ``128 + signal`` (130 for SIGINT, 143 for SIGTERM).
A second signal stops at once (``KeyboardInterrupt``), without waiting for the iteration.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType
from typing import Any

import torch
from rich.console import Console

from genpo.errors import GenpoError

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(GenpoError):
    """A run stopped on a signal; the message says what was saved. ``exit_code`` is ``128 + signum``.

    Attributes:
        signum: The signal that stopped the run.
    """

    label = "interrupted"

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.signum = signum
        self.exit_code = 128 + signum


def signal_name(signum: int) -> str:
    """``SIGINT``, ``SIGTERM``, ..."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class StopSignals:
    """Context manager that turns the first SIGINT/SIGTERM into a stop request (main thread only).

    Args:
        console: Where the acknowledgement goes.
        what: What will be finished before stopping, for the acknowledgement.
    """

    def __init__(self, console: Console, what: str = "this iteration") -> None:
        self.console, self.what = console, what
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():  # signal handlers live on the main thread
            for sig in SIGNALS:
                if signal.getsignal(sig) is signal.SIG_IGN:
                    continue  # ignored on purpose (a shell's background job ignores SIGINT): keep it so
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt  # the second signal: stop now
        self.signum = signum
        self.console.print(
            f"\n{signal_name(signum)} received: finishing {self.what}, then saving a checkpoint "
            "(send it again to stop at once, without saving)",
            highlight=False,
        )

    def requested(self, distributed: bool = False, device: torch.device | str = "cpu") -> bool:
        """Whether a stop was requested (on any rank, when ``distributed``: every rank stops together).

        Args:
            distributed: Agree across ranks (one all-reduce on ``device``, the device collectives use).
            device: Device of the run.
        """
        if distributed:
            from genpo.training.distributed import all_reduce_sum

            flag = all_reduce_sum(torch.tensor([float(self.signum or 0)], device=device))
            if self.signum is None and float(flag) > 0:
                self.signum = signal.SIGTERM  # another rank was signalled (torchrun forwards SIGTERM)
        return self.signum is not None
