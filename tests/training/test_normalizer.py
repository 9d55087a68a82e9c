"""Running normalizer: incremental statistics equal the statistics of all data seen."""

from __future__ import annotations

import torch

from genpo.training.normalizer import RunningNormalizer


def test_incremental_equals_batch_statistics():
    torch.manual_seed(0)
    data = torch.randn(1000, 3, dtype=torch.float64) * torch.tensor([1.0, 5.0, 0.1]) + torch.tensor([2.0, -1.0, 0.0])
    norm = RunningNormalizer(3)
    for chunk in data.split(97):
        norm.update(chunk)
    torch.testing.assert_close(norm.mean, data.mean(0))
    torch.testing.assert_close(norm.var, data.var(0, unbiased=False))
    assert norm.count.item() == 1000
    out = norm(data.float())
    assert out.abs().max() <= 10.0
    torch.testing.assert_close(out.mean(0), torch.zeros(3), atol=1e-4, rtol=0)


def test_all_reduce_hook_folds_a_global_batch():
    # Two "ranks" seeing different halves must end with the statistics of the union.
    torch.manual_seed(1)
    a, b = torch.randn(50, 2), torch.randn(70, 2) + 3.0
    stats = {}

    def fake_reduce_for(other):
        def reduce(t):
            o = other.to(torch.float64)
            return t + torch.cat([o.new_tensor([o.shape[0]]), o.sum(0), o.pow(2).sum(0)])

        return reduce

    na, nb = RunningNormalizer(2), RunningNormalizer(2)
    na.update(a, fake_reduce_for(b))
    nb.update(b, fake_reduce_for(a))
    both = torch.cat([a, b]).double()
    for n in (na, nb):
        torch.testing.assert_close(n.mean, both.mean(0))
        torch.testing.assert_close(n.var, both.var(0, unbiased=False))
    assert not stats
