"""Host reads in the training loop: none per environment step off the CPU, one per PPO minibatch.

Counts the calls that copy a tensor value to the host (``item``, ``tolist``, ``bool``, ``float``, ``int``)
made from ``genpo/training`` while a trainer runs, and compares runs that differ only in the rollout length
or the number of minibatches. On the CPU the loop keeps exactly one per-step read: the ``any()`` that skips
the time-out bootstrap, which off the CPU is replaced by a ``where`` (a GPU was not available to count there).
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
import torch
from rich.console import Console

from genpo.training.config import TrainConfig
from genpo.training.runner import Trainer

TRAINING = str(Path(__file__).resolve().parents[2] / "genpo" / "training")


def host_reads(monkeypatch: pytest.MonkeyPatch, steps_per_env: int, num_minibatches: int, iterations: int) -> int:
    calls = 0

    def counting(name: str):
        original = getattr(torch.Tensor, name)

        def wrapper(self, *args, **kwargs):
            nonlocal calls
            if sys._getframe(1).f_code.co_filename.startswith(TRAINING):
                calls += 1
            return original(self, *args, **kwargs)

        return wrapper

    cfg = TrainConfig.from_dict(
        {
            "env": {"id": "builtin:PointMass", "num_envs": 4},
            "policy": {"hidden": [16], "critic_hidden": [16]},
            "algo": {"steps_per_env": steps_per_env, "num_epochs": 2, "num_minibatches": num_minibatches},
            "run": {"max_iterations": iterations, "seed": 2},
        }
    )
    cfg.validate()
    trainer = Trainer(cfg, console=Console(file=io.StringIO()))
    with monkeypatch.context() as m:
        for name in ("item", "tolist", "__bool__", "__float__", "__int__"):
            m.setattr(torch.Tensor, name, counting(name))
        trainer.train(None)
    return calls


def test_reads_do_not_grow_with_rollout_length_beyond_the_cpu_time_out_test(monkeypatch):
    short, long = host_reads(monkeypatch, 8, 2, 2), host_reads(monkeypatch, 16, 2, 2)
    assert long - short == 2 * 8  # 2 iterations x 8 more steps x the one CPU-only any()


def test_one_read_per_minibatch(monkeypatch):
    few, many = host_reads(monkeypatch, 8, 2, 2), host_reads(monkeypatch, 8, 4, 2)
    assert many - few == 2 * 2 * 2  # 2 iterations x 2 epochs x 2 more minibatches
