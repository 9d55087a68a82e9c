"""Running observation normalization, saved with the policy and mergeable across processes."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn


class RunningNormalizer(nn.Module):
    """Running mean/variance (Chan et al. parallel update) and ``(x - mean) / sqrt(var + eps)``, clipped.

    Args:
        dim: Feature width.
        eps: Added to the variance.
        clip: Normalized values are clipped to ``[-clip, clip]``.
    """

    def __init__(self, dim: int, eps: float = 1e-8, clip: float = 10.0) -> None:
        super().__init__()
        self.eps, self.clip = eps, clip
        self.register_buffer("mean", torch.zeros(dim, dtype=torch.float64))
        self.register_buffer("var", torch.ones(dim, dtype=torch.float64))
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))

    @torch.no_grad()
    def update(self, x: Tensor, all_reduce: Callable[[Tensor], Tensor] | None = None) -> None:
        """Folds a batch ``[B, dim]`` into the statistics.

        Args:
            x: The batch.
            all_reduce: Sums a tensor over processes (distributed runs), so every rank folds in the
                same global batch and the statistics stay identical.
        """
        if x.shape[0] == 0 and all_reduce is None:
            return
        self._merge(self._moments(x), all_reduce)

    @staticmethod
    def _moments(x: Tensor) -> Tensor:
        """``[count, sum, sum of squares]`` of a batch, in float64 (mergeable by addition)."""
        x = x.to(torch.float64)
        return torch.cat([x.new_tensor([x.shape[0]]), x.sum(0), x.pow(2).sum(0)])

    @torch.no_grad()
    def accumulate(self, x: Tensor) -> None:
        """Adds a batch to pending sums without touching the statistics (see :meth:`flush`)."""
        moments = self._moments(x)
        pending = getattr(self, "_pending", None)
        self._pending = moments if pending is None else pending + moments

    @torch.no_grad()
    def flush(self, all_reduce: Callable[[Tensor], Tensor] | None = None) -> None:
        """Folds the pending sums into the statistics: one ``all_reduce`` for everything accumulated.

        Distributed trainers accumulate every step of a rollout and flush once per iteration, instead of
        one collective per environment step.
        """
        pending = getattr(self, "_pending", None)
        if pending is None:
            pending = self._moments(self.mean.new_zeros(0, self.mean.numel()))
        self._pending = None
        self._merge(pending, all_reduce)

    def _merge(self, stats: Tensor, all_reduce: Callable[[Tensor], Tensor] | None) -> None:
        if all_reduce is not None:
            stats = all_reduce(stats)
        dim = self.mean.numel()
        # A zero count leaves the statistics as they are, without reading it on the host.
        n, s, sq = stats[0].clamp_min(1e-300), stats[1 : 1 + dim], stats[1 + dim :]
        keep = stats[0] > 0
        b_mean = s / n
        b_var = (sq / n - b_mean.pow(2)).clamp_min(0.0)
        total = self.count + n
        delta = b_mean - self.mean
        new_var = (self.var * self.count + b_var * n + delta.pow(2) * self.count * n / total) / total
        self.mean.copy_(torch.where(keep, self.mean + delta * n / total, self.mean))
        self.var.copy_(torch.where(keep, new_var, self.var))
        self.count.copy_(torch.where(keep, total, self.count))

    def forward(self, x: Tensor) -> Tensor:
        """Normalizes ``x`` with the current statistics (in ``x``'s dtype)."""
        mean, std = self.mean.to(x.dtype), (self.var + self.eps).sqrt().to(x.dtype)
        return ((x - mean) / std).clamp(-self.clip, self.clip)


class RewardNormalizer(nn.Module):
    """Reward scaling by the running std of the discounted return (CleanRL's / Gymnasium's ``NormalizeReward``).

    Each sub-environment keeps its discounted return ``G = gamma * G + r`` (reset where an episode
    ended); the reward the learner sees is ``r / sqrt(var(G) + eps)``, clipped to ``[-clip, clip]``.
    The statistics and ``G`` are buffers, so the state is saved with a run and restored on resume.

    Args:
        num_envs: Sub-environments (width of ``G``).
        gamma: Discount of ``G`` (the algorithm's gamma).
        eps: Added to the variance.
        clip: Scaled rewards are clipped to ``[-clip, clip]``.
    """

    def __init__(self, num_envs: int, gamma: float, eps: float = 1e-8, clip: float = 10.0) -> None:
        super().__init__()
        self.gamma, self.eps, self.clip = gamma, eps, clip
        self.stats = RunningNormalizer(1, eps=eps, clip=float("inf"))
        self.register_buffer("discounted", torch.zeros(num_envs, dtype=torch.float64))

    @torch.no_grad()
    def forward(
        self,
        reward: Tensor,
        done: Tensor,
        all_reduce: Callable[[Tensor], Tensor] | None = None,
        deferred: bool = False,
    ) -> Tensor:
        """Folds this step's rewards ``[N]`` into ``G`` and its statistics; returns the scaled rewards.

        Args:
            reward: Raw rewards of this step.
            done: ``terminated | truncated`` of this step (``G`` restarts after it).
            all_reduce: Sums over processes in a distributed run (the statistics stay identical).
            deferred: Only accumulate the statistics; ``stats.flush(all_reduce)`` folds them in later
                (distributed rollouts: one collective per iteration).
        """
        self.discounted.mul_(self.gamma).add_(reward.to(torch.float64))
        if deferred:
            self.stats.accumulate(self.discounted[:, None])
        else:
            self.stats.update(self.discounted[:, None], all_reduce)
        scaled = reward / (self.stats.var[0] + self.eps).sqrt().to(reward.dtype)
        self.discounted.masked_fill_(done.to(self.discounted.device), 0.0)
        return scaled.clamp(-self.clip, self.clip)

    def load_state_dict(self, state: dict[str, Tensor], strict: bool = True, assign: bool = False):  # type: ignore[override]
        """Restores the statistics; a different number of environments restarts ``G`` (episodes restart too)."""
        state = dict(state)
        if state.get("discounted") is not None and state["discounted"].shape != self.discounted.shape:
            state["discounted"] = torch.zeros_like(self.discounted)
        return super().load_state_dict(state, strict=strict, assign=assign)
