"""``genpo tune`` end to end on a built-in task: outputs, continuing a study, Ctrl-C and crash resume, Slurm path."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from polling import wait_for

from genpo.training.checkpoint import checkpoints_in

TINY = {
    "env": {"id": "builtin:PointMass", "options": {"episode_length": 8}},
    "policy": {"model": "gaussian", "hidden": [16], "critic_hidden": [16]},
    "algo": {"steps_per_env": 8, "num_epochs": 1, "num_minibatches": 2},
    "run": {"save_interval": 1},
}
SPACE = {
    "lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
    "num_epochs": {"type": "int", "low": 1, "high": 3},
    "schedule": {"type": "categorical", "values": ["adaptive", "fixed"]},
}


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    (tmp_path / "space.yaml").write_text(yaml.safe_dump(SPACE))
    return tmp_path / "tiny.yaml", tmp_path / "space.yaml"


def tune_args(out: Path, files: tuple[Path, Path], *extra: str, steps: int = 320, trials: int = 3) -> list[str]:
    return ["tune", "--config", str(files[0]), "--space", str(files[1]), "--num-envs", "4", "--total-steps",
            str(steps), "--trials", str(trials), "--episodes", "2", "--out", str(out), *extra]  # fmt: skip


def load(out: Path) -> optuna.Study:
    storage = JournalStorage(JournalFileBackend(str(out / "study.journal")))
    return optuna.load_study(study_name="genpo-tune", storage=storage)


def test_tiny_study_end_to_end_then_a_rerun_continues_it(tmp_path, files, genpo_cli):
    out = tmp_path / "study"
    args = tune_args(out, files, "--seeds", "1,2", "--jobs", "2", "--pruner", "none")
    done = genpo_cli(*args, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "objective: mean training return" in done.stdout
    study = load(out)
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 3
    runs = sorted(p.parent.name for p in out.glob("genpo/PointMass/*/cell.json"))
    assert runs == [f"t000{n}_s{s}" for n in range(3) for s in (1, 2)]  # ordinary run folders, one per seed
    for t in study.trials:  # the value is the mean over seeds of each run's last-10% training return
        assert t.value == pytest.approx(sum(t.user_attrs["per_seed"]) / 2)
        # a report every 5% of the budget (16 env steps) once an episode has ended (the first at 32 steps)
        assert sorted(t.intermediate_values) == list(range(32, 321, 16))
    with (out / "trials.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["state"] for r in rows] == ["complete"] * 3 and "algo.learning_rate" in rows[0]
    best = max(study.trials, key=lambda t: t.value)
    assert f"Best: trial {best.number}" in (out / "trials.md").read_text()
    for stem in ("history", "importance"):
        for ext in ("png", "svg"):
            assert (out / "figures" / f"{stem}.{ext}").stat().st_size > 1000
    assert (out / "summary.md").is_file() and (out / "figures" / "returns_builtin_PointMass.png").is_file()
    cfg = yaml.safe_load((out / "best.yaml").read_text())
    assert cfg["algo"]["learning_rate"] == pytest.approx(best.params["algo.learning_rate"])
    assert cfg["algo"]["num_epochs"] == best.params["algo.num_epochs"]
    train = genpo_cli("train", "--config", str(out / "best.yaml"), "--total-steps", "32", "--logdir",
                      str(tmp_path / "logs"), cwd=tmp_path)  # fmt: skip
    assert train.returncode == 0, train.stdout + train.stderr
    plot = genpo_cli("plot", str(out / "genpo"), "--out", str(tmp_path / "report"), cwd=tmp_path)
    assert plot.returncode == 0, plot.stdout + plot.stderr

    again = genpo_cli(*args, cwd=tmp_path)  # the same command: nothing left to run
    assert again.returncode == 0, again.stdout + again.stderr
    assert "3 trials finished, 0 to go" in again.stdout and "t0003" not in again.stdout
    more = genpo_cli(*args[:-6], "--trials", "4", *args[-6:], cwd=tmp_path)  # a larger budget: one more trial
    assert more.returncode == 0, more.stdout + more.stderr
    assert "3 trials finished, 1 to go" in more.stdout and len(load(out).trials) == 4


def start(args: list[str], cwd: Path) -> subprocess.Popen:
    """The driver as a terminal's foreground command: SIGINT (Ctrl-C) at its default even when pytest itself runs
    in the background (``nohup pytest &`` ignores SIGINT, and a child would inherit that)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    return subprocess.Popen([sys.executable, "-m", "genpo", *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip


def finish(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "genpo", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=240)  # fmt: skip


def test_ctrl_c_keeps_the_trial_running_and_a_rerun_resumes_it(tmp_path, files):
    out = tmp_path / "study"
    args = tune_args(out, files, "--jobs", "1", "--pruner", "none", steps=3200, trials=2)
    driver = start(args, tmp_path)
    run = out / "genpo" / "PointMass" / "t0000_s1"
    wait_for(lambda: len(checkpoints_in(run)) >= 2)
    driver.send_signal(signal.SIGINT)
    output, _ = driver.communicate(timeout=120)
    assert driver.returncode == 130, output
    assert "rerun the same command to resume the study" in output
    (trial,) = load(out).trials
    assert trial.state == optuna.trial.TrialState.RUNNING  # not failed, not asked again
    kept = int(checkpoints_in(run)[-1].stem.split("_")[1])
    assert kept < 100 and json.loads((run / "cell.json").read_text())["state"] == "interrupted"

    done = finish(args, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 trials finished, 2 to go (1 resumed)" in done.stdout and "t0000: resumed" in done.stdout
    cell = json.loads((run / "cell.json").read_text())
    assert cell["state"] == "done" and cell["resumed_at_steps"] == kept * 32  # from its checkpoint
    study = load(out)
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 2
    assert study.trials[0].params == trial.params


def test_a_crashed_driver_and_run_are_resumed_from_the_checkpoint(tmp_path, files):
    out = tmp_path / "study"
    args = tune_args(out, files, "--jobs", "1", "--pruner", "none", steps=3200, trials=1)
    driver = start(args, tmp_path)
    run = out / "genpo" / "PointMass" / "t0000_s1"
    wait_for(lambda: len(checkpoints_in(run)) >= 2)
    driver.kill()  # the machine goes down: neither the driver nor its run gets to clean up
    driver.communicate(timeout=60)
    os.kill(json.loads((run / "cell.json").read_text())["pid"], signal.SIGKILL)
    time.sleep(0.5)
    assert load(out).trials[0].state == optuna.trial.TrialState.RUNNING
    done = finish(args, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "t0000: resumed" in done.stdout and "from model_" in (run / "cell.log").read_text()
    assert load(out).trials[0].state == optuna.trial.TrialState.COMPLETE


def test_a_second_driver_and_a_run_left_alive_by_a_killed_driver_are_refused(tmp_path, files, genpo_cli):
    out = tmp_path / "study"
    args = tune_args(out, files, "--jobs", "1", "--pruner", "none", steps=64000, trials=1)
    driver = start(args, tmp_path)
    run = out / "genpo" / "PointMass" / "t0000_s1"
    wait_for(lambda: len(checkpoints_in(run)) >= 1)
    second = genpo_cli(*args, cwd=tmp_path)  # two drivers on one study: refused, as genpo ablate does
    assert second.returncode == 2 and f"another genpo tune (pid {driver.pid})" in second.stdout, second.stdout
    driver.kill()
    driver.communicate(timeout=60)
    pid = json.loads((run / "cell.json").read_text())["pid"]
    try:
        refused = finish(args, tmp_path)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert f"still being trained by pid {pid}" in refused.stdout
    finally:
        os.kill(pid, signal.SIGKILL)


def test_submitit_local_executor_runs_the_same_study_with_the_eval_objective(tmp_path, files, genpo_cli):
    out = tmp_path / "study"
    args = tune_args(out, files, "--launcher", "submitit-local", "--jobs", "1", "--objective", "eval", trials=1)
    done = genpo_cli(*args, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "objective: mean return of each run's deterministic evaluation" in done.stdout
    run = out / "genpo" / "PointMass" / "t0000_s1"
    assert "submitit job" in (run / "cell.log").read_text()
    (trial,) = load(out).trials
    assert trial.state == optuna.trial.TrialState.COMPLETE
    returns = json.loads((run / "cell.json").read_text())["eval_returns"]
    assert len(returns) == 2 and trial.value == pytest.approx(sum(returns) / 2)  # --episodes 2, one seed
    assert "parameter importances need at least 2 completed trials" in (out / "trials.md").read_text()


def test_a_dry_run_prints_the_study_and_writes_nothing(tmp_path, files):
    from typer.testing import CliRunner

    from genpo.cli.main import app

    out = tmp_path / "study"
    res = CliRunner().invoke(app, tune_args(out, files, "--seeds", "1,2", "--dry-run", trials=5))
    assert res.exit_code == 0, res.output
    lines = [" ".join(line.split()) for line in res.output.splitlines()]
    assert "algo.learning_rate float in [0.0001, 0.01], log scale" in lines
    assert "algo.schedule one of adaptive, fixed" in lines
    assert "dry run: 5 trials x 2 seed(s) = 10 runs of 320 env steps (at most 3,200;" in " ".join(lines)
    assert not out.exists()
    bad = CliRunner().invoke(app, tune_args(out, files, "--dry-run", "--launcher", "nope"))
    assert bad.exit_code == 2 and "unknown launcher 'nope'" in bad.output and not out.exists()
