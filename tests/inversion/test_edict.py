"""EDICT coupling: the reference equations, exact inversion, and the closed-form log-det 2·d·K·log p."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from flow_factories import F32, F64, autograd_log_prob, batch_inputs, make_flow, record_speeds
from torch import Tensor

from genpo.inversion import EdictIntegrator, JacobianEstimator
from genpo.inversion.base import std_normal_log_prob
from genpo.models.flow import FlowPolicy

pytestmark = pytest.mark.usefixtures("one_thread")


def reference_forward(field, z: Tensor, steps: int, p: float) -> Tensor:
    """The coupled step exactly as the method note writes it, one line per equation."""
    d = z.shape[-1] // 2
    x, y = z[:, :d], z[:, d:]
    dt = 1.0 / steps
    for k in range(steps):
        t = k / steps
        xs = x + dt * field(y, t)
        ys = y + dt * field(xs, t)
        x = p * xs + (1 - p) * ys
        y = p * ys + (1 - p) * x
    return torch.cat([x, y], dim=-1)


def with_jacobian(policy: FlowPolicy) -> FlowPolicy:
    """The same network and integrator with the brute-force Jacobian estimator."""
    return FlowPolicy(policy.velocity, policy.integrator, JacobianEstimator())


@pytest.mark.parametrize(("steps", "p"), [(1, 0.95), (3, 0.8), (5, 0.95)])
def test_forward_follows_the_reference_equations(steps: int, p: float) -> None:
    policy = make_flow("edict", steps=steps, p=p)
    obs, noise = batch_inputs(policy, 5)
    field = policy.velocity.bind(obs)
    with torch.no_grad():
        expected = reference_forward(field, noise, steps, p)
        got = policy.generate(obs, noise)
    assert (got - noise).abs().mean() > 0.1
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-14)
    assert torch.equal(policy.to_action(got), 0.5 * (got[:, :2] + got[:, 2:]))
    assert torch.allclose(policy.integrator.gap(got), (got[:, :2] - got[:, 2:]).norm(dim=-1))


@pytest.mark.parametrize("action_dim", [2, 3])
def test_exact_and_jacobian_agree_with_autograd(action_dim: int) -> None:
    """Float64, tiny case: closed form == jacrev log-det == an independent autograd Jacobian."""
    exact = make_flow("edict", "exact", obs_dim=3, action_dim=action_dim)
    brute = with_jacobian(exact)
    obs, noise = batch_inputs(exact, 3, seed=4)
    with torch.no_grad():
        latent = exact.generate(obs, noise)
        lp_exact = exact.log_prob(obs, latent)
        lp_brute = brute.log_prob(obs, latent)
    lp_autograd = autograd_log_prob(exact, obs, noise)
    assert (lp_exact - lp_brute).abs().max().item() <= 1e-8
    assert (lp_exact - lp_autograd).abs().max().item() <= 1e-8
    assert (lp_brute - lp_autograd).abs().max().item() <= 1e-8
    # And the value is the documented constant: log N(z_0) - 2 d K log p.
    expected = std_normal_log_prob(noise) - 2 * action_dim * 5 * math.log(0.95)
    assert (lp_exact - expected).abs().max().item() <= 1e-12


@pytest.mark.parametrize(("action_dim", "steps", "p"), [(1, 1, 0.5), (2, 5, 0.95), (4, 7, 0.8)])
def test_log_det_is_the_closed_form_constant(action_dim: int, steps: int, p: float) -> None:
    """Independent of the sample, the observation and the parameters."""
    constant = 2 * action_dim * steps * math.log(p)
    for seed in (0, 1):
        policy = make_flow("edict", action_dim=action_dim, steps=steps, p=p, init_seed=seed)
        obs, noise = batch_inputs(policy, 6, seed=seed)
        with torch.no_grad():
            latent, ld_f = policy.flow_forward(obs, noise)
            _, ld_i = policy.flow_inverse(obs, latent)
        assert torch.equal(ld_f, torch.full_like(ld_f, constant))
        assert torch.equal(ld_i, torch.full_like(ld_i, -constant))


def test_precision_at_the_authors_settings() -> None:
    """p=0.95, K=5, batch 4096, d=8 with O(1) velocities: float64 <= 1e-10, float32 <= 1e-4."""
    policy = make_flow("edict", obs_dim=8, action_dim=8, steps=5, p=0.95, dtype=F64)
    policy32 = copy.deepcopy(policy).float()  # before wrapping bind (a copy would keep the wrapper)
    speeds = record_speeds(policy)
    obs, noise = batch_inputs(policy, 4096, seed=7)
    with torch.no_grad():
        latent = policy.generate(obs, noise)
        back = policy.invert(obs, latent)
    # The velocities the integrator actually saw, forward and backward, are O(1).
    seen = torch.stack(speeds)
    assert len(speeds) == 2 * 2 * 5
    assert seen.mean() > 0.3 and seen.min() > 0.1 and seen.max() < 10.0
    err64 = (back - noise).abs().max().item()
    assert err64 <= 1e-10

    with torch.no_grad():
        latent32 = policy32.generate(obs.float(), noise.float())
        back32 = policy32.invert(obs.float(), latent32)
    assert latent32.dtype == F32
    assert (latent32.double() - latent).abs().max() < 1e-3  # the same map
    err32 = (back32.double() - noise).abs().max().item()
    assert err32 <= 1e-4


def test_round_trip_error_grows_as_p_falls_and_k_rises() -> None:
    """The documented numerics: inversion divides by p each half-step, so float32 error grows."""
    errors = {}
    for steps, p in ((5, 0.95), (10, 0.5)):
        policy = make_flow("edict", steps=steps, p=p, dtype=F32)
        obs, noise = batch_inputs(policy, 256, seed=3)
        with torch.no_grad():
            back = policy.invert(obs, policy.generate(obs, noise))
        errors[(steps, p)] = (back - noise).abs().max().item()
    assert errors[(5, 0.95)] < 1e-4
    assert errors[(10, 0.5)] > 100 * errors[(5, 0.95)]


@pytest.mark.parametrize("p", [0, 1, -0.1, 1.5, 0.0, 1.0, "0.5", None])
def test_p_outside_the_open_unit_interval_is_refused(p: object) -> None:
    with pytest.raises(ValueError, match=r"p must lie in the open interval \(0, 1\)"):
        EdictIntegrator(steps=5, p=p)  # type: ignore[arg-type]


def test_log_det_carries_no_parameter_gradient() -> None:
    """The closed form is constant in theta: the exact log-det is not even tracked, and the brute-force
    Jacobian log-det's gradient vanishes to rounding, while the log N(z_0) term's does not."""
    exact = make_flow("edict", "exact")
    brute = with_jacobian(exact)
    obs, noise = batch_inputs(exact, 4, seed=5)
    with torch.no_grad():
        latent = exact.generate(obs, noise)
    z0, ld = exact.flow_inverse(obs, latent)
    assert not ld.requires_grad
    params = list(exact.velocity.parameters())
    grads_base = torch.autograd.grad(std_normal_log_prob(z0).sum(), params)
    assert sum(g.abs().sum() for g in grads_base) > 1e-3

    _, ld_brute = brute.flow_inverse(obs, latent)
    grads_ld = torch.autograd.grad(ld_brute.sum(), params, allow_unused=True)
    biggest = max(0.0 if g is None else g.abs().max().item() for g in grads_ld)
    assert biggest < 1e-10
