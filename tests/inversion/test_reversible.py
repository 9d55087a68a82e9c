"""Reversible Heun and the McCallum–Foster reversible RK wrapper: closed-form log-dets, round trips, order.

The shared contract (tests/inversion/test_contract.py) and the float64 autograd-Jacobian check
(tests/inversion/test_likelihood.py) cover both through the registry; here: float32 round trips at a
realistic batch, the log-det constants, network-evaluation counts, option errors, and the
convergence order on a linear field whose flow is ``x_0 expm(A)^T``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from flow_factories import F32, F64, LinearVelocity, batch_inputs, count_calls, make_flow

from genpo.inversion import (
    INTEGRATORS,
    TABLEAUS,
    EdictIntegrator,
    ExactEstimator,
    JacobianEstimator,
    ReversibleHeunIntegrator,
    ReversibleRKIntegrator,
)
from genpo.models.flow import FlowPolicy

pytestmark = pytest.mark.usefixtures("one_thread")

REVERSIBLE = [
    pytest.param("reversible-heun", {}, id="heun"),
    pytest.param("reversible-rk", {}, id="rk4"),
    pytest.param("reversible-rk", {"tableau": "midpoint", "lam": 0.9}, id="midpoint-lam0.9"),
]


@pytest.mark.parametrize(("name", "options"), REVERSIBLE)
def test_float32_round_trip_at_batch_4096(name: str, options: dict) -> None:
    policy = make_flow(name, "exact", obs_dim=8, action_dim=8, dtype=F32, **options)
    obs, noise = batch_inputs(policy, 4096, seed=0)
    with torch.no_grad():
        latent, ld_f = policy.flow_forward(obs, noise)
        back, ld_i = policy.flow_inverse(obs, latent)
    assert (latent - noise).abs().mean() > 0.5  # O(1) velocities: the map moves samples
    assert (back - noise).abs().max().item() < 2e-5
    assert torch.equal(ld_f, -ld_i)


@pytest.mark.parametrize(("tableau", "lam", "steps", "d"), [("rk4", 0.999, 5, 2), ("midpoint", 0.5, 3, 4)])
def test_reversible_rk_log_det_is_k_d_log_lam(tableau: str, lam: float, steps: int, d: int) -> None:
    policy = make_flow("reversible-rk", "exact", action_dim=d, steps=steps, tableau=tableau, lam=lam)
    obs, noise = batch_inputs(policy, 3)
    _, ld = policy.flow_forward(obs, noise)
    torch.testing.assert_close(ld, torch.full((3,), steps * d * math.log(lam), dtype=F64))


def test_reversible_heun_preserves_volume_and_its_jacobian_agrees() -> None:
    policy = make_flow("reversible-heun", "exact", action_dim=3)
    jac = FlowPolicy(policy.velocity, policy.integrator, JacobianEstimator())
    obs, noise = batch_inputs(policy, 4, seed=3)
    _, ld = policy.flow_forward(obs, noise)
    _, ld_jac = jac.flow_forward(obs, noise)
    assert torch.equal(ld, torch.zeros(4, dtype=F64))
    assert ld_jac.abs().max().item() < 1e-10


@pytest.mark.parametrize(
    ("name", "options", "per_pass"),
    [
        ("reversible-heun", {}, lambda k: k + 1),
        ("reversible-rk", {"tableau": "rk4"}, lambda k: 8 * k),
        ("reversible-rk", {"tableau": "midpoint"}, lambda k: 4 * k),
    ],
)
def test_network_evaluations_per_pass(name: str, options: dict, per_pass) -> None:
    policy = make_flow(name, "exact", steps=4, **options)
    calls = count_calls(policy)
    obs, noise = batch_inputs(policy, 2)
    with torch.no_grad():
        latent = policy.generate(obs, noise)
        assert calls[0] == per_pass(4)
        policy.invert(obs, latent)
    assert calls[0] == 2 * per_pass(4)


def test_bad_options_name_the_allowed_values() -> None:
    with pytest.raises(ValueError, match="unknown tableau 'rk5'; choose one of: euler, midpoint, heun, rk3, rk4"):
        ReversibleRKIntegrator(tableau="rk5")
    for lam in (0.0, 1.5, -0.1, True):
        with pytest.raises(ValueError, match=r"lam must lie in \(0, 1\]"):
            ReversibleRKIntegrator(lam=lam)
    with pytest.raises(ValueError, match="steps must be an integer >= 1"):
        ReversibleHeunIntegrator(steps=0)


# -- convergence order -----------------------------------------------------------------------------

KS = (4, 8, 16, 32, 64)


def order_slope(integrator_for_k, a: torch.Tensor, x0: torch.Tensor) -> tuple[float, list[float]]:
    """Fitted slope of log(max error of the action) against log K, halves started at the same point."""
    exact = x0 @ torch.linalg.matrix_exp(a).T
    field = LinearVelocity(a).bind(torch.zeros(x0.shape[0], 1, dtype=F64))
    errors = []
    with torch.no_grad():
        for k in KS:
            integ = integrator_for_k(k)
            latent, _ = integ.forward(field, torch.cat([x0, x0], dim=-1), log_det=False)
            errors.append((integ.to_action(latent) - exact).norm(dim=-1).max().item())
    return float(np.polyfit(np.log(KS), np.log(errors), 1)[0]), errors


@pytest.fixture
def linear_problem() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    a = 0.7 * torch.randn(3, 3, generator=gen, dtype=F64)
    x0 = torch.randn(16, 3, generator=gen, dtype=F64)
    return a, x0


@pytest.mark.parametrize(
    ("label", "make", "order"),
    [
        ("reversible-heun", lambda k: ReversibleHeunIntegrator(steps=k), 2),
        ("reversible-rk midpoint", lambda k: ReversibleRKIntegrator(steps=k, tableau="midpoint"), 2),
        ("reversible-rk rk4", lambda k: ReversibleRKIntegrator(steps=k, tableau="rk4"), 4),
        ("reversible-rk rk4 lam=1", lambda k: ReversibleRKIntegrator(steps=k, tableau="rk4", lam=1.0), 4),
    ],
)
def test_convergence_order_on_a_linear_field(linear_problem, label: str, make, order: int) -> None:
    slope, errors = order_slope(make, *linear_problem)
    print(f"{label}: slope {slope:.3f}, errors {errors}")
    assert slope == pytest.approx(-order, abs=0.15), f"{label}: fitted slope {slope:.3f}, errors {errors}"


def test_edict_is_first_order_on_the_same_problem(linear_problem) -> None:
    """EDICT's mixing step (p = 0.95) leaves a first-order error even with the halves started equal."""
    slope, errors = order_slope(lambda k: EdictIntegrator(steps=k, p=0.95), *linear_problem)
    print(f"edict p=0.95: slope {slope:.3f}, errors {errors}")
    assert -1.4 < slope < -0.9


def test_every_tableau_has_at_least_its_order_at_lam_1() -> None:
    """Each registered tableau, wrapped with lam = 1, converges at least at its classical order.

    With lam = 1 the wrapped step is symmetric (its inverse is the step with -h), so its order is even:
    euler and rk3 gain one (measured slopes 2.0 and 4.0 here). With lam < 1 the halves' difference feeds
    back through ``1 - lam`` and odd-order tableaus fall back (euler to 1), which is why the default is rk4.
    """
    gen = torch.Generator().manual_seed(1)
    a = 0.7 * torch.randn(2, 2, generator=gen, dtype=F64)
    x0 = torch.randn(8, 2, generator=gen, dtype=F64)
    for name, tab in TABLEAUS.items():
        slope, _ = order_slope(lambda k, n=name: ReversibleRKIntegrator(steps=k, tableau=n, lam=1.0), a, x0)
        assert slope < -tab.order + 0.2, (name, slope)


def test_exact_estimator_forwards_the_closed_form() -> None:
    integ = ReversibleRKIntegrator(steps=2, tableau="euler", lam=0.5)
    _, ld = ExactEstimator().forward(integ, lambda x, t: torch.sin(x), torch.zeros(3, 4))
    torch.testing.assert_close(ld, torch.full((3,), 2 * 2 * math.log(0.5)))
    assert "reversible-rk" in INTEGRATORS and "reversible-heun" in INTEGRATORS
