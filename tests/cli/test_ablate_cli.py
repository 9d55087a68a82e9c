"""``genpo ablate`` end to end on built-in tasks: outputs, skipping, resuming killed cells, Ctrl-C, bad grids."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from polling import wait_for

from genpo.training.checkpoint import checkpoints_in

TINY = {
    "env": {"id": "builtin:PointMass", "options": {"episode_length": 8}},
    "policy": {"model": "gaussian", "hidden": [16], "critic_hidden": [16]},
    "algo": {"steps_per_env": 8, "num_epochs": 1, "num_minibatches": 2},
    "run": {"save_interval": 1},
}


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    return path


def ablate_args(out: Path, config: Path, *extra: str, steps: int = 64) -> list[str]:
    return ["ablate", "--config", str(config), "--num-envs", "4", "--total-steps", str(steps), "--episodes", "3",
            "--out", str(out), *extra]  # fmt: skip


def cells(out: Path) -> dict[str, Path]:
    return {p.parent.name: p.parent for p in out.glob("genpo/*/*/cell.json")}


def test_tiny_grid_end_to_end_then_a_rerun_skips_every_cell(tmp_path, tiny, genpo_cli):
    out = tmp_path / "abl"
    args = ablate_args(out, tiny, "--setting", "small=lr=0.001", "--vary", "env=builtin:PointMass,builtin:MultiGoal",
                       "--seeds", "1,2", "--jobs", "2")  # fmt: skip
    done = genpo_cli(*args, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    found = cells(out)
    assert sorted(found) == sorted(
        f"small_id=builtin:{task}_s{seed}".replace(":", "-") for task in ("PointMass", "MultiGoal") for seed in (1, 2)
    )
    for run_dir in found.values():  # an ordinary run folder, plus the cell record
        cell = json.loads((run_dir / "cell.json").read_text())
        assert cell["state"] == "done" and len(cell["eval_returns"]) == 3
        assert (run_dir / "params" / "config.yaml").is_file() and checkpoints_in(run_dir)
        assert list(run_dir.glob("events.out.tfevents.*"))
    with (out / "runs.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["env", "setting", "env.id", "seed", "kind", "env_steps", "wall_time", "return", "run_dir"]
    assert {r["kind"] for r in rows} == {"train", "eval"}
    assert sum(r["kind"] == "eval" for r in rows) == 4
    assert {r["env"] for r in rows} == {"builtin:PointMass", "builtin:MultiGoal"}
    with (out / "summary.csv").open() as f:
        summary = list(csv.DictReader(f))
    assert len(summary) == 2 and {r["seeds"] for r in summary} == {"2"}
    for col in ("train_mean", "train_iqm_low", "train_iqm_high", "eval_mean", "eval_iqm", "env_steps_per_s"):
        assert all(r[col] != "" for r in summary), col
    text = (out / "summary.md").read_text()
    assert "small id=builtin:MultiGoal" in text and "eval IQM [95% CI]" in text and "Train return" in text
    for task in ("PointMass", "MultiGoal"):  # one figure per env, both formats
        for ext in ("png", "svg"):
            assert (out / "figures" / f"returns_builtin_{task}.{ext}").stat().st_size > 1000

    stamps = {n: [p.stat().st_mtime_ns for p in sorted(d.iterdir())] for n, d in found.items()}
    again = genpo_cli(*args, cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "4 cells (4 already done)" in again.stdout
    assert "started" not in again.stdout
    assert {n: [p.stat().st_mtime_ns for p in sorted(d.iterdir())] for n, d in found.items()} == stamps

    # --dry-run with a third seed: the finished cells are shown done, the new ones would run; nothing is written
    listing = sorted(p.name for p in out.rglob("*"))
    dry = genpo_cli(*[a if a != "1,2" else "1,2,3" for a in args], "--dry-run", cwd=tmp_path)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    lines = {line.split()[0]: line.split(maxsplit=1)[1] for line in dry.stdout.splitlines() if line.startswith("small")}
    assert len(lines) == 6
    assert lines["small_id=builtin-PointMass_s1"].startswith("done")
    assert lines["small_id=builtin-MultiGoal_s3"] == (
        "would run  algo.learning_rate=0.001 env.id=builtin:MultiGoal run.seed=3"
    )
    assert "dry run: 6 cells, 2 would run (128 env steps)" in dry.stdout and "nothing was started" in dry.stdout
    assert sorted(p.name for p in out.rglob("*")) == listing


def test_killed_and_interrupted_cells_resume_from_their_checkpoints(tmp_path, tiny):
    out = tmp_path / "abl"
    args = ablate_args(out, tiny, "--setting", "a=lr=0.001", "--setting", "b=lr=0.002", "--jobs", "2", steps=3200)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # Ctrl-C reaches a terminal's foreground command: SIGINT at its default even when pytest runs in the
    # background (`nohup pytest &` ignores SIGINT, and the driver would inherit that).
    parent = subprocess.Popen([sys.executable, "-m", "genpo", *args], cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
    run_a, run_b = (out / "genpo" / "PointMass" / f"{s}_s1" for s in "ab")
    wait_for(lambda: len(checkpoints_in(run_a)) >= 2 and len(checkpoints_in(run_b)) >= 2)
    # SIGKILL cell a's process (no chance to clean up), then Ctrl-C the ablation (b stops cleanly).
    os.kill(json.loads((run_a / "cell.json").read_text())["pid"], signal.SIGKILL)
    parent.send_signal(signal.SIGINT)
    output, _ = parent.communicate(timeout=120)
    assert parent.returncode == 130, output
    assert "rerun the same command to continue" in output
    assert json.loads((run_b / "cell.json").read_text())["state"] == "interrupted"
    assert json.loads((run_a / "cell.json").read_text())["state"] != "done"
    kept = {d: int(checkpoints_in(d)[-1].stem.split("_")[1]) for d in (run_a, run_b)}
    assert all(it < 100 for it in kept.values())  # stopped before the 100-iteration budget

    done = subprocess.run([sys.executable, "-m", "genpo", *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=240)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    for run_dir, it in kept.items():
        cell = json.loads((run_dir / "cell.json").read_text())
        assert cell["state"] == "done"
        assert cell["resumed_at_steps"] == it * 32  # continued from the newest checkpoint, not from zero
        assert f"from model_{it}.pt" in (run_dir / "cell.log").read_text()
        assert checkpoints_in(run_dir)[-1].name == "model_100.pt"


def test_a_background_ablation_refuses_a_second_driver_and_stops_on_sigterm(tmp_path, tiny, genpo_cli):
    # `genpo ablate ... &` and nohup start the driver with SIGINT ignored, and its cells inherit that;
    # the driver's stop request (SIGINT to each cell) must still reach them, well inside the 120 s grace.
    out = tmp_path / "abl"
    args = ablate_args(out, tiny, "--setting", "a=lr=0.001", "--jobs", "1", steps=320_000)  # stopped long before
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    parent = subprocess.Popen([sys.executable, "-m", "genpo", *args], cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))  # fmt: skip
    run_a = out / "genpo" / "PointMass" / "a_s1"
    wait_for(lambda: len(checkpoints_in(run_a)) >= 2)
    second = genpo_cli(*args, cwd=tmp_path, timeout=60)  # the same command again while the first runs: refused
    assert second.returncode == 2, second.stdout + second.stderr
    assert f"another genpo ablate (pid {parent.pid}) is running on" in second.stdout + second.stderr
    assert "started" not in second.stdout
    t0 = time.time()
    parent.send_signal(signal.SIGTERM)
    output, _ = parent.communicate(timeout=150)
    assert parent.returncode == 130, output
    assert time.time() - t0 < 60, "the cell ignored the stop request and was killed after the grace period"
    assert json.loads((run_a / "cell.json").read_text())["state"] == "interrupted"
    assert "interrupted: the cell's checkpoints are kept" in (run_a / "cell.log").read_text()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--vary", "stepz=1,2"], "unknown configuration field 'stepz'; allowed: env.id"),
        (["--vary", "model=flow,nope"], "unknown model 'nope'; choose one of: flow, gaussian"),
        (["--setting", "f=model=flow", "--vary", "p=0.5,2"], "policy.mix_p must be in the open interval (0, 1)"),
        (["--setting", "x=model=flow steps=0"], "policy.flow_steps must be an integer in [1, 1000]"),
        (["--setting", "x='policy.options={foo: 1}'"], "foo"),
        (["--setting", "no equals"], "--setting expects NAME="),
        (["--vary", "seed=1,2"], "set by the workbench (--seeds)"),
        (["--seeds", "1,x"], "--seeds must be integers"),
        (["--launcher", "nope"], "unknown launcher 'nope'; choose one of: local, slurm, submitit-local"),
        (["--launcher", "slurm"], "sbatch"),
        (["--jobs", "0"], "--jobs must be >= 1"),
        (["--dry-run", "--vary", "stepz=1,2"], "unknown configuration field 'stepz'"),
        (["--dry-run", "--launcher", "nope"], "unknown launcher 'nope'"),
    ],
)
def test_bad_grids_are_refused_with_exit_2_and_no_run_folder(tmp_path, tiny, extra, message):
    from typer.testing import CliRunner

    from genpo.cli.main import app

    out = tmp_path / "abl"
    done = CliRunner().invoke(app, ablate_args(out, tiny, *extra))
    assert done.exit_code == 2, done.output
    assert message in " ".join(done.output.split())
    assert done.exception is None or isinstance(done.exception, SystemExit)
    assert not out.exists()


def test_submitit_local_executor_runs_the_same_grid(tmp_path, tiny, genpo_cli):
    out = tmp_path / "abl"
    done = genpo_cli(*ablate_args(out, tiny, "--launcher", "submitit-local", "--seeds", "1,2"), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    found = cells(out)
    assert sorted(found) == ["default_s1", "default_s2"]
    assert all(json.loads((d / "cell.json").read_text())["state"] == "done" for d in found.values())
    assert "submitit job" in (found["default_s1"] / "cell.log").read_text()
    assert list((out / "submitit").glob("*/*_result.pkl"))
    assert (out / "summary.md").is_file() and (out / "figures" / "returns_builtin_PointMass.svg").is_file()
