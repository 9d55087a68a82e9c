"""The integrator interface, its registry, and small numerical helpers shared by integrators and estimators."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar, Protocol

import torch
from torch import Tensor, nn

from genpo.errors import ConfigError
from genpo.registry import Registry

VelocityField = Callable[[Tensor, "float | Tensor"], Tensor]
"""A velocity bound to one batch of observations: ``field(x, t) -> dx/dt``."""


class InversionError(ValueError):
    """An integrator could not invert a latent (e.g. a fixed-point iteration that did not converge)."""


class Divergence(Protocol):
    """Velocity and its divergence at one state: ``div(field, x, t) -> (v, tr dv/dx)``."""

    def __call__(self, field: VelocityField, x: Tensor, t: Tensor) -> tuple[Tensor, Tensor]: ...


class Integrator(ABC):
    """Maps noise to a latent in ``steps`` steps of a velocity field, and back.

    Subclasses implement :meth:`forward` and :meth:`inverse`. Both return the log|det| of the
    Jacobian of the map they apply, so ``log_det_forward + log_det_inverse == 0`` at a round trip.

    Attributes:
        name: The registry name.
        latent_factor: Latent width / action width (2 for the doubled EDICT latent); see :meth:`latent_width`.
        doubled: Whether the latent is two copies of the action (EDICT, reversible solvers): the
            compression loss applies to it.
        ode_sampler: Whether the map integrates the velocity field's ODE on the action itself (euler,
            pf-ode): what the flow-matching surrogate ``cfm`` needs.
        exact_log_det: Whether the integrator computes its log-det itself, exactly, without a
            divergence estimator.
        functorch_compatible: Whether its passes run under ``torch.func`` transforms (``jacrev``);
            if not, :func:`batch_jacobian` falls back to one batched ``torch.autograd.grad``.
        steps: Number of steps K.
    """

    name: ClassVar[str]
    latent_factor: ClassVar[int] = 1
    doubled: ClassVar[bool] = False
    ode_sampler: ClassVar[bool] = False
    exact_log_det: ClassVar[bool] = True
    functorch_compatible: ClassVar[bool] = True

    def __init__(self, steps: int = 5) -> None:
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ConfigError(f"steps must be an integer >= 1, got {steps!r}", field="steps")
        self.steps = steps

    @property
    def dt(self) -> float:
        return 1.0 / self.steps

    def times(self) -> list[float]:
        """The K step start times ``t_k = k / K`` as Python floats (velocity nets cache them)."""
        return [k / self.steps for k in range(self.steps)]

    @abstractmethod
    def forward(
        self, field: VelocityField, noise: Tensor, *, log_det: bool = True, divergence: Divergence | None = None
    ) -> tuple[Tensor, Tensor | None]:
        """Noise ``[B, D]`` -> latent ``[B, D]`` and log|det d latent / d noise| ``[B]`` (None if not asked)."""

    @abstractmethod
    def inverse(
        self, field: VelocityField, latent: Tensor, *, log_det: bool = True, divergence: Divergence | None = None
    ) -> tuple[Tensor, Tensor | None]:
        """Latent ``[B, D]`` -> noise ``[B, D]`` and log|det d noise / d latent| ``[B]`` (None if not asked)."""

    def latent_width(self, action_dim: int) -> int:
        """Width of the latent for actions of width ``action_dim``."""
        return self.latent_factor * action_dim

    def make_parts(self, obs_dim: int, action_dim: int) -> nn.Module | None:
        """Builds the integrator's learnable parts for one policy (a learned noise head), or ``None``.

        The policy registers the returned module, so its parameters are trained, saved and moved with
        the policy's; the integrator keeps a reference and reads it through :meth:`condition`.
        """
        return None

    def condition(self, field: VelocityField, obs: Tensor) -> VelocityField:
        """The field the passes of one observation batch use (default: the bound velocity itself).

        Integrators whose map depends on the observation through more than the velocity (a learned
        noise scale) return a field carrying that too.
        """
        return field

    def to_action(self, latent: Tensor) -> Tensor:
        """The environment action carried by a latent (identity unless the latent is doubled)."""
        return latent

    def describe(self) -> str:
        return f"{self.name}(steps={self.steps})"


def _integrator_interface() -> Any:
    from genpo.plugins import Interface

    return Interface(Integrator)


INTEGRATORS: Registry[type[Integrator]] = Registry("integrator", "integrator", _integrator_interface)


def std_normal_log_prob(x: Tensor) -> Tensor:
    """log N(x; 0, I) summed over the last dimension."""
    return -0.5 * x.pow(2).sum(-1) - 0.5 * x.shape[-1] * math.log(2.0 * math.pi)


def batch_jacobian(fn: Callable[[Tensor], Tensor], x: Tensor, *, vectorize: bool = True) -> Tensor:
    """Per-sample Jacobians ``[B, D_out, D_in]`` of a map that treats batch rows independently.

    Uses ``torch.func.jacrev`` (vmapped vector-Jacobian products) of the batch sum: row ``b`` of the
    output depends on row ``b`` of the input only, so d(sum_b f_b)/dx_b is sample b's Jacobian.
    Works under ``torch.no_grad`` and, when grad is enabled, stays differentiable w.r.t. captured
    parameters.

    Args:
        fn: The row-wise map.
        x: Input batch ``[B, D_in]``.
        vectorize: Use ``torch.func.jacrev``. ``False`` runs ``fn`` under plain autograd and takes
            the ``D_out`` vector-Jacobian products in one batched ``torch.autograd.grad`` call, for
            maps that ``torch.func`` cannot trace (e.g. torchdiffeq solvers, whose
            ``autograd.Function`` lacks ``setup_context``).
    """
    if vectorize:
        jac = torch.func.jacrev(lambda z: fn(z).sum(0))(x)  # [D_out, B, D_in]
        return jac.permute(1, 0, 2)
    create_graph = torch.is_grad_enabled()
    with torch.enable_grad():
        xg = x if x.requires_grad else x.detach().requires_grad_(True)
        y = fn(xg)
        eye = torch.eye(y.shape[-1], dtype=y.dtype, device=y.device)
        cotangents = eye.unsqueeze(1).expand(-1, *y.shape).contiguous()  # [D_out, B, D_out]
        (jac,) = torch.autograd.grad(y, xg, cotangents, is_grads_batched=True, create_graph=create_graph)
    return jac.permute(1, 0, 2)


def logabsdet(matrix: Tensor) -> Tensor:
    """log|det| of a batch of square matrices."""
    return torch.linalg.slogdet(matrix).logabsdet
