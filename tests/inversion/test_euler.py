"""Plain Euler: exact per-step Jacobians, fixed-point inversion, and a loud failure when it cannot invert."""

from __future__ import annotations

import pytest
import torch
from flow_factories import F64, LinearVelocity, autograd_log_prob, batch_inputs, make_flow

from genpo.inversion import EulerIntegrator, ExactEstimator, InversionError, JacobianEstimator
from genpo.models.flow import FlowPolicy

pytestmark = pytest.mark.usefixtures("one_thread")


def linear_euler(scale: float, steps: int, d: int = 2) -> FlowPolicy:
    """Euler on v = scale·x + a small off-diagonal part: Lip(v) ≈ |scale|."""
    a = scale * torch.eye(d, dtype=F64) + 0.1 * torch.ones(d, d, dtype=F64)
    return FlowPolicy(LinearVelocity(a, obs_dim=1), EulerIntegrator(steps=steps), ExactEstimator())


@pytest.mark.parametrize("action_dim", [2, 3])
def test_jacobian_and_exact_log_prob_equal_autograd(action_dim: int) -> None:
    exact = make_flow("euler", "exact", obs_dim=3, action_dim=action_dim)
    brute = FlowPolicy(exact.velocity, exact.integrator, JacobianEstimator())
    obs, noise = batch_inputs(exact, 3, seed=2)
    with torch.no_grad():
        latent = exact.generate(obs, noise)
        lp_exact = exact.log_prob(obs, latent)
        lp_brute = brute.log_prob(obs, latent)
    lp_autograd = autograd_log_prob(exact, obs, noise)
    # A non-volume-preserving map: the log-det is not a constant across samples.
    _, ld = exact.flow_forward(obs, noise)
    assert ld.std() > 1e-3
    assert (lp_brute - lp_autograd).abs().max().item() <= 1e-10
    assert (lp_exact - lp_autograd).abs().max().item() <= 1e-10


def test_linear_field_matches_the_matrix_power() -> None:
    """Euler on v = A x is x_K = (I + A/K)^K x_0, log|det| = K log|det(I + A/K)|."""
    policy = linear_euler(0.7, steps=4, d=3)
    a = policy.velocity.a.detach()
    step = torch.eye(3, dtype=F64) + a / 4
    obs = torch.zeros(5, 1, dtype=F64)
    noise = torch.randn(5, 3, generator=torch.Generator().manual_seed(0), dtype=F64)
    with torch.no_grad():
        latent, ld = policy.flow_forward(obs, noise)
    torch.testing.assert_close(latent, noise @ torch.linalg.matrix_power(step, 4).T, rtol=0, atol=1e-13)
    torch.testing.assert_close(ld, torch.full_like(ld, 4 * torch.linalg.slogdet(step).logabsdet.item()))


@pytest.mark.parametrize("scale", [3.0, -3.0])
def test_inversion_fails_loudly_when_a_step_is_not_contractive(scale: float) -> None:
    """dt·Lip(v) ≈ 3 > 1 with K = 1: the fixed-point iteration diverges (the map itself is invertible)."""
    policy = linear_euler(scale, steps=1)
    obs = torch.zeros(4, 1, dtype=F64)
    latent = policy.generate(obs, torch.randn(4, 2, dtype=F64))
    assert torch.isfinite(latent).all()  # forward is fine; only the inverse cannot be computed
    with pytest.raises(InversionError, match=r"did not converge.*dt·Lip\(v\) < 1.*'edict'") as info:
        policy.log_prob(obs, latent)
    assert isinstance(info.value, ValueError)
    with pytest.raises(InversionError):
        policy.invert(obs, latent)


def test_a_large_network_velocity_also_fails_loudly() -> None:
    policy = make_flow("euler", steps=1, speed=30.0)
    obs, noise = batch_inputs(policy, 8)
    latent = policy.generate(obs, noise)
    with pytest.raises(InversionError, match="use more steps"):
        policy.invert(obs, latent)


def test_more_steps_make_the_same_field_invertible() -> None:
    """The advice in the error message works: K = 10 gives dt·Lip ≈ 0.3."""
    policy = linear_euler(3.0, steps=10)
    obs = torch.zeros(4, 1, dtype=F64)
    noise = torch.randn(4, 2, generator=torch.Generator().manual_seed(1), dtype=F64)
    with torch.no_grad():
        back = policy.invert(obs, policy.generate(obs, noise))
    assert (back - noise).abs().max() < 1e-12


def test_exact_log_prob_gradient_matches_jacobian_and_finite_differences() -> None:
    """The implicit-function gradient of the inverse (+ per-step log-dets) is the true gradient."""
    exact = make_flow("euler", "exact", obs_dim=3, action_dim=2)
    brute = FlowPolicy(exact.velocity, exact.integrator, JacobianEstimator())
    obs, noise = batch_inputs(exact, 4, seed=6)
    with torch.no_grad():
        latent = exact.generate(obs, noise)
    params = list(exact.velocity.parameters())

    def loss(policy: FlowPolicy) -> torch.Tensor:
        return policy.log_prob(obs, latent).sum()

    g_exact = torch.autograd.grad(loss(exact), params)
    g_brute = torch.autograd.grad(loss(brute), params)
    flat_exact = torch.cat([g.flatten() for g in g_exact])
    flat_brute = torch.cat([g.flatten() for g in g_brute])
    assert flat_exact.norm() > 1e-2
    torch.testing.assert_close(flat_exact, flat_brute, rtol=1e-7, atol=1e-9)

    # Central finite difference along a random direction in parameter space.
    gen = torch.Generator().manual_seed(0)
    direction = [torch.randn(p.shape, generator=gen, dtype=F64) for p in params]
    eps = 1e-5
    with torch.no_grad():
        for p, u in zip(params, direction, strict=True):
            p.add_(eps * u)
        plus = loss(exact)
        for p, u in zip(params, direction, strict=True):
            p.sub_(2 * eps * u)
        minus = loss(exact)
        for p, u in zip(params, direction, strict=True):
            p.add_(eps * u)
    fd = (plus - minus) / (2 * eps)
    analytic = sum((g * u).sum() for g, u in zip(g_exact, direction, strict=True))
    assert abs(fd.item() - analytic.item()) <= 1e-6 * max(1.0, abs(analytic.item()))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tol": 0.0}, "tol must be > 0"),
        ({"tol": -1e-3}, "tol must be > 0"),
        ({"max_iter": 0}, "max_iter must be >= 1"),
        ({"steps": 0}, "steps must be an integer >= 1"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EulerIntegrator(**kwargs)
