"""Probe vectors that are a deterministic function of the row they start from ("keyed" probes).

A stochastic log-prob estimate (Hutchinson) is only a usable PPO ratio if the rollout and the update
evaluate the *same* estimate for a sample; probes drawn per call, or per row position, differ between
the rollout's batch and a shuffled minibatch. Keyed probes hash each row's float32 bits with exact
integer arithmetic (a multiplicative hash modulo the Mersenne prime 2^31 - 1), so the probes of a row
do not depend on the batch it is in, on its position, on the device's BLAS, or on the global generator.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

_P = 2_147_483_647  # 2^31 - 1: products of two residues fit in int64
_MIX = 48_271  # minimal-standard LCG multiplier


def _residues(count: int, key: int, salt: int, device: torch.device) -> Tensor:
    gen = torch.Generator().manual_seed((key * 1_000_003 + salt) % 2**63)
    return torch.randint(1, _P, (count,), generator=gen, dtype=torch.int64).to(device)


def keyed_uniforms(rows: Tensor, count: int, key: int = 0) -> Tensor:
    """``[B, count]`` numbers in (0, 1), each a fixed function of its row's float32 bits and ``key``.

    Args:
        rows: ``[B, D]``; only the values matter (no gradient flows).
        count: Numbers per row.
        key: Selects the hash (different keys give independent-looking numbers).
    """
    bits = rows.detach().to(torch.float32).contiguous().view(torch.int32).to(torch.int64) + 2**31  # [0, 2^32)
    a = _residues(bits.shape[-1], key, 1, bits.device)
    h = torch.zeros(bits.shape[0], dtype=torch.int64, device=bits.device)
    for d in range(bits.shape[-1]):
        h = (h * _MIX + (bits[:, d] % _P) * a[d] % _P) % _P
    m, c = _residues(count, key, 2, bits.device), _residues(count, key, 3, bits.device)
    u = (h.unsqueeze(-1) * m % _P + c) % _P  # [B, count]
    u = (u * _MIX) % _P  # one more round: neighbouring outputs decorrelate
    u = (u * _MIX + h.unsqueeze(-1)) % _P
    return (u.to(torch.float64) + 0.5) / _P


def keyed_probes(rows: Tensor, probes: int, kind: str, key: int = 0) -> Tensor:
    """``[probes, B, D]`` Rademacher or Gaussian probes keyed by the rows of ``rows`` ``[B, D]``, in its dtype."""
    b, d = rows.shape
    if kind == "rademacher":
        u = keyed_uniforms(rows, probes * d, key)
        eps = torch.where(u < 0.5, -1.0, 1.0)
    else:  # Box–Muller from two keyed uniforms per entry
        u = keyed_uniforms(rows, 2 * probes * d, key)
        u1, u2 = u[:, : probes * d], u[:, probes * d :]
        eps = torch.sqrt(-2.0 * torch.log(u1)) * torch.cos(2.0 * math.pi * u2)
    return eps.reshape(b, probes, d).permute(1, 0, 2).to(rows.dtype).contiguous()
