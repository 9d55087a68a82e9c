"""The paper's IsaacLab tasks, offline, on CPU: stand-in robots built from public descriptions, end to end.

Each task group runs in one worker process (``_isaaclab_worker.py GROUP``): per task, the env builds on the
local asset root with the stand-in robots; observation/action sizes and the critic group match IsaacLab's
own spaces and the sizes the task's config implies; 20 steps with random actions stay finite with exact
episode statistics; for one task per robot, two GenPO iterations with the task's ``paper`` preset (scaled
down: 8 envs x 8 steps, one epoch) run, save a checkpoint per iteration, and resume to a third.

The robot descriptions come from ``../shared/isaaclab-robots`` beside the repository (as CI has it), or
``$GENPO_ROBOTS_DIR``; without them the module skips, naming the folder. The stand-ins are cached in
``$GENPO_CACHE_DIR/isaaclab-assets`` (default ``~/.cache/genpo``) and Warp's kernels in ``~/.cache/genpo-warp``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from genpo.envs.isaaclab import isaaclab_generation

pytestmark = pytest.mark.isaaclab

WORKER = Path(__file__).with_name("_isaaclab_worker.py")
REPO = Path(__file__).resolve().parents[2]
SHARED_ROBOTS = REPO.parent / "shared" / "isaaclab-robots"


def robots_dir() -> Path:
    """``$GENPO_ROBOTS_DIR``, else ``../shared/isaaclab-robots`` beside the repository."""
    value = os.environ.get("GENPO_ROBOTS_DIR", "")
    return Path(value) if value else SHARED_ROBOTS


def _skip_reason() -> str | None:
    generation = isaaclab_generation()
    if generation != 3:
        return "IsaacLab 3.x is not installed (bash ci/install_isaaclab.sh; see docs/isaaclab.md)"
    folder = robots_dir()
    if not folder.is_dir():
        return f"the robot descriptions folder {folder} is missing (set GENPO_ROBOTS_DIR; see docs/isaaclab.md)"
    return None


def run_group(group: str, tmp: Path) -> dict[str, Any]:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    out = tmp / f"{group}.json"
    env = dict(os.environ)
    env["GENPO_ISAACLAB_LOCAL_ASSETS"] = "1"  # the default cache folder: stand-ins are built once
    env["GENPO_ROBOTS_DIR"] = str(robots_dir())
    env.setdefault("WARP_CACHE_PATH", str(Path.home() / ".cache" / "genpo-warp"))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(WORKER), str(out), group],
        cwd=tmp,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if proc.returncode != 0 or not out.is_file():
        tail = f"{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}"
        pytest.fail(f"IsaacLab worker ({group}) exited {proc.returncode}:\n{tail}")
    data = json.loads(out.read_text())
    print(f"\n[worker {group}] {time.perf_counter() - start:.0f} s")
    print("\n".join(line for line in proc.stdout.splitlines() if line.startswith("[worker]")))
    return data


@pytest.fixture(scope="module")
def legged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return run_group("legged", tmp_path_factory.mktemp("legged"))


@pytest.fixture(scope="module")
def classic(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return run_group("classic", tmp_path_factory.mktemp("classic"))


def _get(results: dict[str, Any], task: str) -> dict[str, Any]:
    res = results[task]
    assert res["ok"], f"{task} failed in the IsaacLab worker:\n{res.get('error')}"
    return res


# Observation/action sizes implied by each task's config with the stand-in robot: joints x (position, velocity,
# last action) + base terms + the height scan (17 x 11 rays of the 1.6 m x 1.0 m grid at 0.1 m) on rough terrain.
VELOCITY = {
    "Isaac-Velocity-Flat-UnitreeGo2": (48, 12),
    "Isaac-Velocity-Rough-UnitreeGo2": (48 + 187, 12),
    "Isaac-Velocity-Flat-H1": (69, 19),
    "Isaac-Velocity-Rough-H1": (69 + 187, 19),
    "Isaac-Velocity-Flat-AnymalD": (48, 12),
    "Isaac-Velocity-Rough-AnymalD": (48 + 187, 12),
}
CLASSIC = {
    "Isaac-Humanoid": (87, 21),  # 21 joints of the MuJoCo humanoid
    "Isaac-Ant": (60, 8),
    "Isaac-Reorient-Cube-Shadow-Direct": (157, 20),  # 20 actuated joints (24 with the 4 tendon-coupled ones)
}


def _check_task(res: dict[str, Any], obs_dim: int, act_dim: int) -> None:
    n = 4
    assert (res["observation_dim"], res["action_dim"]) == (obs_dim, act_dim)
    groups = res["observation_groups"]
    assert groups["policy"] == obs_dim  # IsaacLab's own space
    assert res["isaaclab_action_dim"] == act_dim
    # the critic group is exposed exactly when the task's config has one
    assert res["critic_observation_dim"] == groups.get("critic")
    assert res["reset_obs"] == [[n, obs_dim], "torch.float32", "cpu"]
    assert res["reward"] == [[n], "torch.float32", "cpu"]
    assert res["mismatches"] == [], res["mismatches"]  # finite, fresh buffers, exact episode statistics
    assert res["seeded_reset_equal"]
    # clip_actions="auto": none of these tasks' rsl_rl agent configs sets clip_actions, so actions are unbounded
    assert res["action_high"] is None
    assert res["is_finite_horizon"] == res["cfg_is_finite_horizon"]


def _check_training(res: dict[str, Any]) -> None:
    train = res["train"]
    assert train["iterations"] == 2
    assert train["env_steps"] == 2 * 8 * 8
    assert train["checkpoints"] == ["model_1.pt", "model_2.pt"]
    assert train["resumed_iterations"] == 3
    assert train["resumed_env_steps"] == 8 * 8
    assert train["policy"][:3] == ["flow", "edict", 5]  # the paper preset's flow policy


@pytest.mark.parametrize("task", list(VELOCITY))
def test_velocity_task_builds_steps_and_trains(legged: dict[str, Any], task: str) -> None:
    res = _get(legged, task)
    _check_task(res, *VELOCITY[task])
    assert "Episode_Reward/track_lin_vel_xy_exp" in res["log_keys"]
    if "Flat" in task:
        # 10-step episodes over 20 steps: every sub-environment ended at least once
        assert res["episodes"] >= 4
        if task == "Isaac-Velocity-Flat-H1":  # is_finite_horizon=True: time-outs are terminal
            assert res["is_finite_horizon"] and res["truncated_count"] == 0 and res["terminated_count"] >= 4
        else:
            assert not res["is_finite_horizon"] and res["truncated_count"] >= 1
    else:
        _check_training(res)


@pytest.mark.parametrize("task", list(CLASSIC))
def test_classic_and_hand_tasks_build_step_and_train(classic: dict[str, Any], task: str) -> None:
    res = _get(classic, task)
    _check_task(res, *CLASSIC[task])
    _check_training(res)
