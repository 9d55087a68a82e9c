"""The probability-flow ODE (a continuous normalizing flow), solved with torchdiffeq."""

from __future__ import annotations

import torch
from torch import Tensor
from torchdiffeq import odeint

from genpo.errors import ConfigError
from genpo.inversion.base import INTEGRATORS, Divergence, Integrator, VelocityField

ADAPTIVE = ("dopri5", "dopri8", "bosh3", "fehlberg2", "adaptive_heun")
FIXED = ("rk4", "euler", "midpoint", "explicit_adams", "implicit_adams")


class PFODEIntegrator(Integrator):
    """``dx/dt = v(x, t)`` from t=0 (noise) to t=1 (latent), with ``d log|det|/dt = div v``.

    Adaptive methods (``dopri5`` by default) follow ``rtol``/``atol``; fixed-step methods take
    ``steps`` steps of size 1/K. The log-det needs a divergence (exact trace or Hutchinson), which
    the likelihood estimator supplies: this integrator has no log-det of its own.

    Args:
        steps: Number of steps K of a fixed-step method (ignored by adaptive methods).
        method: A torchdiffeq method name.
        rtol: Relative tolerance of adaptive methods.
        atol: Absolute tolerance of adaptive methods.
    """

    name = "pf-ode"
    ode_sampler = True
    exact_log_det = False
    functorch_compatible = False  # torchdiffeq's autograd.Function has no setup_context

    def __init__(self, steps: int = 5, method: str = "dopri5", rtol: float = 1e-5, atol: float = 1e-5) -> None:
        super().__init__(steps)
        if method not in ADAPTIVE + FIXED:
            raise ConfigError(
                f"unknown pf-ode method {method!r}; choose one of: {', '.join(ADAPTIVE + FIXED)}", field="method"
            )
        if not (rtol > 0 and atol > 0):
            raise ConfigError(
                f"rtol and atol must be > 0, got rtol={rtol!r}, atol={atol!r}", field="atol" if rtol > 0 else "rtol"
            )
        self.method, self.rtol, self.atol = method, rtol, atol

    def _solve(
        self, field: VelocityField, x: Tensor, t0: float, t1: float, log_det: bool, divergence: Divergence | None
    ) -> tuple[Tensor, Tensor | None]:
        ts = torch.tensor([t0, t1], dtype=x.dtype, device=x.device)
        kwargs: dict = {"method": self.method}
        if self.method in ADAPTIVE:
            kwargs.update(rtol=self.rtol, atol=self.atol)
        else:
            kwargs["options"] = {"step_size": self.dt}
        if not log_det:
            return odeint(lambda t, z: field(z, t), x, ts, **kwargs)[-1], None
        if divergence is None:
            raise ValueError(
                "the pf-ode integrator needs a divergence for its log-det: "
                "use likelihood 'trace' (exact) or 'hutchinson' (stochastic), or 'jacobian'"
            )

        def augmented(t: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
            v, div = divergence(field, state[0], t)
            return v, div

        zs, lds = odeint(augmented, (x, x.new_zeros(x.shape[:1])), ts, **kwargs)
        return zs[-1], lds[-1]

    def forward(
        self, field: VelocityField, noise: Tensor, *, log_det: bool = True, divergence: Divergence | None = None
    ) -> tuple[Tensor, Tensor | None]:
        return self._solve(field, noise, 0.0, 1.0, log_det, divergence)

    def inverse(
        self, field: VelocityField, latent: Tensor, *, log_det: bool = True, divergence: Divergence | None = None
    ) -> tuple[Tensor, Tensor | None]:
        # Integrating div v from 1 down to 0 yields log|det d noise / d latent| directly.
        return self._solve(field, latent, 1.0, 0.0, log_det, divergence)

    def describe(self) -> str:
        if self.method in ADAPTIVE:
            return f"pf-ode({self.method}, rtol={self.rtol}, atol={self.atol})"
        return f"pf-ode({self.method}, steps={self.steps})"


INTEGRATORS.add("pf-ode", PFODEIntegrator, "probability-flow ODE via torchdiffeq (dopri5 or fixed-step rk4/euler)")
