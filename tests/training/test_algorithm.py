"""The algorithm registry (``algo.name``) and the checkpoints it reads: old ones resume as PPO."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

import genpo
from genpo.errors import ConfigError
from genpo.training.algorithm import ALGORITHMS, OnPolicyAlgorithm, make_algorithm
from genpo.training.checkpoint import load_checkpoint, save_checkpoint
from genpo.training.ppo import PPO

QUIET = Console(file=io.StringIO())
SMALL = {
    "env": {"id": "builtin:PointMass", "num_envs": 2},
    "policy": {"hidden": [16], "critic_hidden": [16]},
    "algo": {"steps_per_env": 4, "num_epochs": 1, "num_minibatches": 1},
    "run": {"max_iterations": 1},
}


def test_ppo_is_the_registered_default():
    assert ALGORITHMS.names()[0] == "ppo" and ALGORITHMS.get("ppo") is PPO
    assert genpo.TrainConfig().algo.name == "ppo"
    assert issubclass(PPO, OnPolicyAlgorithm)


def test_an_unknown_name_lists_the_registered_ones():
    # Names resolved earlier in the process (dotted paths) are listed after ppo.
    with pytest.raises(ConfigError, match=r"unknown algorithm 'nosuch'; choose one of: ppo\b.* or a dotted path"):
        ALGORITHMS.get("nosuch")
    cfg = genpo.TrainConfig.from_dict({**SMALL, "algo": {"name": "nosuch"}})
    with pytest.raises(ConfigError, match="unknown algorithm 'nosuch'"):
        cfg.validate()


def test_a_dotted_path_names_a_built_in_class_too():
    trainer = genpo.training.Trainer(genpo.TrainConfig.from_dict({**SMALL, "algo": {"name": "genpo.training.ppo:PPO"}}))
    assert type(trainer.algorithm) is PPO
    assert type(make_algorithm(trainer.ac, trainer.cfg.algo, 2, trainer.device)) is PPO


def test_a_checkpoint_written_before_algo_name_resumes_as_ppo(tmp_path):
    first = genpo.train(SMALL, logdir=str(tmp_path / "a"), console=QUIET)
    ckpt = load_checkpoint(first.run_dir / "model_1.pt")
    del ckpt["config"]["algo"]["name"]
    ckpt.pop("format_version")
    old = save_checkpoint(ckpt, tmp_path / "old.pt")
    again = genpo.train(checkpoint=str(old), max_iterations=1, logdir=str(tmp_path / "b"), console=QUIET)
    assert again.iterations == 2 and again.config.algo.name == "ppo"
