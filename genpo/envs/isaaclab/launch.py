"""Launching an IsaacLab task: checks, the 3.x kit-less or 2.x Isaac Sim start, and :func:`make_isaaclab_env`."""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections.abc import Callable, Sequence
from typing import Any

import torch

from genpo.envs.isaaclab.adapter import IsaacLabVecEnv
from genpo.envs.isaaclab.assets import LOCAL_ASSETS_ENV, _local_assets_request, asset_blockers, use_local_assets
from genpo.envs.isaaclab.tasks import agent_clip_actions, isaaclab_generation, registered_tasks, resolve_task_id
from genpo.errors import ConfigError, GenpoError

INSTALL_HINT_FIX = (
    "Install IsaacLab 3.0 with `bash ci/install_isaaclab.sh` (PyPI only, no Isaac "
    "Sim needed), or see docs/isaaclab.md for the exact steps and for IsaacLab 2.x with Isaac Sim."
)
INSTALL_HINT = f"IsaacLab is not installed. {INSTALL_HINT_FIX}"


class IsaacLabUnavailable(GenpoError, RuntimeError):
    """IsaacLab, or a runtime a task needs, is not installed or does not import; the message says how to fix it."""

    exit_code = 2


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


def _normalize_device(device: str | torch.device) -> str:
    """``"cpu"`` or ``"cuda:N"`` (``"cuda"`` means ``"cuda:0"``)."""
    text = str(device)
    if text == "cuda":
        return "cuda:0"
    if text == "cpu" or (text.startswith("cuda:") and text[5:].isdigit()):
        return text
    raise ConfigError(f"IsaacLab device must be 'cpu', 'cuda' or 'cuda:N', got {device!r}")


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
    task = resolve_task_id(task, 3, registered_tasks())
    cfg = parse_env_cfg(task, device=device, num_envs=num_envs, overrides=list(overrides))
    if seed is not None:
        cfg.seed = seed
    if final_observation:
        cfg.compute_final_obs = True
    if cfg_hook is not None:
        cfg_hook(cfg)
    # a stand-in robot that was not built would fail late and obscurely inside IsaacLab (markers and other
    # visual-only files it never loads headless may be missing without harm)
    blockers = runtime_blockers(cfg) + [b for b in asset_blockers(cfg) if "(stand-in " in b]
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
        raise ConfigError("overrides (Hydra-style presets) need IsaacLab 3.x")
    with _importing_isaaclab():
        from isaaclab.app import AppLauncher

    launcher = AppLauncher({"headless": headless, "device": device})
    app = launcher.app
    try:
        import gymnasium as gym
        import isaaclab_tasks  # noqa: F401
        from isaaclab_tasks.utils import parse_env_cfg

        task = resolve_task_id(task, 2, registered_tasks())
        cfg = parse_env_cfg(task, device=device, num_envs=num_envs)
        if seed is not None:
            cfg.seed = seed
        if final_observation:
            if not hasattr(cfg, "compute_final_obs"):
                raise ConfigError("final_observation=True needs an IsaacLab whose configs have compute_final_obs")
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
    robots_dir: str | os.PathLike[str] | None = None,
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
        robots_dir: Folder of public robot descriptions the local asset root builds stand-in robots from (Go2,
            H1, ANYmal D, Shadow hand); ``None`` reads ``GENPO_ROBOTS_DIR``. See docs/isaaclab.md.
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
        ConfigError: For an unknown task id (close matches are named) or a bad option.
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
            raise ConfigError("physics presets need IsaacLab 3.x; IsaacLab 2.x always runs PhysX")
        overrides.append(f"physics={physics}")
    if robots_dir is not None and _local_assets_request(local_assets) is None:
        raise ConfigError(
            f"robots_dir={os.fspath(robots_dir)!r} builds stand-in robots into the offline asset root, which is off: "
            f"set local_assets=true (or {LOCAL_ASSETS_ENV}=1) too"
        )
    if generation == 3:
        use_local_assets(local_assets, robots_dir)
    elif _local_assets_request(local_assets) is not None:
        raise ConfigError("local_assets is supported with IsaacLab 3.x only (2.x reads assets through Isaac Sim)")
    if isinstance(clip_actions, str) and clip_actions != "auto":
        raise ConfigError(f"clip_actions must be a number, None or 'auto', got {clip_actions!r}")
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
