"""Rebuild a trained actor-critic from a checkpoint alone (play, export, benchmarks)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from genpo.training.actor_critic import ActorCritic
from genpo.training.checkpoint import CheckpointError, load_checkpoint
from genpo.training.config import TrainConfig, build_actor


def actor_critic_from_checkpoint(
    path: str | Path, device: str | torch.device = "cpu"
) -> tuple[TrainConfig, ActorCritic, dict[str, Any]]:
    """Loads ``path`` and returns its configuration, the restored actor-critic (eval mode) and the raw checkpoint."""
    ckpt = load_checkpoint(path, map_location=device)
    cfg = TrainConfig.from_dict(ckpt["config"])
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
