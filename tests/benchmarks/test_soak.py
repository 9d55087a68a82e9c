"""The soak sampler: one RSS row per interval, then SIGTERM to the command."""

from __future__ import annotations

import sys

import pytest

from genpo.benchmarks import soak


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_soak_samples_rss_and_interrupts_the_command(capsys):
    script = "\n".join(
        [
            "import signal, sys, time",
            "signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))",
            "x = b'x' * (50 * 2**20)",  # written, so resident (a zeroed bytearray may not be)
            "time.sleep(60)",
        ]
    )
    code = soak.main(["--minutes", str(1.0 / 60), "--interval", "0.5", "--", sys.executable, "-c", script])
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "minute" not in line]
    assert code == 143 and "command exited with 143" in out
    assert len(rows) >= 2
    assert max(float(r.split("|")[2]) for r in rows) > 40  # the 50 MiB buffer is resident
