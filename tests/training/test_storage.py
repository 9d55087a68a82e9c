"""GAE with terminations and time-out bootstrapping, against a plain reference loop."""

from __future__ import annotations

import torch

from genpo.training.storage import RolloutStorage


def reference_gae(rewards, values, dones, last_value, gamma, lam):
    steps, n = rewards.shape
    adv = torch.zeros(steps, n)
    for e in range(n):
        gae = 0.0
        for t in reversed(range(steps)):
            nv = last_value[e] if t == steps - 1 else values[t + 1, e]
            nd = 1.0 - dones[t, e]
            delta = rewards[t, e] + gamma * nv * nd - values[t, e]
            gae = delta + gamma * lam * nd * gae
            adv[t, e] = gae
    return adv


def test_gae_matches_reference_and_minibatches_cover_everything():
    torch.manual_seed(0)
    steps, n = 7, 3
    st = RolloutStorage(steps, n, obs_dim=2, critic_obs_dim=2, latent_dim=4, device=torch.device("cpu"))
    rewards, values = torch.randn(steps, n), torch.randn(steps, n)
    dones = (torch.rand(steps, n) < 0.3).float()
    for t in range(steps):
        st.add(torch.randn(n, 2), torch.randn(n, 2), torch.randn(n, 4), torch.randn(n), values[t], rewards[t], dones[t])
    last = torch.randn(n)
    st.compute_returns(last, gamma=0.9, lam=0.8)
    ref = reference_gae(rewards, values, dones, last, 0.9, 0.8)
    torch.testing.assert_close(st.advantages, ref)
    torch.testing.assert_close(st.returns, ref + values)
    seen = torch.cat([mb["advantages"] for mb in st.minibatches(4)])
    assert seen.numel() == steps * n
    torch.testing.assert_close(seen.sort().values, st.advantages.flatten().sort().values)


def test_storage_refuses_overflow():
    st = RolloutStorage(1, 1, 1, 1, 1, torch.device("cpu"))
    z = torch.zeros(1)
    st.add(z[:, None], z[:, None], z[:, None], z, z, z, z)
    try:
        st.add(z[:, None], z[:, None], z[:, None], z, z, z, z)
    except RuntimeError as exc:
        assert "full" in str(exc)
    else:
        raise AssertionError("second add on a full storage must fail")
