"""``--preset paper`` turns every IsaacLab preset into a valid trainer configuration (no IsaacLab needed)."""

from __future__ import annotations

import pytest

from genpo.envs.isaaclab.presets import PRESETS, preset_overrides
from genpo.training.config import TrainConfig


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_builds_a_valid_config(name):
    preset = PRESETS[name]
    task = preset["task"] or preset["task_v2"]
    cfg = TrainConfig.from_dict(preset_overrides(task, "paper"))
    cfg.env.id = f"isaaclab:{task}"
    cfg.validate()
    hp = preset["hyperparameters"]
    assert cfg.env.num_envs == hp["num_envs"] and cfg.algo.learning_rate == hp["learning_rate"]
    assert cfg.policy.hidden == hp["hidden"] and cfg.run.max_iterations == hp["max_iterations"]
    assert (cfg.policy.integrator, cfg.policy.flow_steps, cfg.policy.mix_p, cfg.algo.compress_coef) == (
        "edict",
        5,
        0.95,
        0.01,
    )
    assert cfg.algo.compress_fraction == 1.0  # the paper's compression term, not genpo's cheaper default


def test_paper_ant_is_the_authors_configuration():
    cfg = TrainConfig.from_dict(preset_overrides("isaaclab:Isaac-Ant-v0", "paper"))
    assert cfg.algo.learning_rate == 5e-4 and cfg.algo.desired_kl == 0.01 and cfg.algo.steps_per_env == 32
    assert cfg.policy.hidden == [400, 200, 100] and cfg.policy.activation == "mish"


def test_unknown_preset_kind_and_task():
    with pytest.raises(ValueError, match="choose one of: paper"):
        preset_overrides("Isaac-Ant", "fast")
    with pytest.raises(ValueError, match="no IsaacLab preset"):
        preset_overrides("gym:HalfCheetah-v5", "paper")
