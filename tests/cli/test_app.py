"""The CLI's one error boundary and its output off a terminal.

Bad input is a one-line message and exit 2; anything unexpected (a bug of genpo or of a plug-in) is the
traceback, one line saying it is a bug with genpo's version, and exit 1, never 2. Off a terminal (a pipe, a
file, Slurm, CI) every message and progress update is one line, however long (rich wrapped them at 80).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import genpo
from genpo.cli.main import app
from genpo.models.velocity import MLPVelocity

TINY = {
    "env": {"id": "builtin:PointMass", "num_envs": 2},
    "policy": {"hidden": [16], "critic_hidden": [16]},
    "algo": {"steps_per_env": 4, "num_epochs": 1, "num_minibatches": 1},
    "run": {"max_iterations": 1},
}


def piped(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``genpo ARGS`` with stdout and stderr piped (not a terminal) and no COLUMNS: what ``> log`` sees."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env.update(PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, "-m", "genpo", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=240
    )


@pytest.mark.parametrize("error", [ZeroDivisionError("division by zero"), ValueError("a plain ValueError")])
def test_an_unexpected_exception_in_a_part_is_a_bug_with_a_traceback_and_exit_1(tmp_path, monkeypatch, error):
    def broken(self, *args, **kwargs):
        raise error

    monkeypatch.setattr(MLPVelocity, "bind", broken)  # every pass of the default flow policy binds first
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY))
    res = CliRunner().invoke(app, ["train", "--config", str(config), "--logdir", str(tmp_path / "logs")])
    assert res.exit_code == 1, res.output
    assert "Traceback (most recent call last)" in res.output
    assert f"{type(error).__name__}: {error}" in res.output
    assert f"error: this is a bug in genpo {genpo.__version__}" in res.output


def test_a_plain_valueerror_while_validation_builds_the_parts_is_a_bug_not_bad_input(tmp_path, monkeypatch):
    # Parts raise ConfigError where they check an option; validation no longer reads any ValueError as bad input.
    def broken(self, *args, **kwargs):
        raise ValueError("a part's own bug")

    monkeypatch.setattr(MLPVelocity, "__init__", broken)
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY))
    res = CliRunner().invoke(app, ["train", "--config", str(config), "--logdir", str(tmp_path / "logs")])
    assert res.exit_code == 1, res.output
    assert "Traceback (most recent call last)" in res.output and "ValueError: a part's own bug" in res.output
    assert not (tmp_path / "logs").exists()  # refused while validating, before any folder


def test_a_bad_part_option_checked_by_the_part_is_one_line_exit_2(tmp_path):
    config = tmp_path / "tiny.yaml"
    policy = {**TINY["policy"], "integrator": "euler", "options": {"tol": -1}}
    config.write_text(yaml.safe_dump({**TINY, "policy": policy}))
    res = CliRunner().invoke(app, ["train", "--config", str(config), "--logdir", str(tmp_path / "logs")])
    assert res.exit_code == 2, res.output
    assert res.output == "error: policy.options.tol: tol must be > 0, got -1\n"


def test_a_part_option_set_by_key_names_its_field_and_the_flag(tmp_path):
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump({**TINY, "policy": {**TINY["policy"], "integrator": "euler"}}))
    args = ["train", "--config", str(config), "--logdir", str(tmp_path / "logs"), "--set", "policy.options.tol=-1"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2, res.output
    assert res.output == "error: policy.options.tol: tol must be > 0, got -1 (option --set policy.options.tol=-1)\n"
    assert not (tmp_path / "logs").exists()
    res = CliRunner().invoke(app, [*args[:-2], "--set", "policy.options.depth=3"])  # a key no part takes
    assert res.exit_code == 2, res.output
    assert res.output.startswith("error: policy.options.depth: unknown option(s) depth for flow/mlp/euler/exact;")
    assert res.output.rstrip().endswith("(option --set policy.options.depth=3)")


def test_bad_input_stays_one_line_exit_2_without_traceback(tmp_path):
    task = "NoSuchTask" + "x" * 300
    res = piped("train", "--env", f"builtin:{task}", "--max-iterations", "1", "--logdir", str(tmp_path), cwd=tmp_path)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "Traceback" not in res.stdout + res.stderr
    (line,) = [s for s in res.stdout.splitlines() if s.startswith("error:")]
    assert len(line) > 300 and task in line and line.endswith("choose one of: PointMass, MultiGoal")


def test_a_usage_error_is_one_line_off_a_terminal(tmp_path):
    option = "--no-such-option-" + "y" * 200
    res = piped("train", option, cwd=tmp_path)
    assert res.returncode == 2
    (line,) = [s for s in res.stderr.splitlines() if s.startswith("Error:")]
    assert option in line and "╭" not in res.stderr  # no rich panel


def test_progress_and_messages_are_one_line_each_off_a_terminal(tmp_path):
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump({**TINY, "run": {"max_iterations": 2}}))
    logdir = tmp_path / ("a-long-log-folder-name-" * 4)
    res = piped("train", "--config", str(config), "--logdir", str(logdir), cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    lines = res.stdout.splitlines()
    progress = [s for s in lines if s.startswith("iter ")]
    assert len(progress) == 2 and all("steps/s" in s and "elapsed" in s and " left " in s for s in progress), lines
    assert any(len(s) > 80 for s in progress)  # rich wrapped these at 80 columns
    (folder,) = [s for s in lines if s.startswith("run folder: ")]
    assert str(logdir) in folder and len(folder) > 120
    assert len(lines) == 4 and lines[-1].startswith("done: 2 iterations"), lines  # nothing else, nothing split


def test_a_dry_run_of_a_distributed_job_is_refused(tmp_path):
    res = CliRunner().invoke(app, ["train", "--dry-run", "--nproc", "2", "--logdir", str(tmp_path / "logs")])
    assert res.exit_code == 2, res.output
    assert res.output == "error: --dry-run prints the configuration of one process; drop --nproc/--distributed\n"
    assert not (tmp_path / "logs").exists()
