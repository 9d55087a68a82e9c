"""Likelihood estimators: an independent Jacobian check of every exact part, gradients, compatibility."""

from __future__ import annotations

import math

import pytest
import torch
from flow_factories import F64, Case, autograd_log_prob, batch_inputs, case_params, flow_pairs, policy_cases

from genpo.inversion import (
    INTEGRATORS,
    LIKELIHOODS,
    EdictIntegrator,
    PFODEIntegrator,
    TraceEstimator,
    batch_jacobian,
    std_normal_log_prob,
)
from genpo.models.flow import FlowPolicy

pytestmark = pytest.mark.usefixtures("one_thread")

EXACT_CASES = [c for c in policy_cases() if not c.stochastic]


@pytest.mark.parametrize("action_dim", [2, 3])
@pytest.mark.parametrize("case", case_params(EXACT_CASES))
def test_log_prob_equals_change_of_variables_with_an_autograd_jacobian(case: Case, action_dim: int) -> None:
    """log_prob == log N(noise) - log|det J|, J from torch.autograd.functional.jacobian of generate (float64)."""
    policy = case.build(obs_dim=3, action_dim=action_dim, dtype=F64, seed=action_dim)
    obs, noise = batch_inputs(policy, 3, seed=action_dim)
    with torch.no_grad():
        latent = policy.generate(obs, noise)
        logp = policy.log_prob(obs, latent)
    # Adaptive solvers choose one step size for the whole batch, so rows couple at solver tolerance.
    coupling = 1e-6 if case.integrator == "pf-ode" else 0.0
    expected = autograd_log_prob(policy, obs, noise, coupling=coupling)
    tol = 1e-6 if case.integrator == "pf-ode" else 1e-9
    assert (logp - expected).abs().max().item() <= tol


@pytest.mark.parametrize("case", case_params(policy_cases()))
def test_log_prob_is_differentiable_in_the_parameters(case: Case) -> None:
    """-log_prob(...).mean().backward() gives finite gradients, and a non-zero one for every velocity weight.

    Nothing here is mathematically zero: even where the log-det is constant in the parameters
    (edict's closed form, see test_edict), log N(z_0) depends on every weight through the inverse.
    Other families must give finite gradients that are not all zero.
    """
    policy = case.build(obs_dim=3, action_dim=2, dtype=F64)
    obs, _ = batch_inputs(policy, 3, seed=9)
    with torch.no_grad():
        _, latent, _ = policy.sample(obs, generator=torch.Generator().manual_seed(0))
    loss = -policy.log_prob(obs, latent).mean()
    loss.backward()
    named = list(policy.named_parameters())
    assert named
    for name, param in named:
        if param.grad is None:
            assert not isinstance(policy, FlowPolicy), f"{name} got no gradient"
            continue
        assert torch.isfinite(param.grad).all(), name
    if isinstance(policy, FlowPolicy):
        zero = [n for n, p in policy.velocity.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
        assert not zero, f"velocity parameters without gradient: {zero}"
    total = sum(p.grad.abs().sum() for _, p in named if p.grad is not None)
    assert total > 0


ODE_ESTIMATORS = [lk for i, lk in flow_pairs() if i == "pf-ode" and lk != "trace"]


@pytest.mark.parametrize("likelihood", ODE_ESTIMATORS)
def test_ode_estimators_gradients_agree_with_trace(likelihood: str) -> None:
    """Each other pf-ode estimator's gradient of the mean log-prob matches exact trace's: equal for the
    exact ones, pointing the same way on average (over 64 samples, one probe each) for stochastic ones."""
    case = Case("flow", "pf-ode", likelihood)
    policy = case.build(obs_dim=3, action_dim=2, dtype=F64)
    reference = FlowPolicy(policy.velocity, policy.integrator, TraceEstimator())
    obs, _ = batch_inputs(policy, 64, seed=3)
    with torch.no_grad():
        _, latent, _ = reference.sample(obs, generator=torch.Generator().manual_seed(1))
    params = list(policy.velocity.parameters())
    g = torch.cat([x.flatten() for x in torch.autograd.grad(policy.log_prob(obs, latent).mean(), params)])
    g_ref = torch.cat([x.flatten() for x in torch.autograd.grad(reference.log_prob(obs, latent).mean(), params)])
    cosine = (g @ g_ref / (g.norm() * g_ref.norm())).item()
    if case.stochastic:
        assert cosine > 0.9
    else:
        torch.testing.assert_close(g, g_ref, rtol=1e-5, atol=1e-7)


def test_check_names_the_compatible_estimators() -> None:
    """(make_policy's messages for incompatible pairs are tested in tests/models/test_factory.py.)"""
    with pytest.raises(ValueError, match="compatible estimators: jacobian, hutchinson, trace"):
        LIKELIHOODS.get("exact")().check(PFODEIntegrator())
    with pytest.raises(ValueError, match="compatible estimators: exact, jacobian"):
        LIKELIHOODS.get("trace")().check(EdictIntegrator())
    LIKELIHOODS.get("jacobian")().check(PFODEIntegrator())  # no error


def test_every_estimator_is_compatible_with_something_and_jacobian_with_everything() -> None:
    for lname in LIKELIHOODS.names():
        est = LIKELIHOODS.get(lname)()
        assert any(est.compatible(INTEGRATORS.get(i)()) for i in INTEGRATORS.names()), lname
    assert all(LIKELIHOODS.get("jacobian")().compatible(INTEGRATORS.get(i)()) for i in INTEGRATORS.names())


@pytest.mark.parametrize("grad", [False, True])
def test_batch_jacobian_vectorized_and_batched_autograd_agree(grad: bool) -> None:
    w = torch.randn(3, 3, dtype=F64, requires_grad=True)

    def fn(x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x @ w) * x

    x = torch.randn(4, 3, dtype=F64)
    with torch.set_grad_enabled(grad):
        j1 = batch_jacobian(fn, x, vectorize=True)
        j2 = batch_jacobian(fn, x, vectorize=False)
    expected = torch.stack([torch.autograd.functional.jacobian(fn, x[i : i + 1])[0, :, 0, :] for i in range(4)])
    torch.testing.assert_close(j1, expected.detach())
    torch.testing.assert_close(j2, expected.detach())
    for j in (j1, j2):
        assert j.requires_grad == grad  # differentiable w.r.t. captured parameters only when asked


def test_std_normal_log_prob() -> None:
    x = torch.randn(5, 4, dtype=F64)
    expected = torch.distributions.Normal(0.0, 1.0).log_prob(x).sum(-1)
    torch.testing.assert_close(std_normal_log_prob(x), expected)
    assert std_normal_log_prob(torch.zeros(1, 2)).item() == pytest.approx(-math.log(2 * math.pi))


def test_edict_integrator_needs_no_estimator_input() -> None:
    """The exact estimator just forwards the integrator's own log-det (no divergence is built)."""
    integ = EdictIntegrator(steps=2, p=0.9)
    calls = []

    def field(x: torch.Tensor, t: float) -> torch.Tensor:
        calls.append(t)
        return torch.sin(x)

    est = LIKELIHOODS.get("exact")()
    _, ld = est.forward(integ, field, torch.zeros(3, 4))
    assert calls == [0.0, 0.0, 0.5, 0.5]
    torch.testing.assert_close(ld, torch.full((3,), 2 * 2 * 2 * math.log(0.9)))
