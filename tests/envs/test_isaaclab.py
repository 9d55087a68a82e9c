"""The IsaacLab backend against real, unmodified IsaacLab 3.0 tasks on CPU (Newton physics), offline.

The checks run in one subprocess (``_isaaclab_worker.py``): IsaacLab's simulation context, asset root and
seeding are process-wide. The module skips, with the reason printed, when IsaacLab 3.x is not installed
(``bash ci/install_isaaclab.sh`` installs it; CI does). Warp's kernel cache is kept in
``~/.cache/genpo-warp`` (or ``$WARP_CACHE_PATH``): the first run compiles for about a minute, later runs
start in seconds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from genpo.envs.isaaclab import isaaclab_generation
from genpo.envs.isaaclab.presets import PRESETS

pytestmark = pytest.mark.isaaclab

WORKER = Path(__file__).with_name("_isaaclab_worker.py")
REPO = Path(__file__).resolve().parents[2]


def _skip_reason() -> str | None:
    generation = isaaclab_generation()
    if generation is None:
        return "IsaacLab is not installed (bash ci/install_isaaclab.sh; see docs/isaaclab.md)"
    if generation != 3:
        return f"IsaacLab {generation}.x is installed; these tests run IsaacLab 3.x kit-less (2.x needs Isaac Sim)"
    return None


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Builds the local asset root, runs the worker once, and returns its JSON results."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    from genpo.envs.isaaclab.asset_root import build_local_asset_root

    tmp = tmp_path_factory.mktemp("isaaclab")
    root = build_local_asset_root(tmp / "assets")
    out = tmp / "results.json"
    env = dict(os.environ)
    env["GENPO_ISAACLAB_LOCAL_ASSETS"] = str(root)
    env.setdefault("WARP_CACHE_PATH", str(Path.home() / ".cache" / "genpo-warp"))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    proc = subprocess.run(
        [sys.executable, str(WORKER), str(out)],
        cwd=tmp,
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    if proc.returncode != 0 or not out.is_file():
        pytest.fail(f"IsaacLab worker exited {proc.returncode}:\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}")
    data = json.loads(out.read_text())
    print("\n".join(line for line in proc.stdout.splitlines() if line.startswith("[worker]")))
    return data


def _get(results: dict[str, Any], name: str) -> dict[str, Any]:
    res = results[name]
    assert res["ok"], f"{name} failed in the IsaacLab worker:\n{res.get('error')}"
    return res


F32_CPU = ["torch.float32", "cpu"]
BOOL_CPU = ["torch.bool", "cpu"]


def _check_interface(res: dict[str, Any], obs_dim: int, act_dim: int) -> None:
    n = 4
    assert res["observation_dim"] == obs_dim
    assert res["action_dim"] == act_dim
    assert res["critic_observation_dim"] is None  # none of these tasks has a "critic" group
    assert res["device"] == "cpu"
    assert res["reset_obs"] == [[n, obs_dim], *F32_CPU]
    assert res["step_obs"] == [[n, obs_dim], *F32_CPU]
    assert res["reward"] == [[n], *F32_CPU]
    assert res["terminated"] == [[n], *BOOL_CPU]
    assert res["truncated"] == [[n], *BOOL_CPU]
    assert "episode" in res["step_extras"] and "log" in res["step_extras"]
    assert "final_observation" not in res["step_extras"]
    assert res["mismatches"] == []
    assert res["seeded_reset_equal"]


def test_cartpole_direct_interface_and_time_outs(results: dict[str, Any]) -> None:
    res = _get(results, "cartpole_direct")
    _check_interface(res, obs_dim=4, act_dim=1)
    assert res["env_id"] == "isaaclab:Isaac-Cartpole-Direct"
    assert not res["bounded"]  # unbounded: its rsl_rl agent config sets no clip_actions ("auto")
    assert res["max_episode_length"] == 15  # from the cfg_hook
    # 40 steps of 15-step episodes: every sub-environment timed out at least twice (or terminated earlier)
    assert res["episodes"] >= 8
    assert res["truncated_count"] >= 1


def test_cartpole_direct_keeps_the_env_contract(results: dict[str, Any]) -> None:
    # The same check as tests/envs/test_backends_contract.py runs on the other backends (env_contract.py).
    assert _get(results, "contract_cartpole_direct")["violations"] == []


def test_cartpole_direct_final_observation(results: dict[str, Any]) -> None:
    res = _get(results, "cartpole_direct_final_obs")
    assert res["mismatches"] == []
    assert res["final_checked"] >= 1


def test_cartpole_manager_based_terminations(results: dict[str, Any]) -> None:
    res = _get(results, "cartpole_manager")
    _check_interface(res, obs_dim=4, act_dim=1)
    assert res["env_id"] == "isaaclab:Isaac-Cartpole"
    assert res["max_episode_length"] == 300
    assert res["terminated_count"] >= 4  # pushed out of bounds, episode after episode
    assert res["truncated_count"] == 0
    assert any(key.startswith("Episode_Reward/") for key in res["log_keys"]), res["log_keys"]


def test_ant_direct_from_a_2x_id(results: dict[str, Any]) -> None:
    res = _get(results, "ant_direct")
    _check_interface(res, obs_dim=60, act_dim=8)
    assert res["env_id"] == "isaaclab:Isaac-Ant-Direct"  # Isaac-Ant-Direct-v0 translated to the 3.x id
    assert res["bounded"]  # clip_actions=1.0
    assert res["max_episode_length"] == 960


def test_one_environment_per_process(results: dict[str, Any]) -> None:
    res = _get(results, "one_env_per_process")
    assert "one environment per process" in res["message"]


def test_clear_errors(results: dict[str, Any]) -> None:
    messages = _get(results, "errors")["messages"]
    assert (
        messages["Isaac-Cartpol-Direct"].startswith("ConfigError")
        and "Isaac-Cartpole-Direct" in messages["Isaac-Cartpol-Direct"]
    )
    assert "removed in IsaacLab 3.0" in messages["Isaac-Quadcopter-Direct-v0"]
    assert messages["IsaacContrib-Lift-Cube-Franka"].startswith("IsaacLabUnavailable")
    assert "Isaac Sim" in messages["IsaacContrib-Lift-Cube-Franka"]


def test_clip_actions_auto_reads_the_rsl_rl_agent_config(results: dict[str, Any]) -> None:
    res = _get(results, "agent_clip_actions")
    assert res["camera"] == 1.0
    assert res["state"] is None
    assert res["unknown"] is None


HP_FIELDS = [
    "learning_rate",
    "desired_kl",
    "num_epochs",
    "num_minibatches",
    "steps_per_env",
    "gamma",
    "lam",
    "entropy_coef",
    "hidden",
    "critic_hidden",
    "max_iterations",
    "clip_param",
    "value_coef",
    "max_grad_norm",
    "normalize_obs",
]


@pytest.mark.parametrize("name", list(PRESETS))
def test_preset_task_resolves_and_builds(results: dict[str, Any], name: str) -> None:
    preset = PRESETS[name]
    info = _get(results, "presets")["presets"][name]
    if preset["task"] is None:
        pytest.skip(f"{name}: {preset['task_v2']} was removed in IsaacLab 3.0 (runs on IsaacLab 2.x with Isaac Sim)")
    assert info["registered"], f"{preset['task']} is not in isaaclab_tasks' gym registry"
    assert "cfg_error" not in info, info.get("cfg_error")
    assert info["cfg_built"]
    assert info["default_num_envs"] == preset["num_envs"]
    # the numbers that come from IsaacLab's agent config match it (Ant's come from the authors and match too)
    if "agent" in info:
        agent = info["agent"]
        assert agent["clip_actions"] is None or agent["clip_actions"] == "None"
        for field in HP_FIELDS:
            assert preset["hyperparameters"][field] == agent[field], (name, field)
    if info["blockers"]:
        pytest.skip(f"{name} ({preset['task']}, {info['physics']}) cannot run here: {'; '.join(info['blockers'])}")
    assert info.get("stepped"), f"{name} built but did not step: {info}"


@pytest.mark.parametrize("name", [n for n, p in PRESETS.items() if p["task"] is not None])
def test_preset_hyperparameters_checked_against_isaaclab(results: dict[str, Any], name: str) -> None:
    info = _get(results, "presets")["presets"][name]
    if "agent" not in info:
        pytest.skip(f"{name}: IsaacLab's rsl_rl agent config did not load here: {info.get('agent_error')}")
    # compared in test_preset_task_resolves_and_builds; this test makes a non-loadable config visible as a skip
    assert info["agent"]["steps_per_env"] == PRESETS[name]["hyperparameters"]["steps_per_env"]
