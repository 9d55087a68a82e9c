"""Probability-flow ODE: analytic densities of a linear field, Hutchinson's unbiasedness, solver options."""

from __future__ import annotations

import math

import pytest
import torch
from flow_factories import F64, LinearVelocity, count_calls, make_flow
from torch import Tensor

from genpo.inversion import HutchinsonEstimator, JacobianEstimator, PFODEIntegrator, TraceEstimator
from genpo.inversion.likelihood import LikelihoodEstimator
from genpo.models.flow import FlowPolicy

pytestmark = pytest.mark.usefixtures("one_thread")

# A non-symmetric matrix with a non-zero diagonal (trace) and off-diagonal part (so both probe
# kinds have non-zero variance).
A = torch.tensor([[0.3, 0.8, -0.2], [-0.5, -0.4, 0.6], [0.1, 0.7, 0.5]], dtype=F64)
TOL = 1e-10


def linear_policy(estimator: LikelihoodEstimator, method: str = "dopri5") -> FlowPolicy:
    return FlowPolicy(LinearVelocity(A, obs_dim=1), PFODEIntegrator(method=method, rtol=TOL, atol=TOL), estimator)


def analytic_log_prob(x1: Tensor) -> Tensor:
    """x0 ~ N(0, I), dx/dt = A x: x1 = expm(A) x0 ~ N(0, M M^T), M = expm(A)."""
    m = torch.linalg.matrix_exp(A)
    dist = torch.distributions.MultivariateNormal(torch.zeros(3, dtype=F64), covariance_matrix=m @ m.T)
    return dist.log_prob(x1)


def points(n: int, seed: int = 0) -> tuple[Tensor, Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.zeros(n, 1, dtype=F64), 1.5 * torch.randn(n, 3, generator=gen, dtype=F64)


def test_linear_field_flow_is_the_matrix_exponential() -> None:
    policy = linear_policy(TraceEstimator())
    obs, x0 = points(5)
    with torch.no_grad():
        x1 = policy.generate(obs, x0)
    torch.testing.assert_close(x1, x0 @ torch.linalg.matrix_exp(A).T, rtol=0, atol=1e-8)


def test_trace_matches_the_analytic_log_density() -> None:
    policy = linear_policy(TraceEstimator())
    obs, x1 = points(6)
    with torch.no_grad():
        logp = policy.log_prob(obs, x1)
        _, ld_forward = policy.flow_forward(obs, x1)
    torch.testing.assert_close(logp, analytic_log_prob(x1), rtol=0, atol=1e-8)
    # Both directions integrate the divergence tr A.
    torch.testing.assert_close(ld_forward, torch.full_like(ld_forward, A.trace().item()), rtol=0, atol=1e-8)


def test_jacobian_estimator_works_through_the_ode_solver() -> None:
    """torchdiffeq cannot run under torch.func: the jacobian estimator falls back to batched autograd."""
    policy = linear_policy(JacobianEstimator())
    obs, x1 = points(4)
    with torch.no_grad():
        logp = policy.log_prob(obs, x1)
    torch.testing.assert_close(logp, analytic_log_prob(x1), rtol=0, atol=1e-7)


@pytest.mark.parametrize("probe", ["gaussian", "rademacher"])
def test_hutchinson_is_unbiased_within_three_standard_errors(probe: str) -> None:
    """One latent repeated n times: with unkeyed probes each row draws its own, so the rows are n independent
    estimates."""
    n = 2000
    _, x1 = points(1, seed=3)
    obs, latent = torch.zeros(n, 1, dtype=F64), x1.expand(n, 3).contiguous()
    exact = linear_policy(TraceEstimator())
    stochastic = linear_policy(HutchinsonEstimator(probe=probe, probes=1, seed=11, keyed=False))
    with torch.no_grad():
        reference = exact.log_prob(obs[:1], latent[:1])
        estimates = stochastic.log_prob(obs, latent)
    mean, std = estimates.mean(), estimates.std()
    stderr = std / math.sqrt(n)
    assert std > 0.1  # genuinely stochastic
    assert (mean - reference).abs().item() <= 3 * stderr.item()
    # The spread matches theory for eps^T A eps: Var = 2||S||_F^2 (gaussian), 2(||S||_F^2 - sum S_ii^2)
    # (rademacher), with S the symmetric part of A.
    s = 0.5 * (A + A.T)
    var = 2 * s.pow(2).sum() if probe == "gaussian" else 2 * (s.pow(2).sum() - s.diagonal().pow(2).sum())
    assert 0.8 < (std**2 / var).item() < 1.25


def test_hutchinson_probes_follow_the_seed() -> None:
    _, x1 = points(4, seed=5)
    obs = torch.zeros(4, 1, dtype=F64)

    def estimate(seed: int | None) -> Tensor:
        with torch.no_grad():
            return linear_policy(HutchinsonEstimator(probe="gaussian", seed=seed, keyed=False)).log_prob(obs, x1)

    assert torch.equal(estimate(1), estimate(1))
    assert not torch.allclose(estimate(1), estimate(2))
    torch.manual_seed(0)
    first = estimate(None)
    assert not torch.allclose(first, estimate(None))  # fresh probes from the global generator


@pytest.mark.parametrize("probe", ["gaussian", "rademacher"])
def test_keyed_probes_follow_the_row_and_stay_unbiased(probe: str) -> None:
    """Keyed probes (the default): a row's estimate does not depend on its batch, its position or the global
    generator; over distinct rows the estimates of the linear field's constant divergence are unbiased."""
    n = 1500
    obs, x1 = points(n, seed=7)
    policy = linear_policy(HutchinsonEstimator(probe=probe))
    with torch.no_grad():
        full = policy.log_prob(obs, x1)
        torch.manual_seed(123)
        perm = torch.randperm(n)[:50]
        part = policy.log_prob(obs[perm], x1[perm])
        again = policy.log_prob(obs[:50], x1[:50])
    # Only the adaptive step size (one per batch) couples rows, at solver tolerance.
    torch.testing.assert_close(part, full[perm], rtol=0, atol=1e-7)
    torch.testing.assert_close(again, full[:50], rtol=0, atol=1e-7)
    error = full - analytic_log_prob(x1)  # the probe noise of each row's estimate
    assert error.std() > 0.1  # genuinely stochastic across rows
    assert error.mean().abs().item() <= 3 * error.std().item() / math.sqrt(n)


def test_keyed_sampling_reports_the_updates_estimate() -> None:
    """With keyed probes the policy samples by generating, then estimating from the latent: sample's log-prob is
    exactly what log_prob says for that latent (a PPO ratio of exactly 1 before the first step)."""
    policy = linear_policy(HutchinsonEstimator(probe="gaussian"))
    obs, _ = points(16)
    with torch.no_grad():
        _, latent, logp = policy.sample(obs, generator=torch.Generator().manual_seed(0))
        again = policy.log_prob(obs[torch.arange(15, -1, -1)], latent[torch.arange(15, -1, -1)])
    torch.testing.assert_close(again, logp[torch.arange(15, -1, -1)], rtol=0, atol=1e-7)
    with pytest.raises(ValueError, match="keyed must be true or false"):
        HutchinsonEstimator(keyed="no")


def test_more_probes_shrink_the_spread() -> None:
    n = 400
    _, x1 = points(1, seed=3)
    obs, latent = torch.zeros(n, 1, dtype=F64), x1.expand(n, 3).contiguous()
    with torch.no_grad():
        one = linear_policy(HutchinsonEstimator(probes=1, seed=0, keyed=False)).log_prob(obs, latent)
        many = linear_policy(HutchinsonEstimator(probes=16, seed=0, keyed=False)).log_prob(obs, latent)
    assert many.std() < 0.5 * one.std()


def test_fixed_step_methods_take_k_steps() -> None:
    """rk4 with K steps evaluates the field 4 K times per pass; dopri5 ignores K."""
    policy = make_flow("pf-ode", "trace", velocity="smooth", steps=3, method="rk4")
    calls = count_calls(policy)
    obs = torch.zeros(2, 3, dtype=F64)
    with torch.no_grad():
        policy.generate(obs, torch.ones(2, 2, dtype=F64))
    assert calls[0] == 4 * 3
    assert policy.integrator.describe() == "pf-ode(rk4, steps=3)"


def test_log_det_without_a_divergence_is_refused() -> None:
    integ = PFODEIntegrator()
    with pytest.raises(ValueError, match=r"needs a divergence.*'trace'.*'hutchinson'"):
        integ.forward(lambda x, t: x, torch.zeros(2, 2), log_det=True, divergence=None)
    out, ld = integ.forward(lambda x, t: x, torch.ones(2, 2), log_det=False)
    assert ld is None and out.shape == (2, 2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "leapfrog"}, r"unknown pf-ode method 'leapfrog'; choose one of: dopri5, .*rk4"),
        ({"rtol": 0.0}, "rtol and atol must be > 0"),
        ({"atol": -1.0}, "rtol and atol must be > 0"),
        ({"steps": 0}, "steps must be an integer >= 1"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PFODEIntegrator(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"probe": "uniform"}, "unknown probe 'uniform'; choose one of: gaussian, rademacher"),
        ({"probes": 0}, "probes must be an integer >= 1"),
        ({"probes": 1.5}, "probes must be an integer >= 1"),
    ],
)
def test_bad_hutchinson_settings_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        HutchinsonEstimator(**kwargs)
