"""The batched, torch-native environment interface every backend implements (modeled on IsaacLab's).

Conventions every backend follows:

* ``reset()`` returns ``(obs [N, observation_dim], extras)``; ``step(action [N, action_dim])`` returns
  ``(obs, reward [N], terminated [N] bool, truncated [N] bool, extras)``, all tensors on ``device``.
* Sub-environments reset themselves inside ``step``: where ``terminated | truncated`` the returned
  ``obs`` already belongs to the next episode.
* ``extras`` keys (all optional except where noted):

  - ``"final_observation"``: ``[N, observation_dim]``, the observation the finished episode ended on
    (valid in rows where ``terminated | truncated``). Trainers bootstrap truncated episodes from it;
    when a backend cannot provide it (IsaacLab), trainers fall back to the pre-step observation,
    as rsl_rl does.
  - ``"critic_observation"`` / ``"final_critic_observation"``: privileged observations for an
    asymmetric critic, width ``critic_observation_dim``.
  - ``"episode"``: ``{"return": Tensor[k], "length": Tensor[k]}`` for the k episodes that ended in
    this step (undiscounted return of the raw reward).
  - ``"log"``: ``{name: float | Tensor}`` backend metrics to log as they are (IsaacLab's ``extras["log"]``).

* Actions are clipped to ``[action_low, action_high]`` inside the backend: log-probabilities stay
  those of the unclipped latent the policy produced.
* Exact resume: :meth:`VecEnv.state_unsupported` says whether :meth:`VecEnv.state_dict` /
  :meth:`VecEnv.load_state_dict` can save and restore the simulation (episodes then continue bit for bit
  after a resume); where they cannot, a resumed run restarts its episodes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import torch
from torch import Tensor

StepResult = tuple[Tensor, Tensor, Tensor, Tensor, dict[str, Any]]


class StateUnsupported(NotImplementedError):
    """:meth:`VecEnv.state_dict` or :meth:`VecEnv.load_state_dict` of an environment that cannot save its state."""


class VecEnv(ABC):
    """A batch of ``num_envs`` environments stepped together.

    Attributes:
        num_envs: Number of sub-environments N.
        observation_dim: Width of the policy observation.
        critic_observation_dim: Width of the critic's privileged observation, or ``None`` when the
            critic reads the policy observation.
        action_dim: Width of the action.
        device: Where returned tensors live.
        action_low: Lower action bounds ``[action_dim]`` or ``None`` (unbounded).
        action_high: Upper action bounds ``[action_dim]`` or ``None``.
        max_episode_length: Steps after which an episode is truncated, if known.
        env_id: The id it was made from (e.g. ``"gym:HalfCheetah-v5"``).
        one_per_process: Whether its backend holds one environment per process at a time (IsaacLab's simulation
            is a process-wide singleton): another can only be made after this one is closed.
    """

    num_envs: int
    observation_dim: int
    critic_observation_dim: int | None = None
    action_dim: int
    device: torch.device
    action_low: Tensor | None = None
    action_high: Tensor | None = None
    max_episode_length: int | None = None
    env_id: str = ""
    one_per_process: bool = False

    @abstractmethod
    def reset(self, seed: int | None = None) -> tuple[Tensor, dict[str, Any]]:
        """Resets every sub-environment; ``seed`` seeds them (sub-env i gets ``seed + i`` where that applies)."""

    @abstractmethod
    def step(self, action: Tensor) -> StepResult:
        """Steps every sub-environment with ``action [N, action_dim]`` (auto-reset inside)."""

    def state_unsupported(self) -> str | None:
        """Why this environment cannot save and restore its state, or ``None`` when it can.

        The default: supported exactly when the subclass implements both :meth:`state_dict` and
        :meth:`load_state_dict`; a backend that supports some tasks only (Gymnasium) overrides it.
        """
        cls = type(self)
        if cls.state_dict is not VecEnv.state_dict and cls.load_state_dict is not VecEnv.load_state_dict:
            return None
        return f"{cls.__name__} does not implement state_dict and load_state_dict"

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue stepping exactly (``torch.load``-able with ``weights_only=True``).

        Raises:
            StateUnsupported: :meth:`state_unsupported` is not None (ask it first).
        """
        name = self.env_id or type(self).__name__
        raise StateUnsupported(f"{name} cannot save its state: {self.state_unsupported()}")

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores :meth:`state_dict`: the next :meth:`step` continues exactly where it was saved.

        Raises:
            StateUnsupported: :meth:`state_unsupported` is not None (ask it first).
        """
        raise StateUnsupported(
            f"{self.env_id or type(self).__name__} cannot restore a saved state: {self.state_unsupported()}"
        )

    def check_action(self, action: Tensor) -> None:
        """Raises ``ValueError`` unless ``action`` is ``[num_envs, action_dim]`` (backends call it in ``step``)."""
        if tuple(action.shape) != (self.num_envs, self.action_dim):
            raise ValueError(
                f"{self.env_id or type(self).__name__} expects actions of shape ({self.num_envs}, {self.action_dim}), "
                f"got {tuple(action.shape)}"
            )

    def close(self) -> None:  # noqa: B027  (optional hook)
        """Releases worker processes, simulators and windows."""

    def __enter__(self) -> VecEnv:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EpisodeTracker:
    """Running undiscounted returns and lengths per sub-environment, for ``extras["episode"]``.

    Args:
        num_envs: Number of sub-environments.
        device: Device of the tensors it receives.
    """

    def __init__(self, num_envs: int, device: torch.device | str = "cpu") -> None:
        self.returns = torch.zeros(num_envs, dtype=torch.float64, device=device)
        self.lengths = torch.zeros(num_envs, dtype=torch.long, device=device)

    def update(self, reward: Tensor, done: Tensor) -> dict[str, Tensor]:
        """Adds one step; returns the stats of the episodes that ended on it and restarts them.

        Args:
            reward: ``[N]`` rewards of this step.
            done: ``[N]`` bool, ``terminated | truncated``.

        Returns:
            ``{"return": float32 [k], "length": long [k]}`` for the k episodes that ended.
        """
        self.returns += reward.to(self.returns.dtype)
        self.lengths += 1
        # Most steps end no episode: skip the boolean-mask indexing (~50 us). On CUDA `any()` syncs, as
        # the trainer's per-step checks already do.
        if not done.any():
            return {
                "return": self.returns.new_empty(0, dtype=torch.float32),
                "length": self.lengths.new_empty(0),
            }
        stats = {"return": self.returns[done].float(), "length": self.lengths[done].clone()}
        self.returns[done] = 0.0
        self.lengths[done] = 0
        return stats
