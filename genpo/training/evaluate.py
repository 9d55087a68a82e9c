"""Policy evaluation: returns of whole episodes, deterministic or stochastic."""

from __future__ import annotations

import torch
from torch import Tensor

from genpo.envs import VecEnv
from genpo.training.actor_critic import ActorCritic


@torch.no_grad()
def evaluate(
    ac: ActorCritic, env: VecEnv, *, deterministic: bool = True, seed: int | None = None, max_steps: int = 100_000
) -> Tensor:
    """Runs the first episode of every sub-environment to its end and returns their returns ``[num_envs]``.

    Taking exactly one episode per sub-environment avoids the bias toward short episodes that
    "the first N episodes to finish" has.

    Raises:
        RuntimeError: If some episode has not ended after ``max_steps`` steps.
    """
    obs, _ = env.reset(seed=seed)
    returns = torch.full((env.num_envs,), float("nan"))
    running = torch.zeros(env.num_envs, dtype=torch.float64)
    finished = torch.zeros(env.num_envs, dtype=torch.bool)
    dev = next(ac.parameters()).device
    with ac.policy.static_parameters():
        for _ in range(max_steps):
            obs_n = ac.obs_norm(obs.to(dev))
            action = ac.policy.deterministic_action(obs_n) if deterministic else ac.policy.sample(obs_n)[0]
            obs, reward, terminated, truncated, _ = env.step(action)
            running += reward.double().cpu()
            done = (terminated | truncated).cpu() & ~finished
            returns[done] = running[done].float()
            finished |= done
            if finished.all():
                return returns
    raise RuntimeError(f"{int((~finished).sum())} episode(s) did not end within {max_steps} steps")
