"""Flow policy: a velocity network, an integrator and a likelihood estimator, composed."""

from __future__ import annotations

from torch import Tensor

from genpo.inversion.base import Integrator, VelocityField
from genpo.inversion.likelihood import LikelihoodEstimator
from genpo.models.policy import Policy
from genpo.models.velocity import VelocityNet


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
        super().__init__(velocity.obs_dim, velocity.latent_dim, integrator.latent_width(velocity.latent_dim))
        self.velocity, self.integrator, self.estimator = velocity, integrator, estimator
        self.integrator_parts = integrator.make_parts(velocity.obs_dim, velocity.latent_dim)
        self.doubled_latent = integrator.doubled

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

    def extra_repr(self) -> str:
        return f"integrator={self.integrator.describe()}, likelihood={self.estimator.name}"
