"""FPO's cfm ratio surrogate: stored draws, the CFM loss it reports, one PPO step, and refusals.

The ratio == 1 check at the first minibatch (for every estimator and family, cfm included) is in
tests/training/test_ppo_ratio.py.
"""

from __future__ import annotations

import pytest
import torch
from flow_factories import F64, make_flow

from genpo.errors import ConfigError
from genpo.inversion import INTEGRATORS, LIKELIHOODS, CFMRatio, NotADensityError
from genpo.models.flow import CFMFlowPolicy
from genpo.objectives import clipped_surrogate
from genpo.training.config import TrainConfig

pytestmark = pytest.mark.usefixtures("one_thread")

N, D = 6, 2


def cfm_policy(**options) -> CFMFlowPolicy:
    policy = make_flow("euler", "cfm", obs_dim=3, action_dim=D, mc_samples=N, **options)
    assert isinstance(policy, CFMFlowPolicy)
    return policy


def independent_cfm_loss(policy: CFMFlowPolicy, obs: torch.Tensor, latent: torch.Tensor) -> torch.Tensor:
    """The CFM loss written out from the stored columns, one draw at a time, with the network's forward."""
    a = latent[:, :D]
    u = latent[:, D : D + N]
    eps = latent[:, D + N :]
    losses = []
    for i in range(N):
        tau = 0.5 * (1.0 + torch.erf(u[:, i] / 2.0**0.5))  # Phi(u): uniform on (0, 1)
        e = eps[:, i * D : (i + 1) * D]
        x = (1 - tau)[:, None] * e + tau[:, None] * a
        v = policy.velocity(x, tau, obs)
        losses.append(((v - (a - e)) ** 2).sum(-1))
    return torch.stack(losses).mean(0)


def test_latent_carries_the_draws_and_the_score_is_minus_the_cfm_loss() -> None:
    policy = cfm_policy()
    obs = torch.randn(16, 3, dtype=F64)
    with torch.no_grad():
        action, latent, score = policy.sample(obs, generator=torch.Generator().manual_seed(0))
        expected = -independent_cfm_loss(policy, obs, latent)
    assert policy.latent_dim == D + N * (1 + D) and latent.shape == (16, policy.latent_dim)
    torch.testing.assert_close(action, latent[:, :D])
    torch.testing.assert_close(score, expected, rtol=0, atol=1e-12)


def test_old_and_new_use_the_same_draws() -> None:
    """The score is a function of (obs, latent, parameters) only: no random draw happens at update time."""
    policy = cfm_policy()
    obs = torch.randn(8, 3, dtype=F64)
    with torch.no_grad():
        _, latent, old = policy.sample(obs)
        torch.manual_seed(123)
        again = policy.log_weight(obs, latent)
        torch.manual_seed(456)
        again2 = policy.log_weight(obs, latent)
        other = latent.clone()
        other[:, D:] = torch.randn_like(other[:, D:])  # other draws for the same actions
        moved = policy.log_weight(obs, other)
    assert torch.equal(again, again2)
    torch.testing.assert_close(again, old, rtol=0, atol=1e-12)
    assert (moved - old).abs().max() > 1e-3


@pytest.mark.parametrize("per_sample", [False, True], ids=["fpo", "fpo++-per-sample"])
def test_one_step_with_positive_advantage_lowers_that_actions_cfm_loss(per_sample: bool) -> None:
    """PPO's clipped surrogate with the cfm ratio and A > 0: one gradient step makes the action more 'likely'.

    Checked on the stored draws and on 2048 fresh ones (the expected CFM loss the ratio estimates).
    """
    policy = cfm_policy(speed=0.5, per_sample=per_sample)
    obs = torch.randn(1, 3, dtype=F64)
    with torch.no_grad():
        _, latent, old = policy.sample(obs, generator=torch.Generator().manual_seed(3))
    fresh = latent.repeat(2048 // N + 1, 1)
    fresh[:, D:] = torch.randn(fresh.shape[0], fresh.shape[1] - D, generator=torch.Generator().manual_seed(4))
    obs_fresh = obs.expand(fresh.shape[0], -1)
    with torch.no_grad():
        before_fresh = -policy.log_weight(obs_fresh, fresh).mean()
    optimizer = torch.optim.SGD(policy.parameters(), lr=1e-3)
    adv = torch.ones((1,) + (1,) * len(policy.score_shape), dtype=F64)
    loss, _ = clipped_surrogate(policy.log_weight(obs, latent), old, adv, clip=0.2)
    loss.backward()
    optimizer.step()
    with torch.no_grad():
        after = -policy.log_weight(obs, latent)
        after_fresh = -policy.log_weight(obs_fresh, fresh).mean()
    assert after.mean().item() < -old.mean().item()
    assert after_fresh.item() < before_fresh.item()


def test_deterministic_action_is_the_zero_noise_euler_sample() -> None:
    policy = cfm_policy()
    obs = torch.randn(4, 3, dtype=F64)
    with torch.no_grad():
        x = torch.zeros(4, D, dtype=F64)
        for k in range(5):
            x = x + 0.2 * policy.velocity(x, k / 5, obs)
        torch.testing.assert_close(policy.deterministic_action(obs), x, rtol=0, atol=1e-12)


def test_no_density_is_reported() -> None:
    policy = cfm_policy()
    obs = torch.randn(2, 3, dtype=F64)
    _, latent, _ = policy.sample(obs)
    assert not policy.is_density
    for call in (policy.log_prob, policy.flow_inverse, policy.flow_forward):
        with pytest.raises(NotADensityError, match="ratio surrogate, not a density"):
            call(obs, latent)
    assert "SURROGATE, not a density" in {e.name: e.description for e in LIKELIHOODS.entries()}["cfm"]


def test_cfm_pairs_only_with_ode_samplers_and_options_are_checked() -> None:
    est = CFMRatio()
    ok = [n for n in INTEGRATORS.names() if est.compatible(INTEGRATORS.get(n)())]
    assert ok == ["euler", "pf-ode"]
    with pytest.raises(ValueError, match="'cfm' does not work with integrator 'edict'"):
        est.check(INTEGRATORS.get("edict")())
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match="mc_samples must be an integer >= 1"):
            CFMRatio(mc_samples=bad)


def test_entropy_bonus_is_refused_with_a_surrogate() -> None:
    cfg = TrainConfig.from_dict(
        {"policy": {"integrator": "euler", "likelihood": "cfm", "hidden": [8]}, "algo": {"entropy_coef": 0.01}}
    )
    with pytest.raises(ConfigError, match=r"algo\.entropy_coef must be 0 with likelihood 'cfm'"):
        cfg.validate()


def test_per_sample_ratio_scores_each_draw() -> None:
    """FPO++: one score per draw, whose mean is the plain cfm score; PPO gets one ratio per draw."""
    per = cfm_policy(per_sample=True)
    plain = make_flow("euler", "cfm", obs_dim=3, action_dim=D, mc_samples=N)
    plain.load_state_dict(per.state_dict())
    obs = torch.randn(8, 3, dtype=F64)
    with torch.no_grad():
        _, latent, scores = per.sample(obs)
        assert scores.shape == (8, N) and per.score_shape == (N,)
        torch.testing.assert_close(scores.mean(-1), plain.log_weight(obs, latent), rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="per_sample must be true or false"):
        CFMRatio(per_sample="yes")


def test_a_velocity_without_per_row_times_is_refused_clearly() -> None:
    from genpo.models.velocity import VelocityNet

    class ScalarTimeOnly(VelocityNet):
        def __init__(self) -> None:
            super().__init__()
            self.latent_dim, self.obs_dim = D, 3
            self.lin = torch.nn.Linear(D + 3 + 1, D)

        def forward(self, x, t, obs):
            tt = torch.as_tensor(t).reshape(1, 1).expand(x.shape[0], 1)  # scalar times only
            return self.lin(torch.cat([x, obs, tt], -1))

    with pytest.raises(ValueError, match="accepts one time per row"):
        CFMFlowPolicy(ScalarTimeOnly(), INTEGRATORS.get("euler")(), CFMRatio())
