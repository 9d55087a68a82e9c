"""The driver's signal handling and its default parallelism."""

from __future__ import annotations

import os
import signal

import pytest

from genpo.workbench.runner import default_jobs, sigterm_as_interrupt


def test_sigterm_stops_the_driver_like_ctrl_c():
    previous = sigterm_as_interrupt()
    try:
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGTERM)  # Python runs the handler before the next bytecode
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert signal.getsignal(signal.SIGTERM) is previous


def test_default_jobs_is_at_least_one_and_at_most_the_cores():
    assert 1 <= default_jobs() <= (os.cpu_count() or 1)
