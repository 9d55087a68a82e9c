"""Task-independent training recipes for ``--preset`` (task presets such as IsaacLab's ``paper`` live with their tasks).

``mujoco-ppo`` is CleanRL's ``ppo_continuous_action`` recipe for MuJoCo: 64x64 tanh networks, one
environment with 2,048-step rollouts, 10 epochs x 32 minibatches, observation and reward
normalization, learning rate 3e-4 annealed linearly to 0, gamma 0.99, GAE lambda 0.95, clip 0.2,
value-loss coefficient 0.5 with value clipping, gradient-norm clip 0.5, no entropy bonus. It sets no
policy family: ``--model gaussian`` gives CleanRL's PPO, the default flow policy gives GenPO under the
same recipe. Differences that remain: the Gaussian's initial std and the network initialization are
genpo's, and rewards restart their discounted sum at truncations as well as terminations.
"""

from __future__ import annotations

import copy
from typing import Any

RECIPES: dict[str, dict[str, dict[str, Any]]] = {
    "mujoco-ppo": {
        "env": {"num_envs": 1},
        "policy": {"hidden": [64, 64], "critic_hidden": [64, 64], "activation": "tanh", "normalize_obs": True},
        "algo": {
            "learning_rate": 3e-4,
            "schedule": "linear",
            "num_epochs": 10,
            "num_minibatches": 32,
            "steps_per_env": 2048,
            "gamma": 0.99,
            "lam": 0.95,
            "clip_param": 0.2,
            "value_coef": 0.5,
            "value_clip": True,
            "entropy_coef": 0.0,
            "max_grad_norm": 0.5,
            "normalize_advantage": True,
            "normalize_reward": True,
        },
    },
}


def recipe_overrides(name: str) -> dict[str, dict[str, Any]] | None:
    """The nested overrides of a task-independent recipe, or ``None`` when ``name`` is not one."""
    recipe = RECIPES.get(name)
    return copy.deepcopy(recipe) if recipe is not None else None
