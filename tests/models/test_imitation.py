"""Imitation losses: every family declares one, flow matching learns, a flow keeps two modes a Gaussian averages."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from flow_factories import F32, case_params, policy_cases, surrogate_cases

import genpo
from genpo.objectives.imitation import flow_matching_loss, sliced_wasserstein
from genpo.workbench.actions import mode_shares, modes_held

pytestmark = pytest.mark.usefixtures("one_thread")

MODES = torch.tensor([[0.5, 0.5], [-0.5, -0.5]])


def two_mode_data(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """One observation, two equally likely demonstrated actions (plus a little noise)."""
    gen = torch.Generator().manual_seed(seed)
    pick = torch.randint(0, 2, (n,), generator=gen)
    return torch.zeros(n, 1), MODES[pick] + 0.03 * torch.randn(n, 2, generator=gen)


def fit(policy: genpo.models.Policy, steps: int, lr: float = 3e-3, objective: str | None = None) -> list[float]:
    """Minimizes the policy's imitation loss on fresh two-mode batches; returns the losses."""
    opt = torch.optim.Adam(policy.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(1)
    losses = []
    for i in range(steps):
        obs, act = two_mode_data(256, seed=100 + i)
        loss = policy.imitation_loss(obs, act, objective, generator=gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses


def held(policy: genpo.models.Policy, n: int = 2000) -> int:
    with torch.no_grad():
        actions = policy.sample(torch.zeros(n, 1), generator=torch.Generator().manual_seed(2))[0]
    return modes_held(mode_shares(actions.numpy(), MODES.numpy(), 0.15))


@pytest.mark.parametrize("case", case_params(policy_cases() + surrogate_cases()))
def test_every_family_declares_an_imitation_loss_that_trains_it(case) -> None:
    policy = case.build(obs_dim=3, action_dim=2, dtype=F32)
    objectives = policy.imitation_objectives()
    assert objectives and policy.check_objective(None) == objectives[0]
    obs, act = torch.randn(16, 3), torch.rand(16, 2) * 2 - 1
    for objective in objectives:
        policy.zero_grad()
        loss = policy.imitation_loss(obs, act, objective, generator=torch.Generator().manual_seed(0))
        assert loss.dim() == 0 and torch.isfinite(loss)
        loss.backward()
        grads = [p.grad for p in policy.parameters() if p.grad is not None]
        assert grads and any(bool(g.abs().sum() > 0) for g in grads), objective
    with pytest.raises(ValueError, match="choose one of"):
        policy.imitation_loss(obs, act, "no-such-objective")


def test_objectives_follow_the_family() -> None:
    assert genpo.make_policy(3, 2, model="gaussian").imitation_objectives() == ("likelihood",)
    assert genpo.make_policy(3, 2, integrator="gaussian-chain").imitation_objectives() == ("flow-matching",)
    assert genpo.make_policy(3, 2, integrator="euler", likelihood="cfm").imitation_objectives() == ("flow-matching",)
    edict = genpo.make_policy(3, 2, integrator="edict").imitation_objectives()
    assert set(edict) == {"flow-matching", "likelihood", "flow-matching+likelihood"}


def test_flow_matching_is_minimized_by_the_conditional_mean_velocity() -> None:
    """A field that outputs the exact target for a point-mass action has loss 0; any other is worse."""
    a = torch.tensor([[0.3, -0.2]]).expand(64, 2)
    obs = torch.zeros(64, 1)

    def exact(x, t, o):  # the straight path to a point mass a: v = (a - x_t) / (1 - t)
        return (a - x) / (1 - t).unsqueeze(-1)

    assert float(flow_matching_loss(exact, obs, a, torch.Generator().manual_seed(0)).max()) < 1e-8
    zero = flow_matching_loss(lambda x, t, o: torch.zeros_like(x), obs, a, torch.Generator().manual_seed(0))
    assert float(zero.mean()) > 0.5


def test_flow_matching_loss_decreases() -> None:
    torch.manual_seed(0)
    policy = genpo.make_policy(1, 2, integrator="euler", hidden=(64, 64))
    losses = fit(policy, 150)
    assert np.mean(losses[-20:]) < 0.7 * np.mean(losses[:20])


def test_pretrained_flow_holds_both_modes_and_a_gaussian_does_not() -> None:
    torch.manual_seed(0)
    flow = genpo.make_policy(1, 2, integrator="euler", steps=10, hidden=(64, 64))
    fit(flow, 300)
    gauss = genpo.make_policy(1, 2, model="gaussian", hidden=(64, 64))
    fit(gauss, 300, lr=1e-2)
    assert held(flow) == 2
    assert held(gauss) < 2  # one Gaussian spreads over both modes (or sits between them)


def test_sliced_wasserstein() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(500, 3, generator=gen)
    assert sliced_wasserstein(x, x[torch.randperm(500, generator=gen)]) == pytest.approx(0.0, abs=1e-12)
    shift = torch.zeros(500, 3)
    shift[:, 0] = 1.0
    far = sliced_wasserstein(x, x + shift, projections=2000, generator=gen)
    assert far == pytest.approx(3**-0.5, rel=0.1)  # |shift| x rms cosine of a random direction in 3-D
    with pytest.raises(ValueError, match="same shape"):
        sliced_wasserstein(x, x[:10])
