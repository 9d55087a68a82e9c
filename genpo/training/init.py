"""Starting a run from pretrained weights (``run.init``, ``genpo train --init``).

The new run takes the actor and the observation normalizer of a checkpoint (``genpo pretrain``'s or
``genpo train``'s) and starts a fresh critic, optimizer, counters and run folder. What must match is the
network the checkpoint trained: the model, and for a flow the velocity network (``policy.velocity``,
``policy.hidden``, ``policy.activation`` and the velocity network's options); the integrator, the number of
steps and the likelihood estimator may differ, because they all integrate that one network. Learnable parts
an integrator adds (gaussian-chain's learned noise head) are taken where both runs have them and start
fresh otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genpo.errors import ConfigError
from genpo.training.actor_critic import ActorCritic
from genpo.training.checkpoint import CheckpointError
from genpo.training.config import PolicyConfig, TrainConfig
from genpo.training.normalizer import RunningNormalizer

INTEGRATOR_PARTS = "integrator_parts."


def _network_fields(p: dict[str, Any]) -> dict[str, Any]:
    """The fields of a policy section that define the trained network (what an init must keep)."""
    from genpo.models.factory import parts_of

    defaults = PolicyConfig()
    get = lambda name: p.get(name, getattr(defaults, name))  # noqa: E731
    model = get("model")
    out: dict[str, Any] = {"model": model, "hidden": get("hidden"), "activation": get("activation")}
    out["normalize_obs"] = get("normalize_obs")
    options = dict(get("options") or {})
    if model == "flow":
        out["velocity"] = get("velocity")
        try:
            (_, vel_names), *_ = parts_of("flow", out["velocity"], get("integrator"), get("likelihood")).values()
        except ConfigError:  # parts this genpo does not know: keep every option
            vel_names = None
        out["options"] = {k: v for k, v in options.items() if vel_names is None or k in vel_names}
    else:
        out["options"] = options
    return out


def init_layer(checkpoint_config: dict[str, Any]) -> dict[str, Any]:
    """What a run started from a checkpoint takes from its configuration unless told otherwise: the task
    (``env.id``, ``env.options``) and the actor's network fields (the velocity network's options included)."""
    env = checkpoint_config.get("env") or {}
    net = _network_fields(checkpoint_config.get("policy") or {})
    policy = {k: v for k, v in net.items() if k != "options"}
    if net["options"]:
        policy["options"] = net["options"]
    return {"env": {k: env[k] for k in ("id", "options") if k in env}, "policy": policy}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return list(a) == list(b)
    return a == b


def check_init(cfg: TrainConfig, ckpt: dict[str, Any], path: Path) -> None:
    """Refuses, before any work, an init checkpoint of another task or with another network.

    Raises:
        ConfigError: Naming the field (``env.id``, ``policy.<field>``), both values and the checkpoint.
    """
    from genpo.envs import parse_env_id

    old = ckpt["config"]
    where = f"run.init {str(path)!r}"
    old_env = (old.get("env") or {}).get("id")
    if old_env is None or parse_env_id(old_env) != parse_env_id(cfg.env.id):
        raise ConfigError(
            f"{where} was trained on {old_env!r}, this run is on {cfg.env.id!r}: an init must come from the same task",
            field="env.id",
        )
    new_net = _network_fields(cfg.to_dict()["policy"])
    old_net = _network_fields(old.get("policy") or {})
    for name, value in new_net.items():
        if not _same(value, old_net[name]):
            shown = f"policy.options (the velocity network's: {value!r})" if name == "options" else f"policy.{name}"
            raise ConfigError(
                f"{where}: this run sets {shown}={value!r} but the checkpoint's actor has {old_net[name]!r}; a run "
                "started from it keeps the actor's network (integrator, steps and likelihood may change)",
                field=f"policy.{name}",
            )


def apply_init(ac: ActorCritic, ckpt: dict[str, Any], path: str | Path) -> list[str]:
    """Copies the checkpoint's actor (and observation normalizer) into ``ac``; returns the fresh parameters' names.

    Raises:
        CheckpointError: A parameter of the new actor that the checkpoint lacks (other than an integrator's own
            learnable parts) or whose shape differs, named.
    """
    state = ckpt["model_state"]
    src = {k[len("policy.") :]: v for k, v in state.items() if k.startswith("policy.")}
    dst = ac.policy.state_dict()
    missing = [k for k in dst if k not in src and not k.startswith(INTEGRATOR_PARTS)]
    wrong = [
        f"{k} {list(src[k].shape)} vs {list(dst[k].shape)}" for k in dst if k in src and src[k].shape != dst[k].shape
    ]
    if missing or wrong:
        what = f"lacks {', '.join(missing[:4])}" if missing else f"has other shapes: {', '.join(wrong[:4])}"
        raise CheckpointError(f"run.init {str(path)!r} does not fit this actor: the checkpoint {what}")
    fresh = [k for k in dst if k not in src]
    dst.update({k: src[k] for k in dst if k in src})
    ac.policy.load_state_dict(dst)
    if isinstance(ac.obs_norm, RunningNormalizer):
        norm = {k[len("obs_norm.") :]: v for k, v in state.items() if k.startswith("obs_norm.")}
        if norm:
            ac.obs_norm.load_state_dict(norm)
    return fresh
