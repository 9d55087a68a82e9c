"""``genpo pretrain`` -> ``genpo train --init`` -> ``genpo play`` / ``genpo export`` end to end, in-process."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from genpo.cli.main import app

pytestmark = pytest.mark.usefixtures("one_thread")


def invoke(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(app, list(args), env={"COLUMNS": "400"})
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    return res.exit_code, res.output


def test_pretrain_then_fine_tune_play_and_export(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    goals = np.array([[0.6, 0.0], [-0.6, 0.0]], dtype=np.float32)
    obs, act = np.zeros((60, 3), np.float32), goals[rng.integers(2, size=60)]  # one-step episodes
    np.savez(tmp_path / "d.npz", observations=obs, actions=act, truncations=np.ones(60, bool))
    (tmp_path / "net.yaml").write_text(
        yaml.safe_dump({"policy": {"hidden": [16], "critic_hidden": [16]}, "pretrain": {"batch_size": 32}})
    )
    logs = str(tmp_path / "logs")
    code, out = invoke(
        "pretrain", "--dataset", str(tmp_path / "d.npz"), "--env", "builtin:MultiGoal", "--config",
        str(tmp_path / "net.yaml"), "--integrator", "euler", "--epochs", "2", "--eval-episodes", "1",
        "--set", "pretrain.validation_fraction=0.2", "--run-name", "pre", "--seed", "4", "--logdir", logs,
    )  # fmt: skip
    assert code == 0, out
    assert "action_sw2" in out and "modes_held" in out
    (run,) = (tmp_path / "logs" / "genpo" / "MultiGoal").glob("*_pre")
    assert json.loads((run / "pretrain.json").read_text())["metrics"]["modes_held"] in range(5)
    settings = yaml.safe_load((run / "params" / "pretrain.yaml").read_text())
    assert settings["batch_size"] == 32 and settings["validation_fraction"] == 0.2 and settings["epochs"] == 2
    assert yaml.safe_load((run / "params" / "config.yaml").read_text())["run"]["seed"] == 4

    code, out = invoke(
        "train", "--init", str(run), "--integrator", "euler", "--likelihood", "cfm", "--num-envs", "2",
        "--max-iterations", "2",
        "--set", "algo.steps_per_env=4", "--set", "algo.critic_warmup_iterations=1", "--logdir", logs,
        "--run-name", "ft",
    )  # fmt: skip
    assert code == 0, out
    (ft,) = (tmp_path / "logs" / "genpo" / "MultiGoal").glob("*_ft")
    cfg = yaml.safe_load((ft / "params" / "config.yaml").read_text())
    assert cfg["run"]["init"] == str((run / "model_2.pt").resolve()) and cfg["policy"]["likelihood"] == "cfm"

    code, out = invoke("play", "--checkpoint", str(run), "--episodes", "2")
    assert code == 0 and "return over 2 episodes" in out, out
    code, out = invoke("export", "--checkpoint", str(run), "-o", str(tmp_path / "exported"))
    assert code == 0, out
