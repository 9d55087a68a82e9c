"""FPO's ratio surrogate: conditional flow-matching losses in place of log-likelihoods.

Flow Policy Optimization (McAllister et al.) never computes a density. For a sampled action ``a`` it
draws ``N`` pairs ``(tau_i, eps_i)``, ``tau ~ U(0, 1)``, ``eps ~ N(0, I)``, and scores the policy by its
conditional flow-matching loss on the straight path from ``eps`` (t = 0) to ``a`` (t = 1)::

    x_tau = (1 - tau) eps + tau a,    L_CFM(a) = mean_i || v(x_tau_i, tau_i, s) - (a - eps_i) ||^2

and uses ``log r = L_CFM,old(a) - L_CFM,new(a)`` (the same draws for both) as PPO's log-ratio. The draws
are stored with the action at rollout time, as extra columns of the latent ``[a | u | eps]``, with
``tau = Phi(u)`` for a standard-normal ``u``: the latent stays a standard-normal-shaped tensor, the
deterministic (zero-noise) action is untouched, and old and new provably see the same draws.

This is a surrogate, not a density: ``-L_CFM`` is what the policy reports as its ``log_weight`` and
nothing calls it a log-likelihood (``log_prob`` refuses).
"""

from __future__ import annotations

import torch
from torch import Tensor

from genpo.errors import ConfigError
from genpo.inversion.base import Integrator, VelocityField
from genpo.inversion.likelihood import LIKELIHOODS, LikelihoodEstimator


class NotADensityError(ValueError):
    """Raised when a density is asked of a policy whose ratio is a surrogate (``cfm``)."""


class CFMRatio(LikelihoodEstimator):
    """The FPO surrogate (``--likelihood cfm``): ``N`` stored ``(tau, eps)`` draws per action.

    Works with integrators that sample by integrating the velocity field on the action itself
    (``euler``, ``pf-ode``), whose flow the CFM loss trains.

    Args:
        mc_samples: Draws ``N`` per action (FPO: 8-16).
        per_sample: FPO++'s per-sample ratio: one ratio per draw, ``exp(l_old,i - l_new,i)``, each clipped
            on its own (the surrogate averages the clipped terms), instead of one ratio of the draws' mean
            losses. The rollout then stores ``N`` scores per step instead of one.
    """

    name = "cfm"
    exact = False
    surrogate = True

    def __init__(self, mc_samples: int = 8, per_sample: bool = False) -> None:
        if isinstance(mc_samples, bool) or not isinstance(mc_samples, int) or mc_samples < 1:
            raise ConfigError(f"mc_samples must be an integer >= 1, got {mc_samples!r}", field="mc_samples")
        if not isinstance(per_sample, bool):
            raise ConfigError(f"per_sample must be true or false, got {per_sample!r}", field="per_sample")
        self.mc_samples, self.per_sample = mc_samples, per_sample

    def compatible(self, integrator: Integrator) -> bool:
        return integrator.ode_sampler

    def draw_width(self, action_dim: int) -> int:
        """Columns the draws add to the latent: ``N`` for the ``u`` and ``N d`` for the ``eps``."""
        return self.mc_samples * (1 + action_dim)

    def split(self, latent: Tensor, action_dim: int) -> tuple[Tensor, Tensor, Tensor]:
        """``[B, d + N(1 + d)] -> (a [B, d], tau [B, N], eps [B, N, d])``."""
        n = self.mc_samples
        a, u, eps = latent.split([action_dim, n, n * action_dim], dim=-1)
        tau = torch.special.ndtr(u)
        return a, tau, eps.reshape(latent.shape[0], n, action_dim)

    def loss(self, velocity: VelocityField, obs: Tensor, latent: Tensor, action_dim: int) -> Tensor:
        """CFM loss of the action in ``latent`` with its stored draws: ``[B]`` (mean over draws), or ``[B, N]``
        (one per draw) with ``per_sample``.

        Args:
            velocity: ``velocity(x, t, obs)`` with per-row times ``t`` of shape ``[B * N]``.
            obs: Observations ``[B, obs_dim]``.
            latent: ``[a | u | eps]`` rows.
            action_dim: ``d``.
        """
        a, tau, eps = self.split(latent, action_dim)
        b, n = tau.shape
        tau_f = tau.reshape(b * n)
        eps_f = eps.reshape(b * n, action_dim)
        a_f = a.repeat_interleave(n, dim=0)
        x_tau = (1.0 - tau_f).unsqueeze(-1) * eps_f + tau_f.unsqueeze(-1) * a_f
        v = velocity(x_tau, tau_f, obs.repeat_interleave(n, dim=0))
        per_draw = (v - (a_f - eps_f)).pow(2).sum(-1).reshape(b, n)
        return per_draw if self.per_sample else per_draw.mean(-1)

    def _refuse(self) -> NotADensityError:
        return NotADensityError(
            "likelihood 'cfm' is FPO's ratio surrogate, not a density: there is no log-det or log-prob; "
            "PPO uses policy.log_weight (minus the CFM loss)"
        )

    def forward(self, integrator: Integrator, field: VelocityField, noise: Tensor) -> tuple[Tensor, Tensor]:
        raise self._refuse()

    def inverse(self, integrator: Integrator, field: VelocityField, latent: Tensor) -> tuple[Tensor, Tensor]:
        raise self._refuse()


LIKELIHOODS.add(
    "cfm",
    CFMRatio,
    "FPO ratio SURROGATE, not a density: log r = L_CFM,old − L_CFM,new over mc_samples stored (τ, ε) draws",
)
