"""Imitation losses: conditional flow matching for velocity networks, and a sample distance for checking.

The policy families declare which of these they use (:meth:`genpo.models.policy.Policy.imitation_loss`);
``genpo pretrain`` only calls that method.
"""

from __future__ import annotations

import torch
from torch import Tensor

from genpo.inversion.base import VelocityField


def flow_matching_loss(
    velocity: VelocityField | torch.nn.Module,
    obs: Tensor,
    actions: Tensor,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Conditional flow matching on the linear path from noise (t = 0) to the action (t = 1): ``[B]``.

    ``x_t = (1 - t) x_0 + t a`` with ``x_0 ~ N(0, I)`` and ``t ~ U[0, 1]`` per row; the target velocity is
    ``a - x_0``, and the loss of a row is ``||v(x_t, t, s) - (a - x_0)||^2`` (summed over the action's
    dimensions, as FPO's ratio surrogate does). Minimizing it makes the velocity network's ODE transport
    ``N(0, I)`` onto the demonstrated actions' conditional distribution.

    Args:
        velocity: ``velocity(x, t, obs)`` accepting one time per row (``t`` of shape ``[B]``).
        obs: Observations ``[B, obs_dim]``.
        actions: Demonstrated actions ``[B, d]``.
        generator: Random stream of the noise and the times.
    """
    b = actions.shape[0]
    x0 = torch.randn(actions.shape, generator=generator, dtype=actions.dtype, device=actions.device)
    t = torch.rand(b, generator=generator, dtype=actions.dtype, device=actions.device)
    xt = (1.0 - t).unsqueeze(-1) * x0 + t.unsqueeze(-1) * actions
    v = velocity(xt, t, obs)
    return (v - (actions - x0)).pow(2).sum(-1)


def sliced_wasserstein(x: Tensor, y: Tensor, projections: int = 128, generator: torch.Generator | None = None) -> float:
    """Sliced 2-Wasserstein distance between two equal-size samples ``[n, d]``.

    Both samples are projected on ``projections`` random unit directions; on each, the 1-D W2 distance
    is the root mean square of the sorted projections' differences. Returns the root of the mean squared
    distance over directions (0 for identical samples; for two point masses it is ``|mu_x - mu_y|``
    times the root mean square of a random direction's cosine, ``1/sqrt(d)``).
    """
    if x.shape != y.shape or x.dim() != 2:
        raise ValueError(f"need two samples of the same shape [n, d], got {list(x.shape)} and {list(y.shape)}")
    dirs = torch.randn(x.shape[1], projections, generator=generator, dtype=torch.float64)
    dirs = dirs / dirs.norm(dim=0, keepdim=True)
    px = (x.double().cpu() @ dirs).sort(dim=0).values
    py = (y.double().cpu() @ dirs).sort(dim=0).values
    return float((px - py).pow(2).mean().sqrt())
