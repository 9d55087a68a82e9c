"""genpo collect's library side: rollouts of a policy or a scripted demonstrator, written as Minari datasets."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from typer.testing import CliRunner

from genpo.data import collect, load_demonstrations
from genpo.data.collector import rollout
from genpo.data.scripted import DEMONSTRATORS, MultiGoalDemonstrator
from genpo.data.writer import resolve_target, write_minari
from genpo.envs import make_env
from genpo.errors import ConfigError, RunFolderError
from genpo.registry import Entry


@pytest.fixture(autouse=True)
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own Minari store (never ~/.minari)."""
    path = tmp_path / "store"
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(path))
    return path


def test_round_trip_rollout_minari_load_arrays_equal(store: Path) -> None:
    env = make_env("builtin:MultiGoal", 3)
    episodes = rollout(env, MultiGoalDemonstrator(env, torch.Generator().manual_seed(0)), 7, action_noise=0.1)
    path = write_minari(episodes, resolve_target("genpo/rt-v0"), env_id="builtin:MultiGoal", env_options={"x": 1})
    assert path == store / "genpo" / "rt-v0"
    d = load_demonstrations("genpo/rt-v0")
    assert torch.equal(d.observations, torch.from_numpy(np.concatenate([e.observations[:-1] for e in episodes])))
    assert torch.equal(d.actions, torch.from_numpy(np.concatenate([e.actions for e in episodes])))
    rewards = np.concatenate([e.rewards for e in episodes]).astype(np.float32)
    assert torch.equal(d.rewards, torch.from_numpy(rewards))
    assert d.num_episodes == 7 and len(d) == 35
    assert d.env_id == "builtin:MultiGoal" and d.env_options == {"x": 1}
    # the final observation of each episode is kept in Minari's T + 1 observations
    import minari

    stored = list(minari.load_dataset("genpo/rt-v0").iterate_episodes())
    assert all(np.array_equal(s.observations, e.observations) for s, e in zip(stored, episodes, strict=True))
    assert all(s.truncations[-1] and not s.terminations.any() for s in stored)


def test_multigoal_demonstrator_holds_every_goal_evenly(store: Path) -> None:
    result = collect("scripted:MultiGoal", 400, "genpo/mg-v0", seed=5, num_envs=16)
    assert (result.episodes, result.steps, result.env_id) == (400, 2000, "builtin:MultiGoal")
    assert torch.allclose(result.returns, torch.full((400,), 5.0))  # optimal: on a goal from the first step
    d = load_demonstrations("genpo/mg-v0")
    first = d.actions[d.episode_starts]
    goals = make_env("builtin:MultiGoal", 1).optimal_actions()
    nearest = torch.cdist(first, goals).argmin(1)
    assert torch.allclose(first, goals[nearest], atol=1e-6)
    shares = torch.bincount(nearest, minlength=4) / 400
    assert (shares > 0.18).all() and (shares < 0.32).all(), shares  # 1/4 each; binomial sd 0.022
    # after the first step it stays where it went
    later = d.actions[~d.episode_starts]
    assert later.abs().max() < 1e-6


def test_same_seed_same_dataset_and_noise_stays_in_bounds(store: Path) -> None:
    collect("scripted:MultiGoal", 6, "a-v0", seed=1, action_noise=0.8, env_options={"num_goals": 3})
    collect("scripted:MultiGoal", 6, "b-v0", seed=1, action_noise=0.8, env_options={"num_goals": 3})
    collect("scripted:MultiGoal", 6, "c-v0", seed=1, env_options={"num_goals": 3})
    a, b, c = (load_demonstrations(i) for i in ("a-v0", "b-v0", "c-v0"))
    assert torch.equal(a.actions, b.actions)
    assert not torch.equal(a.actions, c.actions)
    assert a.actions.abs().max() <= 1.0 and (a.actions.abs() == 1.0).any()  # clipped, as the env executes it
    assert a.env_options == {"num_goals": 3}


def test_episodes_are_spread_over_the_environments(store: Path) -> None:
    result = collect("scripted:MultiGoal", 5, "s-v0", num_envs=2)
    assert result.episodes == 5 and load_demonstrations("s-v0").num_episodes == 5


def test_a_trained_policy_round_trip(store: Path, tmp_path: Path) -> None:
    from genpo.cli.main import app
    from genpo.training import api

    cfg = {"policy": {"hidden": [16], "critic_hidden": [16]}, "algo": {"steps_per_env": 4, "num_epochs": 1}}
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(cfg))
    res = CliRunner().invoke(
        app,
        ["train", "--env", "builtin:PointMass", "--num-envs", "2", "--max-iterations", "1",
         "--config", str(tmp_path / "tiny.yaml"), "--logdir", str(tmp_path / "logs")],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    (ckpt,) = (tmp_path / "logs").rglob("model_1.pt")
    result = collect(ckpt, 3, str(tmp_path / "pm-v0"), seed=2)
    assert result.path == tmp_path / "pm-v0" and result.env_id == "builtin:PointMass"
    d = load_demonstrations(tmp_path / "pm-v0")
    assert d.num_episodes == 3 and len(d) == 150 and d.env_id == "builtin:PointMass"
    # the recorded actions are the policy's deterministic actions at the recorded (raw) observations, clipped
    ac, _ = api.load(ckpt)
    with torch.no_grad():
        expected = ac.policy.deterministic_action(ac.obs_norm(d.observations)).clamp(-1, 1)
    torch.testing.assert_close(d.actions, expected, rtol=1e-5, atol=1e-6)
    stoch = collect(ckpt, 3, str(tmp_path / "pm-v1"), seed=2, stochastic=True)
    assert not torch.equal(load_demonstrations(stoch.path).actions, d.actions)


def test_a_gym_task_records_its_spec_for_recover_environment(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Still:
        env_id = "gym:Pendulum-v1"

        def __init__(self, env, generator) -> None:
            self.dim = env.action_dim

        def act(self, obs: torch.Tensor, starts: torch.Tensor) -> torch.Tensor:
            return torch.zeros(len(obs), self.dim)

    monkeypatch.setitem(DEMONSTRATORS._entries, "Still", Entry("Still", Still, "test"))
    collect("scripted:Still", 2, "gym/pend-v0", env_options={"workers": 0, "max_episode_steps": 20})
    import minari

    ds = minari.load_dataset("gym/pend-v0")
    env = ds.recover_environment()
    assert env.spec.id == "Pendulum-v1" and env.spec.max_episode_steps == 20
    env.close()
    d = load_demonstrations("gym/pend-v0")
    assert d.env_id == "gym:Pendulum-v1" and d.env_options == {"workers": 0, "max_episode_steps": 20}
    assert (d.num_episodes, len(d), d.obs_dim) == (2, 40, 3)


@pytest.mark.parametrize(
    ("kwargs", "phrase"),
    [
        ({"episodes": 0}, "episodes must be an integer in [1, 10000000]"),
        ({"action_noise": -0.1}, "action noise must be a finite number >= 0"),
        ({"action_noise": float("nan")}, "action noise must be a finite number >= 0"),
        ({"num_envs": 0}, "num_envs must be an integer in [1,"),
        ({"stochastic": True}, "--stochastic applies to trained policies"),
        ({"checkpoint": "scripted:Nope"}, "unknown scripted demonstrator 'Nope'; choose one of: MultiGoal"),
        ({"out": "bad id!"}, "is not a valid Minari dataset id"),
        ({"out": "genpo/demos"}, "'genpo/demos' is not a valid Minari dataset id"),
        ({"out": "/tmp/no-version/demos"}, "'demos' is not a valid Minari dataset id"),
        ({"seed": -1}, "seed must be"),
    ],
)
def test_bad_arguments_are_refused_before_any_work(kwargs: dict, phrase: str, store: Path) -> None:
    args = {"checkpoint": "scripted:MultiGoal", "episodes": 2, "out": "genpo/x-v0", **kwargs}
    with pytest.raises(ConfigError) as info:
        collect(args.pop("checkpoint"), args.pop("episodes"), args.pop("out"), **args)
    assert phrase in str(info.value)
    assert not store.exists()


def test_an_existing_dataset_is_never_overwritten(store: Path) -> None:
    collect("scripted:MultiGoal", 2, "genpo/x-v0")
    before = sorted(p.stat().st_mtime_ns for p in store.rglob("*"))
    with pytest.raises(ConfigError, match="already exists; datasets are never overwritten"):
        collect("scripted:MultiGoal", 2, "genpo/x-v0")
    assert sorted(p.stat().st_mtime_ns for p in store.rglob("*")) == before


def test_a_failed_write_leaves_nothing(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(src: object, dst: object) -> None:
        raise PermissionError(13, "Permission denied", str(dst))

    monkeypatch.setattr(os, "replace", denied)
    with pytest.raises(RunFolderError, match="permission denied"):
        collect("scripted:MultiGoal", 2, "genpo/x-v0")
    assert not store.exists()
