"""The one contract every invertible part must meet, whatever its family.

Parametrized over every registered integrator × compatible likelihood estimator and over every
non-flow model in ``genpo.models.MODELS``; a part registered later is picked up automatically.
For each, in float64 and float32 (``policy.double()`` / ``policy.float()``):

* ``invert(generate(noise)) == noise``;
* the log-dets of ``flow_forward`` and ``flow_inverse`` cancel;
* ``sample``'s log-prob is what ``log_prob`` says for the sampled latent;
* ``sample``'s action and ``deterministic_action`` go through ``to_action``.

pf-ode runs dopri5 at tight tolerances; the Hutchinson estimator gets a fixed ``seed`` so the
forward and the inverse solve draw the same probes (then they cancel to solver tolerance).
"""

from __future__ import annotations

import pytest
import torch
from flow_factories import F32, F64, Case, batch_inputs, case_params, policy_cases, surrogate_cases

from genpo.inversion import INTEGRATORS, LIKELIHOODS
from genpo.models import MODELS

pytestmark = pytest.mark.usefixtures("one_thread")

CASES = policy_cases()


def test_cases_cover_every_registered_part() -> None:
    """The enumeration reaches every integrator, estimator and model (none silently filtered out)."""
    ids = {c.id for c in CASES}
    assert {c.integrator for c in CASES if c.model == "flow"} == set(INTEGRATORS.names())
    densities = {n for n in LIKELIHOODS.names() if not LIKELIHOODS.get(n).surrogate}
    assert {c.likelihood for c in CASES if c.model == "flow"} == densities
    # Ratio surrogates (cfm) have no density to round-trip: tests/inversion/test_cfm.py covers them.
    assert {c.likelihood for c in surrogate_cases()} == set(LIKELIHOODS.names()) - densities
    assert {c.model for c in CASES} == set(MODELS.names())
    assert {"flow-edict-exact", "flow-euler-exact", "flow-pf-ode-trace", "flow-pf-ode-hutchinson", "gaussian"} <= ids


@pytest.mark.parametrize("dtype", [F64, F32], ids=["float64", "float32"])
@pytest.mark.parametrize("case", case_params(CASES))
def test_round_trip_and_log_dets_cancel(case: Case, dtype: torch.dtype) -> None:
    policy = case.build(obs_dim=3, action_dim=2, dtype=dtype)
    obs, noise = batch_inputs(policy, 8, seed=1)
    tol = case.tolerance(dtype)
    with torch.no_grad():
        latent, ld_f = policy.flow_forward(obs, noise)
        back, ld_i = policy.flow_inverse(obs, latent)
        back_only = policy.invert(obs, latent)  # the log-det-free path

    for t in (latent, back, back_only, ld_f, ld_i):
        assert t.dtype == dtype
        assert torch.isfinite(t).all()
    assert latent.shape == back.shape == (8, policy.latent_dim)
    assert ld_f.shape == ld_i.shape == (8,)
    # The map moves samples by O(1), so a round trip has something to undo.
    assert (latent - noise).abs().mean() > 0.1
    assert (back - noise).abs().max().item() <= tol
    assert (back_only - noise).abs().max().item() <= tol
    assert (ld_f + ld_i).abs().max().item() <= tol * max(1.0, ld_f.abs().max().item())


@pytest.mark.parametrize("case", case_params(CASES))
def test_sample_log_prob_and_actions_agree(case: Case) -> None:
    policy = case.build(obs_dim=3, action_dim=2, dtype=F64)
    obs, _ = batch_inputs(policy, 4, seed=2)
    with torch.no_grad():
        action, latent, logp = policy.sample(obs, generator=torch.Generator().manual_seed(0))
        again = policy.log_prob(obs, latent)
        det = policy.deterministic_action(obs)
        zero = policy.to_action(policy.generate(obs, torch.zeros_like(latent)))
    assert action.shape == det.shape == (4, policy.action_dim)
    assert latent.shape == (4, policy.latent_dim)
    assert torch.isfinite(logp).all()
    assert torch.allclose(logp, again, atol=100 * case.tolerance(F64), rtol=0)
    assert torch.equal(action, policy.to_action(latent))
    assert torch.allclose(det, zero, atol=1e-12, rtol=0)
    # Different draws give different actions: the policy is stochastic.
    with torch.no_grad():
        other, _, _ = policy.sample(obs, generator=torch.Generator().manual_seed(1))
    assert (other - action).abs().max() > 1e-3
