"""A user's own flow parts (the "Your own flow model" tutorial): a velocity network and an exactly invertible
integrator with a closed-form log-determinant. Save it as ``myflow.py`` in your working folder."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from genpo.inversion import INTEGRATORS, Integrator
from genpo.inversion.edict import join_halves, split_halves
from genpo.models import VELOCITIES, VelocityNet


class TanhVelocity(VelocityNet):
    """v(x, t, obs): one hidden tanh layer on concat(x, obs, t)."""

    def __init__(self, latent_dim: int, obs_dim: int, width: int = 64) -> None:
        super().__init__()
        self.latent_dim, self.obs_dim = latent_dim, obs_dim
        self.inp = nn.Linear(latent_dim + obs_dim + 1, width)
        self.out = nn.Linear(width, latent_dim)

    def forward(self, x: Tensor, t: float | Tensor, obs: Tensor) -> Tensor:
        tt = torch.as_tensor(t, dtype=x.dtype, device=x.device).reshape(1, 1).expand(x.shape[0], 1)
        return self.out(torch.tanh(self.inp(torch.cat([x, obs, tt], dim=-1))))


class ScaledShearIntegrator(Integrator):
    """K steps of ``x <- p·x + dt·v(y, t); y <- p·y + dt·v(x, t)`` on the doubled latent [x | y].

    Each half-step is triangular with diagonal p, so log|det| = 2·d·K·log p exactly (d: the action width),
    and each half-step is undone in closed form: y <- (y - dt·v(x, t)) / p, then x likewise.
    """

    name = "scaled-shear"
    latent_factor = 2
    doubled = True
    exact_log_det = True

    def __init__(self, steps: int = 5, p: float = 0.9) -> None:
        super().__init__(steps)
        if not 0.0 < p <= 1.0:
            raise ValueError(f"p must be in (0, 1], got {p!r}")
        self.p = p

    def _log_det(self, z: Tensor) -> Tensor:
        return z.new_full((z.shape[0],), z.shape[1] * self.steps * math.log(self.p))

    def forward(self, field, noise: Tensor, *, log_det: bool = True, divergence=None):
        x, y = split_halves(noise)
        for t in self.times():
            x = self.p * x + self.dt * field(y, t)
            y = self.p * y + self.dt * field(x, t)
        return join_halves(x, y), self._log_det(noise) if log_det else None

    def inverse(self, field, latent: Tensor, *, log_det: bool = True, divergence=None):
        x, y = split_halves(latent)
        for t in reversed(self.times()):
            y = (y - self.dt * field(x, t)) / self.p
            x = (x - self.dt * field(y, t)) / self.p
        return join_halves(x, y), -self._log_det(latent) if log_det else None

    def to_action(self, latent: Tensor) -> Tensor:
        x, y = split_halves(latent)
        return 0.5 * (x + y)


# Registered under short names when this module is imported (``--plugin myflow``); a dotted path
# (``--integrator myflow:ScaledShearIntegrator``) needs no registration.
VELOCITIES.add("tanh-mlp", TanhVelocity, "one tanh layer on concat(x, obs, t) (tutorial)")
INTEGRATORS.add("scaled-shear", ScaledShearIntegrator, "shears scaled by p on the doubled latent (tutorial)")
