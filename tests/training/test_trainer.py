"""The trainer in-process: exact resume, non-finite detection, checkpoint/model mismatch."""

from __future__ import annotations

import pytest
import torch

from genpo.training.checkpoint import CheckpointError, load_checkpoint
from genpo.training.config import TrainConfig
from genpo.training.ppo import NonFiniteError
from genpo.training.runner import Trainer

SMALL = {
    "env": {"id": "builtin:PointMass", "num_envs": 4},
    "policy": {"hidden": [32, 32], "critic_hidden": [32, 32]},
    "algo": {"steps_per_env": 8, "num_epochs": 2, "num_minibatches": 2},
    "run": {"save_interval": 100, "seed": 3},
}


def small_cfg(**sections):
    data = {k: dict(v) for k, v in SMALL.items()}
    for k, v in sections.items():
        data.setdefault(k, {}).update(v)
    cfg = TrainConfig.from_dict(data)
    cfg.validate()
    return cfg


def params(trainer):
    return torch.cat([p.detach().flatten() for p in trainer.ac.state_dict().values() if p.is_floating_point()])


@pytest.mark.parametrize("model", [{"model": "flow"}, {"model": "gaussian"}])
def test_resume_is_exact(tmp_path, model):
    n = 2
    full = Trainer(small_cfg(policy=model, run={"max_iterations": 2 * n}))
    full.train(tmp_path / "full")

    first = Trainer(small_cfg(policy=model, run={"max_iterations": n}))
    first.train(tmp_path / "a")
    ckpt = load_checkpoint(tmp_path / "a" / f"model_{n}.pt")
    torch.manual_seed(12345)  # whatever happens in between must not matter
    second = Trainer(small_cfg(policy=model, run={"max_iterations": n}), checkpoint=ckpt)
    second.train(tmp_path / "b")

    assert second.iteration == full.iteration == 2 * n
    assert second.global_step == full.global_step
    torch.testing.assert_close(params(second), params(full), atol=1e-6, rtol=0)
    assert second.algorithm.learning_rate == pytest.approx(full.algorithm.learning_rate)
    assert (tmp_path / "b" / f"model_{2 * n}.pt").is_file()


@pytest.mark.parametrize("workers", [0, 2])
def test_resume_is_exact_on_gymnasium(tmp_path, workers):
    pytest.importorskip("gymnasium")
    pytest.importorskip("mujoco")
    # InvertedPendulum ends many episodes per iteration, so the resumed run must restore the simulators,
    # their random generators, time limits and episode sums; workers=2 restores through the worker pipes.
    env = {"id": "gym:InvertedPendulum-v5", "num_envs": 3, "options": {"workers": workers}}
    n = 2
    # One trainer at a time: building one seeds the global RNGs the other's training draws from.
    full = Trainer(small_cfg(env=env, run={"max_iterations": 2 * n}))
    try:
        full.train(tmp_path / "full")
    finally:
        full.env.close()
    first = Trainer(small_cfg(env=env, run={"max_iterations": n}))
    try:
        first.train(tmp_path / "a")
    finally:
        first.env.close()
    ckpt = load_checkpoint(tmp_path / "a" / f"model_{n}.pt")
    assert ckpt["env_state"]["backend"]["env_id"] == "gym:InvertedPendulum-v5"
    torch.manual_seed(12345)
    second = Trainer(small_cfg(env=env, run={"max_iterations": n}), checkpoint=ckpt)
    try:
        second.train(tmp_path / "b")
    finally:
        second.env.close()

    assert second.global_step == full.global_step
    torch.testing.assert_close(params(second), params(full), atol=1e-6, rtol=0)


def test_non_finite_observation_stops_with_iteration_and_quantity(tmp_path):
    cfg = small_cfg(env={"options": {"nan_after": 20}}, run={"max_iterations": 5, "save_interval": 1})
    trainer = Trainer(cfg)
    with pytest.raises(NonFiniteError, match=r"non-finite observation at iteration 3"):
        trainer.train(tmp_path)
    # Iterations 1 and 2 finished and were saved; nothing was written for the failed one.
    assert sorted(p.name for p in tmp_path.glob("model_*.pt")) == ["model_1.pt", "model_2.pt"]
    assert load_checkpoint(tmp_path / "model_2.pt")["iteration"] == 2


def test_checkpoint_of_another_model_is_refused(tmp_path):
    Trainer(small_cfg(run={"max_iterations": 1})).train(tmp_path)
    ckpt = load_checkpoint(tmp_path / "model_1.pt")
    with pytest.raises(CheckpointError, match="does not fit"):
        Trainer(small_cfg(policy={"model": "gaussian"}, run={"max_iterations": 1}), checkpoint=ckpt)
