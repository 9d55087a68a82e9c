"""GenPO's compression loss: pulls the two halves of the doubled latent together."""

from __future__ import annotations

import torch
from einops import rearrange
from torch import Tensor


def compression_loss(latent: Tensor) -> Tensor:
    """Batch mean of ``||x - y||`` (L2 norm) for doubled latents ``z = (x, y)`` of shape ``[B, 2d]``.

    Apply it to fresh samples of the current policy, with gradient: the entropy of the 2d latent is
    fixed, so shrinking ``x - y`` moves the exploration into the direction ``x + y`` — the action.
    """
    if latent.shape[-1] % 2:
        raise ValueError(f"compression loss needs a doubled latent of even width, got width {latent.shape[-1]}")
    x, y = rearrange(latent, "b (two d) -> two b d", two=2)
    return torch.linalg.vector_norm(x - y, dim=-1).mean()
