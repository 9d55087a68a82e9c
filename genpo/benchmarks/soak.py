"""Soak test: run a command for a fixed time and sample its resident memory (VmRSS) at a fixed interval.

Usage (Linux; reads ``/proc``)::

    python -m genpo.benchmarks.soak --minutes 60 --interval 60 -- genpo train --env builtin:PointMass ...

Prints one Markdown table row per sample (minute, RSS of the process and of its whole process tree, in MiB),
then sends SIGTERM to the command at the end (a background job ignores SIGINT) and reports its exit code.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from pathlib import Path


def rss_mib(pid: int) -> float | None:
    """VmRSS of ``pid`` in MiB, or None when the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        return None
    return 0.0


def children(pid: int) -> list[int]:
    """Every descendant of ``pid`` (from ``/proc/<pid>/task/*/children``)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for task in Path(f"/proc/{p}/task").glob("*/children"):
            try:
                kids = [int(x) for x in task.read_text().split()]
            except (FileNotFoundError, ProcessLookupError):
                continue
            out += kids
            todo += kids
    return out


def tree_rss_mib(pid: int) -> float:
    """Summed VmRSS of ``pid`` and its descendants in MiB."""
    return sum(r for p in [pid, *children(pid)] if (r := rss_mib(p)) is not None)


def main(argv: list[str] | None = None) -> int:
    """Runs the soak; returns the command's exit code."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60.0, help="How long to run the command.")
    ap.add_argument("--interval", type=float, default=60.0, help="Seconds between samples.")
    ap.add_argument("command", nargs=argparse.REMAINDER, help="The command (after --).")
    args = ap.parse_args(argv)
    cmd = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not cmd:
        ap.error("give the command to run after --")
    proc = subprocess.Popen(cmd)
    t0 = time.monotonic()
    print("| minute | RSS (MiB) | RSS incl. children (MiB) |", flush=True)
    print("|---|---|---|", flush=True)
    n = 0
    while True:
        rss = rss_mib(proc.pid)
        if proc.poll() is not None or rss is None:
            break
        print(f"| {n * args.interval / 60:.0f} | {rss:.1f} | {tree_rss_mib(proc.pid):.1f} |", flush=True)
        n += 1
        if n * args.interval > args.minutes * 60:
            break
        time.sleep(max(0.0, t0 + n * args.interval - time.monotonic()))
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    print(f"command exited with {proc.returncode} after {(time.monotonic() - t0) / 60:.1f} min", flush=True)
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
