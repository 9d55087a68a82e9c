"""On-policy algorithms: the interface the Trainer drives, the shared on-policy step, and their registry.

The :class:`~genpo.training.runner.Trainer` orchestrates the environment, logging and checkpoints; an
algorithm owns everything between an observation and a parameter update, split as rsl_rl splits it:

* ``act(obs, critic_obs) -> action``: sample an action (and keep what the update needs: latent, score, value);
* ``process_env_step(next_obs, next_critic_obs, reward, terminated, truncated, extras)``: reward
  normalization, the time-out bootstrap, storage and the observation normalizers (their distributed branch too);
* ``compute_returns(critic_obs)``: at the end of a rollout (advantages and returns);
* ``update(iteration, remaining) -> diagnostics``: the gradient steps, then an empty rollout.

:class:`OnPolicyAlgorithm` implements the first three with an :class:`Rollout` (composition: a user
algorithm that only changes the update implements ``update`` and keeps them); ``state_dict`` /
``load_state_dict`` carry what a checkpoint restores besides the actor-critic (optimizer, reward normalizer).
Algorithms are chosen with ``algo.name``: a name of :data:`ALGORITHMS`, a dotted path ``pkg.mod:Class`` or an
installed ``genpo.plugins`` entry point ``algorithm.<name>``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import torch
from torch import Tensor

from genpo.registry import Registry
from genpo.training.actor_critic import ActorCritic
from genpo.training.config import AlgoConfig
from genpo.training.distributed import DistInfo, all_reduce_sum
from genpo.training.normalizer import RewardNormalizer
from genpo.training.storage import RolloutStorage


class Rollout:
    """The per-step work every on-policy algorithm of genpo shares, on one actor-critic.

    Holds the rollout storage and the reward normalizer; folds observations into the actor-critic's
    running normalizers (accumulated per step and reduced once per rollout in a distributed job).

    Args:
        ac: The actor-critic acting in the environment.
        cfg: Algorithm settings (``steps_per_env``, ``gamma``, ``lam``, ``normalize_reward``,
            ``freeze_obs_normalizer``).
        num_envs: Sub-environments of this rank.
        device: Where the rollout lives.
        dist: This process's rank info.
    """

    def __init__(
        self, ac: ActorCritic, cfg: AlgoConfig, num_envs: int, device: torch.device, dist: DistInfo | None = None
    ) -> None:
        self.ac, self.cfg, self.dist = ac, cfg, dist or DistInfo()
        policy = ac.policy
        width = ac.critic[0].in_features
        self.storage = RolloutStorage(
            cfg.steps_per_env, num_envs, policy.obs_dim, width, policy.latent_dim, device, policy.score_shape
        )
        self.reward_norm = RewardNormalizer(num_envs, cfg.gamma).to(device) if cfg.normalize_reward else None
        # whether observations update the running statistics (the actor-critic applies them either way)
        self.update_obs_norm = not isinstance(ac.obs_norm, torch.nn.Identity) and not cfg.freeze_obs_normalizer
        self._transition: tuple[Tensor, ...] = ()
        self.score_finite = torch.ones((), dtype=torch.bool, device=device)

    def start(self, obs: Tensor, critic_obs: Tensor, fold: bool = True) -> None:
        """Starts a rollout sequence from fresh episodes' observations (folded into the normalizers if ``fold``)."""
        self.storage.clear()
        if fold:
            self.observe(obs, critic_obs)
            self.flush()

    def act(self, obs: Tensor, critic_obs: Tensor) -> Tensor:
        """Samples the action for raw observations; keeps the transition's latent, score and value."""
        ac = self.ac
        obs_n, critic_n = ac.obs_norm(obs), ac.critic_obs_norm(critic_obs)
        action, latent, score = ac.policy.sample(obs_n)
        value = ac.value(critic_n)
        self._transition = (obs_n, critic_n, latent, score, value)
        return action

    def record(self, reward: Tensor, terminated: Tensor, truncated: Tensor, extras: dict[str, Any]) -> None:
        """Stores the transition :meth:`act` started, with the normalized reward bootstrapped on time-outs."""
        obs_n, critic_n, latent, score, value = self._transition
        self.score_finite &= torch.isfinite(score).all().to(self.score_finite.device)
        reward = reward.to(value.device, torch.float32)
        if self.reward_norm is not None:  # before the bootstrap: V is learned in the scaled units
            reward = self.reward_norm(reward, terminated | truncated, all_reduce_sum, deferred=self.dist.enabled)
        reward = self.bootstrap_time_outs(reward, value, terminated, truncated, extras)
        self.storage.add(obs_n, critic_n, latent, score, value, reward, (terminated | truncated).float())

    def bootstrap_time_outs(
        self, reward: Tensor, value: Tensor, terminated: Tensor, truncated: Tensor, extras: dict[str, Any]
    ) -> Tensor:
        """``r += gamma V(final state)`` where an episode was cut by a time limit, not ended by the task.

        Backends without a final observation fall back to ``V(s_t)`` (as rsl_rl does). On the CPU the
        ``any()`` test is free and skips the extra critic pass on most steps; elsewhere it would be a host
        sync per step, so the bootstrap is computed for every row and selected with ``where``.
        """
        time_out = truncated & ~terminated
        if time_out.device.type == "cpu" and not bool(time_out.any()):
            return reward
        final = extras.get("final_critic_observation" if self.ac.asymmetric else "final_observation")
        boot = value if final is None else self.ac.value(self.ac.critic_obs_norm(final))
        return torch.where(time_out.to(reward.device), reward + self.cfg.gamma * boot, reward)

    def observe(self, obs: Tensor, critic_obs: Tensor) -> None:
        """Folds a step's observations into the running statistics.

        In a distributed job the step's moments are only accumulated, and :meth:`flush` reduces them over
        ranks once per rollout (one collective, not one per environment step).
        """
        if not self.update_obs_norm:
            return
        norms = [(self.ac.obs_norm, obs)] + ([(self.ac.critic_obs_norm, critic_obs)] if self.ac.asymmetric else [])
        for norm, x in norms:
            if self.dist.enabled:
                norm.accumulate(x)
            else:
                norm.update(x)

    def flush(self) -> None:
        """Distributed jobs: one all-reduce of everything the rollout accumulated (no-op in one process)."""
        if not self.dist.enabled:
            return
        if self.update_obs_norm:
            self.ac.obs_norm.flush(all_reduce_sum)
            if self.ac.asymmetric:
                self.ac.critic_obs_norm.flush(all_reduce_sum)
        if self.reward_norm is not None:
            self.reward_norm.stats.flush(all_reduce_sum)

    def compute_returns(self, critic_obs: Tensor) -> None:
        """Reduces the rollout's statistics over ranks, then GAE from the value of the last observation."""
        self.flush()
        last = self.ac.value(self.ac.critic_obs_norm(critic_obs))
        self.storage.compute_returns(last, self.cfg.gamma, self.cfg.lam)

    def rollout_flags(self) -> dict[str, Tensor]:
        """Finiteness of the scores stored since the last call (a device flag; read by the Trainer in one sync)."""
        flags = {"log-probability": self.score_finite}
        self.score_finite = torch.ones_like(self.score_finite)
        return flags

    def state_dict(self) -> dict[str, Any]:
        """``{"reward_norm": ...}`` (None without reward normalization), as checkpoints hold it."""
        return {"reward_norm": None if self.reward_norm is None else self.reward_norm.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores :meth:`state_dict` (a checkpoint without reward statistics keeps fresh ones)."""
        if self.reward_norm is not None and state.get("reward_norm") is not None:
            self.reward_norm.load_state_dict(state["reward_norm"])


class OnPolicyAlgorithm(ABC):
    """Base of the algorithms ``algo.name`` selects; the Trainer calls only the methods below.

    Subclasses implement :meth:`update`; the rollout side comes from a :class:`Rollout` (``self.rollout``),
    which a subclass may replace or extend. A subclass sets ``self.optimizer``: checkpoints save and restore
    its state (:meth:`state_dict`), size estimates read it; other state extends :meth:`state_dict` /
    :meth:`load_state_dict`.

    Args:
        ac: The actor-critic to train.
        cfg: Algorithm settings (the ``algo`` section).
        num_envs: Sub-environments of this rank.
        device: Where the rollout lives.
        dist: This process's rank info.
    """

    optimizer: torch.optim.Optimizer | None = None

    def __init__(
        self, ac: ActorCritic, cfg: AlgoConfig, num_envs: int, device: torch.device, dist: DistInfo | None = None
    ) -> None:
        self.ac, self.cfg, self.dist = ac, cfg, dist or DistInfo()
        self.rollout = Rollout(ac, cfg, num_envs, device, self.dist)

    @property
    def storage(self) -> RolloutStorage:
        """The rollout being collected."""
        return self.rollout.storage

    def start(self, obs: Tensor, critic_obs: Tensor, fold: bool = True) -> None:
        """Called with the observations episodes start from (``fold`` False: restored from a checkpoint)."""
        self.rollout.start(obs, critic_obs, fold)

    def act(self, obs: Tensor, critic_obs: Tensor) -> Tensor:
        """The action for raw observations (called under ``torch.no_grad``)."""
        return self.rollout.act(obs, critic_obs)

    def process_env_step(
        self,
        next_obs: Tensor,
        next_critic_obs: Tensor,
        reward: Tensor,
        terminated: Tensor,
        truncated: Tensor,
        extras: dict[str, Any],
    ) -> None:
        """Records what the environment returned for the last :meth:`act`; folds the new observations in."""
        self.rollout.record(reward, terminated, truncated, extras)
        self.rollout.observe(next_obs, next_critic_obs)

    def compute_returns(self, critic_obs: Tensor) -> None:
        """Ends a rollout: advantages and returns from the last observation's value."""
        self.rollout.compute_returns(critic_obs)

    def rollout_flags(self) -> dict[str, Tensor]:
        """``{quantity: device bool}``: whether what this rollout produced was finite (checked once per rollout)."""
        return self.rollout.rollout_flags()

    @abstractmethod
    def update(self, iteration: int, remaining: float = 1.0) -> dict[str, float]:
        """Trains on the collected rollout, then empties it.

        Args:
            iteration: The iteration (1-based) this update ends.
            remaining: ``1 - env steps done / env step where this invocation's budget ends``, at the update's start
                (for schedules that anneal to 0 over the budget).

        Returns:
            Diagnostics ``{"losses/...": value}`` for the logs.
        """

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint saves besides the actor-critic (top-level checkpoint keys).

        ``optimizer_state`` and ``learning_rate`` (of ``self.optimizer``; empty and 0 without one) and the
        reward statistics; a subclass with more state extends it.
        """
        opt = self.optimizer
        own = {"optimizer_state": {}, "learning_rate": 0.0}
        if opt is not None:
            own = {"optimizer_state": opt.state_dict(), "learning_rate": float(opt.param_groups[0]["lr"])}
        return {**own, **self.rollout.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores :meth:`state_dict` from a checkpoint."""
        if self.optimizer is not None:
            self.optimizer.load_state_dict(state["optimizer_state"])
        self.rollout.load_state_dict(state)


def _algorithm_interface() -> Any:
    from genpo.plugins import Interface

    return Interface(OnPolicyAlgorithm, ("update",))


ALGORITHMS: Registry[type[OnPolicyAlgorithm]] = Registry("algorithm", "algorithm", _algorithm_interface)


def make_algorithm(
    ac: ActorCritic, cfg: AlgoConfig, num_envs: int, device: torch.device, dist: DistInfo | None = None
) -> OnPolicyAlgorithm:
    """The algorithm ``cfg.name`` names, built on ``ac`` (``ConfigError`` lists the registered names)."""
    return ALGORITHMS.get(cfg.name)(ac, cfg, num_envs, device, dist)


# The built-in algorithms register themselves on import.
import genpo.training.ppo  # noqa: E402,F401
