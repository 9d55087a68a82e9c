"""The ``mujoco-ppo`` recipe: resolution, reward normalization (saved and restored), the linear schedule."""

from __future__ import annotations

import pytest
import torch

from genpo.errors import ConfigError
from genpo.training.api import resolve_config
from genpo.training.checkpoint import load_checkpoint
from genpo.training.config import TrainConfig
from genpo.training.normalizer import RewardNormalizer
from genpo.training.runner import Trainer

SMALL = {
    "env": {"id": "builtin:PointMass", "num_envs": 4, "options": {"episode_length": 6}},
    "policy": {"model": "gaussian", "hidden": [16], "critic_hidden": [16]},
    "algo": {"steps_per_env": 8, "num_epochs": 2, "num_minibatches": 2, "normalize_reward": True},
    "run": {"save_interval": 100, "seed": 3},
}


def test_mujoco_ppo_is_cleanrls_recipe_on_any_model():
    for model in ("gaussian", "flow"):
        cfg = resolve_config(overrides={"env": "gym:Hopper-v5", "model": model}, preset="mujoco-ppo")
        cfg.validate()
        a, p = cfg.algo, cfg.policy
        assert (p.model, p.hidden, p.critic_hidden, p.activation, p.normalize_obs) == (
            model, [64, 64], [64, 64], "tanh", True
        )  # fmt: skip
        assert (cfg.env.num_envs, a.steps_per_env, a.num_epochs, a.num_minibatches) == (1, 2048, 10, 32)
        assert (a.learning_rate, a.schedule, a.normalize_reward, a.max_grad_norm, a.value_coef) == (
            3e-4, "linear", True, 0.5, 0.5
        )  # fmt: skip
    # Explicit options still win over the recipe.
    assert resolve_config(overrides={"algo.num_epochs": 4}, preset="mujoco-ppo").algo.num_epochs == 4


def test_unknown_preset_names_both_kinds():
    with pytest.raises(ConfigError, match=r"unknown preset 'nope'; choose one of: mujoco-ppo \(any task\), paper"):
        resolve_config(overrides={"env": "gym:Hopper-v5"}, preset="nope")


def test_reward_normalizer_by_hand():
    norm = RewardNormalizer(1, gamma=0.5, eps=0.0)
    r = torch.tensor([2.0])
    out1 = norm(r, torch.tensor([False]))  # G = 2: var of {2} is 0 -> clipped huge scale
    assert norm.stats.count == 1 and out1.abs() <= 10
    out2 = norm(r, torch.tensor([True]))  # G = 0.5 * 2 + 2 = 3: var of {2, 3} = 0.25 -> 2 / 0.5 = 4
    assert out2.item() == pytest.approx(4.0)
    assert norm.discounted.item() == 0.0  # the episode ended: G restarts
    norm(r, torch.tensor([False]))  # G = 2 again
    assert norm.stats.mean.item() == pytest.approx(7 / 3)


def cfg_of(**run):
    data = {k: dict(v) for k, v in SMALL.items()}
    data["run"].update(run)
    cfg = TrainConfig.from_dict(data)
    cfg.validate()
    return cfg


def test_reward_normalization_is_saved_and_resume_is_exact(tmp_path):
    full = Trainer(cfg_of(max_iterations=4))
    full.train(tmp_path / "full")
    first = Trainer(cfg_of(max_iterations=2))
    first.train(tmp_path / "a")
    ckpt = load_checkpoint(tmp_path / "a" / "model_2.pt")
    assert ckpt["reward_norm"]["stats.count"].item() == 2 * 8 * 4
    second = Trainer(cfg_of(max_iterations=2), checkpoint=ckpt)
    norm = lambda trainer: trainer.algorithm.rollout.reward_norm  # noqa: E731
    torch.testing.assert_close(norm(second).stats.var, norm(first).stats.var)
    second.train(tmp_path / "b")
    for name, value in full.ac.state_dict().items():
        torch.testing.assert_close(second.ac.state_dict()[name], value, atol=1e-6, rtol=0)
    torch.testing.assert_close(norm(second).discounted, norm(full).discounted)


def test_linear_schedule_anneals_to_zero_over_the_budget(tmp_path):
    data = {k: dict(v) for k, v in SMALL.items()}
    data["algo"].update(schedule="linear", learning_rate=1e-3)
    data["run"].update(max_iterations=4)
    trainer = Trainer(TrainConfig.from_dict(data))
    seen = []
    update = trainer.algorithm.update
    trainer.algorithm.update = lambda it, remaining: (  # the rate the update ran with (linear: set at its start)
        update(it, remaining),
        seen.append(trainer.algorithm.learning_rate),
    )[0]
    trainer.train(None)
    assert seen == pytest.approx([1e-3, 7.5e-4, 5e-4, 2.5e-4])  # CleanRL: lr * (1 - (i - 1) / iterations)
