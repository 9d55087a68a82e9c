"""Waiting in tests for what another process writes (checkpoints, cell records)."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(predicate: Callable[[], bool], timeout: float = 120.0) -> None:
    """Polls ``predicate`` every 0.1 s; AssertionError after ``timeout`` seconds."""
    end = time.time() + timeout
    while not predicate():
        if time.time() > end:
            raise AssertionError("timed out")
        time.sleep(0.1)
