"""Rebuild a trained actor-critic from a checkpoint alone (play, export, benchmarks), and the trust check every
rebuild of a checkpoint's configuration passes first: a checkpoint never imports a module nobody named."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from genpo.errors import PluginError
from genpo.plugins import entry_points, find_entry_point, import_plugins, is_dotted
from genpo.training.actor_critic import ActorCritic
from genpo.training.checkpoint import CheckpointError, load_checkpoint
from genpo.training.config import TrainConfig, build_actor


def installed_modules() -> set[str]:
    """Modules of installed ``genpo.plugins`` entry points (trusted for checkpoints)."""
    return {ep.value.partition(":")[0].strip() for ep in entry_points()}


PART_FIELDS = (
    ("policy", "model"),
    ("policy", "velocity"),
    ("policy", "integrator"),
    ("policy", "likelihood"),
    ("algo", "name"),
)


def env_modules(env_id: object) -> list[str]:
    """Modules an environment id imports: ``pkg.mod:make_env`` (a genpo env factory), Gymnasium's
    ``pkg.mod:EnvId`` bare or as ``gym:pkg.mod:EnvId``; none for built-in and installed backends."""
    from genpo.envs import ENV_BACKENDS

    if not isinstance(env_id, str):
        return []
    backend, sep, task = env_id.partition(":")
    if not sep:
        return []
    if backend in ENV_BACKENDS:
        return [task.rpartition(":")[0]] if backend == "gym" and ":" in task else []
    if find_entry_point("env", backend) is not None:
        return []
    return [backend]


def imports_of(config: dict[str, Any]) -> dict[str, str]:
    """``{module: field}`` for every module rebuilding ``config`` (a nested dict) would import."""
    out: dict[str, str] = {}
    for section, name in PART_FIELDS:
        spec = (config.get(section) or {}).get(name)
        if is_dotted(spec):
            out.setdefault(spec.partition(":")[0], f"{section}.{name}={spec!r}")
    env_id = (config.get("env") or {}).get("id")
    for module in env_modules(env_id):
        out.setdefault(module, f"env.id={env_id!r}")
    for module in (config.get("run") or {}).get("plugins") or []:
        out.setdefault(str(module), f"run.plugins entry {module!r}")
    loggers = (config.get("run") or {}).get("logger") or []
    for spec in [loggers] if isinstance(loggers, str) else loggers:
        for name in str(spec).split(","):
            if is_dotted(name.strip()):
                out.setdefault(name.strip().partition(":")[0], f"run.logger entry {name.strip()!r}")
    return out


def check_checkpoint_imports(
    config: dict[str, Any], named: Iterable[str], source: str, *, skip_env: bool = False
) -> None:
    """Refuses a checkpoint configuration that would import a module nobody named here.

    Args:
        config: The checkpoint's configuration (nested dict), after any user overrides were applied.
        named: Modules the user named in this process (options, ``--plugin``, their own config file).
        source: The checkpoint path, for the message.
        skip_env: The user replaces the checkpoint's ``env.id`` (its modules are not imported).

    Raises:
        PluginError: Naming the field, the module, and how to allow it.
    """
    allowed = set(named) | installed_modules()
    if skip_env:
        config = {**config, "env": {}}
    for module, where in imports_of(config).items():
        if module not in allowed:
            raise PluginError(
                f"checkpoint {source} would import module {module!r} ({where}); genpo imports a module a "
                f"checkpoint names only when you name it too: pass --plugin {module} (Python: plugins=[{module!r}]) "
                "or install it as a genpo.plugins entry point"
            )


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
            ``genpo.plugins`` entry points, and nothing else (:func:`check_checkpoint_imports`).
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
