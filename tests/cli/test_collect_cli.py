"""CLI smoke tests of ``genpo collect`` and ``genpo dataset`` (the real command, in a subprocess)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def test_collect_then_dataset(genpo_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "store"))
    res = genpo_cli(
        "collect", "--checkpoint", "scripted:MultiGoal", "--episodes", "12", "--num-envs", "4",
        "--out", "genpo/mg-v0", "--env-option", "num_goals=3", cwd=tmp_path,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    assert "episodes 12/12" in res.stdout
    assert f"dataset: genpo/mg-v0 at {tmp_path / 'store' / 'genpo' / 'mg-v0'}" in res.stdout
    assert "builtin:MultiGoal: 12 episodes, 60 steps, return 5.00 ± 0.00" in res.stdout
    assert (tmp_path / "store" / "genpo" / "mg-v0" / "data" / "main_data.hdf5").is_file()
    res = genpo_cli("dataset", "genpo/mg-v0", cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    out = " ".join(res.stdout.split())
    assert "environment recorded: builtin:MultiGoal with options {'num_goals': 3}" in out
    assert "check: fits builtin:MultiGoal (obs/action dims 3/2)" in out
    assert "12 episodes, 60 transitions, episode length 5.0 (min 5, max 5)" in out
    assert "episode return: 5.00 ± 0.00" in out


def test_dataset_clips_slightly_outside_actions_with_a_warning(genpo_cli, tmp_path: Path) -> None:
    actions = np.zeros((4, 2), np.float32)
    actions[1] = [1.05, -0.5]
    np.savez(tmp_path / "d.npz", observations=np.zeros((4, 3), np.float32), actions=actions)
    res = genpo_cli("dataset", "d.npz", "--env", "builtin:MultiGoal", cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    out = " ".join(res.stdout.split())
    assert "warning: d.npz: 1 of 4 actions lie outside builtin:MultiGoal's action bounds (by at most 0.05" in out
    assert "clipped to the bounds" in out and "actions: min [0, -0.5], max [1, 0]" in out
    assert "environment recorded: none" in out and "episode return: no rewards recorded" in out
