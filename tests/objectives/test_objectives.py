"""PPO surrogate, value loss, entropy estimate, compression loss, KL rule: values checked by hand."""

from __future__ import annotations

import math

import pytest
import torch

from genpo.objectives import (
    AdaptiveLR,
    asymmetric_surrogate,
    clipped_surrogate,
    compression_loss,
    entropy_estimate,
    explained_variance,
    normalize_advantages,
    sample_kl,
    value_loss,
)


def test_clipped_surrogate_matches_hand_computation():
    old = torch.zeros(4)
    new = torch.log(torch.tensor([1.0, 1.5, 0.5, 1.1]))
    adv = torch.tensor([1.0, 1.0, -1.0, -2.0])
    loss, info = clipped_surrogate(new, old, adv, clip=0.2)
    # per sample min(r A, clip(r) A): 1, 1.2 (clipped), -0.8 (clipped at 0.8 is -0.8 vs -0.5 -> -0.8), -2.2
    expected = -torch.tensor([1.0, 1.2, -0.8, -2.2]).mean()
    assert loss.item() == pytest.approx(expected.item())
    assert info["clipfrac"].item() == pytest.approx(0.5)
    r = torch.tensor([1.0, 1.5, 0.5, 1.1])
    assert info["approx_kl"].item() == pytest.approx(((r - 1) - r.log()).mean().item())


def test_clipped_surrogate_gradient_vanishes_outside_clip_range():
    new = torch.log(torch.tensor([1.5])).requires_grad_(True)
    loss, _ = clipped_surrogate(new, torch.zeros(1), torch.ones(1), clip=0.2)
    loss.backward()
    assert new.grad.item() == 0.0


def test_value_loss_clipped_takes_the_max():
    v, v_old, ret = torch.tensor([2.0]), torch.tensor([0.0]), torch.tensor([1.5])
    # unclipped (2 - 1.5)^2 = 0.25; clipped value 0.2 -> (0.2 - 1.5)^2 = 1.69
    assert value_loss(v, v_old, ret, clip=0.2).item() == pytest.approx(1.69)
    assert value_loss(v, v_old, ret, clip=None).item() == pytest.approx(0.25)


def test_entropy_estimate_and_sample_kl():
    lp = torch.tensor([-1.0, -3.0])
    assert entropy_estimate(lp).item() == pytest.approx(2.0)
    assert sample_kl(torch.tensor([-1.0, -1.0]), torch.tensor([-1.5, -0.5])).item() == pytest.approx(0.0)
    assert sample_kl(torch.tensor([-1.0]), torch.tensor([-1.5])).item() == pytest.approx(0.5)


def test_compression_loss_is_mean_l2_gap_and_rejects_odd_width():
    z = torch.tensor([[0.0, 0.0, 3.0, 4.0], [1.0, 1.0, 1.0, 1.0]])  # halves (0,0)-(3,4) and equal halves
    assert compression_loss(z).item() == pytest.approx(2.5)
    with pytest.raises(ValueError, match="even width"):
        compression_loss(torch.zeros(2, 3))


def test_normalize_advantages_and_explained_variance():
    a = normalize_advantages(torch.tensor([1.0, 2.0, 3.0, 4.0]))
    assert a.mean().abs().item() < 1e-6 and a.std(unbiased=False).item() == pytest.approx(1.0, abs=1e-6)
    ret = torch.tensor([1.0, 2.0, 3.0])
    assert explained_variance(ret, ret).item() == pytest.approx(1.0)
    assert explained_variance(torch.full((3,), 2.0), ret).item() == pytest.approx(0.0)


def test_adaptive_lr_rule():
    rule = AdaptiveLR(desired_kl=0.01)
    assert rule(1e-3, 0.05) == pytest.approx(1e-3 / 1.5)
    assert rule(1e-3, 0.001) == pytest.approx(1.5e-3)
    assert rule(1e-3, 0.01) == 1e-3
    assert rule(1e-3, -0.01) == 1e-3  # a negative sample estimate says nothing reliable
    assert rule(1e-5, 1.0) == 1e-5 and rule(1e-2, 0.0) == 1e-2  # bounds
    with pytest.raises(ValueError, match="desired_kl"):
        AdaptiveLR(desired_kl=0.0)
    assert math.isfinite(rule(5e-4, 0.02))


def test_asymmetric_surrogate_is_ppo_for_positive_and_spo_for_negative_advantages():
    old = torch.zeros(4)
    r = torch.tensor([1.5, 0.9, 0.5, 1.1])
    adv = torch.tensor([1.0, 2.0, -1.0, -2.0])
    loss, info = asymmetric_surrogate(r.log(), old, adv, clip=0.2)
    # A >= 0: min(r A, clip(r) A) = 1.2, 1.8; A < 0: r A - |A| (r - 1)^2 / (2 c) = -0.5 - 0.625, -2.2 - 0.05
    expected = -torch.tensor([1.2, 1.8, -0.5 - 0.625, -2.2 - 0.05]).mean()
    assert loss.item() == pytest.approx(expected.item())
    assert info["clipfrac"].item() == pytest.approx(0.5)
    same, _ = clipped_surrogate(r[:2].log(), old[:2], adv[:2], clip=0.2)
    part, _ = asymmetric_surrogate(r[:2].log(), old[:2], adv[:2], clip=0.2)
    assert part.item() == pytest.approx(same.item())


def test_asymmetric_surrogate_pulls_a_negative_advantage_ratio_back_inside():
    """Below 1 - c PPO's gradient is zero; SPO's penalty still pushes r up towards its optimum at 1 - c."""
    for r0, sign in ((0.5, -1.0), (1.5, 1.0)):
        new = torch.log(torch.tensor([r0])).requires_grad_(True)
        loss, _ = asymmetric_surrogate(new, torch.zeros(1), -torch.ones(1), clip=0.2)
        loss.backward()
        assert sign * new.grad.item() > 0  # gradient descent moves log r towards log(0.8)
    ppo_new = torch.log(torch.tensor([0.5])).requires_grad_(True)
    clipped_surrogate(ppo_new, torch.zeros(1), -torch.ones(1), clip=0.2)[0].backward()
    assert ppo_new.grad.item() == 0.0
