"""Velocity networks: bind() is forward(), caches stay correct, outputs scale, options are checked."""

from __future__ import annotations

import copy

import pytest
import torch
from flow_factories import F32, F64, probe_inputs
from torch import nn

from genpo.models.velocity import (
    ACTIVATIONS,
    VELOCITIES,
    MLPVelocity,
    SinusoidalTimeEmbedding,
    VelocityNet,
    make_activation,
    scale_output_,
)

pytestmark = pytest.mark.usefixtures("one_thread")

SMALL_OPTIONS = {"mlp": {"hidden": (32, 16)}, "resmlp": {"width": 32, "blocks": 2}}


def build(name: str, latent_dim: int = 3, obs_dim: int = 4, **extra: object) -> VelocityNet:
    torch.manual_seed(0)
    net = VELOCITIES.get(name)(latent_dim, obs_dim, **{**SMALL_OPTIONS.get(name, {}), **extra})
    return scale_output_(net, 20.0)  # O(1) outputs, so comparisons are not between near-zeros


@pytest.mark.parametrize("dtype", [F32, F64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", VELOCITIES.names())
def test_bound_field_equals_forward(name: str, dtype: torch.dtype) -> None:
    """For grid times (floats, cached per pass) and tensor times (ODE solvers), with and without grad."""
    net = build(name).to(dtype)
    x, obs = probe_inputs(net, batch=5)
    tol = {"rtol": 1e-5, "atol": 1e-5} if dtype == F32 else {"rtol": 1e-12, "atol": 1e-12}
    for grad in (False, True, False):
        with torch.set_grad_enabled(grad):
            field = net.bind(obs)
            for t in (0.0, 0.4, 0.4, torch.tensor(0.37, dtype=dtype)):
                out = field(x, t)
                assert out.shape == (5, 3) and out.dtype == dtype
                torch.testing.assert_close(out, net(x, t, obs), **tol)
    assert net(x, 0.2, obs).abs().mean() > 0.1


def test_mlp_split_first_layer_is_one_linear_layer_on_the_concatenation() -> None:
    net = build("mlp").double()
    x, obs = probe_inputs(net, batch=6)
    t = torch.tensor(0.6, dtype=F64)
    emb = net.time_embed(t).expand(6, -1)
    weight = torch.cat([net.in_x.weight, net.in_obs.weight, net.in_t.weight], dim=1)
    first = nn.functional.linear(torch.cat([x, obs, emb], dim=-1), weight, net.in_x.bias)
    torch.testing.assert_close(net(x, t, obs), net.trunk(net.act(first)))


def test_cached_time_values_follow_parameter_updates() -> None:
    """No-grad passes (rollouts) see the parameters as they are now, after optimizer steps and loads."""
    net = build("mlp").double()
    x, obs = probe_inputs(net, batch=4)
    with torch.no_grad():
        before = net.bind(obs)(x, 0.2)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.5)
    loss = net(x, 0.2, obs).pow(2).sum() + net.time_embed(torch.tensor(0.2, dtype=F64)).pow(2).sum()
    loss.backward()
    optimizer.step()
    with torch.no_grad():
        after = net.bind(obs)(x, 0.2)
        torch.testing.assert_close(after, net(x, 0.2, obs))
    assert not torch.allclose(before, after)

    other = build("mlp").double()
    with torch.no_grad():
        for p in other.parameters():
            p.add_(0.3)
    net.load_state_dict(other.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(net.bind(obs)(x, 0.2), other(x, 0.2, obs))
        # A change of dtype is a different cache entry too.
        torch.testing.assert_close(
            net.float().bind(obs.float())(x.float(), 0.2), other.float()(x.float(), 0.2, obs.float())
        )


def test_a_field_first_called_without_grad_still_differentiates_later() -> None:
    """Euler's inverse calls the field under no_grad (fixed point), then with grad (Newton step).

    The per-pass cache must not hand a detached time/observation value to the differentiable call.
    """
    net = build("mlp").double()
    x, obs = probe_inputs(net, batch=4)
    field = net.bind(obs)
    with torch.no_grad():
        field(x, 0.2)
    field(x, 0.2).sum().backward()
    missing = [n for n, p in net.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing


@pytest.mark.parametrize("name", VELOCITIES.names())
def test_scale_output_multiplies_the_output(name: str) -> None:
    net = build(name).double()
    x, obs = probe_inputs(net, batch=4)
    with torch.no_grad():
        before = net(x, 0.4, obs)
        scale_output_(net, 3.0)
        after = net(x, 0.4, obs)
    torch.testing.assert_close(after, 3.0 * before)


def test_time_embedding_separates_the_grid_times() -> None:
    emb = SinusoidalTimeEmbedding(dim=8, hidden=16)
    out = emb(torch.tensor([0.0, 0.2, 0.4, 0.6, 0.8]))
    assert out.shape == (5, 8)
    assert torch.cdist(out, out).add(torch.eye(5)).min() > 1e-4
    with pytest.raises(ValueError, match="time embedding dim must be even, got 7"):
        SinusoidalTimeEmbedding(dim=7)


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_every_activation_builds_and_runs(activation: str) -> None:
    net = MLPVelocity(2, 3, hidden=(8,), activation=activation, time_dim=4)
    x, obs = probe_inputs(net, batch=3)
    assert torch.isfinite(net(x, 0.2, obs)).all()
    assert isinstance(make_activation(activation), ACTIVATIONS[activation])


def test_bad_options_are_refused_with_the_allowed_values() -> None:
    with pytest.raises(ValueError, match=r"unknown activation 'swish'; choose one of: mish, elu, relu"):
        MLPVelocity(2, 3, activation="swish")
    with pytest.raises(ValueError, match="hidden must name at least one layer width"):
        MLPVelocity(2, 3, hidden=())


def test_double_and_copy_keep_the_function() -> None:
    net = build("resmlp")
    clone = copy.deepcopy(net).double()
    x, obs = probe_inputs(net, batch=3)
    torch.testing.assert_close(clone(x.double(), 0.2, obs.double()).float(), net(x, 0.2, obs), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("velocity", ["mlp", "resmlp"])
@pytest.mark.parametrize("integrator", ["edict", "reversible-heun", "euler", "gaussian-chain"])
def test_shared_terms_keep_values_and_gradients(velocity: str, integrator: str) -> None:
    """One minibatch's passes (log-prob and compression) share the time embeddings: same values, same gradients."""
    from genpo.models.factory import make_policy

    torch.manual_seed(0)
    policy = make_policy(3, 2, model="flow", velocity=velocity, integrator=integrator, steps=3, hidden=[16, 16])
    obs, latent = torch.randn(8, 3), torch.randn(8, policy.latent_dim)
    noise = torch.randn(4, policy.latent_dim)

    def passes() -> tuple[torch.Tensor, list[torch.Tensor]]:
        policy.zero_grad(set_to_none=True)
        out = policy.log_prob(obs, latent).mean() + policy.generate_only(obs[:4], noise).square().mean()
        return out, [p for p in policy.parameters()]

    plain, params = passes()
    plain.backward()
    want = [None if p.grad is None else p.grad.clone() for p in params]
    with policy.shared_terms():
        shared, params = passes()
    shared.backward()
    assert shared.item() == plain.item()  # the same values, computed once instead of per pass
    for w, p in zip(want, params, strict=True):
        assert (w is None) == (p.grad is None)
        if w is not None:
            torch.testing.assert_close(p.grad, w, rtol=1e-5, atol=1e-6)
    assert policy.velocity._shared_cache is None  # nothing outlives the block (the optimizer steps after it)


def test_shared_terms_compute_each_grid_time_once() -> None:
    net = MLPVelocity(2, 3, hidden=(8,))
    calls: list[int] = []
    net.time_embed.register_forward_hook(lambda *_: calls.append(1))
    obs, x = torch.randn(4, 3), torch.randn(4, 2)
    with net.shared_terms():
        for _ in range(2):  # two passes over the same K = 3 grid
            field = net.bind(obs)
            for t in (0.0, 1 / 3, 2 / 3):
                field(x, t)
    assert len(calls) == 3
    with torch.no_grad(), net.shared_terms():  # keyed by grad mode: a no-grad value never stands in for a graph
        net.bind(obs)(x, 0.0)
    assert len(calls) == 4
