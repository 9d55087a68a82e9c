"""mp4 of one episode, rendered by MuJoCo's offscreen renderer through Gymnasium."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from genpo.envs import parse_env_id
from genpo.errors import ConfigError, RunFailed
from genpo.training.actor_critic import ActorCritic
from genpo.training.files import atomic_files, ensure_folder, remove_orphans


class VideoError(RunFailed):
    """Recording is not possible here; the message says what is missing."""


def _render_error(exc: Exception) -> VideoError:
    return VideoError(
        f"MuJoCo could not render offscreen with MUJOCO_GL={os.environ['MUJOCO_GL']!r} ({type(exc).__name__}: "
        f"{exc}). Use MUJOCO_GL=egl with a GPU driver, or MUJOCO_GL=osmesa with libosmesa6 installed "
        "(apt-get install libosmesa6)."
    )


@torch.no_grad()
def record_video(
    ac: ActorCritic, env_id: str, out: str | Path, *, deterministic: bool = True, seed: int = 0, max_frames: int = 1000
) -> int:
    """Renders one episode of a Gymnasium task to ``out`` (mp4, 30 fps by default); returns the frame count.

    Needs ``imageio`` with ``imageio-ffmpeg`` (``pip install 'genpo[video]'``) and an OpenGL backend for
    MuJoCo: ``MUJOCO_GL=egl`` on a GPU machine, ``MUJOCO_GL=osmesa`` with ``libosmesa6`` on a CPU machine.
    """
    if isinstance(max_frames, bool) or not isinstance(max_frames, int) or max_frames < 1:
        raise ConfigError(f"the video length (--video-length) must be an integer >= 1, got {max_frames!r}")
    backend, task = parse_env_id(env_id)
    if backend != "gym":
        raise VideoError(f"--video records Gymnasium (MuJoCo) tasks only; {env_id!r} uses the {backend!r} backend")
    out = Path(out)
    ensure_folder(out.parent, "video folder", create=False)  # before rendering: an unwritable path fails first
    try:
        import imageio.v2 as imageio
    except ImportError:
        raise VideoError("--video needs imageio and imageio-ffmpeg: pip install 'genpo[video]'") from None
    os.environ.setdefault("MUJOCO_GL", "egl")
    import gymnasium as gym

    from genpo.envs.gym import resolve_task

    task = resolve_task(task)  # ConfigError for an unknown id (close matches named)
    try:
        env = gym.make(task, render_mode="rgb_array")  # MuJoCo reads MUJOCO_GL here
    except Exception as exc:
        raise _render_error(exc) from None
    obs_dim, act_dim = int(np.prod(env.observation_space.shape)), int(np.prod(env.action_space.shape or (0,)))
    if (obs_dim, act_dim) != (ac.policy.obs_dim, ac.policy.action_dim):
        env.close()
        raise ConfigError(
            f"{env_id} has obs/action dims {obs_dim}/{act_dim}, the policy {ac.policy.obs_dim}/{ac.policy.action_dim}"
        )
    try:
        obs, _ = env.reset(seed=seed)
        frame = env.render()
    except Exception as exc:
        env.close()
        raise _render_error(exc) from None
    fps = int(env.metadata.get("render_fps", 30))
    frames = 0
    dev = next(ac.parameters()).device
    try:
        ensure_folder(out.parent, "video folder")
        remove_orphans(out.parent)
        with atomic_files([out], suffix=".mp4") as (tmp,):  # ffmpeg picks the container by extension
            with imageio.get_writer(tmp, fps=fps, macro_block_size=1) as writer:
                while frames < max_frames:
                    writer.append_data(frame)
                    frames += 1
                    o = ac.obs_norm(torch.as_tensor(obs, dtype=torch.float32, device=dev).reshape(1, -1))
                    act = ac.policy.deterministic_action(o) if deterministic else ac.policy.sample(o)[0]
                    act = act[0].cpu().numpy().clip(env.action_space.low, env.action_space.high)
                    obs, _, terminated, truncated, _ = env.step(act)
                    frame = env.render()
                    if terminated or truncated:
                        break
    finally:
        env.close()
    return frames
