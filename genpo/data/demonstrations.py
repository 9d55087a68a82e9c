"""Demonstrations: observation-action pairs in episodes, validated once, whatever file they came from.

:class:`Demonstrations` is what every loader returns and what imitation code consumes. It is built through
:meth:`Demonstrations.from_arrays`, which refuses what no learner should ever see: an empty dataset, arrays of
different lengths, non-finite values (naming the first row) and wrong shapes. :func:`check_against_env` then
checks it against the environment a policy will act in.

Actions outside the environment's bounds (the rule, also in docs/finetune.md): genpo's environments clip every
action to its bounds, so an action a little outside them is the action the environment executed. Such actions are
**clipped, with a warning** that counts them. An action further outside than one bound range (``high - low``)
beyond a bound is not a rounding matter but a dataset in other units or of another task: it is **refused**,
naming its row.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from genpo.errors import ConfigError


class DemonstrationWarning(UserWarning):
    """A dataset was accepted with a change (actions clipped to the environment's bounds)."""


def _as_tensor(array: Any, name: str, source: str) -> Tensor:
    try:
        out = torch.as_tensor(np.asarray(array), dtype=torch.float32)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: {name} is not a numeric array ({exc})") from None
    return out


def _first_bad_row(x: Tensor) -> int | None:
    bad = ~torch.isfinite(x)
    if bad.dim() > 1:
        bad = bad.flatten(1).any(1)
    rows = bad.nonzero()
    return int(rows[0, 0]) if len(rows) else None


@dataclass(frozen=True, eq=False)  # tensors: compared by identity (== of two datasets would be ambiguous)
class Demonstrations:
    """Demonstrated transitions, in episode order.

    Attributes:
        observations: ``[N, obs_dim]`` float32, the observation each action was taken at.
        actions: ``[N, action_dim]`` float32.
        episode_starts: ``[N]`` bool, True at each episode's first transition (row 0 always).
        rewards: ``[N]`` float32, or ``None`` when the dataset records none.
        env_id: genpo environment id (``"gym:Hopper-v5"``, ``"builtin:MultiGoal"``) if recorded, else ``None``.
        source: What was loaded (dataset id or path), for messages.
        env_options: Options of that environment (``make_env(env_id, **env_options)``), ``{}`` if none recorded.
    """

    observations: Tensor
    actions: Tensor
    episode_starts: Tensor
    rewards: Tensor | None
    env_id: str | None
    source: str
    env_options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_arrays(
        cls,
        observations: Any,
        actions: Any,
        *,
        episode_starts: Any | None = None,
        dones: Any | None = None,
        rewards: Any | None = None,
        env_id: str | None = None,
        source: str = "<arrays>",
        env_options: dict[str, Any] | None = None,
    ) -> Demonstrations:
        """Validated demonstrations from array-likes.

        Args:
            observations: ``[N, obs_dim]`` (a 1-D array is one observation feature per row).
            actions: ``[N, action_dim]`` (likewise).
            episode_starts: ``[N]`` bool; or give ``dones``; neither: the rows are one episode.
            dones: ``[N]`` bool, True where an episode ended (terminated or truncated) at that row.
            rewards: ``[N]`` or ``None``.
            env_id: genpo environment id, if known.
            source: Dataset id or path, for messages.
            env_options: Environment options, if known.

        Raises:
            ConfigError: Empty, different lengths, wrong ranks, or NaN/inf (naming the first row).
        """
        obs = _as_tensor(observations, "observations", source)
        act = _as_tensor(actions, "actions", source)
        tensors = {"observations": obs, "actions": act}
        for name, x in list(tensors.items()):
            if x.dim() == 1:
                x = x.unsqueeze(-1)
            if x.dim() != 2:
                raise ConfigError(
                    f"{source}: {name} must be a [rows, features] array, got shape {tuple(x.shape)} "
                    "(genpo reads flat Box observations and actions)"
                )
            tensors[name] = x
        obs, act = tensors["observations"], tensors["actions"]
        n = len(obs)
        if n == 0 or len(act) == 0:
            raise ConfigError(f"{source}: the dataset is empty (no transitions)")
        if obs.shape[1] == 0 or act.shape[1] == 0:
            raise ConfigError(f"{source}: observations and actions need at least one feature each")
        if len(act) != n:
            raise ConfigError(
                f"{source}: {n} observations but {len(act)} actions; each action needs the observation it was taken at "
                "(a truncated or inconsistent dataset)"
            )
        rew = None
        if rewards is not None:
            rew = _as_tensor(rewards, "rewards", source).reshape(-1)
            if len(rew) != n:
                raise ConfigError(
                    f"{source}: {n} transitions but {len(rew)} rewards (a truncated or inconsistent dataset)"
                )
        for name, x in (("observations", obs), ("actions", act), ("rewards", rew)):
            if x is None:
                continue
            row = _first_bad_row(x)
            if row is not None:
                raise ConfigError(f"{source}: {name} contain NaN or inf, first at row {row}: {x[row].tolist()}")
        if episode_starts is not None:
            starts = torch.as_tensor(np.asarray(episode_starts)).reshape(-1).bool()
            if len(starts) != n:
                raise ConfigError(f"{source}: {n} transitions but {len(starts)} episode-start flags")
            starts = starts.clone()
        elif dones is not None:
            done = torch.as_tensor(np.asarray(dones)).reshape(-1).bool()
            if len(done) != n:
                raise ConfigError(f"{source}: {n} transitions but {len(done)} termination/truncation flags")
            starts = torch.zeros(n, dtype=torch.bool)
            starts[1:] = done[:-1]
        else:
            starts = torch.zeros(n, dtype=torch.bool)
        starts[0] = True
        return cls(obs.contiguous(), act.contiguous(), starts, rew, env_id, str(source), dict(env_options or {}))

    def __len__(self) -> int:
        return len(self.actions)

    @property
    def obs_dim(self) -> int:
        """Width of an observation."""
        return int(self.observations.shape[1])

    @property
    def action_dim(self) -> int:
        """Width of an action."""
        return int(self.actions.shape[1])

    @property
    def num_episodes(self) -> int:
        """Number of episodes (an unfinished last episode counts)."""
        return int(self.episode_starts.sum())

    def episode_index(self) -> Tensor:
        """``[N]`` long: the episode each row belongs to (0-based, in order)."""
        return torch.cumsum(self.episode_starts.long(), 0) - 1

    def episode_returns(self) -> Tensor | None:
        """``[num_episodes]`` float64 sums of rewards per episode, or ``None`` without rewards."""
        if self.rewards is None:
            return None
        out = torch.zeros(self.num_episodes, dtype=torch.float64)
        return out.index_add_(0, self.episode_index(), self.rewards.double())

    def select_episodes(self, episodes: Tensor) -> Demonstrations:
        """The demonstrations of the given episode indices (kept in the order they have in the dataset)."""
        keep = torch.zeros(self.num_episodes, dtype=torch.bool)
        keep[episodes.long()] = True
        rows = keep[self.episode_index()]
        return dataclasses.replace(
            self,
            observations=self.observations[rows],
            actions=self.actions[rows],
            episode_starts=self.episode_starts[rows],
            rewards=None if self.rewards is None else self.rewards[rows],
        )

    def split(self, validation_fraction: float, generator: torch.Generator) -> tuple[Demonstrations, Demonstrations]:
        """Split by whole episodes: ``(train, validation)``, the held-out episodes drawn with ``generator``.

        Args:
            validation_fraction: Share of episodes held out, in [0, 1). At least one episode is held out when the
                fraction is > 0, and at least one is kept for training.
            generator: Draws which episodes are held out.

        Raises:
            ConfigError: A fraction outside [0, 1), or > 0 with a single-episode dataset.
        """
        if isinstance(validation_fraction, bool) or not isinstance(validation_fraction, (int, float)):
            raise ConfigError(f"validation fraction must be a number in [0, 1), got {validation_fraction!r}")
        if not 0 <= validation_fraction < 1:
            raise ConfigError(f"validation fraction must be in [0, 1), got {validation_fraction!r}")
        n = self.num_episodes
        if validation_fraction == 0:
            return self, self.select_episodes(torch.zeros(0, dtype=torch.long))
        if n < 2:
            raise ConfigError(
                f"{self.source}: a validation split needs at least 2 episodes, the dataset has {n} "
                "(use a validation fraction of 0)"
            )
        n_val = min(max(1, round(validation_fraction * n)), n - 1)
        perm = torch.randperm(n, generator=generator)
        return self.select_episodes(perm[n_val:]), self.select_episodes(perm[:n_val])


def check_against_env(
    demos: Demonstrations,
    obs_dim: int,
    action_dim: int,
    action_low: Tensor | None,
    action_high: Tensor | None,
    *,
    env_id: str | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> Demonstrations:
    """Checks demonstrations against an environment; returns them with actions clipped to its bounds.

    Args:
        demos: The demonstrations.
        obs_dim: The environment's observation width.
        action_dim: Its action width.
        action_low: Lower action bounds ``[action_dim]`` (``None``: unbounded).
        action_high: Upper action bounds ``[action_dim]`` (``None``: unbounded).
        env_id: The environment's id, for messages.
        on_warning: Receives the one-line warning when actions are clipped (default: ``warnings.warn`` with a
            :class:`DemonstrationWarning`).

    Raises:
        ConfigError: Dims that differ (naming both), or an action more than one bound range outside the bounds
            (naming its row).
    """
    where = env_id or "the environment"
    if demos.obs_dim != obs_dim or demos.action_dim != action_dim:
        raise ConfigError(
            f"{demos.source} has obs/action dims {demos.obs_dim}/{demos.action_dim}, {where} {obs_dim}/{action_dim}"
        )
    if action_low is None or action_high is None:
        return demos
    low = torch.as_tensor(action_low, dtype=torch.float32).cpu().expand(action_dim)
    high = torch.as_tensor(action_high, dtype=torch.float32).cpu().expand(action_dim)
    below, above = (low - demos.actions).clamp_min(0), (demos.actions - high).clamp_min(0)
    excess = torch.maximum(below, above)
    if not (excess > 0).any():
        return demos
    span = torch.where(torch.isfinite(high - low), high - low, torch.full_like(low, float("inf")))
    gross = (excess > span).any(1).nonzero()
    if len(gross):
        row = int(gross[0, 0])
        raise ConfigError(
            f"{demos.source}: action at row {row} {demos.actions[row].tolist()} lies more than one bound range outside "
            f"{where}'s action bounds [{low.tolist()}, {high.tolist()}] (other units, or another task?)"
        )
    rows = int((excess > 0).any(1).sum())
    message = (
        f"{demos.source}: {rows} of {len(demos)} actions lie outside {where}'s action bounds (by at most "
        f"{float(excess.max()):.3g}); clipped to the bounds, as the environment would"
    )
    if on_warning is None:
        warnings.warn(message, DemonstrationWarning, stacklevel=2)
    else:
        on_warning(message)
    return dataclasses.replace(demos, actions=torch.minimum(torch.maximum(demos.actions, low), high))
