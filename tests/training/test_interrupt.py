"""SIGINT / SIGTERM during training: the iteration finishes, a checkpoint is written, the exit code is 128 + signal.

Each case starts ``genpo train`` on builtin:PointMass in a subprocess (checkpoints only every 10000
iterations, so any checkpoint found is the one the signal wrote), waits until training runs, sends the
signal after a delay, and checks: exit code, a true message, a newest checkpoint at the iteration the
message names that loads, nothing temporary left behind, and that ``--checkpoint latest`` resumes from it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from genpo.cli.main import app
from genpo.training.checkpoint import checkpoints_in, load_checkpoint

TINY = {
    "policy": {"hidden": [16], "critic_hidden": [16]},
    "algo": {"steps_per_env": 4, "num_epochs": 1, "num_minibatches": 1},
    "run": {"save_interval": 10000},
}


def _start(
    tmp_path: Path, steps_per_env: int = 4, env_id: str = "builtin:PointMass", options: dict | None = None
) -> subprocess.Popen:
    cfg = {**TINY, "algo": {**TINY["algo"], "steps_per_env": steps_per_env}, "env": {"options": options or {}}}
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(cfg))
    cmd = [sys.executable, "-m", "genpo", "train", "--env", env_id, "--num-envs", "2"]
    cmd += ["--max-iterations", "100000", "--config", str(tmp_path / "tiny.yaml"), "--logdir", str(tmp_path / "logs")]
    env = {**os.environ, "COLUMNS": "400", "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        cmd,
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # A test runner started as a background job ignores SIGINT, and children inherit that: undo it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        start_new_session=True,  # its own process group, so a test can signal the whole job like a scheduler
    )


def _wait_for_training(proc: subprocess.Popen, tmp_path: Path, timeout: float = 120) -> Path:
    """The run folder, once the loop has started (its config.yaml is written inside the signal handlers)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = list((tmp_path / "logs").rglob("params/config.yaml"))
        if found:
            return found[0].parent.parent
        assert proc.poll() is None, proc.communicate()[0]
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("training did not start")


@pytest.mark.parametrize(
    ("signum", "delay"),
    [(signal.SIGINT, 0.0), (signal.SIGINT, 1.5), (signal.SIGTERM, 0.3), (signal.SIGTERM, 2.5)],
    ids=["sigint-at-start", "sigint-later", "sigterm-early", "sigterm-later"],
)
def test_signal_finishes_the_iteration_and_saves(tmp_path: Path, signum: int, delay: float) -> None:
    proc = _start(tmp_path)
    run_dir = _wait_for_training(proc, tmp_path)
    time.sleep(delay)
    proc.send_signal(signum)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signum, out
    name = signal.Signals(signum).name
    m = re.search(rf"interrupted: stopped by {name} after iteration (\d+): saved (\S+) \(iteration \1\)", out)
    assert m, out
    it, path = int(m.group(1)), Path(m.group(2))
    assert checkpoints_in(run_dir) == [path] and path.name == f"model_{it}.pt"
    assert load_checkpoint(path)["iteration"] == it  # the newest checkpoint is the last finished iteration
    assert not [p for p in run_dir.iterdir() if p.name.startswith(".")], "temporary files left behind"
    assert "Traceback" not in out

    resume = ["train", "--env", "builtin:PointMass", "--checkpoint", "latest", "--max-iterations", "1"]
    res = CliRunner().invoke(app, [*resume, "--logdir", str(tmp_path / "logs")], env={"COLUMNS": "400"})
    assert res.exit_code == 0, res.output
    assert f"resuming from {path} (iteration {it})" in res.output
    assert list((tmp_path / "logs").rglob(f"model_{it + 1}.pt"))


def test_a_second_signal_stops_at_once_and_says_what_is_on_disk(tmp_path: Path) -> None:
    proc = _start(tmp_path, steps_per_env=3000)  # iterations of a few seconds: both signals land inside one
    run_dir = _wait_for_training(proc, tmp_path)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, out
    assert "interrupted: stopped at once after iteration" in out and "Traceback" not in out
    saved = checkpoints_in(run_dir)
    if saved:  # the first signal's save may have finished before the second arrived
        assert f"saved {saved[-1]}" in out or f"newest checkpoint is {saved[-1]}" in out
        load_checkpoint(saved[-1])
    else:
        assert "no checkpoint was written by this run" in out
    assert not [p for p in run_dir.iterdir() if p.name.startswith(".")]


def test_sigterm_to_the_whole_job_with_env_workers_saves(tmp_path: Path) -> None:
    pytest.importorskip("mujoco")
    # A scheduler signals every process of the job: the Gymnasium workers must outlive it until the main
    # process has finished its iteration (they step its envs) and shut them down.
    proc = _start(tmp_path, steps_per_env=16, env_id="gym:InvertedPendulum-v5", options={"workers": 2})
    run_dir = _wait_for_training(proc, tmp_path)
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGTERM)  # the test's own child's group, nothing else
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 143, out
    m = re.search(r"stopped by SIGTERM after iteration (\d+): saved (\S+) ", out)
    assert m, out
    assert load_checkpoint(Path(m.group(2)))["iteration"] == int(m.group(1))
    assert checkpoints_in(run_dir) == [Path(m.group(2))]
