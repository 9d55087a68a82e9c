"""The doubled latent ``z = (x, y)`` shared by EDICT and the reversible solvers."""

from __future__ import annotations

import torch
from einops import rearrange
from torch import Tensor

from genpo.inversion.base import Integrator


def split_halves(z: Tensor) -> tuple[Tensor, Tensor]:
    """``[B, 2d] -> ([B, d], [B, d])``: the x and y halves of a doubled latent."""
    x, y = rearrange(z, "b (two d) -> two b d", two=2)
    return x, y


def join_halves(x: Tensor, y: Tensor) -> Tensor:
    """Inverse of :func:`split_halves`."""
    return rearrange([x, y], "two b d -> b (two d)")


class DoubledIntegrator(Integrator):
    """Base of integrators on a doubled latent: two copies of the action, both drawn ``N(0, I)``.

    The environment receives the mean of the halves; the compression loss pulls them together.
    """

    latent_factor = 2
    doubled = True

    def to_action(self, latent: Tensor) -> Tensor:
        x, y = split_halves(latent)
        return 0.5 * (x + y)

    def gap(self, latent: Tensor) -> Tensor:
        """``||x - y||`` per sample: what the compression loss pulls to zero."""
        x, y = split_halves(latent)
        return torch.linalg.vector_norm(x - y, dim=-1)
