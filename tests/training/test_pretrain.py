"""``genpo pretrain`` in-process, and starting RL from its checkpoint (``run.init``) with a critic warm-up."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from rich.console import Console

from genpo.errors import ConfigError
from genpo.training.api import load, prepare
from genpo.training.pretrain import pretrain
from genpo.training.runner import Trainer

pytestmark = pytest.mark.usefixtures("one_thread")

NET = {"hidden": [16, 16], "critic_hidden": [16]}
FAST = {"epochs": 4, "batch_size": 64, "eval_episodes": 2, "eval_samples": 200}


def write_multigoal_demos(
    path: Path, episodes: int = 40, seed: int = 0, env_id: str | None = "builtin:MultiGoal"
) -> Path:
    """MultiGoal demonstrations as a plain .npz: each episode moves onto one of the 4 goals and stays."""
    rng = np.random.default_rng(seed)
    angles = np.arange(4) * np.pi / 2
    goals = 0.6 * np.stack([np.cos(angles), np.sin(angles)], 1)
    obs, act, trunc = [], [], []
    for _ in range(episodes):
        pos, goal = np.zeros(2), goals[rng.integers(4)]
        for t in range(5):
            a = (goal - pos if t == 0 else np.zeros(2)) + 0.02 * rng.standard_normal(2)
            obs.append([pos[0], pos[1], t / 5])
            act.append(a)
            trunc.append(t == 4)
            pos = pos + a
    extra = {} if env_id is None else {"env_id": np.array(env_id)}
    np.savez(path, observations=np.float32(obs), actions=np.float32(act), truncations=np.array(trunc), **extra)
    return path


@pytest.fixture(scope="module")
def demos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_multigoal_demos(tmp_path_factory.mktemp("data") / "mg.npz")


@pytest.fixture(scope="module")
def pretrained(demos: Path, tmp_path_factory: pytest.TempPathFactory):
    """An edict flow pretrained by flow matching on the demonstrations (a few epochs)."""
    logdir = tmp_path_factory.mktemp("logs")
    return pretrain(demos, pretrain=FAST, console=Console(quiet=True), policy=NET, **{"run.logdir": str(logdir)})


def test_pretrain_writes_an_ordinary_run_folder(pretrained) -> None:
    run = pretrained.run_dir
    assert pretrained.checkpoint == run / "model_4.pt"
    assert (run / "params" / "config.yaml").is_file() and (run / "params" / "pretrain.yaml").is_file()
    assert list(run.glob("events.out.tfevents.*"))
    record = json.loads((run / "pretrain.json").read_text())
    assert len(record["history"]) == 4
    m = record["metrics"]
    for key in ("train_loss", "val_loss", "action_sw2", "modes_held", "return_deterministic", "return_stochastic"):
        assert key in m and math.isfinite(m[key]), key
    assert len(m["mode_shares"]) == 4
    ac, cfg = load(run)  # what genpo play and genpo export read
    assert cfg.env.id == "builtin:MultiGoal" and cfg.policy.integrator == "edict"
    assert float(ac.obs_norm.count) > 0  # the normalizer is fitted on the dataset


def test_pretrain_reads_the_environment_from_the_dataset_or_refuses(demos: Path, tmp_path: Path) -> None:
    bare = write_multigoal_demos(tmp_path / "bare.npz", episodes=4, env_id=None)
    with pytest.raises(ConfigError, match="records no environment"):
        pretrain(bare, pretrain=FAST, console=Console(quiet=True), **{"run.logdir": str(tmp_path)})
    with pytest.raises(ConfigError, match="was recorded on 'builtin:MultiGoal'"):
        pretrain(demos, env="builtin:PointMass", pretrain=FAST, console=Console(quiet=True))
    with pytest.raises(ConfigError, match="choose one of: likelihood"):
        pretrain(demos, pretrain={**FAST, "objective": "flow-matching"}, policy={"model": "gaussian"})
    assert not list(tmp_path.rglob("*.pt"))


def test_init_reproduces_the_pretrained_policy_at_iteration_0(pretrained, tmp_path: Path) -> None:
    ac0, _ = load(pretrained.run_dir)
    run = prepare(None, init=str(pretrained.run_dir), num_envs=4, **{"run.logdir": str(tmp_path)})
    assert run.config.env.id == "builtin:MultiGoal" and run.config.policy.hidden == [16, 16]  # from the checkpoint
    assert run.config.run.init == str(pretrained.checkpoint.resolve())
    trainer = Trainer(run.config)
    ac = trainer.ac
    raw = torch.randn(64, 3)
    assert torch.equal(ac.act_deterministic(raw), ac0.act_deterministic(raw))
    with torch.no_grad():
        a0 = ac0.policy.sample(ac0.obs_norm(raw), generator=torch.Generator().manual_seed(0))
        a1 = ac.policy.sample(ac.obs_norm(raw), generator=torch.Generator().manual_seed(0))
    for x, y in zip(a0, a1, strict=True):
        assert torch.equal(x, y)
    assert trainer.iteration == 0 and trainer.global_step == 0
    trainer.env.close()


def test_init_with_another_integrator_shares_the_velocity_network(pretrained, tmp_path: Path) -> None:
    run = prepare(
        None,
        init=str(pretrained.run_dir),
        policy={"integrator": "gaussian-chain", "options": {"noise": "learned"}},
        **{"run.logdir": str(tmp_path)},
    )
    trainer = Trainer(run.config)
    ac0, _ = load(pretrained.run_dir)
    for name, p in ac0.policy.velocity.state_dict().items():
        assert torch.equal(trainer.ac.policy.velocity.state_dict()[name], p), name
    assert trainer.ac.policy.integrator_parts is not None  # the learned noise head starts fresh
    trainer.env.close()


def test_init_refuses_another_network_or_task(pretrained, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"policy.hidden=\[32\]"):
        prepare(None, init=str(pretrained.run_dir), policy={"hidden": [32]})
    with pytest.raises(ConfigError, match="an init must come from the same task"):
        prepare(None, init=str(pretrained.run_dir), env="builtin:PointMass")
    with pytest.raises(ConfigError, match="pretrain checkpoint: start a run from it with --init"):
        prepare(None, checkpoint=str(pretrained.checkpoint))


def test_critic_warmup_leaves_the_actor_bit_identical(pretrained, tmp_path: Path) -> None:
    def snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in module.state_dict().items()}

    small = {"steps_per_env": 8, "num_epochs": 2, "num_minibatches": 2}
    run = prepare(None, init=str(pretrained.run_dir), num_envs=4, algo={**small, "critic_warmup_iterations": 2})
    trainer = Trainer(run.config)
    actor, critic = snapshot(trainer.ac.policy), snapshot(trainer.ac.critic)
    trainer.cfg.run.max_iterations = 2
    trainer.train(None)
    for k, v in trainer.ac.policy.state_dict().items():
        assert torch.equal(v, actor[k]), k  # bit-identical, not merely close
    assert any(not torch.equal(v, critic[k]) for k, v in trainer.ac.critic.state_dict().items())
    trainer.cfg.run.max_iterations = 1  # iteration 3: the actor learns again
    trainer.train(None)
    assert any(not torch.equal(v, actor[k]) for k, v in trainer.ac.policy.state_dict().items())
    trainer.env.close()


@pytest.mark.parametrize("freeze", [True, False])
def test_a_frozen_observation_normalizer_keeps_the_pretrained_statistics(pretrained, tmp_path: Path, freeze) -> None:
    small = {"steps_per_env": 8, "num_epochs": 1, "num_minibatches": 2, "freeze_obs_normalizer": freeze}
    run = prepare(None, init=str(pretrained.run_dir), num_envs=4, max_iterations=2, algo=small)
    trainer = Trainer(run.config)
    before = {k: v.clone() for k, v in trainer.ac.obs_norm.state_dict().items()}
    trainer.train(None)
    trainer.env.close()
    after = trainer.ac.obs_norm.state_dict()
    same = all(torch.equal(v, after[k]) for k, v in before.items())
    assert same == freeze  # frozen: the demonstrations' statistics exactly; else 2 rollouts folded in


def test_freezing_a_normalizer_that_does_not_exist_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"algo\.freeze_obs_normalizer=True needs policy\.normalize_obs=True"):
        prepare(None, policy={"normalize_obs": False}, algo={"freeze_obs_normalizer": True})


def test_an_ablation_setting_can_start_from_a_checkpoint(pretrained) -> None:
    from genpo.training.config import TrainConfig
    from genpo.workbench.grid import build_grid

    base = TrainConfig.from_dict({"env": {"id": "builtin:MultiGoal"}, "policy": NET})
    grid, _ = build_grid([f"ft=init={pretrained.run_dir} integrator=euler likelihood=cfm"], [], [1], base)
    (cfg,) = grid.configs(base).values()
    assert cfg.run.init == str(pretrained.checkpoint.resolve())
    grid, _ = build_grid([f"bad=init={pretrained.run_dir} hidden=[8]"], [], [1], base)
    with pytest.raises(ConfigError, match=r"cell bad.*policy\.hidden"):
        grid.configs(base)
