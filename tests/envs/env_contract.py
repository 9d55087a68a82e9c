"""The environment contract of :mod:`genpo.envs.base`, as one check any backend can run.

:func:`contract_violations` returns a list of violations (empty when the backend keeps the contract) so that
it runs both under pytest (``tests/envs/test_backends_contract.py``: Gymnasium, built-in tasks, a user factory) and
inside the IsaacLab worker process (``tests/envs/_isaaclab_worker.py``), whose results are JSON.

Checked: reset/step shapes, dtypes and device; actions of the wrong shape refused; auto-reset inside ``step``
with ``extras["episode"]`` returns and lengths equal to the sums of the rewards since the last reset, at least
one finished episode in the budget; ``final_observation`` (where given) of the right shape for the finished
rows; the same seed reproducing the same observations and rewards; and, where a backend claims it
(``state_unsupported()`` is None), a restored state reproducing the next steps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from genpo.envs.base import VecEnv


def _spec(t: Any, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device, what: str) -> list[str]:
    if not isinstance(t, Tensor):
        return [f"{what} is a {type(t).__name__}, not a tensor"]
    out = []
    if tuple(t.shape) != shape:
        out.append(f"{what} has shape {tuple(t.shape)}, expected {shape}")
    if t.dtype != dtype:
        out.append(f"{what} has dtype {t.dtype}, expected {dtype}")
    if t.device != device:
        out.append(f"{what} is on {t.device}, expected {device}")
    return out


def _actions(env: VecEnv, steps: int, seed: int) -> list[Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [(torch.rand(env.num_envs, env.action_dim, generator=gen) * 2 - 1).to(env.device) for _ in range(steps)]


def _rollout(env: VecEnv, actions: list[Tensor]) -> tuple[list[Tensor], list[Tensor]]:
    obs, rewards = [], []
    for a in actions:
        o, r, *_ = env.step(a)
        obs.append(o.clone())
        rewards.append(r.clone())
    return obs, rewards


def _same(a: list[Tensor], b: list[Tensor], atol: float) -> bool:
    return all(torch.allclose(x.double(), y.double(), atol=atol, rtol=0) for x, y in zip(a, b, strict=True))


def contract_violations(
    make: Callable[[], VecEnv],
    *,
    steps: int = 40,
    seed: int = 7,
    reproducible_steps: bool = True,
    atol: float = 1e-5,
) -> list[str]:
    """Runs the contract against a fresh environment from ``make()`` (closed afterwards).

    Args:
        make: Builds the environment (episodes must end within ``steps`` steps of random actions).
        steps: Steps of the main rollout.
        seed: Seed of the resets and of the random actions.
        reproducible_steps: Whether the same seed and actions must reproduce the same rollout (the same seed
            must always reproduce the same reset observation).
        atol: Tolerance of the reproducibility checks.

    Returns:
        One line per violation; empty when the backend keeps the contract.
    """
    env = make()
    bad: list[str] = []
    try:
        n, dev = env.num_envs, torch.device(env.device)
        obs_shape, vec = (n, env.observation_dim), (n,)
        obs, extras = env.reset(seed=seed)
        bad += _spec(obs, obs_shape, torch.float32, dev, "reset observation")
        if not isinstance(extras, dict):
            bad.append(f"reset extras is a {type(extras).__name__}, not a dict")
        if env.critic_observation_dim is not None:
            bad += _spec(
                extras.get("critic_observation"), (n, env.critic_observation_dim), torch.float32, dev, "critic obs"
            )
        try:
            env.step(torch.zeros(n, env.action_dim + 1, device=dev))
            bad.append("an action of the wrong width was accepted")
        except ValueError:
            pass
        obs, _ = env.reset(seed=seed)
        returns = torch.zeros(n, dtype=torch.float64)
        lengths = torch.zeros(n, dtype=torch.long)
        finished = 0
        for i, action in enumerate(_actions(env, steps, seed)):
            obs, reward, terminated, truncated, extras = env.step(action)
            if i == 0:
                bad += _spec(obs, obs_shape, torch.float32, dev, "step observation")
                bad += _spec(reward, vec, torch.float32, dev, "reward")
                bad += _spec(terminated, vec, torch.bool, dev, "terminated")
                bad += _spec(truncated, vec, torch.bool, dev, "truncated")
            done = (terminated | truncated).cpu()
            returns += reward.double().cpu()
            lengths += 1
            ep = extras.get("episode")
            if ep is None:
                bad.append(f"step {i}: no extras['episode']")
                break
            if len(ep["return"]) != int(done.sum()) or len(ep["length"]) != int(done.sum()):
                bad.append(f"step {i}: {len(ep['return'])} episode stats for {int(done.sum())} finished rows")
            elif done.any():
                finished += int(done.sum())
                if not torch.allclose(ep["return"].double().cpu(), returns[done], atol=1e-4, rtol=1e-5):
                    bad.append(f"step {i}: episode returns {ep['return'].tolist()} != {returns[done].tolist()}")
                if not torch.equal(ep["length"].long().cpu(), lengths[done]):
                    bad.append(f"step {i}: episode lengths {ep['length'].tolist()} != {lengths[done].tolist()}")
                final = extras.get("final_observation")
                if final is not None and tuple(final.shape) != obs_shape:
                    bad.append(f"step {i}: final_observation has shape {tuple(final.shape)}, expected {obs_shape}")
            returns[done], lengths[done] = 0.0, 0
        if not finished:
            bad.append(f"no episode ended within {steps} steps: auto-reset was not exercised")

        actions = _actions(env, 8 if reproducible_steps else 0, seed + 1)
        first = (env.reset(seed=seed)[0].clone(), *_rollout(env, actions))
        again = (env.reset(seed=seed)[0].clone(), *_rollout(env, actions))
        if not torch.allclose(first[0], again[0], atol=atol, rtol=0):
            bad.append("reset(seed) twice gave different observations")
        elif not (_same(first[1], again[1], atol) and _same(first[2], again[2], atol)):
            bad.append("the same seed and actions gave a different rollout")

        saved = env.state_dict() if env.state_unsupported() is None else None
        if saved is not None:
            actions = _actions(env, 8, seed + 2)
            ahead = _rollout(env, actions)
            env.load_state_dict(saved)
            replay = _rollout(env, actions)
            if not (_same(ahead[0], replay[0], atol) and _same(ahead[1], replay[1], atol)):
                bad.append("load_state_dict(state_dict()) did not reproduce the next steps")
    finally:
        env.close()
    return bad
