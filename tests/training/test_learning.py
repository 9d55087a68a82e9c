"""Learning tests on a real MuJoCo task: the return must rise by a clear margin within a small budget."""

from __future__ import annotations

import pytest

from genpo.training.config import TrainConfig
from genpo.training.runner import Trainer

POLICIES = {
    "gaussian": {"model": "gaussian"},
    "flow": {"model": "flow"},  # edict, K=5, p=0.95, exact likelihood: the paper's defaults
    "gaussian-chain": {"integrator": "gaussian-chain", "options": {"noise": "learned"}},  # ReinFlow-style
    "cfm": {"integrator": "euler", "likelihood": "cfm"},  # FPO
}


@pytest.mark.slow
@pytest.mark.parametrize("model", list(POLICIES))
def test_inverted_pendulum_return_rises(model):
    cfg = TrainConfig.from_dict(
        {
            "env": {"id": "gym:InvertedPendulum-v5", "num_envs": 8},
            "policy": POLICIES[model],
            "run": {"max_iterations": 30, "seed": 1},
        }
    )
    cfg.validate()
    trainer = Trainer(cfg)
    try:
        result = trainer.train(None)
    finally:
        trainer.env.close()
    first = next(r for _, _, r in result.history if r is not None)
    final = result.history[-1][2]
    print(f"{model}: mean return of the last 100 episodes {first:.1f} -> {final:.1f} in {result.env_steps} steps")
    # A random policy balances for ~5-10 steps; after 7.7k env steps both policies hold it several times longer.
    assert final >= 3.0 * first and final >= first + 25.0
