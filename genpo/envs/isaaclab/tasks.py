"""IsaacLab task ids: which generation is installed, and each id in the spelling of either generation.

Nothing here imports isaaclab except :func:`agent_clip_actions` and :func:`registered_tasks` (called at launch).
"""

from __future__ import annotations

import difflib
import importlib.util
import logging
from collections.abc import Collection
from pathlib import Path

from genpo.errors import ConfigError

logger = logging.getLogger(__name__)

# IsaacLab 2.x id -> IsaacLab 3.x id (None: the task was removed in 3.0). Read from isaaclab_tasks' changelog
# (IsaacLab 3.0) and checked against the 3.0 wheel's gym registry (tests/envs/test_isaaclab.py).
ISAACLAB2_TO_3: dict[str, str | None] = {
    "Isaac-Cartpole-v0": "Isaac-Cartpole",
    "Isaac-Cartpole-Direct-v0": "Isaac-Cartpole-Direct",
    "Isaac-Ant-v0": "Isaac-Ant",
    "Isaac-Ant-Direct-v0": "Isaac-Ant-Direct",
    "Isaac-Humanoid-v0": "Isaac-Humanoid",
    "Isaac-Humanoid-Direct-v0": "Isaac-Humanoid-Direct",
    "Isaac-Lift-Cube-Franka-v0": "IsaacContrib-Lift-Cube-Franka",
    "Isaac-Quadcopter-Direct-v0": None,
    "Isaac-Reach-Franka-v0": "Isaac-Reach-Franka",
    "Isaac-Reach-UR10-v0": "Isaac-Reach-UR10",
    "Isaac-Open-Drawer-Franka-v0": "Isaac-Open-Drawer-Franka",
    "Isaac-Franka-Cabinet-Direct-v0": "Isaac-Open-Drawer-Franka-Direct",
    "Isaac-Repose-Cube-Shadow-Direct-v0": "Isaac-Reorient-Cube-Shadow-Direct",
    "Isaac-Repose-Cube-Allegro-v0": "Isaac-Reorient-Cube-Allegro",
    "Isaac-Repose-Cube-Allegro-Direct-v0": "Isaac-Reorient-Cube-Allegro-Direct",
    "Isaac-Repose-Cube-Shadow-OpenAI-FF-Direct-v0": "IsaacContrib-Reorient-Cube-Shadow-OpenAI-FF-Direct",
    "Isaac-Repose-Cube-Shadow-OpenAI-LSTM-Direct-v0": "IsaacContrib-Reorient-Cube-Shadow-OpenAI-LSTM-Direct",
    "Isaac-Shadow-Hand-Over-Direct-v0": "Isaac-Shadow-Handover-Direct",
    "Isaac-Velocity-Flat-Anymal-D-v0": "Isaac-Velocity-Flat-AnymalD",
    "Isaac-Velocity-Rough-Anymal-D-v0": "Isaac-Velocity-Rough-AnymalD",
    "Isaac-Velocity-Flat-Unitree-Go2-v0": "Isaac-Velocity-Flat-UnitreeGo2",
    "Isaac-Velocity-Rough-Unitree-Go2-v0": "Isaac-Velocity-Rough-UnitreeGo2",
    "Isaac-Velocity-Flat-H1-v0": "Isaac-Velocity-Flat-H1",
    "Isaac-Velocity-Rough-H1-v0": "Isaac-Velocity-Rough-H1",
    "Isaac-Velocity-Flat-G1-v0": "Isaac-Velocity-Flat-G1",
    "Isaac-Velocity-Rough-G1-v0": "Isaac-Velocity-Rough-G1",
    "Isaac-Velocity-Flat-Cassie-v0": "Isaac-Velocity-Flat-Cassie",
    "Isaac-Velocity-Rough-Cassie-v0": "Isaac-Velocity-Rough-Cassie",
    "Isaac-Velocity-Flat-Anymal-B-v0": "IsaacContrib-Velocity-Flat-AnymalB",
    "Isaac-Velocity-Rough-Anymal-B-v0": "IsaacContrib-Velocity-Rough-AnymalB",
    "Isaac-Velocity-Flat-Anymal-C-v0": "IsaacContrib-Velocity-Flat-AnymalC",
    "Isaac-Velocity-Rough-Anymal-C-v0": "IsaacContrib-Velocity-Rough-AnymalC",
    "Isaac-Velocity-Flat-Anymal-C-Direct-v0": "IsaacContrib-Velocity-Flat-AnymalC-Direct",
    "Isaac-Velocity-Rough-Anymal-C-Direct-v0": "IsaacContrib-Velocity-Rough-AnymalC-Direct",
    "Isaac-Velocity-Flat-Unitree-A1-v0": "IsaacContrib-Velocity-Flat-UnitreeA1",
    "Isaac-Velocity-Rough-Unitree-A1-v0": "IsaacContrib-Velocity-Rough-UnitreeA1",
    "Isaac-Velocity-Flat-Unitree-Go1-v0": "IsaacContrib-Velocity-Flat-UnitreeGo1",
    "Isaac-Velocity-Rough-Unitree-Go1-v0": "IsaacContrib-Velocity-Rough-UnitreeGo1",
    "Isaac-Velocity-Flat-Spot-v0": "IsaacContrib-Velocity-Flat-Spot",
}
"""IsaacLab 2.x task id -> 3.x task id; ``None`` where 3.0 removed the task."""

ISAACLAB3_TO_2: dict[str, str] = {new: old for old, new in ISAACLAB2_TO_3.items() if new is not None}
"""IsaacLab 3.x task id -> 2.x task id."""


def isaaclab_generation() -> int | None:
    """The installed IsaacLab generation without importing it: 3, 2, or ``None`` when not installed.

    3.x ships the kit-less launcher ``isaaclab/app/sim_launcher.py``; 2.x does not.
    """
    try:
        spec = importlib.util.find_spec("isaaclab")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        if (Path(folder) / "app" / "sim_launcher.py").is_file():
            return 3
    return 2


def task_id_for_generation(task: str, generation: int) -> str:
    """Translates a task id into the spelling of IsaacLab ``generation`` (2 or 3).

    Ids the table does not know pass through unchanged (they may be registered as they are).

    Args:
        task: A 2.x id (``Isaac-Ant-v0``) or a 3.x id (``Isaac-Ant``).
        generation: 2 or 3.

    Returns:
        The id to look up in that generation's gym registry.

    Raises:
        ConfigError: When the task was removed from that generation (e.g. the quadcopter in 3.0), or for an
            unknown generation.
    """
    if generation == 3:
        if task in ISAACLAB2_TO_3:
            new = ISAACLAB2_TO_3[task]
            if new is None:
                raise ConfigError(
                    f"IsaacLab task {task!r} was removed in IsaacLab 3.0; it runs only on IsaacLab 2.x (Isaac Sim)"
                )
            return new
        return task
    if generation == 2:
        return ISAACLAB3_TO_2.get(task, task)
    raise ConfigError(f"unknown IsaacLab generation {generation!r}; expected 2 or 3")


def resolve_task_id(task: str, generation: int, registered: Collection[str]) -> str:
    """Picks the registered id for ``task``: as given, else its translation to ``generation``.

    Args:
        task: The id the user typed (either generation's spelling).
        generation: The installed IsaacLab generation.
        registered: The ids in the installed gym registry.

    Returns:
        A member of ``registered``.

    Raises:
        ConfigError: Naming close matches when neither spelling is registered.
    """
    if task in registered:
        return task
    mapped = task_id_for_generation(task, generation)
    if mapped in registered:
        if mapped != task:
            logger.info("IsaacLab %d.x names task %r %r", generation, task, mapped)
        return mapped
    close = difflib.get_close_matches(mapped, [r for r in registered if "Isaac" in r], n=5, cutoff=0.6)
    hint = f"; close matches: {', '.join(close)}" if close else ""
    raise ConfigError(
        f"IsaacLab {generation}.x has no task {task!r}{f' (or {mapped!r})' if mapped != task else ''}{hint}"
    )


def agent_clip_actions(task: str) -> float | None:
    """``clip_actions`` of the task's rsl_rl agent config (what IsaacLab's ``train.py`` clamps actions to).

    Args:
        task: A registered task id (``isaaclab_tasks`` imported).

    Returns:
        The clip value, or ``None`` when the config sets none or cannot be loaded here (e.g. it imports
        ``tensordict``, which the kit-less install leaves out).
    """
    from isaaclab_tasks.utils.parse_cfg import load_cfg_from_registry

    try:
        agent = load_cfg_from_registry(task, "rsl_rl_cfg_entry_point")
    except Exception as exc:  # no agent config, or one that needs rsl_rl's extras
        logger.info("no rsl_rl agent config for %s (%s: %s); actions unclipped", task, type(exc).__name__, exc)
        return None
    agent = getattr(agent, "default", agent)  # PresetCfg wrappers hold the default under .default
    value = getattr(agent, "clip_actions", None)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def registered_tasks() -> list[str]:
    """Task ids in gymnasium's registry (after ``import isaaclab_tasks``)."""
    import gymnasium as gym

    return [name for name in gym.registry if "Isaac" in name]
