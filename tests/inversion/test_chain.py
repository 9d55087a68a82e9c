"""gaussian-chain (DPPO / ReinFlow): the log-prob is the chain's Gaussian likelihood; the learned noise is bounded.

The shared contract and the float64 autograd-Jacobian check cover both noise modes through
``flow_factories.VARIANTS`` (the learned head perturbed so that sigma depends on obs, t and x_k).
"""

from __future__ import annotations

import pytest
import torch
from flow_factories import F32, F64, batch_inputs, make_flow
from torch.distributions import Normal

from genpo.inversion import GaussianChainIntegrator
from genpo.inversion.likelihood import ExactEstimator
from genpo.models.flow import FlowPolicy

pytestmark = pytest.mark.usefixtures("one_thread")

MODES = [
    pytest.param({"noise": "fixed", "sigma_min": 0.1, "sigma_max": 0.6}, id="fixed"),
    pytest.param({"noise": "learned", "sigma_min": 0.05, "sigma_max": 0.8}, id="learned"),
    pytest.param({"noise": "learned", "noise_sees_latent": True}, id="learned-sees-latent"),
]


def direct_chain_log_prob(policy: FlowPolicy, obs: torch.Tensor, latent: torch.Tensor) -> torch.Tensor:
    """log N(x_0; 0, I) + sum_k log N(x_{k+1}; x_k + h v(x_k, t_k, obs), sigma_k^2), summed with torch.distributions.

    Uses the velocity network's plain ``forward`` (not ``bind``) and the head's module call, so nothing of
    the integrator's own code is reused.
    """
    integ = policy.integrator
    k_steps, d = integ.steps, policy.action_dim
    xs = [latent[:, i * d : (i + 1) * d] for i in range(k_steps + 1)]
    total = Normal(torch.zeros_like(xs[0]), torch.ones_like(xs[0])).log_prob(xs[0]).sum(-1)
    for k in range(k_steps):
        t = k / k_steps
        mean = xs[k] + (1.0 / k_steps) * policy.velocity(xs[k], t, obs)
        if integ.noise == "fixed":
            std = torch.full_like(mean, max(integ.sigma_max * (1 - t), integ.sigma_min))
        else:
            std = policy.integrator_parts(obs, xs[k], t)
        total = total + Normal(mean, std).log_prob(xs[k + 1]).sum(-1)
    return total


@pytest.mark.parametrize("options", MODES)
@pytest.mark.parametrize("steps", [1, 4])
def test_log_prob_is_the_sum_of_gaussian_transition_log_densities(options: dict, steps: int) -> None:
    policy = make_flow("gaussian-chain", "exact", obs_dim=3, action_dim=2, steps=steps, **options)
    obs, _ = batch_inputs(policy, 16, seed=4)
    with torch.no_grad():
        _, latent, logp_sample = policy.sample(obs, generator=torch.Generator().manual_seed(0))
        logp = policy.log_prob(obs, latent)
        expected = direct_chain_log_prob(policy, obs, latent)
    assert latent.shape == (16, (steps + 1) * 2)
    torch.testing.assert_close(logp, expected, rtol=0, atol=1e-10)
    torch.testing.assert_close(logp_sample, expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize("options", MODES)
def test_inverse_recovers_the_injected_noise_and_the_action_is_the_last_state(options: dict) -> None:
    policy = make_flow("gaussian-chain", "exact", steps=3, **options)
    obs, noise = batch_inputs(policy, 8, seed=5)
    with torch.no_grad():
        latent = policy.generate(obs, noise)
        torch.testing.assert_close(policy.invert(obs, latent), noise, rtol=0, atol=1e-12)
        torch.testing.assert_close(policy.to_action(latent), latent[:, -2:])
        torch.testing.assert_close(latent[:, :2], noise[:, :2])  # x_0 is the first noise block


def test_deterministic_action_is_the_noise_free_chain() -> None:
    policy = make_flow("gaussian-chain", "exact", steps=4, noise="learned")
    obs, _ = batch_inputs(policy, 5, seed=6)
    with torch.no_grad():
        x = torch.zeros(5, 2, dtype=F64)
        for k in range(4):
            x = x + 0.25 * policy.velocity(x, k / 4, obs)
        torch.testing.assert_close(policy.deterministic_action(obs), x, rtol=0, atol=1e-12)


def test_fixed_schedule_decays_to_its_floor() -> None:
    integ = GaussianChainIntegrator(steps=5, sigma_min=0.1, sigma_max=0.5)
    assert [round(integ.fixed_sigma(t), 12) for t in integ.times()] == [0.5, 0.4, 0.3, 0.2, 0.1]
    floored = GaussianChainIntegrator(steps=5, sigma_min=0.25, sigma_max=0.5)
    assert [round(floored.fixed_sigma(t), 12) for t in floored.times()] == [0.5, 0.4, 0.3, 0.25, 0.25]


@pytest.mark.parametrize("dtype", [F64, F32])
def test_learned_sigma_stays_inside_its_bounds_under_large_perturbations(dtype: torch.dtype) -> None:
    lo, hi = 0.05, 0.4
    policy = make_flow("gaussian-chain", "exact", steps=3, noise="learned", sigma_min=lo, sigma_max=hi, dtype=dtype)
    obs, noise = batch_inputs(policy, 256, seed=7)
    gen = torch.Generator().manual_seed(8)
    for scale in (1.0, 30.0, 1000.0):
        with torch.no_grad():
            for param in policy.integrator_parts.parameters():
                param.add_(scale * torch.randn(param.shape, generator=gen, dtype=F64).to(dtype))
            for t in policy.integrator.times():
                sigma = policy.integrator_parts(10.0 * obs, 10.0 * noise[:, :2], t)
                # The bounds as the dtype represents them (0.4 in float32 is 0.4000000059...).
                assert sigma.min() >= torch.tensor(lo, dtype=dtype) and sigma.max() <= torch.tensor(hi, dtype=dtype)
            latent = policy.generate(obs, noise)
            assert torch.isfinite(policy.log_prob(obs, latent)).all()


def test_the_noise_head_is_trained_saved_and_shared() -> None:
    policy = make_flow("gaussian-chain", "exact", steps=2, noise="learned")
    head = policy.integrator_parts
    assert any(n.startswith("integrator_parts.") for n in policy.state_dict())
    obs, _ = batch_inputs(policy, 8, seed=9)
    with torch.no_grad():
        _, latent, _ = policy.sample(obs)
    policy.log_prob(obs, latent).mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in head.parameters())
    # A second policy composed with the same integrator uses the same head, not a fresh one.
    again = FlowPolicy(policy.velocity, policy.integrator, ExactEstimator())
    assert again.integrator_parts is head


def test_learned_noise_without_its_head_fails_clearly() -> None:
    integ = GaussianChainIntegrator(steps=2, noise="learned")
    with pytest.raises(ValueError, match=r"needs the field from integrator\.condition"):
        integ.forward(lambda x, t: x, torch.zeros(2, 6))


def test_bad_options_name_the_allowed_values() -> None:
    with pytest.raises(ValueError, match="unknown noise 'ddpm'; choose one of: fixed, learned"):
        GaussianChainIntegrator(noise="ddpm")
    with pytest.raises(ValueError, match="sigma_min must be a finite number > 0"):
        GaussianChainIntegrator(sigma_min=0.0)
    with pytest.raises(ValueError, match="sigma_max must be a finite number > 0"):
        GaussianChainIntegrator(sigma_max=float("nan"))
    with pytest.raises(ValueError, match="need sigma_min <= sigma_max"):
        GaussianChainIntegrator(sigma_min=0.5, sigma_max=0.1)
    with pytest.raises(ValueError, match=r"\(K \+ 1\) \* d wide"):
        GaussianChainIntegrator(steps=2).inverse(lambda x, t: x, torch.zeros(2, 5))
