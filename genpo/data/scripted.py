"""Scripted demonstrators: hand-written experts that ``genpo collect`` runs like trained policies.

``genpo collect --checkpoint scripted:NAME`` runs the demonstrator registered as ``NAME`` in
:data:`DEMONSTRATORS` on its own environment (``genpo list`` shows them). A registered demonstrator is a class
(or factory) with an ``env_id`` attribute, the genpo environment it acts in, called as ``cls(env, generator)``
with that batched environment and a seeded ``torch.Generator``; it returns a :class:`Demonstrator`. A user's
demonstrator registers itself with ``DEMONSTRATORS.add(name, cls, description)`` in a module given to
``genpo collect --plugin``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor

from genpo.envs import VecEnv
from genpo.registry import Registry


@runtime_checkable
class Demonstrator(Protocol):
    """Anything that acts on raw observations, knowing where episodes start."""

    def act(self, obs: Tensor, starts: Tensor) -> Tensor:
        """Actions ``[N, action_dim]`` for raw observations ``[N, obs_dim]``; ``starts [N]`` bool marks sub-environments
        whose episode begins at this observation (a demonstrator with per-episode choices redraws them there)."""
        ...


DEMONSTRATORS: Registry[Callable[[VecEnv, torch.Generator], Demonstrator]] = Registry("scripted demonstrator")
"""Scripted demonstrators by name; each entry has an ``env_id`` attribute (the environment it acts in)."""


class MultiGoalDemonstrator:
    """``builtin:MultiGoal``'s expert: each episode it picks one goal uniformly at random and goes there.

    The first action is ``g - p`` (``p`` the start, the origin: the optimal first action ``a = g``, reward 1), every
    later one ``g - p`` again (zero once there: it stays on the goal). A dataset of it has as many action modes at
    the start observation as the task has goals, each with share ``1 / num_goals``.

    Args:
        env: A :class:`genpo.envs.multigoal.MultiGoalEnv` (its goals and bounds are read).
        generator: Draws the goal of each episode.
    """

    env_id = "builtin:MultiGoal"

    def __init__(self, env: VecEnv, generator: torch.Generator) -> None:
        from genpo.envs.multigoal import MultiGoalEnv

        if not isinstance(env, MultiGoalEnv):
            raise TypeError(f"the MultiGoal demonstrator acts in builtin:MultiGoal, got {type(env).__name__}")
        self.goals = env.goals.detach().cpu()
        self.low, self.high = env.action_low.cpu(), env.action_high.cpu()
        self.generator = generator
        self.choice = torch.zeros(env.num_envs, dtype=torch.long)

    def act(self, obs: Tensor, starts: Tensor) -> Tensor:
        starts = starts.cpu()
        n = int(starts.sum())
        if n:
            self.choice[starts] = torch.randint(len(self.goals), (n,), generator=self.generator)
        pos = obs[:, :2].cpu()
        return torch.minimum(torch.maximum(self.goals[self.choice] - pos, self.low), self.high)


DEMONSTRATORS.add(
    "MultiGoal",
    MultiGoalDemonstrator,
    "builtin:MultiGoal's expert: one of the goals, uniformly at random per episode (as many modes as goals)",
)
