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
asset root (:mod:`genpo.envs.isaaclab_assets`) and points ``ISAACSIM_ASSET_ROOT`` at it before isaaclab
is imported.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib.util
import logging
import os
import sys
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from genpo.envs.base import EpisodeTracker, StepResult, VecEnv
from genpo.errors import GenpoError

logger = logging.getLogger(__name__)

INSTALL_HINT_FIX = (
    "Install IsaacLab 3.0 with `bash ci/install_isaaclab.sh` (PyPI only, no Isaac "
    "Sim needed), or see docs/isaaclab.md for the exact steps and for IsaacLab 2.x with Isaac Sim."
)
INSTALL_HINT = f"IsaacLab is not installed. {INSTALL_HINT_FIX}"
LOCAL_ASSETS_ENV = "GENPO_ISAACLAB_LOCAL_ASSETS"


class IsaacLabUnavailable(GenpoError, RuntimeError):
    """IsaacLab, or a runtime a task needs, is not installed or does not import; the message says how to fix it."""

    exit_code = 2


"""``1`` builds the offline asset root in the default cache folder; a path builds it there; unset/``0``: off."""

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

_ASSET_KEYS = ("usd_path", "network_file", "urdf_path", "mjcf_path", "asset_path")


# ----------------------------------------------------------------------------------------------------------------
# Id mapping and generation detection (no isaaclab import)
# ----------------------------------------------------------------------------------------------------------------


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
        ValueError: When the task was removed from that generation (e.g. the quadcopter in 3.0), or for an
            unknown generation.
    """
    if generation == 3:
        if task in ISAACLAB2_TO_3:
            new = ISAACLAB2_TO_3[task]
            if new is None:
                raise ValueError(
                    f"IsaacLab task {task!r} was removed in IsaacLab 3.0; it runs only on IsaacLab 2.x (Isaac Sim)"
                )
            return new
        return task
    if generation == 2:
        return ISAACLAB3_TO_2.get(task, task)
    raise ValueError(f"unknown IsaacLab generation {generation!r}; expected 2 or 3")


def resolve_task_id(task: str, generation: int, registered: Collection[str]) -> str:
    """Picks the registered id for ``task``: as given, else its translation to ``generation``.

    Args:
        task: The id the user typed (either generation's spelling).
        generation: The installed IsaacLab generation.
        registered: The ids in the installed gym registry.

    Returns:
        A member of ``registered``.

    Raises:
        ValueError: Naming close matches when neither spelling is registered.
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
    raise ValueError(
        f"IsaacLab {generation}.x has no task {task!r}{f' (or {mapped!r})' if mapped != task else ''}{hint}"
    )


def _local_assets_request(local_assets: bool | str | os.PathLike[str] | None) -> Path | None:
    """Where to build the offline asset root, from the option or ``GENPO_ISAACLAB_LOCAL_ASSETS``; None: off."""
    from genpo.envs.isaaclab_assets import default_asset_root_dir

    value: Any = local_assets
    if value is None:
        value = os.environ.get(LOCAL_ASSETS_ENV, "")
    if isinstance(value, bool):
        return default_asset_root_dir() if value else None
    text = os.fspath(value).strip()
    if text.lower() in ("", "0", "false", "no", "off"):
        return None
    if text.lower() in ("1", "true", "yes", "on"):
        return default_asset_root_dir()
    return Path(text)


def use_local_assets(local_assets: bool | str | os.PathLike[str] | None = True) -> Path | None:
    """Builds the offline asset root and points ``ISAACSIM_ASSET_ROOT`` at it (before isaaclab is imported).

    Args:
        local_assets: ``True`` (default cache folder), a folder, ``False`` (do nothing), or ``None`` (read
            ``GENPO_ISAACLAB_LOCAL_ASSETS``).

    Returns:
        The asset root, or ``None`` when not requested.

    Raises:
        RuntimeError: When isaaclab was already imported with another asset root (it reads the variable once).
    """
    from genpo.envs.isaaclab_assets import ASSET_ROOT_ENV, build_local_asset_root

    where = _local_assets_request(local_assets)
    if where is None:
        return None
    root = build_local_asset_root(where)
    loaded = sys.modules.get("isaaclab.utils.assets")
    if loaded is not None:
        current = str(getattr(loaded, "NUCLEUS_ASSET_ROOT_DIR", ""))
        if os.path.normpath(current) != os.path.normpath(str(root)):
            raise RuntimeError(
                f"isaaclab was imported with asset root {current!r} before the local asset root {str(root)!r} was "
                f"set; IsaacLab reads {ASSET_ROOT_ENV} once, on import. Set {LOCAL_ASSETS_ENV}=1 (or "
                f"{ASSET_ROOT_ENV}={root}) before anything imports isaaclab, or make the first IsaacLab "
                "environment of the process with local_assets=True."
            )
        return root
    os.environ[ASSET_ROOT_ENV] = str(root)
    return root


# ----------------------------------------------------------------------------------------------------------------
# Config inspection (what can block a task on this machine)
# ----------------------------------------------------------------------------------------------------------------


def _walk_asset_paths(node: Any, found: set[str], seen: set[int], depth: int = 0) -> None:
    """Collects asset file references (``usd_path``, ``network_file``, ...) from a config tree."""
    if depth > 40 or id(node) in seen or node is None or isinstance(node, (str, bytes, int, float, bool, Tensor)):
        return
    seen.add(id(node))
    if isinstance(node, dict):
        children = list(node.items())
    elif isinstance(node, (list, tuple)):
        children = [(None, c) for c in node]
    else:
        module = type(node).__module__ or ""
        if not module.startswith("isaaclab") or not hasattr(node, "__dict__"):
            return
        children = list(vars(node).items())
    for key, child in children:
        if isinstance(child, str) and key in _ASSET_KEYS and child:
            found.add(child)
        else:
            _walk_asset_paths(child, found, seen, depth + 1)


def asset_blockers(cfg: Any) -> list[str]:
    """Asset files a task config needs that are not on this machine (remote URLs or missing local files).

    Args:
        cfg: An IsaacLab env config (from ``parse_env_cfg``).

    Returns:
        One line per missing asset, empty when every referenced file exists locally.
    """
    found: set[str] = set()
    _walk_asset_paths(cfg, found, set())
    out = []
    for ref in sorted(found):
        if "://" in ref:
            out.append(f"remote asset {ref} (needs network access and omni.client)")
        elif not os.path.exists(ref):
            out.append(f"missing asset {ref}")
    return out


def runtime_blockers(cfg: Any) -> list[str]:
    """Why a parsed IsaacLab 3.x config cannot launch here: Isaac Sim (Kit) or OvPhysX runtimes not installed.

    Runs IsaacLab's own launch scan (``isaaclab.app.sim_launcher.validate_launch``), which resolves automatic
    physics selections on ``cfg`` in place exactly as the launch will.

    Args:
        cfg: An IsaacLab 3.x env config.

    Returns:
        One line per blocker; empty when the kit-less runtime the config asks for is installed.
    """
    from isaaclab.app.sim_launcher import validate_launch

    blockers: list[str] = []
    scan, kit_sources = validate_launch(cfg, {"headless": True})
    if kit_sources and importlib.util.find_spec("isaacsim") is None:
        blockers.append(f"needs Isaac Sim (Kit), not installed: {', '.join(kit_sources)}")
    if scan.has_ovphysx_physics and importlib.util.find_spec("ovphysx") is None:
        blockers.append("selects OvPhysX physics, whose 'ovphysx' package is not installed")
    return blockers


# ----------------------------------------------------------------------------------------------------------------
# The adapter
# ----------------------------------------------------------------------------------------------------------------


def _flat_dim(space: Any, what: str) -> int:
    """Width of a flat Box observation/action space; ``ValueError`` otherwise."""
    shape = getattr(space, "shape", None)
    if shape is None or len(shape) != 1:
        raise ValueError(
            f"the IsaacLab {what} must be a flat vector (a concatenated observation group), got space {space!r}"
        )
    return int(shape[0])


class IsaacLabVecEnv(VecEnv):
    """An IsaacLab RL environment (``DirectRLEnv`` or ``ManagerBasedRLEnv``) as a :class:`VecEnv`.

    Args:
        env: The environment from ``gym.make`` (or the bare IsaacLab env).
        env_id: The id it was made from, for messages and logs.
        clip_actions: Clamp actions to ``[-clip_actions, clip_actions]`` (rsl_rl's ``clip_actions``); ``None``
            keeps IsaacLab's unbounded action space (a bounded ``Box`` action space is used as is).
        critic_group: Observation group holding privileged critic observations, or ``None`` to ignore it.
        final_observation: Whether the env config computes terminal observations (``compute_final_obs``), to be
            passed on as ``extras["final_observation"]``.
        on_close: Called once after the environment is closed (stops the simulation runtime).

    Attributes:
        unwrapped: The bare IsaacLab environment.
        is_finite_horizon: Whether time-outs are terminal for this task (then ``truncated`` is always False).
    """

    def __init__(
        self,
        env: Any,
        *,
        env_id: str = "",
        clip_actions: float | None = None,
        critic_group: str | None = "critic",
        final_observation: bool = False,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self._env = env
        self.unwrapped = getattr(env, "unwrapped", env)
        self.env_id = env_id
        self._on_close = on_close
        self._closed = False
        u = self.unwrapped
        self.num_envs = int(u.num_envs)
        self.device = torch.device(u.device)
        self.max_episode_length = int(u.max_episode_length) if u.max_episode_length is not None else None
        cfg = getattr(u, "cfg", None)
        self.is_finite_horizon = bool(getattr(cfg, "is_finite_horizon", False))

        obs_space = u.single_observation_space
        if "policy" not in obs_space.spaces:
            raise ValueError(f"IsaacLab task {env_id!r} has no 'policy' observation group: {list(obs_space.spaces)}")
        self.observation_dim = _flat_dim(obs_space["policy"], "'policy' observation group")
        self.critic_group = critic_group if critic_group and critic_group in obs_space.spaces else None
        self.critic_observation_dim = (
            _flat_dim(obs_space[self.critic_group], f"{critic_group!r} observation group")
            if self.critic_group
            else None
        )
        action_manager = getattr(u, "action_manager", None)
        if action_manager is not None:
            self.action_dim = int(action_manager.total_action_dim)
        else:
            self.action_dim = _flat_dim(u.single_action_space, "action space")

        self.action_low, self.action_high = self._action_bounds(u.single_action_space, clip_actions)
        self._final_observation = final_observation
        self._tracker = EpisodeTracker(self.num_envs, self.device)

    def _action_bounds(self, space: Any, clip_actions: float | None) -> tuple[Tensor | None, Tensor | None]:
        """Bounds from ``clip_actions`` or from a finite Box action space; ``(None, None)`` when unbounded."""
        if clip_actions is not None:
            if not clip_actions > 0:
                raise ValueError(f"clip_actions must be > 0, got {clip_actions!r}")
            high = torch.full((self.action_dim,), float(clip_actions), device=self.device)
            return -high, high
        low, high = getattr(space, "low", None), getattr(space, "high", None)
        if low is None or high is None:
            return None, None
        low_t = torch.as_tensor(low, dtype=torch.float32).reshape(-1)
        high_t = torch.as_tensor(high, dtype=torch.float32).reshape(-1)
        if low_t.numel() != self.action_dim or not (torch.isfinite(low_t).all() and torch.isfinite(high_t).all()):
            return None, None
        return low_t.to(self.device), high_t.to(self.device)

    @property
    def cfg(self) -> Any:
        """The IsaacLab environment config."""
        return self.unwrapped.cfg

    @property
    def episode_length_buf(self) -> Tensor:
        """Steps taken in each sub-environment's episode (settable, e.g. to spread initial episode lengths)."""
        return self.unwrapped.episode_length_buf

    @episode_length_buf.setter
    def episode_length_buf(self, value: Tensor) -> None:
        self.unwrapped.episode_length_buf = value

    def _split_obs(self, obs: dict[str, Any]) -> tuple[Tensor, Tensor | None]:
        """``(policy, critic or None)`` copies of an IsaacLab observation dict (IsaacLab reuses its buffers)."""
        policy = obs["policy"].clone()
        critic = obs[self.critic_group].clone() if self.critic_group and self.critic_group in obs else None
        return policy, critic

    def reset(self, seed: int | None = None) -> tuple[Tensor, dict[str, Any]]:
        """Resets every sub-environment; ``seed`` reseeds IsaacLab (which seeds torch, numpy and warp globally)."""
        obs, env_extras = self._env.reset(seed=seed)
        self._tracker = EpisodeTracker(self.num_envs, self.device)
        policy, critic = self._split_obs(obs)
        extras: dict[str, Any] = {}
        if critic is not None:
            extras["critic_observation"] = critic
        if isinstance(env_extras, dict) and "log" in env_extras:
            extras["log"] = dict(env_extras["log"])
        return policy, extras

    def step(self, action: Tensor) -> StepResult:
        """Steps every sub-environment with ``action [N, action_dim]``; IsaacLab resets finished ones itself."""
        if action.shape != (self.num_envs, self.action_dim):
            raise ValueError(f"action must have shape ({self.num_envs}, {self.action_dim}), got {tuple(action.shape)}")
        action = action.to(device=self.device, dtype=torch.float32)
        if self.action_low is not None and self.action_high is not None:
            action = torch.clamp(action, self.action_low, self.action_high)
        obs, reward, terminated, time_outs, env_extras = self._env.step(action)
        policy, critic = self._split_obs(obs)
        reward = reward.to(torch.float32).clone()
        terminated = terminated.to(torch.bool).clone()
        truncated = time_outs.to(torch.bool).clone()
        if self.is_finite_horizon:
            terminated |= truncated
            truncated = torch.zeros_like(truncated)
        done = terminated | truncated

        extras: dict[str, Any] = {"episode": self._tracker.update(reward, done)}
        if critic is not None:
            extras["critic_observation"] = critic
        if isinstance(env_extras, dict):
            if "log" in env_extras:
                extras["log"] = dict(env_extras["log"])
            final = env_extras.get("final_obs")
            if self._final_observation and isinstance(final, dict) and bool(done.any()):
                extras["final_observation"] = final["policy"].clone()
                if self.critic_group and self.critic_group in final:
                    extras["final_critic_observation"] = final[self.critic_group].clone()
        return policy, reward, terminated, truncated, extras

    def close(self) -> None:
        """Closes the IsaacLab environment, then stops the simulation runtime; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        try:
            self._env.close()
        finally:
            if self._on_close is not None:
                self._on_close()


# ----------------------------------------------------------------------------------------------------------------
# Factory
# ----------------------------------------------------------------------------------------------------------------


def _normalize_device(device: str | torch.device) -> str:
    """``"cpu"`` or ``"cuda:N"`` (``"cuda"`` means ``"cuda:0"``)."""
    text = str(device)
    if text == "cuda":
        return "cuda:0"
    if text == "cpu" or (text.startswith("cuda:") and text[5:].isdigit()):
        return text
    raise ValueError(f"IsaacLab device must be 'cpu', 'cuda' or 'cuda:N', got {device!r}")


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


def _registered_tasks() -> list[str]:
    import gymnasium as gym

    return [name for name in gym.registry if "Isaac" in name]


def _make_v3(
    task: str,
    num_envs: int,
    seed: int | None,
    device: str,
    headless: bool,
    overrides: Sequence[str],
    cfg_hook: Callable[[Any], None] | None,
    final_observation: bool,
) -> tuple[Any, Callable[[], None], str]:
    """Builds an IsaacLab 3.x env with a kit-less launch; returns ``(env, stop_runtime, resolved task id)``."""
    import gymnasium as gym

    with _importing_isaaclab():
        import isaaclab_tasks  # noqa: F401  (registers the task ids with gymnasium)
        from isaaclab.app import launch_simulation
        from isaaclab.sim import SimulationContext
        from isaaclab_tasks.utils import parse_env_cfg

    if SimulationContext.instance() is not None:
        raise RuntimeError(
            "an IsaacLab simulation already exists in this process: IsaacLab allows one environment per process; "
            "close() the other one first"
        )
    task = resolve_task_id(task, 3, _registered_tasks())
    cfg = parse_env_cfg(task, device=device, num_envs=num_envs, overrides=list(overrides))
    if seed is not None:
        cfg.seed = seed
    if final_observation:
        cfg.compute_final_obs = True
    if cfg_hook is not None:
        cfg_hook(cfg)
    blockers = runtime_blockers(cfg)
    if blockers:
        raise IsaacLabUnavailable(f"IsaacLab task {task!r} cannot run here: {'; '.join(blockers)}")

    stack = contextlib.ExitStack()
    stack.enter_context(launch_simulation(cfg, {"device": device, "headless": headless}))
    try:
        env = gym.make(task, cfg=cfg)
    except ImportError as exc:
        stack.close()
        raise IsaacLabUnavailable(_missing_module_message(task, exc, asset_blockers(cfg))) from None
    except BaseException:
        stack.close()
        raise
    return env, stack.close, task


@contextlib.contextmanager
def _importing_isaaclab() -> Any:
    """Turns a failing import of an installed IsaacLab into the install hint with the import error."""
    try:
        yield
    except Exception as exc:  # ImportError, or whatever a broken installation raises while importing
        raise IsaacLabUnavailable(
            f"IsaacLab is installed but does not import ({type(exc).__name__}: {exc}). {INSTALL_HINT_FIX}"
        ) from None


def _missing_module_message(task: str, exc: ImportError, assets: list[str]) -> str:
    """Why building ``task`` failed on a missing module, and the likely fix."""
    msg = f"IsaacLab task {task!r} needs the module {exc.name or str(exc)!r}, which is not installed ({exc})"
    if assets:
        msg += (
            f"; it reads {'; '.join(assets[:3])}. Use the offline asset root: set {LOCAL_ASSETS_ENV}=1 "
            "(or the env option local_assets=true), see docs/isaaclab.md"
        )
    return msg


def _make_v2(
    task: str,
    num_envs: int,
    seed: int | None,
    device: str,
    headless: bool,
    overrides: Sequence[str],
    cfg_hook: Callable[[Any], None] | None,
    final_observation: bool,
) -> tuple[Any, Callable[[], None], str]:
    """Builds an IsaacLab 2.x env: Isaac Sim's ``AppLauncher`` first, then the task (not run by this project)."""
    if overrides:
        raise ValueError("overrides (Hydra-style presets) need IsaacLab 3.x")
    with _importing_isaaclab():
        from isaaclab.app import AppLauncher

    launcher = AppLauncher({"headless": headless, "device": device})
    app = launcher.app
    try:
        import gymnasium as gym
        import isaaclab_tasks  # noqa: F401
        from isaaclab_tasks.utils import parse_env_cfg

        task = resolve_task_id(task, 2, _registered_tasks())
        cfg = parse_env_cfg(task, device=device, num_envs=num_envs)
        if seed is not None:
            cfg.seed = seed
        if final_observation:
            if not hasattr(cfg, "compute_final_obs"):
                raise ValueError("final_observation=True needs an IsaacLab whose configs have compute_final_obs")
            cfg.compute_final_obs = True
        if cfg_hook is not None:
            cfg_hook(cfg)
        env = gym.make(task, cfg=cfg)
    except BaseException:
        app.close()
        raise
    return env, app.close, task


def make_isaaclab_env(
    task: str,
    num_envs: int = 1,
    *,
    seed: int | None = None,
    device: str = "cpu",
    headless: bool = True,
    physics: str | None = None,
    overrides: Sequence[str] = (),
    local_assets: bool | str | os.PathLike[str] | None = None,
    clip_actions: float | str | None = "auto",
    critic_group: str | None = "critic",
    final_observation: bool = False,
    cfg_hook: Callable[[Any], None] | None = None,
) -> IsaacLabVecEnv:
    """Builds an IsaacLab task as a :class:`VecEnv` (the ``isaaclab`` backend of :func:`genpo.envs.make_env`).

    Args:
        task: A task id of either generation (``Isaac-Ant-Direct``, ``Isaac-Ant-v0``, ...).
        num_envs: Number of parallel sub-environments.
        seed: Seed written to the task config (IsaacLab seeds torch, numpy and warp with it).
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        headless: No viewer (a kit-less 3.x launch opens none anyway).
        physics: IsaacLab 3.x physics preset of the task (``"newton_mjwarp"``, ``"physx"``, ...); ``None`` keeps
            the task's default. Same as the ``physics=NAME`` override of IsaacLab's scripts.
        overrides: More IsaacLab 3.x Hydra-style overrides (``"presets=NAME"``, ``"env.decimation=4"``, ...).
        local_assets: Build and use the offline asset root: ``True``, a folder, ``False``, or ``None`` to read
            ``GENPO_ISAACLAB_LOCAL_ASSETS``. Must be decided before isaaclab is first imported in the process.
        clip_actions: Clamp actions to ``[-clip_actions, clip_actions]``; ``"auto"`` takes the value of the task's
            rsl_rl agent config as IsaacLab's ``train.py`` does (most set none); ``None`` leaves them unbounded.
        critic_group: Observation group to expose as ``extras["critic_observation"]`` (``None``: ignore).
        final_observation: Ask IsaacLab for terminal observations (``extras["final_observation"]``).
        cfg_hook: Called with the parsed env config before the environment is built, to edit it.

    Returns:
        The environment; ``close()`` it before making another IsaacLab environment in the same process.

    Raises:
        IsaacLabUnavailable: When IsaacLab is not installed or does not import (the message says how to install
            it and shows the import error), or the task needs a runtime or module that is not installed
            (Isaac Sim for PhysX, omni.client for remote assets).
        RuntimeError: When another IsaacLab env is open in this process.
        ValueError: For an unknown task id (close matches are named) or a bad option.
    """
    generation = isaaclab_generation()
    if generation is None:
        raise IsaacLabUnavailable(INSTALL_HINT)
    if importlib.util.find_spec("isaaclab_tasks") is None:
        raise IsaacLabUnavailable(f"isaaclab is installed but isaaclab_tasks is not. {INSTALL_HINT_FIX}")
    device = _normalize_device(device)
    if isinstance(overrides, str):
        raise TypeError(f"overrides must be a list of 'key=value' strings, not the bare string {overrides!r}")
    overrides = list(overrides)
    if physics is not None:
        if generation != 3:
            raise ValueError("physics presets need IsaacLab 3.x; IsaacLab 2.x always runs PhysX")
        overrides.append(f"physics={physics}")
    if generation == 3:
        use_local_assets(local_assets)
    elif _local_assets_request(local_assets) is not None:
        raise ValueError("local_assets is supported with IsaacLab 3.x only (2.x reads assets through Isaac Sim)")
    if isinstance(clip_actions, str) and clip_actions != "auto":
        raise ValueError(f"clip_actions must be a number, None or 'auto', got {clip_actions!r}")
    make = _make_v3 if generation == 3 else _make_v2
    env, stop, resolved = make(task, num_envs, seed, device, headless, overrides, cfg_hook, final_observation)
    try:
        if clip_actions == "auto":
            clip_actions = agent_clip_actions(resolved)
        return IsaacLabVecEnv(
            env,
            env_id=f"isaaclab:{resolved}",
            clip_actions=clip_actions,
            critic_group=critic_group,
            final_observation=final_observation,
            on_close=stop,
        )
    except BaseException:
        try:
            env.close()
        finally:
            stop()
        raise


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
    "ISAACLAB2_TO_3",
    "ISAACLAB3_TO_2",
    "LOCAL_ASSETS_ENV",
    "IsaacLabVecEnv",
    "agent_clip_actions",
    "asset_blockers",
    "isaaclab_generation",
    "make_isaaclab_env",
    "resolve_task_id",
    "runtime_blockers",
    "task_id_for_generation",
    "use_local_assets",
]
