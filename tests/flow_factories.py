"""Shared small factories for the tests: flow policies with O(1) velocities, test velocity fields, cases.

Imported by test modules as ``from flow_factories import ...`` (``tests/`` is on ``sys.path``: see
``tests/conftest.py``). They live here rather than in ``conftest.py`` because several ``conftest.py``
files exist and ``import conftest`` would get whichever pytest loaded last.

Every policy built here is small (hidden ``(64, 64)``) and deterministic (seeded). Flow policies get
their velocity network's last layer rescaled so that velocities are O(1): a fresh init outputs
near-zero velocities, which would make every integrator look exact.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest
import torch
from torch import Tensor, nn

import genpo
from genpo.inversion import INTEGRATORS, LIKELIHOODS
from genpo.inversion.base import VelocityField
from genpo.models import MODELS
from genpo.models.flow import FlowPolicy
from genpo.models.policy import Policy
from genpo.models.velocity import VelocityNet, mlp, scale_output_

F64 = torch.float64
F32 = torch.float32
SMALL = (64, 64)
"""Hidden sizes of every test velocity network unless a test says otherwise."""

PERTURBATION = 0.05
"""Noise added to every parameter of a non-flow model so that its map is not the identity."""

TIGHT_F64 = 1e-9
"""dopri5 rtol/atol for float64 pf-ode tests."""
TIGHT_F32 = 1e-6
"""dopri5 rtol/atol for float32 pf-ode tests (float32 cannot meet float64 tolerances)."""


class SmoothVelocity(VelocityNet):
    """A tanh MLP on ``concat(x, obs, t)``: smooth in ``t``, for adaptive ODE solvers.

    The registered ``mlp`` velocity embeds time with sinusoids of ``1000 t``, so between the K grid
    times it oscillates with periods down to ~6e-3; dopri5 then needs hundreds to thousands of steps.
    Tests of the pf-ode *integrator* use this field instead so they stay fast and tight.

    Args:
        latent_dim: Width of ``x``.
        obs_dim: Width of the observation.
        hidden: Hidden layer widths.
    """

    def __init__(self, latent_dim: int, obs_dim: int, hidden: Sequence[int] = (32, 32)) -> None:
        super().__init__()
        self.latent_dim, self.obs_dim = latent_dim, obs_dim
        self.net = mlp([latent_dim + obs_dim + 1, *hidden, latent_dim], "tanh")

    def forward(self, x: Tensor, t: float | Tensor, obs: Tensor) -> Tensor:
        # A scalar time (solvers, fixed grids) or one per row (the cfm surrogate's draws).
        tt = torch.as_tensor(t, dtype=x.dtype, device=x.device).reshape(-1, 1).expand(x.shape[0], 1)
        return self.net(torch.cat([x, obs, tt], dim=-1))


class LinearVelocity(VelocityNet):
    """``v(x, t, obs) = x A^T``: ignores time and observation; its flows are known in closed form.

    Args:
        a: The ``[d, d]`` matrix ``A`` (becomes a parameter, so gradients can be checked too).
        obs_dim: Width of the (ignored) observation.
    """

    def __init__(self, a: Tensor, obs_dim: int = 1) -> None:
        super().__init__()
        self.latent_dim, self.obs_dim = a.shape[0], obs_dim
        self.a = nn.Parameter(a.clone())

    def forward(self, x: Tensor, t: float | Tensor, obs: Tensor) -> Tensor:
        return x @ self.a.T


def probe_inputs(net: VelocityNet, batch: int = 256, seed: int = 1234) -> tuple[Tensor, Tensor]:
    """Standard-normal ``(x, obs)`` in the net's dtype, from a private generator."""
    gen = torch.Generator().manual_seed(seed)
    dtype = next(net.parameters()).dtype
    x = torch.randn(batch, net.latent_dim, generator=gen, dtype=F64).to(dtype)
    obs = torch.randn(batch, net.obs_dim, generator=gen, dtype=F64).to(dtype)
    return x, obs


@torch.no_grad()
def mean_speed(net: VelocityNet, times: Sequence[float] = (0.0, 0.2, 0.4, 0.6, 0.8)) -> float:
    """Mean |v| over standard-normal latents and observations at the given times."""
    x, obs = probe_inputs(net)
    return float(torch.stack([net(x, t, obs).abs().mean() for t in times]).mean())


def scale_to_speed_(net: VelocityNet, speed: float = 1.0) -> VelocityNet:
    """Rescales the last layer in place so that :func:`mean_speed` equals ``speed``."""
    return scale_output_(net, speed / mean_speed(net))


def count_calls(policy: FlowPolicy) -> list[int]:
    """Wraps ``policy.velocity.bind`` so every field call increments the returned one-element counter."""
    counter = [0]
    bind = policy.velocity.bind

    def counting_bind(obs: Tensor) -> VelocityField:
        field = bind(obs)

        def counted(x: Tensor, t: float | Tensor) -> Tensor:
            counter[0] += 1
            return field(x, t)

        return counted

    policy.velocity.bind = counting_bind  # type: ignore[method-assign]
    return counter


def record_speeds(policy: FlowPolicy) -> list[Tensor]:
    """Wraps ``policy.velocity.bind`` to record mean |v| of every field call (to check O(1) outputs)."""
    speeds: list[Tensor] = []
    bind = policy.velocity.bind

    def recording_bind(obs: Tensor) -> VelocityField:
        field = bind(obs)

        def recorded(x: Tensor, t: float | Tensor) -> Tensor:
            v = field(x, t)
            speeds.append(v.detach().abs().mean())
            return v

        return recorded

    policy.velocity.bind = recording_bind  # type: ignore[method-assign]
    return speeds


def ode_options(integrator: str, likelihood: str, dtype: torch.dtype = F64) -> dict[str, Any]:
    """Options that make a pair testable to tight tolerance: dopri5 tolerances, fixed Hutchinson probes."""
    options: dict[str, Any] = {}
    if integrator == "pf-ode":
        tol = TIGHT_F64 if dtype == F64 else TIGHT_F32
        options.update(method="dopri5", rtol=tol, atol=tol)
    if likelihood == "hutchinson":
        # Same probes by row position in every solve: forward and inverse then cancel exactly.
        options.update(seed=0, keyed=False)
    return options


def make_flow(
    integrator: str = "edict",
    likelihood: str = "exact",
    *,
    obs_dim: int = 3,
    action_dim: int = 2,
    steps: int = 5,
    p: float | None = None,
    hidden: Sequence[int] = SMALL,
    velocity: str = "mlp",
    speed: float = 1.0,
    dtype: torch.dtype = F64,
    init_seed: int = 0,
    **options: Any,
) -> FlowPolicy:
    """A small seeded flow policy whose velocities are O(1).

    Args:
        integrator: Integrator name.
        likelihood: Likelihood estimator name.
        obs_dim: Observation width.
        action_dim: Action width.
        steps: Steps K.
        p: EDICT mixing coefficient (None: the integrator's default; only integrators that take p).
        hidden: Hidden sizes of the ``mlp`` velocity.
        velocity: ``"mlp"`` (the registered network) or ``"smooth"`` (:class:`SmoothVelocity`, for pf-ode).
        speed: Target mean |v| (see :func:`scale_to_speed_`); ``0`` keeps the init.
        dtype: Parameter dtype.
        init_seed: Seed of the initialisation.
        **options: Passed to :func:`genpo.make_policy` (e.g. a Hutchinson ``seed``).
    """
    torch.manual_seed(init_seed)
    vel_kw = {"hidden": tuple(hidden)} if velocity == "mlp" else {}
    policy = genpo.make_policy(
        obs_dim, action_dim, integrator=integrator, likelihood=likelihood, steps=steps, p=p, **vel_kw, **options
    )
    assert isinstance(policy, FlowPolicy)
    if velocity == "smooth":
        policy.velocity = SmoothVelocity(action_dim, obs_dim)
    elif velocity != "mlp":
        raise ValueError(f"test velocity must be 'mlp' or 'smooth', got {velocity!r}")
    policy = policy.to(dtype)
    if speed:
        scale_to_speed_(policy.velocity, speed)
    if policy.integrator_parts is not None:
        # Learned parts (gaussian-chain's noise head) start constant; perturbing them makes them depend on
        # their inputs, which is what the contract and the Jacobian check must see.
        with torch.no_grad():
            for param in policy.integrator_parts.parameters():
                param.add_(0.5 * torch.randn_like(param))
    return policy


# -- enumerating every part -----------------------------------------------------------------------


def flow_pairs(*, surrogates: bool = False) -> list[tuple[str, str]]:
    """Every registered (integrator, likelihood estimator) pair that the estimator accepts.

    Args:
        surrogates: Return the pairs with a ratio surrogate (``cfm``: no density, so outside the
            change-of-variables contract) instead of those with a log-det.
    """
    pairs = []
    for iname in INTEGRATORS.names():
        integ = INTEGRATORS.get(iname)()
        for lname in LIKELIHOODS.names():
            est = LIKELIHOODS.get(lname)()
            if est.surrogate == surrogates and est.compatible(integ):
                pairs.append((iname, lname))
    return pairs


def other_models() -> list[str]:
    """Every registered policy family other than ``flow`` (gaussian, normflows models, ...)."""
    return [m for m in MODELS.names() if m != "flow"]


VARIANTS: dict[str, list[dict[str, Any]]] = {
    "gaussian-chain": [{"noise": "learned", "noise_sees_latent": True}],
    "reversible-rk": [{"tableau": "midpoint", "lam": 0.9}],
}
"""Integrator options tested in addition to the defaults (the contract then covers each mode)."""


@dataclass(frozen=True)
class Case:
    """One policy configuration of the contract: a flow pair (with integrator options) or another model family."""

    model: str
    integrator: str | None = None
    likelihood: str | None = None
    options: tuple[tuple[str, Any], ...] = ()

    @property
    def id(self) -> str:
        if self.model != "flow":
            return self.model
        suffix = "".join(f"-{k}={v}" for k, v in self.options)
        return f"flow-{self.integrator}-{self.likelihood}{suffix}"

    @property
    def stochastic(self) -> bool:
        """Whether the log-det is a stochastic estimate (not comparable with an exact Jacobian)."""
        return self.likelihood is not None and not LIKELIHOODS.get(self.likelihood).exact

    def build(self, *, obs_dim: int = 3, action_dim: int = 2, dtype: torch.dtype = F64, seed: int = 0) -> Policy:
        """The policy of this case, seeded, with O(1) velocities for flows."""
        if self.model == "flow":
            assert self.integrator is not None and self.likelihood is not None
            velocity = "smooth" if self.integrator == "pf-ode" else "mlp"
            options = {**ode_options(self.integrator, self.likelihood, dtype), **dict(self.options)}
            return make_flow(
                self.integrator,
                self.likelihood,
                obs_dim=obs_dim,
                action_dim=action_dim,
                velocity=velocity,
                dtype=dtype,
                init_seed=seed,
                **options,
            )
        torch.manual_seed(seed)
        policy = genpo.make_policy(obs_dim, action_dim, model=self.model)
        # Normalizing flows initialise to (near) the identity; perturbing every parameter makes the map
        # a generic one that moves samples by O(1). Larger noise makes some maps ill-conditioned
        # (MAF's sampling divides by learned scales; nsf-ar at 0.1 loses 5 digits in a round trip).
        with torch.no_grad():
            for param in policy.parameters():
                param.add_(PERTURBATION * torch.randn_like(param))
        return policy.to(dtype)

    def tolerance(self, dtype: torch.dtype) -> float:
        """Round-trip / log-det cancellation tolerance of this case in ``dtype``."""
        if self.integrator == "pf-ode":
            return 1e-6 if dtype == F64 else 1e-3
        if self.model != "flow":
            # Autoregressive spline inversion (nsf-ar) loses ~3 more digits than the others in float32.
            return 1e-10 if dtype == F64 else 1e-3
        return 1e-10 if dtype == F64 else 1e-4


def policy_cases() -> list[Case]:
    """Every flow pair (plus its :data:`VARIANTS`) and every other registered model (new registrations are
    picked up automatically)."""
    flows = []
    for i, lk in flow_pairs():
        flows.append(Case("flow", i, lk))
        flows += [Case("flow", i, lk, tuple(sorted(v.items()))) for v in VARIANTS.get(i, [])]
    return flows + [Case(m) for m in other_models()]


def surrogate_cases() -> list[Case]:
    """Every flow pair whose ratio is a surrogate (``cfm``, also with FPO++'s per-draw ratio), for the tests
    that need no density."""
    cases = []
    for i, lk in flow_pairs(surrogates=True):
        cases += [Case("flow", i, lk), Case("flow", i, lk, (("per_sample", True),))]
    return cases


def case_params(cases: list[Case]) -> list[Any]:
    """``pytest.param`` objects with readable ids."""
    return [pytest.param(c, id=c.id) for c in cases]


def batch_inputs(policy: Policy, batch: int, *, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Seeded ``(obs, noise)`` in the policy's dtype."""
    gen = torch.Generator().manual_seed(seed)
    dtype = next(policy.parameters()).dtype
    obs = torch.randn(batch, policy.obs_dim, generator=gen, dtype=F64).to(dtype)
    noise = torch.randn(batch, policy.latent_dim, generator=gen, dtype=F64).to(dtype)
    return obs, noise


def autograd_log_prob(policy: Policy, obs: Tensor, noise: Tensor, *, coupling: float = 0.0) -> Tensor:
    """log N(noise) - log|det d generate / d noise| with the Jacobian from torch.autograd.functional.

    Also checks that rows are independent: off-diagonal blocks of the full Jacobian are at most
    ``coupling`` in absolute value (0 for row-wise maps; adaptive ODE solvers pick one step size
    for the whole batch, which couples rows at the level of the solver tolerance).
    """
    full = torch.autograd.functional.jacobian(lambda n: policy.generate(obs, n), noise)  # [B, D, B, D]
    b = noise.shape[0]
    blocks = torch.stack([full[i, :, i, :] for i in range(b)])
    mask = ~torch.eye(b, dtype=torch.bool).view(b, 1, b, 1).expand_as(full)
    if b > 1:
        cross = full[mask].abs().max().item()
        assert cross <= coupling, f"rows of the batch are not independent: cross-row derivative {cross:.3g}"
    log_det = torch.linalg.slogdet(blocks).logabsdet
    return -0.5 * noise.pow(2).sum(-1) - 0.5 * noise.shape[-1] * math.log(2 * math.pi) - log_det
