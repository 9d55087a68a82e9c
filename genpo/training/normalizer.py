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
        x = x.to(torch.float64)
        stats = torch.cat([x.new_tensor([x.shape[0]]), x.sum(0), x.pow(2).sum(0)])
        if all_reduce is not None:
            stats = all_reduce(stats)
        dim = self.mean.numel()
        n, s, sq = stats[0], stats[1 : 1 + dim], stats[1 + dim :]
        if n <= 0:
            return
        b_mean = s / n
        b_var = (sq / n - b_mean.pow(2)).clamp_min(0.0)
        total = self.count + n
        delta = b_mean - self.mean
        self.mean += delta * n / total
        self.var.copy_((self.var * self.count + b_var * n + delta.pow(2) * self.count * n / total) / total)
        self.count.copy_(total)

    def forward(self, x: Tensor) -> Tensor:
        """Normalizes ``x`` with the current statistics (in ``x``'s dtype)."""
        mean, std = self.mean.to(x.dtype), (self.var + self.eps).sqrt().to(x.dtype)
        return ((x - mean) / std).clamp(-self.clip, self.clip)
