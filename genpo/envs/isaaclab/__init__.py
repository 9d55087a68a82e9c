"""IsaacLab backend: ``isaaclab:TASK`` ids, e.g. ``isaaclab:Isaac-Ant-Direct`` (see docs/isaaclab.md).

Adapts IsaacLab's ``DirectRLEnv`` and ``ManagerBasedRLEnv`` to :class:`genpo.envs.base.VecEnv`:

* the observation is the ``"policy"`` group; a ``"critic"`` group (privileged observations) becomes
  ``extras["critic_observation"]`` and sets ``critic_observation_dim``;
* ``terminated`` and ``time_outs`` become ``terminated`` and ``truncated`` (for tasks whose config says
  ``is_finite_horizon``, time-outs are terminal, as in IsaacLab's rsl_rl wrapper);
* IsaacLab resets finished sub-environments inside ``step`` itself; ``extras["log"]`` is passed through;
  ``extras["episode"]`` comes from :class:`~genpo.envs.base.EpisodeTracker`;
* tensors stay on the simulation device (no round trip through the CPU or numpy);
* IsaacLab gives no final observation by default, so ``extras["final_observation"]`` is absent and trainers
  bootstrap time-outs from the pre-step observation (as rsl_rl does). ``final_observation=True`` asks the
  task config for IsaacLab's own terminal observation (``compute_final_obs``), at the cost of one more
  observation pass on steps where some sub-environment resets.

Two IsaacLab generations:

* 3.x (the ``isaaclab`` wheel): a kit-less launch (``isaaclab.app.launch_simulation``) with the physics
  backend the task config selects (Newton/MuJoCo-Warp by default for most core tasks), on ``"cpu"`` or
  ``"cuda:N"``. Only one IsaacLab environment can exist in a process at a time (IsaacLab's simulation
  context is a process-wide singleton): close one before making the next.
* 2.x (Isaac Sim): ``AppLauncher`` is started before the other isaaclab imports. Supported by code path
  only; it was not run by this project (no Isaac Sim here).

Task ids of either generation are accepted on either: ``Isaac-Ant-v0`` runs ``Isaac-Ant`` on 3.x and the
other way round (:data:`ISAACLAB2_TO_3`).

Offline runs: ``local_assets=True`` (or ``GENPO_ISAACLAB_LOCAL_ASSETS=1``, or a folder path) builds a small
asset root (:mod:`genpo.envs.isaaclab.asset_root`) and points ``ISAACSIM_ASSET_ROOT`` at it before isaaclab
is imported. With a folder of public robot descriptions (``robots_dir``, or ``GENPO_ROBOTS_DIR``) it also
holds stand-ins for the paper's robots (:mod:`genpo.envs.isaaclab.robots`).

The package has one role per module: :mod:`~genpo.envs.isaaclab.tasks` (task ids of both generations),
:mod:`~genpo.envs.isaaclab.assets` (local assets and what a task needs from disk),
:mod:`~genpo.envs.isaaclab.asset_root` (the offline asset root builder), :mod:`~genpo.envs.isaaclab.robots`
(the stand-in robots: sources, cache), :mod:`~genpo.envs.isaaclab.robot_sources` (edits of MJCF/URDF
descriptions), :mod:`~genpo.envs.isaaclab.usd_layout` (the USD layout IsaacLab expects),
:mod:`~genpo.envs.isaaclab.adapter`
(:class:`IsaacLabVecEnv`) and :mod:`~genpo.envs.isaaclab.launch` (:func:`make_isaaclab_env`).
"""

from genpo.envs.isaaclab.adapter import IsaacLabVecEnv
from genpo.envs.isaaclab.assets import LOCAL_ASSETS_ENV, asset_blockers, use_local_assets
from genpo.envs.isaaclab.launch import (
    INSTALL_HINT,
    INSTALL_HINT_FIX,
    IsaacLabUnavailable,
    make_isaaclab_env,
    runtime_blockers,
)
from genpo.envs.isaaclab.tasks import (
    ISAACLAB2_TO_3,
    ISAACLAB3_TO_2,
    agent_clip_actions,
    isaaclab_generation,
    registered_tasks,
    resolve_task_id,
    task_id_for_generation,
)


def _register() -> None:
    from genpo.envs import ENV_BACKENDS

    if "isaaclab" not in ENV_BACKENDS:
        ENV_BACKENDS.add(
            "isaaclab",
            make_isaaclab_env,
            "IsaacLab tasks: 3.x kit-less (Newton physics, CPU or CUDA) or 2.x (Isaac Sim)",
        )


_register()

__all__ = [
    "INSTALL_HINT",
    "INSTALL_HINT_FIX",
    "ISAACLAB2_TO_3",
    "ISAACLAB3_TO_2",
    "LOCAL_ASSETS_ENV",
    "IsaacLabUnavailable",
    "IsaacLabVecEnv",
    "agent_clip_actions",
    "asset_blockers",
    "isaaclab_generation",
    "make_isaaclab_env",
    "registered_tasks",
    "resolve_task_id",
    "runtime_blockers",
    "task_id_for_generation",
    "use_local_assets",
]
