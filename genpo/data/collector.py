"""``genpo collect``: run a trained policy (or a scripted demonstrator) and write its episodes as a Minari dataset.

Which action is recorded: the one the environment executed. A policy's action (deterministic by default, sampled
with ``stochastic=True``), plus Gaussian noise of standard deviation ``action_noise`` when asked, is clipped to the
environment's action bounds, as the environment clips it; that clipped action is what the dataset holds, next to
the raw observation it was taken at (not the policy's normalized one).

Episodes are spread evenly over the parallel sub-environments (sub-environment i records its first
``episodes // num_envs`` (+1) episodes), so short episodes are not over-represented the way "the first N episodes
to end" would over-represent them.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from genpo.data.scripted import DEMONSTRATORS, Demonstrator
from genpo.data.writer import Episode, resolve_target, write_minari
from genpo.envs import VecEnv, make_env
from genpo.errors import ConfigError, RunFailed

SCRIPTED = "scripted:"
MAX_EPISODES = 10_000_000
DEFAULT_NUM_ENVS = 16


@dataclass(frozen=True)
class CollectResult:
    """What :func:`collect` wrote.

    Attributes:
        path: The dataset folder.
        dataset_id: Its Minari id.
        env_id: The genpo environment id recorded.
        episodes: Episodes written.
        steps: Transitions written.
        returns: ``[episodes]`` undiscounted return of each episode.
        seconds: Wall-clock time of the rollouts and the write.
    """

    path: Path
    dataset_id: str
    env_id: str
    episodes: int
    steps: int
    returns: Tensor
    seconds: float


class PolicyDemonstrator:
    """A trained actor-critic as a demonstrator: deterministic or sampled actions on normalized observations."""

    def __init__(self, ac: Any, stochastic: bool) -> None:
        self.ac, self.stochastic = ac, stochastic
        self.device = next(ac.parameters()).device

    @torch.no_grad()
    def act(self, obs: Tensor, starts: Tensor) -> Tensor:
        obs_n = self.ac.obs_norm(obs.to(self.device))
        policy = self.ac.policy
        return policy.sample(obs_n)[0] if self.stochastic else policy.deterministic_action(obs_n)


def _check_args(episodes: Any, action_noise: Any, num_envs: Any) -> None:
    from genpo.training.config import MAX_NUM_ENVS

    if isinstance(episodes, bool) or not isinstance(episodes, int) or not 1 <= episodes <= MAX_EPISODES:
        raise ConfigError(f"episodes must be an integer in [1, {MAX_EPISODES}], got {episodes!r}", field="episodes")
    if (
        isinstance(action_noise, bool)
        or not isinstance(action_noise, (int, float))
        or not math.isfinite(action_noise)
        or action_noise < 0
    ):
        raise ConfigError(f"action noise must be a finite number >= 0, got {action_noise!r}", field="action_noise")
    if num_envs is not None and (
        isinstance(num_envs, bool) or not isinstance(num_envs, int) or not 1 <= num_envs <= MAX_NUM_ENVS
    ):
        raise ConfigError(f"num_envs must be an integer in [1, {MAX_NUM_ENVS}], got {num_envs!r}", field="num_envs")


def collect(
    checkpoint: str | Path,
    episodes: int,
    out: str | Path,
    *,
    stochastic: bool = False,
    action_noise: float = 0.0,
    seed: int = 0,
    num_envs: int | None = None,
    env_options: dict[str, Any] | None = None,
    device: str = "cpu",
    logdir: str | Path = "logs",
    plugins: Iterable[str] = (),
    progress: Callable[[int, int, float], None] | None = None,
) -> CollectResult:
    """Runs a policy for ``episodes`` whole episodes and writes them as a Minari dataset.

    Args:
        checkpoint: A checkpoint file, run folder or ``latest`` (under ``logdir``), or ``scripted:NAME`` for a
            scripted demonstrator of :data:`genpo.data.scripted.DEMONSTRATORS` (``scripted:MultiGoal``).
        episodes: Episodes to record (>= 1).
        out: Minari dataset id in the local store, or a folder path (see :func:`genpo.data.writer.resolve_target`).
        stochastic: Sample the policy's actions instead of its deterministic (zero-noise) action. Refused for a
            scripted demonstrator, which draws its own choices.
        action_noise: Standard deviation of Gaussian noise added to every action before clipping (0: none).
        seed: Seeds the environments, the policy's sampling, the noise and a scripted demonstrator's choices.
        num_envs: Parallel sub-environments (default: ``min(episodes, 16)``).
        env_options: Environment options, over the checkpoint's own (a scripted demonstrator's environment
            takes them alone), recorded in the dataset.
        device: Device of the policy and environments.
        logdir: Where ``latest`` looks.
        plugins: Modules the checkpoint may import (see :func:`genpo.training.api.load`).
        progress: Called as ``progress(done, total, episode_return)`` after each recorded episode.

    Returns:
        A :class:`CollectResult`.

    Raises:
        ConfigError: Bad counts or noise, an output that exists or is not a valid id, an unknown demonstrator or
            checkpoint, or an environment that does not fit the policy. All before any rollout.
        RunFailed: An episode that does not end, or an environment that gives no final observation.
    """
    from genpo.training import api
    from genpo.training.config import check_device, check_seed

    _check_args(episodes, action_noise, num_envs)
    check_seed(seed, "seed")
    check_device(device, "device")
    target = resolve_target(out)
    n_envs = num_envs or min(episodes, DEFAULT_NUM_ENVS)
    options = dict(env_options or {})
    ckpt_text = str(checkpoint)
    if ckpt_text.startswith(SCRIPTED):
        from genpo.plugins import import_plugins

        import_plugins(plugins)
        name = ckpt_text[len(SCRIPTED) :]
        factory = DEMONSTRATORS.get(name)
        if stochastic:
            raise ConfigError(
                f"--stochastic applies to trained policies; scripted:{name} draws its own choices (use --action-noise "
                "for noise)",
                field="stochastic",
            )
        env_id = str(factory.env_id)
        env = make_env(env_id, n_envs, seed=seed, device=device, **options)
        generator = torch.Generator().manual_seed(seed)
        try:
            demonstrator: Demonstrator = factory(env, generator)
        except (TypeError, ValueError) as exc:
            env.close()
            raise ConfigError(f"scripted:{name}: {exc}") from None
        source = f"scripted demonstrator {name}"
        context: Any = contextlib.nullcontext()
    else:
        ac, cfg = api.load(checkpoint, device=device, logdir=logdir, plugins=plugins)
        env_id = cfg.env.id
        options = {**cfg.env.options, **options}
        env = make_env(env_id, n_envs, seed=seed, device=device, **options)
        if env.observation_dim != ac.policy.obs_dim or env.action_dim != ac.policy.action_dim:
            env.close()
            raise ConfigError(
                f"{env_id} has obs/action dims {env.observation_dim}/{env.action_dim}, the policy "
                f"{ac.policy.obs_dim}/{ac.policy.action_dim}"
            )
        demonstrator = PolicyDemonstrator(ac, stochastic)
        mode = "stochastic" if stochastic else "deterministic"
        source = f"{mode} policy of {api.locate_checkpoint(checkpoint, logdir)}"
        context = ac.policy.static_parameters()  # parameter-only terms computed once for the whole rollout
    t0 = time.perf_counter()
    try:
        with torch.random.fork_rng(devices=[]), context:
            torch.manual_seed(seed)
            recorded = rollout(env, demonstrator, episodes, action_noise=action_noise, seed=seed, progress=progress)
    finally:
        env.close()
    noise = f", action noise {action_noise:g}" if action_noise else ""
    path = write_minari(
        recorded,
        target,
        env_id=env_id,
        env_options=options,
        gym_spec=getattr(env, "gym_spec", None),
        action_low=None if env.action_low is None else env.action_low.cpu().numpy(),
        action_high=None if env.action_high is None else env.action_high.cpu().numpy(),
        description=f"genpo collect: {episodes} episodes of the {source} on {env_id}{noise}, seed {seed}",
    )
    returns = torch.tensor([float(np.sum(e.rewards, dtype=np.float64)) for e in recorded])
    return CollectResult(
        path, target.dataset_id, env_id, len(recorded), sum(len(e) for e in recorded), returns, time.perf_counter() - t0
    )


def rollout(
    env: VecEnv,
    demonstrator: Demonstrator,
    episodes: int,
    *,
    action_noise: float = 0.0,
    seed: int = 0,
    max_steps: int = 100_000,
    progress: Callable[[int, int, float], None] | None = None,
) -> list[Episode]:
    """Records ``episodes`` whole episodes, spread evenly over the sub-environments (see the module docstring).

    Raises:
        RunFailed: An episode still running after ``max_steps`` steps, or no ``final_observation`` from the env.
    """
    n = env.num_envs
    quota = [episodes // n + (i < episodes % n) for i in range(n)]
    taken = [0] * n
    noise_gen = torch.Generator().manual_seed(seed + 1)
    low = None if env.action_low is None else env.action_low.cpu()
    high = None if env.action_high is None else env.action_high.cpu()
    obs, _ = env.reset(seed=seed)
    starts = torch.ones(n, dtype=torch.bool)
    rows: list[dict[str, list[Any]]] = [_empty() for _ in range(n)]
    done_episodes: list[Episode] = []
    steps_in_episode = torch.zeros(n, dtype=torch.long)
    while len(done_episodes) < episodes:
        action = demonstrator.act(obs, starts).detach().float().cpu()
        if action_noise:
            action = action + action_noise * torch.randn(action.shape, generator=noise_gen)
        if low is not None and high is not None:
            action = torch.minimum(torch.maximum(action, low), high)
        next_obs, reward, terminated, truncated, extras = env.step(action.to(env.device))
        obs_np, act_np = obs.detach().cpu().float().numpy(), action.numpy()
        rew_np = reward.detach().cpu().double().numpy()
        term_np, trunc_np = terminated.cpu().numpy(), truncated.cpu().numpy()
        done = terminated | truncated
        done_np = done.cpu().numpy()
        final = extras.get("final_observation") if done_np.any() else None
        if done_np.any() and final is None:
            raise RunFailed(f"{env.env_id} gives no final_observation of a finished episode; genpo collect needs it")
        steps_in_episode += 1
        for i in range(n):
            if taken[i] >= quota[i]:
                continue
            r = rows[i]
            r["obs"].append(obs_np[i])
            r["act"].append(act_np[i])
            r["rew"].append(rew_np[i])
            r["term"].append(bool(term_np[i]))
            r["trunc"].append(bool(trunc_np[i]))
            if done_np[i]:
                last = final[i].detach().cpu().float().numpy()
                episode = Episode(
                    observations=np.stack([*r["obs"], last]),
                    actions=np.stack(r["act"]),
                    rewards=np.asarray(r["rew"]),
                    terminations=np.asarray(r["term"]),
                    truncations=np.asarray(r["trunc"]),
                )
                done_episodes.append(episode)
                taken[i] += 1
                rows[i] = _empty()
                if progress is not None:
                    progress(len(done_episodes), episodes, float(episode.rewards.sum()))
        if int(steps_in_episode.max()) > max_steps:
            raise RunFailed(f"an episode of {env.env_id} did not end within {max_steps} steps")
        steps_in_episode[done.cpu()] = 0
        obs, starts = next_obs, done.cpu()
    return done_episodes


def _empty() -> dict[str, list[Any]]:
    return {"obs": [], "act": [], "rew": [], "term": [], "trunc": []}
