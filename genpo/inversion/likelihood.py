"""Likelihood estimators: parts composed with an integrator to give log|det| of the noise <-> latent map.

An estimator never touches the policy: it receives the integrator, the velocity field bound to
the observations, and a noise or latent batch, and returns the mapped batch with its log-det.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import torch
from torch import Tensor

from genpo.errors import ConfigError
from genpo.inversion.base import Divergence, Integrator, VelocityField, batch_jacobian, logabsdet
from genpo.inversion.probes import keyed_probes
from genpo.registry import Registry


class LikelihoodEstimator(ABC):
    """Computes the log-det of an integrator's map, exactly or by estimation.

    Attributes:
        name: The registry name.
        exact: Whether the result is exact (up to floating point and solver tolerance).
        surrogate: Whether it gives a ratio surrogate instead of a log-det (``cfm``): such an estimator
            has no density; the policy reports its score as ``log_weight`` and refuses ``log_prob``.
    """

    name: ClassVar[str]
    exact: ClassVar[bool] = True
    surrogate: ClassVar[bool] = False

    def compatible(self, integrator: Integrator) -> bool:
        """Whether this estimator can work with ``integrator``."""
        return True

    def sample_by_inverse(self) -> bool:
        """Whether a policy should sample by generating, then estimating the log-prob from the latent.

        True for estimators whose estimate depends on where a solve starts (keyed Hutchinson probes):
        the rollout's log-prob is then the very function the update evaluates.
        """
        return False

    def check(self, integrator: Integrator) -> None:
        """Raises ``ConfigError`` naming the compatible estimators when the pair does not fit."""
        if not self.compatible(integrator):
            ok = [n for n in LIKELIHOODS.names() if LIKELIHOODS.get(n)().compatible(integrator)]
            raise ConfigError(
                f"likelihood estimator {self.name!r} does not work with integrator {integrator.name!r}; "
                f"compatible estimators: {', '.join(ok)}"
            )

    @abstractmethod
    def forward(self, integrator: Integrator, field: VelocityField, noise: Tensor) -> tuple[Tensor, Tensor]:
        """Noise -> (latent, log|det d latent / d noise|)."""

    @abstractmethod
    def inverse(self, integrator: Integrator, field: VelocityField, latent: Tensor) -> tuple[Tensor, Tensor]:
        """Latent -> (noise, log|det d noise / d latent|)."""


class ExactEstimator(LikelihoodEstimator):
    """The integrator's own exact log-det: for EDICT a constant, so one inverse pass and no Jacobian."""

    name = "exact"

    def compatible(self, integrator: Integrator) -> bool:
        return integrator.exact_log_det

    def forward(self, integrator: Integrator, field: VelocityField, noise: Tensor) -> tuple[Tensor, Tensor]:
        return integrator.forward(field, noise)

    def inverse(self, integrator: Integrator, field: VelocityField, latent: Tensor) -> tuple[Tensor, Tensor]:
        return integrator.inverse(field, latent)


class JacobianEstimator(LikelihoodEstimator):
    """Brute force: log|det| of the Jacobian of the whole K-step noise -> latent map (torch.func.jacrev).

    The authors' method; works with every integrator and serves as the test oracle. Costs one
    vector-Jacobian product per latent dimension, on top of the pass itself.
    """

    name = "jacobian"

    def _log_det(self, integrator: Integrator, field: VelocityField, noise: Tensor) -> Tensor:
        jac = batch_jacobian(
            lambda n: integrator.forward(field, n, log_det=False)[0],
            noise,
            vectorize=integrator.functorch_compatible,
        )
        return logabsdet(jac)

    def forward(self, integrator: Integrator, field: VelocityField, noise: Tensor) -> tuple[Tensor, Tensor]:
        latent, _ = integrator.forward(field, noise, log_det=False)
        return latent, self._log_det(integrator, field, noise)

    def inverse(self, integrator: Integrator, field: VelocityField, latent: Tensor) -> tuple[Tensor, Tensor]:
        noise, _ = integrator.inverse(field, latent, log_det=False)
        return noise, -self._log_det(integrator, field, noise)


class _DivergenceEstimator(LikelihoodEstimator):
    """Base of estimators that supply the probability-flow ODE with a divergence."""

    def compatible(self, integrator: Integrator) -> bool:
        return not integrator.exact_log_det

    @abstractmethod
    def divergence(self, x0: Tensor) -> Divergence:
        """The divergence function for one solve starting at ``x0`` (probes, if any, drawn here)."""

    def forward(self, integrator: Integrator, field: VelocityField, noise: Tensor) -> tuple[Tensor, Tensor]:
        return integrator.forward(field, noise, divergence=self.divergence(noise))

    def inverse(self, integrator: Integrator, field: VelocityField, latent: Tensor) -> tuple[Tensor, Tensor]:
        return integrator.inverse(field, latent, divergence=self.divergence(latent))


def _track(x: Tensor) -> Tensor:
    """``x`` itself if autograd already tracks it, else a detached leaf to differentiate through."""
    return x if x.requires_grad else x.detach().requires_grad_(True)


class TraceEstimator(_DivergenceEstimator):
    """Exact divergence: the trace of the velocity Jacobian, from d vector-Jacobian products."""

    name = "trace"

    def divergence(self, x0: Tensor) -> Divergence:
        def div(field: VelocityField, x: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
            outer_grad = torch.is_grad_enabled()
            with torch.enable_grad():
                xg = _track(x)
                v = field(xg, t)
                cols = []
                for i in range(x.shape[-1]):
                    (g,) = torch.autograd.grad(v[:, i].sum(), xg, create_graph=outer_grad, retain_graph=True)
                    cols.append(g[:, i])
            return (v if outer_grad else v.detach()), torch.stack(cols, -1).sum(-1)

        return div


class HutchinsonEstimator(_DivergenceEstimator):
    """Skilling–Hutchinson divergence ``E[eps^T (dv/dx) eps]`` with probes held fixed over one solve.

    Args:
        probe: ``"gaussian"`` or ``"rademacher"``.
        probes: Probes averaged per evaluation.
        seed: With ``keyed``: the hash key (default 0). Without: if set, every solve draws the same probes
            by row position (forward and inverse then cancel exactly); if ``None``, fresh probes from the
            global generator.
        keyed: Probes are a deterministic function of the row a solve starts from
            (:mod:`genpo.inversion.probes`), so a sample's estimate is the same in every call whatever
            batch it is in; the policy then samples by generating and estimating the log-prob from the
            latent, like the update does, and PPO's ratio starts at exactly 1 (without it the first
            minibatch's |log ratio| was up to ~0.8: tests/training/test_ppo_ratio.py).
    """

    name = "hutchinson"
    exact = False
    PROBES = ("gaussian", "rademacher")

    def __init__(self, probe: str = "rademacher", probes: int = 1, seed: int | None = None, keyed: bool = True) -> None:
        if probe not in self.PROBES:
            raise ConfigError(f"unknown probe {probe!r}; choose one of: {', '.join(self.PROBES)}", field="probe")
        if isinstance(probes, bool) or not isinstance(probes, int) or probes < 1:
            raise ConfigError(f"probes must be an integer >= 1, got {probes!r}", field="probes")
        if not isinstance(keyed, bool):
            raise ConfigError(f"keyed must be true or false, got {keyed!r}", field="keyed")
        self.probe, self.probes, self.seed, self.keyed = probe, probes, seed, keyed

    def sample_by_inverse(self) -> bool:
        return self.keyed

    def _draw(self, x0: Tensor) -> Tensor:
        if self.keyed:
            return keyed_probes(x0, self.probes, self.probe, self.seed or 0)
        gen = None
        if self.seed is not None:
            gen = torch.Generator(device=x0.device).manual_seed(self.seed)
        eps = torch.randn((self.probes, *x0.shape), generator=gen, dtype=x0.dtype, device=x0.device)
        return eps.sign() if self.probe == "rademacher" else eps

    def divergence(self, x0: Tensor) -> Divergence:
        eps = self._draw(x0)

        def div(field: VelocityField, x: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
            outer_grad = torch.is_grad_enabled()
            with torch.enable_grad():
                xg = _track(x)
                v = field(xg, t)
                total = x.new_zeros(x.shape[:1])
                for e in eps:
                    (g,) = torch.autograd.grad(v, xg, e, create_graph=outer_grad, retain_graph=True)
                    total = total + (g * e).sum(-1)
            return (v if outer_grad else v.detach()), total / self.probes

        return div


def _likelihood_interface() -> Any:
    from genpo.plugins import Interface

    return Interface(LikelihoodEstimator)


LIKELIHOODS: Registry[type[LikelihoodEstimator]] = Registry("likelihood estimator", "likelihood", _likelihood_interface)
LIKELIHOODS.add("exact", ExactEstimator, "the integrator's own exact log-det (EDICT: closed form, one inverse pass)")
LIKELIHOODS.add("jacobian", JacobianEstimator, "brute-force log|det| of the whole K-step map (torch.func.jacrev)")
LIKELIHOODS.add(
    "hutchinson", HutchinsonEstimator, "pf-ode divergence by Skilling–Hutchinson probes (stochastic; keyed by sample)"
)
LIKELIHOODS.add("trace", TraceEstimator, "pf-ode divergence computed exactly from d vector-Jacobian products")
