"""``genpo train`` learns a real IsaacLab 3.0 task on CPU (Newton physics, local assets); ``genpo play`` replays it."""

from __future__ import annotations

import os
import re

import pytest

from genpo.envs.isaaclab import isaaclab_generation


@pytest.mark.slow
@pytest.mark.isaaclab
def test_edict_learns_isaac_cartpole_direct_and_play_replays(tmp_path, genpo_cli, monkeypatch):
    if isaaclab_generation() != 3:
        pytest.skip("IsaacLab 3.x is not installed (bash ci/install_isaaclab.sh; see docs/isaaclab.md)")
    monkeypatch.setenv("GENPO_ISAACLAB_LOCAL_ASSETS", str(tmp_path / "assets"))
    monkeypatch.setenv("WARP_CACHE_PATH", os.environ.get("WARP_CACHE_PATH", os.path.expanduser("~/.cache/genpo-warp")))
    logs = str(tmp_path / "logs")
    proc = genpo_cli(
        "train",
        "--env",
        "isaaclab:Isaac-Cartpole-Direct",
        "--integrator",
        "edict",
        "--steps",
        "5",
        "--num-envs",
        "64",
        "--max-iterations",
        "30",
        "--seed",
        "1",
        "--logdir",
        logs,
        cwd=tmp_path,
        timeout=900,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    returns = [float(r) for r in re.findall(r"return (-?\d+\.\d+)", out)]
    final = float(re.search(r"mean return \(last 100 episodes\)\s+(-?\d+\.\d+)", out).group(1))
    print(
        f"Isaac-Cartpole-Direct, edict K=5: first logged return {returns[0]:.2f}, worst {min(returns):.2f}, "
        f"final {final:.2f}"
    )
    # Falling and hanging costs -(pi^2) * dt per step, so a random policy scores below zero; only balancing
    # the pole earns a positive return (+dt per upright step).
    assert final > 0.0
    assert final > min(returns) + 3.0

    play = genpo_cli("play", "--checkpoint", "latest", "--episodes", "8", "--logdir", logs, cwd=tmp_path, timeout=600)
    assert play.returncode == 0, (play.stdout + play.stderr)[-4000:]
    assert re.search(r"Isaac-Cartpole-Direct: deterministic return over 8 episodes: -?\d", play.stdout)
