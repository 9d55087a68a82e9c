"""Property tests (hypothesis) of the EDICT flow policy over batch sizes, widths, steps and p, in float64."""

from __future__ import annotations

import math

import pytest
import torch
from flow_factories import batch_inputs, make_flow
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genpo.inversion import batch_jacobian, std_normal_log_prob
from genpo.inversion.base import logabsdet

pytestmark = pytest.mark.usefixtures("one_thread")

SETTINGS = settings(
    max_examples=15, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
batches = st.integers(min_value=1, max_value=32)
widths = st.integers(min_value=1, max_value=5)
steps = st.integers(min_value=1, max_value=8)
ps = st.floats(min_value=0.6, max_value=0.99)
seeds = st.integers(min_value=0, max_value=2**16)


@SETTINGS
@given(batch=batches, action_dim=widths, k=steps, p=ps, seed=seeds)
def test_edict_round_trip(batch: int, action_dim: int, k: int, p: float, seed: int) -> None:
    """invert(generate(z)) == z; the error may grow like p^(-2K) (each half-step divides by p)."""
    policy = make_flow("edict", obs_dim=2, action_dim=action_dim, steps=k, p=p, hidden=(16, 16), init_seed=seed)
    obs, noise = batch_inputs(policy, batch, seed=seed)
    with torch.no_grad():
        latent = policy.generate(obs, noise)
        back = policy.invert(obs, latent)
    assert latent.shape == (batch, 2 * action_dim)
    assert (back - noise).abs().max().item() <= 1e-12 * p ** (-2 * k)
    # And the action is the mean of the halves.
    torch.testing.assert_close(policy.to_action(latent), 0.5 * (latent[:, :action_dim] + latent[:, action_dim:]))


@SETTINGS
@given(batch=st.integers(min_value=1, max_value=6), action_dim=widths, k=steps, p=ps, seed=seeds)
def test_edict_closed_form_log_det_equals_the_jacobian(
    batch: int, action_dim: int, k: int, p: float, seed: int
) -> None:
    """log|det d z_K / d z_0| from a full per-sample Jacobian equals 2·d·K·log p, and log_prob uses it."""
    policy = make_flow("edict", obs_dim=2, action_dim=action_dim, steps=k, p=p, hidden=(16, 16), init_seed=seed)
    obs, noise = batch_inputs(policy, batch, seed=seed)
    field = policy.velocity.bind(obs)
    with torch.no_grad():
        jac = batch_jacobian(lambda z: policy.integrator.forward(field, z, log_det=False)[0], noise)
        latent, log_det = policy.flow_forward(obs, noise)
        logp = policy.log_prob(obs, latent)
    closed_form = 2 * action_dim * k * math.log(p)
    assert jac.shape == (batch, 2 * action_dim, 2 * action_dim)
    torch.testing.assert_close(logabsdet(jac), torch.full((batch,), closed_form, dtype=jac.dtype), rtol=0, atol=1e-8)
    torch.testing.assert_close(log_det, torch.full_like(log_det, closed_form), rtol=0, atol=0)
    torch.testing.assert_close(logp, std_normal_log_prob(noise) - closed_form, rtol=0, atol=1e-9)
