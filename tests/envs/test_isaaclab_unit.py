"""IsaacLab backend parts that need no IsaacLab: id mapping, presets, the adapter on a fake env, error messages."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import torch
from torch import Tensor

import genpo.envs.isaaclab.launch as il
from genpo.envs import ENV_BACKENDS, make_env
from genpo.envs.isaaclab import (
    ISAACLAB2_TO_3,
    ISAACLAB3_TO_2,
    IsaacLabVecEnv,
    resolve_task_id,
    task_id_for_generation,
)
from genpo.envs.isaaclab.presets import PRESETS, get_preset, preset_names

# --------------------------------------------------------------------------------------------- id mapping


@pytest.mark.parametrize(
    ("v2", "v3"),
    [
        ("Isaac-Ant-v0", "Isaac-Ant"),
        ("Isaac-Ant-Direct-v0", "Isaac-Ant-Direct"),
        ("Isaac-Humanoid-v0", "Isaac-Humanoid"),
        ("Isaac-Velocity-Rough-Anymal-D-v0", "Isaac-Velocity-Rough-AnymalD"),
        ("Isaac-Velocity-Rough-Unitree-Go2-v0", "Isaac-Velocity-Rough-UnitreeGo2"),
        ("Isaac-Velocity-Rough-H1-v0", "Isaac-Velocity-Rough-H1"),
        ("Isaac-Lift-Cube-Franka-v0", "IsaacContrib-Lift-Cube-Franka"),
        ("Isaac-Repose-Cube-Shadow-Direct-v0", "Isaac-Reorient-Cube-Shadow-Direct"),
        ("Isaac-Cartpole-Direct-v0", "Isaac-Cartpole-Direct"),
    ],
)
def test_ids_map_both_ways(v2: str, v3: str) -> None:
    assert task_id_for_generation(v2, 3) == v3
    assert task_id_for_generation(v3, 2) == v2
    # an id already in the target generation's spelling passes through
    assert task_id_for_generation(v3, 3) == v3
    assert task_id_for_generation(v2, 2) == v2


def test_mapping_is_one_to_one() -> None:
    targets = [v for v in ISAACLAB2_TO_3.values() if v is not None]
    assert len(targets) == len(set(targets)) == len(ISAACLAB3_TO_2)
    for old, new in ISAACLAB3_TO_2.items():
        assert ISAACLAB2_TO_3[new] == old
    assert all(old.endswith("-v0") for old in ISAACLAB2_TO_3)
    assert not any(new.endswith("-v0") for new in ISAACLAB3_TO_2)


def test_removed_task_and_unknown_generation() -> None:
    with pytest.raises(ValueError, match=r"removed in IsaacLab 3\.0"):
        task_id_for_generation("Isaac-Quadcopter-Direct-v0", 3)
    assert task_id_for_generation("Isaac-Quadcopter-Direct-v0", 2) == "Isaac-Quadcopter-Direct-v0"
    with pytest.raises(ValueError, match="generation"):
        task_id_for_generation("Isaac-Ant", 4)


def test_resolve_task_id_against_a_registry() -> None:
    registered = {"Isaac-Ant", "Isaac-Ant-Direct", "Isaac-Cartpole-Direct", "My-Task-v0"}
    assert resolve_task_id("Isaac-Ant-v0", 3, registered) == "Isaac-Ant"
    assert resolve_task_id("Isaac-Ant", 3, registered) == "Isaac-Ant"
    assert resolve_task_id("My-Task-v0", 3, registered) == "My-Task-v0"  # unknown ids pass through when registered
    with pytest.raises(ValueError, match="close matches: Isaac-Cartpole-Direct"):
        resolve_task_id("Isaac-Cartpol-Direct", 3, registered)


# --------------------------------------------------------------------------------------------- presets


def test_eight_paper_presets_with_generic_fields() -> None:
    assert preset_names() == ["ant", "humanoid", "franka-lift", "quadcopter", "anymal-d", "go2", "h1", "shadow-hand"]
    fields = {
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
        "num_envs",
        "max_iterations",
        "clip_param",
        "value_coef",
        "max_grad_norm",
        "normalize_obs",
    }
    for name, preset in PRESETS.items():
        assert set(preset["hyperparameters"]) == fields, name
        assert preset["num_envs"] == preset["hyperparameters"]["num_envs"]
        assert preset["source"] and preset["notes"]
        assert preset["task_v2"].endswith("-v0")
        # both ids agree with the id mapping
        if preset["task"] is None:
            assert ISAACLAB2_TO_3[preset["task_v2"]] is None
        else:
            assert task_id_for_generation(preset["task_v2"], 3) == preset["task"]


def test_ant_preset_is_the_authors_config() -> None:
    hp = get_preset("ant")["hyperparameters"]
    assert hp["learning_rate"] == 5e-4 and hp["desired_kl"] == 0.01
    assert (hp["num_epochs"], hp["num_minibatches"], hp["steps_per_env"]) == (5, 4, 32)
    assert (hp["gamma"], hp["lam"], hp["entropy_coef"], hp["clip_param"]) == (0.99, 0.95, 0.0, 0.2)
    assert hp["hidden"] == hp["critic_hidden"] == [400, 200, 100]
    assert "authors" in get_preset("ant")["source"]


@pytest.mark.parametrize(
    "key", ["ant", "ANT", "Isaac-Ant", "Isaac-Ant-v0", "isaaclab:Isaac-Ant", "isaaclab:Isaac-Ant-v0"]
)
def test_get_preset_by_name_or_either_id(key: str) -> None:
    assert get_preset(key)["name"] == "ant"


def test_get_preset_returns_a_copy_and_lists_presets_on_error() -> None:
    get_preset("h1")["hyperparameters"]["hidden"].append(1)
    assert PRESETS["h1"]["hyperparameters"]["hidden"] == [512, 256, 128]
    assert get_preset("Isaac-Quadcopter-Direct-v0")["name"] == "quadcopter"
    with pytest.raises(ValueError, match=r"presets: ant \(Isaac-Ant / Isaac-Ant-v0\).*shadow-hand"):
        get_preset("Isaac-Cartpole")


# --------------------------------------------------------------------------------------------- missing isaaclab


def test_backend_registered_and_missing_isaaclab_names_the_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "isaaclab" in ENV_BACKENDS
    monkeypatch.setattr(il, "isaaclab_generation", lambda: None)
    with pytest.raises(RuntimeError, match=r"docs/isaaclab\.md") as info:
        make_env("isaaclab:Isaac-Ant", num_envs=2)
    assert "ci/install_isaaclab.sh" in str(info.value)


def test_import_genpo_does_not_import_isaaclab() -> None:
    import subprocess
    import sys

    code = "import genpo, genpo.envs, sys; assert not any(m.split('.')[0].startswith('isaaclab') for m in sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_bad_device_and_local_assets_switch(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    with pytest.raises(ValueError, match="device"):
        il._normalize_device("tpu")
    assert il._normalize_device("cuda") == "cuda:0"
    monkeypatch.delenv(il.LOCAL_ASSETS_ENV, raising=False)
    assert il._local_assets_request(None) is None
    monkeypatch.setenv(il.LOCAL_ASSETS_ENV, "0")
    assert il._local_assets_request(None) is None
    monkeypatch.setenv(il.LOCAL_ASSETS_ENV, str(tmp_path))
    assert il._local_assets_request(None) == tmp_path
    monkeypatch.setenv("GENPO_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv(il.LOCAL_ASSETS_ENV, "1")
    assert il._local_assets_request(None) == tmp_path / "isaaclab-assets"
    assert il._local_assets_request(False) is None


# --------------------------------------------------------------------------------------------- adapter on a fake env


class Box:
    def __init__(self, dim: int, low: float = float("-inf"), high: float = float("inf")) -> None:
        self.shape = (dim,)
        self.low = torch.full((dim,), low).numpy()
        self.high = torch.full((dim,), high).numpy()


class DictSpace:
    def __init__(self, **spaces: Any) -> None:
        self.spaces = spaces

    def __getitem__(self, key: str) -> Any:
        return self.spaces[key]


class FakeIsaacEnv:
    """Mimics an IsaacLab RL env: dict observations, shared buffers mutated in place, auto-reset in step."""

    def __init__(
        self,
        n: int = 3,
        critic: bool = True,
        finite: bool = False,
        episode: int = 4,
        action_space: Box | None = None,
    ) -> None:
        self.num_envs = n
        self.device = "cpu"
        self.max_episode_length = episode
        self.cfg = SimpleNamespace(is_finite_horizon=finite, compute_final_obs=True)
        groups = {"policy": Box(2)}
        if critic:
            groups["critic"] = Box(5)
        self.single_observation_space = DictSpace(**groups)
        self.single_action_space = action_space or Box(1)
        self.episode_length_buf = torch.zeros(n, dtype=torch.long)
        self.reward_buf = torch.zeros(n)
        self.terminated_buf = torch.zeros(n, dtype=torch.bool)
        self.time_out_buf = torch.zeros(n, dtype=torch.bool)
        self.obs_buf = {"policy": torch.zeros(n, 2), "critic": torch.zeros(n, 5)}
        self.last_action: Tensor | None = None
        self.extras: dict[str, Any] = {}
        self.closed = 0

    @property
    def unwrapped(self) -> FakeIsaacEnv:
        return self

    def _obs(self) -> dict[str, Tensor]:
        t = self.episode_length_buf.float()[:, None]
        self.obs_buf["policy"][:] = t
        self.obs_buf["critic"][:] = -t
        out = {"policy": self.obs_buf["policy"]}
        if "critic" in self.single_observation_space.spaces:
            out["critic"] = self.obs_buf["critic"]
        return out

    def reset(self, seed: int | None = None) -> tuple[dict[str, Tensor], dict[str, Any]]:
        self.episode_length_buf[:] = 0
        self.extras = {"log": {"Metrics/x": 1.0}}
        return self._obs(), self.extras

    def step(self, action: Tensor) -> tuple[dict[str, Tensor], Tensor, Tensor, Tensor, dict[str, Any]]:
        self.last_action = action
        self.episode_length_buf += 1
        self.reward_buf[:] = 1.0
        self.terminated_buf[:] = False
        self.terminated_buf[0] = bool(action[0, 0] > 5.0)
        self.time_out_buf[:] = self.episode_length_buf >= self.max_episode_length
        done = self.terminated_buf | self.time_out_buf
        if done.any():
            final = self._obs()
            self.extras["final_obs"] = {k: v.clone() for k, v in final.items()}
            self.episode_length_buf[done] = 0
            self.extras["log"] = {"Episode_Reward/alive": torch.tensor(1.0)}
        return self._obs(), self.reward_buf, self.terminated_buf, self.time_out_buf, self.extras

    def close(self) -> None:
        self.closed += 1


def test_adapter_dims_critic_group_and_copies() -> None:
    fake = FakeIsaacEnv()
    stops: list[int] = []
    env = IsaacLabVecEnv(fake, env_id="isaaclab:Fake", on_close=lambda: stops.append(1))
    assert (env.num_envs, env.observation_dim, env.critic_observation_dim, env.action_dim) == (3, 2, 5, 1)
    assert env.action_low is None and env.action_high is None  # unbounded by default
    assert env.max_episode_length == 4 and env.device == torch.device("cpu")
    obs, extras = env.reset()
    assert obs.shape == (3, 2) and extras["critic_observation"].shape == (3, 5)
    assert extras["log"] == {"Metrics/x": 1.0}
    o1, r1, te1, tr1, ex1 = env.step(torch.zeros(3, 1))
    saved = (o1.clone(), r1.clone(), te1.clone(), tr1.clone(), ex1["critic_observation"].clone())
    env.step(torch.zeros(3, 1))  # IsaacLab mutates its buffers in place: returned tensors must not change
    for before, now in zip(saved, (o1, r1, te1, tr1, ex1["critic_observation"]), strict=True):
        assert torch.equal(before, now)
    assert te1.dtype == tr1.dtype == torch.bool and r1.dtype == torch.float32
    env.close()
    env.close()
    assert fake.closed == 1 and stops == [1]


def test_adapter_time_outs_terminations_episode_stats_and_logs() -> None:
    env = IsaacLabVecEnv(FakeIsaacEnv(episode=4), critic_group=None)
    assert env.critic_observation_dim is None
    env.reset()
    for _ in range(3):
        _, _, _, _, extras = env.step(torch.zeros(3, 1))
        assert extras["episode"]["return"].numel() == 0
        assert "critic_observation" not in extras
    obs, _, terminated, truncated, extras = env.step(torch.zeros(3, 1))
    assert truncated.all() and not terminated.any()
    assert torch.equal(extras["episode"]["length"], torch.tensor([4, 4, 4]))
    assert torch.allclose(extras["episode"]["return"], torch.full((3,), 4.0))
    assert torch.equal(obs, torch.zeros(3, 2))  # post-reset observation
    assert "final_observation" not in extras  # not asked for: IsaacLab provides none by default
    assert set(extras["log"]) == {"Episode_Reward/alive"}
    # a termination in row 0 only
    _, _, terminated, truncated, extras = env.step(torch.tensor([[9.0], [0.0], [0.0]]))
    assert terminated.tolist() == [True, False, False] and not truncated.any()
    assert extras["episode"]["length"].tolist() == [1]


def test_adapter_finite_horizon_makes_time_outs_terminal() -> None:
    env = IsaacLabVecEnv(FakeIsaacEnv(episode=1, finite=True))
    env.reset()
    _, _, terminated, truncated, _ = env.step(torch.zeros(3, 1))
    assert terminated.all() and not truncated.any()


def test_adapter_final_observation_when_asked() -> None:
    env = IsaacLabVecEnv(FakeIsaacEnv(episode=2), final_observation=True)
    env.reset()
    _, _, _, _, extras = env.step(torch.zeros(3, 1))
    assert "final_observation" not in extras  # no sub-environment finished
    obs, _, _, truncated, extras = env.step(torch.zeros(3, 1))
    assert truncated.all()
    assert torch.equal(extras["final_observation"], torch.full((3, 2), 2.0))
    assert torch.equal(extras["final_critic_observation"], torch.full((3, 5), -2.0))
    assert torch.equal(obs, torch.zeros(3, 2))


def test_adapter_action_bounds_and_shape_check() -> None:
    fake = FakeIsaacEnv()
    env = IsaacLabVecEnv(fake, clip_actions=1.0)
    assert env.action_low.tolist() == [-1.0] and env.action_high.tolist() == [1.0]
    env.reset()
    env.step(torch.tensor([[9.0], [-3.0], [0.5]]))
    assert fake.last_action.tolist() == [[1.0], [-1.0], [0.5]]
    _, _, terminated, _, _ = env.step(torch.full((3, 1), 9.0))
    assert not terminated.any()  # the clipped action never reaches the fake's termination threshold
    with pytest.raises(ValueError, match="shape"):
        env.step(torch.zeros(3, 2))
    with pytest.raises(ValueError, match="clip_actions"):
        IsaacLabVecEnv(FakeIsaacEnv(), clip_actions=0.0)
    bounded = IsaacLabVecEnv(FakeIsaacEnv(action_space=Box(1, -2.0, 2.0)))
    assert bounded.action_low.tolist() == [-2.0] and bounded.action_high.tolist() == [2.0]


def test_adapter_rejects_non_flat_policy_group() -> None:
    fake = FakeIsaacEnv()
    fake.single_observation_space = DictSpace(policy=SimpleNamespace(shape=(3, 64, 64)))
    with pytest.raises(ValueError, match="flat vector"):
        IsaacLabVecEnv(fake)
    fake.single_observation_space = DictSpace(state=Box(2))
    with pytest.raises(ValueError, match="'policy'"):
        IsaacLabVecEnv(fake)
