"""Plain K-step Euler: invertible only while each step is a contraction-perturbed identity."""

from __future__ import annotations

import torch
from torch import Tensor

from genpo.errors import ConfigError
from genpo.inversion.base import (
    INTEGRATORS,
    Divergence,
    Integrator,
    InversionError,
    VelocityField,
    batch_jacobian,
    logabsdet,
)


class EulerIntegrator(Integrator):
    """``x_{k+1} = x_k + dt v(x_k, t_k)`` on a d-dim latent.

    The inverse of a step solves ``x = x_{k+1} - dt v(x, t_k)`` by fixed-point iteration, which
    converges when ``dt * Lip(v) < 1``; otherwise it raises :class:`InversionError`. The converged
    point then takes one Newton step with the step Jacobian, which makes its gradient w.r.t. the
    parameters and ``x_{k+1}`` the implicit-function gradient rather than that of the unrolled loop.
    The log-det sums ``log|det(I + dt J_v)|`` over steps, with ``J_v`` computed exactly.

    Args:
        steps: Number of steps K.
        tol: Convergence tolerance on the max-abs fixed-point update; ``None`` picks one by dtype.
        max_iter: Fixed-point iterations allowed per step.
    """

    name = "euler"
    ode_sampler = True

    def __init__(self, steps: int = 5, tol: float | None = None, max_iter: int = 200) -> None:
        super().__init__(steps)
        if tol is not None and not tol > 0:
            raise ConfigError(f"tol must be > 0, got {tol!r}", field="tol")
        if max_iter < 1:
            raise ConfigError(f"max_iter must be >= 1, got {max_iter!r}", field="max_iter")
        self.tol, self.max_iter = tol, max_iter

    def _step_matrix(self, field: VelocityField, x: Tensor, t: float) -> Tensor:
        eye = torch.eye(x.shape[-1], dtype=x.dtype, device=x.device)
        return eye + self.dt * batch_jacobian(lambda z: field(z, t), x)

    def forward(
        self, field: VelocityField, noise: Tensor, *, log_det: bool = True, divergence: Divergence | None = None
    ) -> tuple[Tensor, Tensor | None]:
        x, total = noise, noise.new_zeros(noise.shape[:1]) if log_det else None
        for t in self.times():
            if log_det:
                total = total + logabsdet(self._step_matrix(field, x, t))
            x = x + self.dt * field(x, t)
        return x, total

    def inverse(
        self, field: VelocityField, latent: Tensor, *, log_det: bool = True, divergence: Divergence | None = None
    ) -> tuple[Tensor, Tensor | None]:
        tol = self.tol if self.tol is not None else (1e-13 if latent.dtype == torch.float64 else 1e-6)
        x_next, total = latent, latent.new_zeros(latent.shape[:1]) if log_det else None
        for k, t in reversed(list(enumerate(self.times()))):
            with torch.no_grad():
                x, target = x_next.detach(), x_next.detach()
                for it in range(self.max_iter):  # noqa: B007  (it is reported below)
                    x_new = target - self.dt * field(x, t)
                    err = (x_new - x).abs().max().item()
                    x = x_new
                    if not torch.isfinite(x).all():
                        err = float("nan")
                        break
                    if err <= tol:
                        break
                if not err <= tol:  # also true for NaN
                    raise InversionError(
                        f"euler inversion did not converge at step {k} after {it + 1} iterations "
                        f"(last update {err:.3g} > tol {tol:.3g}): the fixed point exists when dt·Lip(v) < 1; "
                        f"use more steps (now {self.steps}) or the exactly invertible 'edict' integrator"
                    )
            a = self._step_matrix(field, x, t)
            residual = x + self.dt * field(x, t) - x_next
            x = x - torch.linalg.solve(a.detach(), residual.unsqueeze(-1)).squeeze(-1)
            if log_det:
                # Re-evaluate at the differentiable point so the log-det carries its full gradient.
                a = self._step_matrix(field, x, t) if torch.is_grad_enabled() else a
                total = total - logabsdet(a)
            x_next = x
        return x_next, total


INTEGRATORS.add(
    "euler", EulerIntegrator, "plain K-step Euler; inverse by fixed-point iteration, exact per-step Jacobians"
)
