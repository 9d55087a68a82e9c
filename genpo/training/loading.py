"""Rebuild a trained actor-critic from a checkpoint alone (play, export, benchmarks)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from genpo.plugins import check_checkpoint_imports, env_modules, import_plugins
from genpo.training.actor_critic import ActorCritic
from genpo.training.checkpoint import CheckpointError, load_checkpoint
from genpo.training.config import TrainConfig, build_actor


def actor_critic_from_checkpoint(
    path: str | Path,
    device: str | torch.device = "cpu",
    plugins: Iterable[str] = (),
    env_id: str | None = None,
) -> tuple[TrainConfig, ActorCritic, dict[str, Any]]:
    """Loads ``path`` and returns its configuration, the restored actor-critic (eval mode) and the raw checkpoint.

    Args:
        path: The checkpoint file.
        device: Where tensors go.
        plugins: Modules the user names (``--plugin``): the checkpoint may import these, and installed
            ``genpo.plugins`` entry points, and nothing else (:func:`genpo.plugins.check_checkpoint_imports`).
        env_id: An environment the user names instead of the checkpoint's (its imports are theirs).

    Raises:
        CheckpointError: Missing, unreadable or mismatched checkpoint.
        PluginError: The checkpoint would import a module nobody named, or a named part fails to load.
    """
    ckpt = load_checkpoint(path, map_location=device)
    named = list(plugins)
    if env_id is not None:
        named += env_modules(env_id)
    check_checkpoint_imports(ckpt["config"], named, repr(str(path)), skip_env=env_id is not None)
    cfg = TrainConfig.from_dict(ckpt["config"])
    import_plugins(cfg.run.plugins)
    dims = ckpt.get("dims") or {}
    if not {"obs", "action"} <= set(dims):
        raise CheckpointError(f"checkpoint {str(path)!r} does not record its dimensions")
    policy = build_actor(cfg.policy, dims["obs"], dims["action"])
    ac = ActorCritic(
        policy, dims.get("critic_obs"), list(cfg.policy.critic_hidden), cfg.policy.activation, cfg.policy.normalize_obs
    )
    try:
        ac.load_state_dict(ckpt["model_state"])
    except RuntimeError as exc:
        raise CheckpointError(f"checkpoint {str(path)!r} does not match its own configuration: {exc}") from None
    return cfg, ac.to(device).eval(), ckpt
