"""Flow policy: a velocity network, an integrator and a likelihood estimator, composed."""

from __future__ import annotations

import torch
from torch import Tensor

from genpo.errors import ConfigError
from genpo.inversion.base import Integrator, VelocityField, std_normal_log_prob
from genpo.inversion.cfm import CFMRatio
from genpo.inversion.doubled import join_halves
from genpo.inversion.likelihood import LikelihoodEstimator
from genpo.models.policy import Policy
from genpo.models.velocity import VelocityNet
from genpo.objectives.compression import compression_loss
from genpo.objectives.imitation import flow_matching_loss

DOUBLED_DEFAULT = "flow-matching"
"""The default imitation objective of doubled-latent flows (edict, reversible-*): chosen by the measurement in
docs/finetune.md."""


class FlowPolicy(Policy):
    """Noise -> latent by integrating ``velocity`` with ``integrator``; log-det from ``estimator``.

    Args:
        velocity: Network ``v(x, t, obs)`` on latents of the action width.
        integrator: The K-step map (its ``latent_width`` sets the latent width; its learnable parts, if
            any, are built here and owned by the policy as ``integrator_parts``).
        estimator: How the log-det of the map is obtained; must be compatible with ``integrator``.
    """

    def __init__(self, velocity: VelocityNet, integrator: Integrator, estimator: LikelihoodEstimator) -> None:
        estimator.check(integrator)
        super().__init__(velocity.obs_dim, velocity.latent_dim, self._latent_width(integrator, estimator, velocity))
        self.velocity, self.integrator, self.estimator = velocity, integrator, estimator
        self.integrator_parts = integrator.make_parts(velocity.obs_dim, velocity.latent_dim)
        self.doubled_latent = integrator.doubled

    @staticmethod
    def _latent_width(integrator: Integrator, estimator: LikelihoodEstimator, velocity: VelocityNet) -> int:
        return integrator.latent_width(velocity.latent_dim)

    def field(self, obs: Tensor) -> VelocityField:
        """The field every pass for ``obs`` integrates: the bound velocity, conditioned by the integrator."""
        return self.integrator.condition(self.velocity.bind(obs), obs)

    def flow_forward(self, obs: Tensor, noise: Tensor) -> tuple[Tensor, Tensor]:
        return self.estimator.forward(self.integrator, self.field(obs), noise)

    def flow_inverse(self, obs: Tensor, latent: Tensor) -> tuple[Tensor, Tensor]:
        return self.estimator.inverse(self.integrator, self.field(obs), latent)

    def generate_only(self, obs: Tensor, noise: Tensor) -> Tensor:
        return self.integrator.forward(self.field(obs), noise, log_det=False)[0]

    def invert_only(self, obs: Tensor, latent: Tensor) -> Tensor:
        return self.integrator.inverse(self.field(obs), latent, log_det=False)[0]

    def to_action(self, latent: Tensor) -> Tensor:
        return self.integrator.to_action(latent)

    def sample(self, obs: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor]:
        if not self.estimator.sample_by_inverse():
            return super().sample(obs, generator)
        # The estimate depends on where a solve starts: take it from the latent, as the update will.
        self._check("obs", obs, self.obs_dim)
        noise = torch.randn(obs.shape[0], self.latent_dim, generator=generator, dtype=obs.dtype, device=obs.device)
        latent = self.generate_only(obs, noise)
        back, log_det = self.flow_inverse(obs, latent)
        return self.to_action(latent), latent, std_normal_log_prob(back) + log_det

    def extra_repr(self) -> str:
        return f"integrator={self.integrator.describe()}, likelihood={self.estimator.name}"

    # -- imitation --------------------------------------------------------------------------------
    def imitation_objectives(self) -> tuple[str, ...]:
        """``flow-matching`` (conditional flow matching on the velocity network) for every flow; where the
        policy has a density whose latent is the action or its doubled copy, also ``likelihood`` (exact
        maximum likelihood of the latent at ``a``, or at ``(a, a)`` plus the compression term for doubled
        latents) and ``flow-matching+likelihood`` (their sum). The default is listed first."""
        if not (self.is_density and (self.doubled_latent or self.latent_dim == self.action_dim)):
            return ("flow-matching",)
        objectives = ["flow-matching", "likelihood", "flow-matching+likelihood"]
        if self.doubled_latent:
            objectives.remove(DOUBLED_DEFAULT)
            objectives.insert(0, DOUBLED_DEFAULT)
        return tuple(objectives)

    def imitation_loss(
        self, obs: Tensor, actions: Tensor, objective: str | None = None, generator: torch.Generator | None = None
    ) -> Tensor:
        """Flow matching trains the velocity network every integrator of this policy shares (the same network
        fine-tunes with edict, the reversible solvers, gaussian-chain, euler/pf-ode and cfm); ``likelihood``
        maximizes the exact log-density of the latent of the demonstrated action (see
        :meth:`imitation_objectives`)."""
        terms = self.check_objective(objective).split("+")
        loss = obs.new_zeros(())
        if "flow-matching" in terms:
            loss = loss + flow_matching_loss(self.velocity, obs, actions, generator).mean()
        if "likelihood" in terms:
            latent = join_halves(actions, actions) if self.doubled_latent else actions
            loss = loss - self.log_prob(obs, latent).mean()
            if self.doubled_latent:  # pull generated halves together, as GenPO's RL objective does
                noise = torch.randn(obs.shape[0], self.latent_dim, generator=generator, dtype=obs.dtype)
                loss = loss + compression_loss(self.generate_only(obs, noise.to(obs.device)))
        return loss


class CFMFlowPolicy(FlowPolicy):
    """A flow policy trained with FPO's ratio surrogate (``likelihood='cfm'``): no density at all.

    The latent is ``[a | u | eps]``: the sampled action followed by the ``(tau, eps)`` draws of the CFM
    loss (see :mod:`genpo.inversion.cfm`). Generating maps the first ``d`` noise columns through the
    integrator and passes the draws through unchanged, so zero noise still gives the deterministic
    action and export works as for any flow. :meth:`log_weight` is ``-L_CFM``;
    :meth:`~genpo.models.policy.Policy.log_prob` raises.

    Args:
        velocity: Network ``v(x, t, obs)``; must accept per-row times ``t`` of shape ``[B]`` (``mlp``
            and ``resmlp`` do).
        integrator: An ODE sampler (``euler``, ``pf-ode``).
        estimator: The :class:`~genpo.inversion.cfm.CFMRatio`.
    """

    is_density = False

    def __init__(self, velocity: VelocityNet, integrator: Integrator, estimator: CFMRatio) -> None:
        super().__init__(velocity, integrator, estimator)
        self.ratio = estimator
        self.score_shape = (estimator.mc_samples,) if estimator.per_sample else ()
        self._check_per_row_times()

    @torch.no_grad()
    def _check_per_row_times(self) -> None:
        """Refuses, before any work, a velocity network that cannot take one time per row (the draws' tau)."""
        param = next(self.velocity.parameters(), None)
        dtype = param.dtype if param is not None else torch.float32
        x = torch.zeros(2, self.action_dim, dtype=dtype)
        try:
            out = self.velocity(x, torch.tensor([0.25, 0.75], dtype=dtype), torch.zeros(2, self.obs_dim, dtype=dtype))
            ok = tuple(out.shape) == (2, self.action_dim)
        except (RuntimeError, ValueError, TypeError, IndexError):
            ok = False
        if not ok:
            raise ConfigError(
                f"likelihood 'cfm' needs a velocity network that accepts one time per row (t of shape [B]); "
                f"{type(self.velocity).__name__} does not (mlp and resmlp do)"
            )

    @staticmethod
    def _latent_width(integrator: Integrator, estimator: LikelihoodEstimator, velocity: VelocityNet) -> int:
        assert isinstance(estimator, CFMRatio)
        return velocity.latent_dim + estimator.draw_width(velocity.latent_dim)

    def _split(self, z: Tensor) -> tuple[Tensor, Tensor]:
        d = self.action_dim
        return z[:, :d], z[:, d:]

    def generate_only(self, obs: Tensor, noise: Tensor) -> Tensor:
        x0, draws = self._split(noise)
        return torch.cat([self.integrator.forward(self.field(obs), x0, log_det=False)[0], draws], dim=-1)

    def invert_only(self, obs: Tensor, latent: Tensor) -> Tensor:
        a, draws = self._split(latent)
        return torch.cat([self.integrator.inverse(self.field(obs), a, log_det=False)[0], draws], dim=-1)

    def to_action(self, latent: Tensor) -> Tensor:
        return latent[:, : self.action_dim]

    def log_weight(self, obs: Tensor, latent: Tensor) -> Tensor:
        """``-L_CFM`` of the latent's action with its stored draws: ``[B]``, or ``[B, N]`` per draw with
        ``per_sample`` (a surrogate score, not a log-density)."""
        self._check("obs", obs, self.obs_dim)
        self._check("latent", latent, self.latent_dim)
        return -self.ratio.loss(self.velocity, obs, latent, self.action_dim)

    def sample(self, obs: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """Draws ``(action, latent [a | u | eps], -L_CFM)``."""
        self._check("obs", obs, self.obs_dim)
        noise = torch.randn(obs.shape[0], self.latent_dim, generator=generator, dtype=obs.dtype, device=obs.device)
        latent = self.generate_only(obs, noise)
        return self.to_action(latent), latent, self.log_weight(obs, latent)


def flow_policy(velocity: VelocityNet, integrator: Integrator, estimator: LikelihoodEstimator) -> FlowPolicy:
    """The flow policy class the estimator calls for: :class:`~genpo.models.flow.CFMFlowPolicy` for ``cfm``,
    else :class:`FlowPolicy`."""
    if isinstance(estimator, CFMRatio):
        return CFMFlowPolicy(velocity, integrator, estimator)
    return FlowPolicy(velocity, integrator, estimator)
