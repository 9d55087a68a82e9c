"""Presets for the GenPO paper's eight IsaacLab tasks: task ids of both IsaacLab generations and PPO settings.

Each preset is a plain dict::

    {
        "name": "ant",
        "task": "Isaac-Ant",           # IsaacLab 3.x id, or None where 3.0 removed the task
        "task_v2": "Isaac-Ant-v0",     # IsaacLab 2.x id (the one the paper names)
        "num_envs": 4096,
        "hyperparameters": {...},      # trainer-config field names (below)
        "source": "...",               # where every number came from
        "notes": "...",                # what runs where
    }

``hyperparameters`` uses generic trainer-config field names: ``learning_rate``, ``desired_kl`` (adaptive
learning-rate schedule), ``num_epochs``, ``num_minibatches``, ``steps_per_env``, ``gamma``, ``lam``,
``entropy_coef``, ``hidden`` (actor), ``critic_hidden``, ``num_envs``, ``max_iterations``, ``clip_param``,
``value_coef``, ``max_grad_norm`` and ``normalize_obs`` (rsl_rl's empirical observation normalizer).

Sources: the GenPO authors' own configuration exists for Ant only (restated in the project's
``genpo-method.md`` reference notes); every other number is IsaacLab's rsl_rl agent config for the task
(``isaaclab_tasks/.../agents/rsl_rl_ppo_cfg.py`` in the IsaacLab 3.0.0 wheel, or IsaacLab 2.x for the
quadcopter, which 3.0 removed) and its environment config's ``scene.num_envs``. Using IsaacLab's defaults
for the tasks other than Ant is this project's choice, not a published GenPO configuration.
"""

from __future__ import annotations

import copy
from typing import Any

from genpo.errors import ConfigError

GENPO_AUTHORS_METHOD: dict[str, Any] = {
    "flow_steps": 5,
    "mix_p": 0.95,
    "compress_coef": 0.01,
    "activation": "mish",
    "time_embedding_dim": 32,
    "source": "GenPO authors' public Ant configuration (genpo-method.md): K=5, p=0.95, compression 0.01, Mish",
}
"""The flow-policy settings of the authors' Ant configuration (not PPO settings; the trainer decides their use)."""


def _hp(
    *,
    learning_rate: float,
    desired_kl: float,
    steps_per_env: int,
    max_iterations: int,
    hidden: list[int],
    entropy_coef: float,
    num_envs: int,
    gamma: float = 0.99,
    lam: float = 0.95,
    num_epochs: int = 5,
    num_minibatches: int = 4,
    clip_param: float = 0.2,
    value_coef: float = 1.0,
    max_grad_norm: float = 1.0,
    normalize_obs: bool = False,
    critic_hidden: list[int] | None = None,
) -> dict[str, Any]:
    """One hyperparameter dict (rsl_rl's PPO defaults where IsaacLab's configs agree on them)."""
    return {
        "learning_rate": learning_rate,
        "desired_kl": desired_kl,
        "num_epochs": num_epochs,
        "num_minibatches": num_minibatches,
        "steps_per_env": steps_per_env,
        "gamma": gamma,
        "lam": lam,
        "entropy_coef": entropy_coef,
        "hidden": list(hidden),
        "critic_hidden": list(critic_hidden if critic_hidden is not None else hidden),
        "num_envs": num_envs,
        "max_iterations": max_iterations,
        "clip_param": clip_param,
        "value_coef": value_coef,
        "max_grad_norm": max_grad_norm,
        "normalize_obs": normalize_obs,
    }


def _preset(name: str, task: str | None, task_v2: str, hyperparameters: dict[str, Any], source: str, notes: str):
    return {
        "name": name,
        "task": task,
        "task_v2": task_v2,
        "num_envs": hyperparameters["num_envs"],
        "hyperparameters": hyperparameters,
        "source": source,
        "notes": notes,
    }


_IL3 = "IsaacLab 3.0.0 wheel, isaaclab_tasks/"

PRESETS: dict[str, dict[str, Any]] = {
    "ant": _preset(
        "ant",
        "Isaac-Ant",
        "Isaac-Ant-v0",
        _hp(
            learning_rate=5e-4,
            desired_kl=0.01,
            steps_per_env=32,
            max_iterations=1000,
            hidden=[400, 200, 100],
            entropy_coef=0.0,
            num_envs=4096,
        ),
        "GenPO authors' Ant config (genpo-method.md: lr 5e-4 adaptive with KL target 0.01, 5 epochs, 4 minibatches, "
        "32 steps/env, gamma 0.99, lambda 0.95, entropy 0.0, clip 0.2, value coef 1.0, grad norm 1.0, actor and "
        f"critic [400, 200, 100]); num_envs 4096 and max_iterations 1000: {_IL3}core/locomotion/ant "
        "(ant_manager_env_cfg scene.num_envs, agents/rsl_rl_ppo_cfg.py AntPPORunnerCfg), which match the authors' "
        "PPO numbers; normalize_obs False as in AntPPORunnerCfg (the reference notes do not state the authors' "
        "setting)",
        "Runs offline on CPU here (Newton physics) with the local asset root, which substitutes Newton's ant for "
        "NVIDIA's: fine for tests, not for paper numbers.",
    ),
    "humanoid": _preset(
        "humanoid",
        "Isaac-Humanoid",
        "Isaac-Humanoid-v0",
        _hp(
            learning_rate=5e-4,
            desired_kl=0.01,
            steps_per_env=32,
            max_iterations=1000,
            hidden=[400, 200, 100],
            entropy_coef=0.0,
            value_coef=2.0,
            normalize_obs=True,
            num_envs=4096,
        ),
        f"{_IL3}core/locomotion/humanoid/agents/rsl_rl_ppo_cfg.py HumanoidPPORunnerCfg; num_envs: "
        "humanoid_manager_env_cfg scene.num_envs",
        "Newton physics; needs NVIDIA's humanoid asset (not in the local asset root).",
    ),
    "franka-lift": _preset(
        "franka-lift",
        "IsaacContrib-Lift-Cube-Franka",
        "Isaac-Lift-Cube-Franka-v0",
        _hp(
            learning_rate=1e-4,
            desired_kl=0.01,
            steps_per_env=24,
            max_iterations=1500,
            hidden=[256, 128, 64],
            entropy_coef=0.006,
            gamma=0.98,
            num_envs=4096,
        ),
        f"{_IL3}contrib/lift/config/franka/agents/rsl_rl_ppo_cfg.py LiftCubePPORunnerCfg (same numbers as the 2.x "
        "Isaac-Lift-Cube-Franka-v0 config); num_envs: joint_pos_env_cfg FrankaCubeLiftEnvCfg scene.num_envs",
        "IsaacLab 3.0 moved the paper's task to IsaacContrib-Lift-Cube-Franka, which is PhysX-only (needs Isaac "
        "Sim). The new core Isaac-Lift-Franka is a different task.",
    ),
    "quadcopter": _preset(
        "quadcopter",
        None,
        "Isaac-Quadcopter-Direct-v0",
        _hp(
            learning_rate=5e-4,
            desired_kl=0.01,
            steps_per_env=24,
            max_iterations=200,
            hidden=[64, 64],
            entropy_coef=0.0,
            num_envs=4096,
        ),
        "IsaacLab 2.x source/isaaclab_tasks/isaaclab_tasks/direct/quadcopter/agents/rsl_rl_ppo_cfg.py "
        "QuadcopterPPORunnerCfg; num_envs: quadcopter_env_cfg.py QuadcopterEnvCfg scene.num_envs",
        "Removed in IsaacLab 3.0 (isaaclab_tasks changelog): runs only on IsaacLab 2.x with Isaac Sim.",
    ),
    "anymal-d": _preset(
        "anymal-d",
        "Isaac-Velocity-Rough-AnymalD",
        "Isaac-Velocity-Rough-Anymal-D-v0",
        _hp(
            learning_rate=1e-3,
            desired_kl=0.01,
            steps_per_env=24,
            max_iterations=2000,
            hidden=[512, 256, 128],
            entropy_coef=0.005,
            num_envs=4096,
        ),
        f"{_IL3}core/velocity/config/anymal_d/agents/rsl_rl_ppo_cfg.py AnymalDRoughPPORunnerCfg (IsaacLab 2.x had "
        "max_iterations 1500, the rest equal); num_envs: velocity_env_cfg scene.num_envs",
        "Newton physics; needs NVIDIA's ANYmal-D asset and actuator network (not in the local asset root).",
    ),
    "go2": _preset(
        "go2",
        "Isaac-Velocity-Rough-UnitreeGo2",
        "Isaac-Velocity-Rough-Unitree-Go2-v0",
        _hp(
            learning_rate=1e-3,
            desired_kl=0.01,
            steps_per_env=24,
            max_iterations=1500,
            hidden=[512, 256, 128],
            entropy_coef=0.01,
            num_envs=4096,
        ),
        f"{_IL3}core/velocity/config/go2/agents/rsl_rl_ppo_cfg.py UnitreeGo2RoughPPORunnerCfg; num_envs: "
        "velocity_env_cfg scene.num_envs",
        "Newton physics; needs NVIDIA's Go2 asset (not in the local asset root).",
    ),
    "h1": _preset(
        "h1",
        "Isaac-Velocity-Rough-H1",
        "Isaac-Velocity-Rough-H1-v0",
        _hp(
            learning_rate=1e-3,
            desired_kl=0.01,
            steps_per_env=24,
            max_iterations=2000,
            hidden=[512, 256, 128],
            entropy_coef=0.01,
            num_envs=4096,
        ),
        f"{_IL3}core/velocity/config/h1/agents/rsl_rl_ppo_cfg.py H1RoughPPORunnerCfg; num_envs: velocity_env_cfg "
        "scene.num_envs",
        "Newton physics; needs NVIDIA's H1 asset (not in the local asset root).",
    ),
    "shadow-hand": _preset(
        "shadow-hand",
        "Isaac-Reorient-Cube-Shadow-Direct",
        "Isaac-Repose-Cube-Shadow-Direct-v0",
        _hp(
            learning_rate=5e-4,
            desired_kl=0.016,
            steps_per_env=16,
            max_iterations=3000,
            hidden=[512, 512, 256, 128],
            entropy_coef=0.005,
            normalize_obs=True,
            num_envs=8192,
        ),
        f"{_IL3}core/reorient/config/shadow_hand/agents/rsl_rl_ppo_cfg.py ShadowHandPPORunnerCfg; num_envs: "
        "shadow_hand_direct_env_cfg ShadowHandEnvCfg scene.num_envs",
        "Newton physics; needs NVIDIA's Shadow Hand and cube assets (not in the local asset root).",
    ),
}
"""The paper's eight tasks, keyed by preset name."""


def _strip(task_id: str) -> str:
    return task_id[len("isaaclab:") :] if task_id.startswith("isaaclab:") else task_id


def get_preset(task_id: str) -> dict[str, Any]:
    """The preset for a preset name (``"ant"``) or a task id of either generation (``isaaclab:Isaac-Ant-v0``).

    Args:
        task_id: A key of :data:`PRESETS`, or a 3.x or 2.x task id, with or without the ``isaaclab:`` prefix.

    Returns:
        A deep copy (edit it freely).

    Raises:
        ConfigError: Listing the presets and their task ids when nothing matches.
    """
    key = _strip(str(task_id).strip())
    if key.lower() in PRESETS:
        return copy.deepcopy(PRESETS[key.lower()])
    for preset in PRESETS.values():
        if key in (preset["task"], preset["task_v2"]):
            return copy.deepcopy(preset)
    listing = "; ".join(f"{name} ({p['task'] or 'removed in 3.0'} / {p['task_v2']})" for name, p in PRESETS.items())
    raise ConfigError(f"no IsaacLab preset for {task_id!r}; presets: {listing}")


def preset_names() -> list[str]:
    """Preset names, in the paper's order."""
    return list(PRESETS)


PRESET_KINDS = ("paper",)
_SECTION = {
    "num_envs": "env",
    "hidden": "policy",
    "critic_hidden": "policy",
    "normalize_obs": "policy",
    "max_iterations": "run",
}


def preset_overrides(task_id: str, kind: str = "paper") -> dict[str, dict[str, Any]]:
    """The preset as nested trainer-config overrides (``{"env": ..., "policy": ..., "algo": ..., "run": ...}``).

    ``paper``: the task's hyperparameters (see :func:`get_preset`) plus the authors' flow settings (EDICT,
    K=5, p=0.95, compression 0.01, Mish).

    Raises:
        ConfigError: Unknown kind (naming the allowed ones) or a task without a preset.
    """
    if kind not in PRESET_KINDS:
        raise ConfigError(f"unknown preset {kind!r}; choose one of: {', '.join(PRESET_KINDS)}")
    preset = get_preset(task_id)
    out: dict[str, dict[str, Any]] = {"env": {}, "policy": {}, "algo": {}, "run": {}}
    for key, value in preset["hyperparameters"].items():
        out[_SECTION.get(key, "algo")][key] = value
    m = GENPO_AUTHORS_METHOD
    out["policy"].update(
        model="flow",
        integrator="edict",
        likelihood="exact",
        flow_steps=m["flow_steps"],
        mix_p=m["mix_p"],
        activation=m["activation"],
    )
    out["algo"]["compress_coef"] = m["compress_coef"]
    out["algo"]["compress_fraction"] = 1.0  # the authors' term runs on every sample of a minibatch
    out["algo"]["schedule"] = "adaptive"
    return out


__all__ = ["GENPO_AUTHORS_METHOD", "PRESETS", "PRESET_KINDS", "get_preset", "preset_names", "preset_overrides"]
