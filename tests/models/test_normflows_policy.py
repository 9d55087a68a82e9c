"""Exactness and interface tests of the normflows members of the zoo (nsf, nsf-ar, maf)."""

from __future__ import annotations

import math

import pytest
import torch

from genpo.inversion.base import std_normal_log_prob
from genpo.models import MODELS, make_policy
from genpo.models.normflows_policy import AutoregressiveNSFPolicy, MAFPolicy, NormflowsPolicy, NSFPolicy

NAMES = ["nsf", "nsf-ar", "maf"]
SPLINES = ["nsf", "nsf-ar"]
OBS_DIM = 4


def small_options(name: str, **extra: object) -> dict[str, object]:
    """Tiny networks so the whole file stays fast."""
    opts: dict[str, object] = {"blocks": 2, "hidden": 8, "net_blocks": 1}
    if name in SPLINES:
        opts["num_bins"] = 4
    return opts | extra


# normflows initialises splines and LU layers to the identity (and the conditioners' last layers
# near zero), so exactness tests on a fresh model would only see a near-identity map: every test
# below first adds noise to all parameters. MAF gets less: its MADE output layer is not
# zero-initialised and sampling divides by a scale in (1e-3, 1.001], so noise of 0.5 gives latents
# of ~1e8 (not the O(1) regime a policy works in); 0.15 gives latents of a few units.
PERTURBATION = {"nsf": 0.5, "nsf-ar": 0.5, "maf": 0.15}


def perturbed(
    name: str, action_dim: int = 3, scale: float | None = None, seed: int = 0, **extra: object
) -> NormflowsPolicy:
    """A float64 policy whose networks output O(1) values (see ``PERTURBATION``)."""
    torch.manual_seed(seed)
    policy = make_policy(OBS_DIM, action_dim, model=name, **small_options(name, **extra)).double()
    scale = PERTURBATION[name] if scale is None else scale
    with torch.no_grad():
        for p in policy.parameters():
            p.add_(scale * torch.randn_like(p))
    return policy


def batch(n: int, width: int, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, width, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # Tiny tensors: intra-op threads only add overhead on a shared 2-core machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_registered_and_listed() -> None:
    from typer.testing import CliRunner

    from genpo.cli.main import app

    result = CliRunner().invoke(app, ["list"])
    assert result.exit_code == 0, result.output
    for name in NAMES:
        assert name in MODELS
        assert name in result.output


@pytest.mark.parametrize("name", NAMES)
def test_perturbed_map_is_far_from_identity_and_obs_dependent(name: str) -> None:
    policy = perturbed(name)
    obs, noise = batch(256, OBS_DIM, 1), batch(256, 3, 2)
    latent, log_det = policy.flow_forward(obs, noise)
    assert (latent - noise).abs().mean() > 0.3
    assert log_det.std() > 0.1
    # Same latent, other observations: the density must change (the context reaches the layers).
    other = policy.log_prob(batch(256, OBS_DIM, 3), latent)
    assert (other - policy.log_prob(obs, latent)).abs().mean() > 0.1


@pytest.mark.parametrize("action_dim", [1, 3])
@pytest.mark.parametrize("name", NAMES)
def test_sample_log_prob_equals_log_prob_float64(name: str, action_dim: int) -> None:
    policy = perturbed(name, action_dim)
    obs = batch(64, OBS_DIM)
    action, latent, lp_sample = policy.sample(obs, generator=torch.Generator().manual_seed(0))
    assert action.dtype == latent.dtype == lp_sample.dtype == torch.float64
    assert action.shape == latent.shape == (64, action_dim) and lp_sample.shape == (64,)
    torch.testing.assert_close(action, latent)
    lp = policy.log_prob(obs, latent)
    assert lp.dtype == torch.float64
    torch.testing.assert_close(lp, lp_sample, rtol=0, atol=1e-8)


@pytest.mark.parametrize("action_dim", [1, 3])
@pytest.mark.parametrize("name", NAMES)
def test_round_trip_and_log_dets_cancel(name: str, action_dim: int) -> None:
    policy = perturbed(name, action_dim)
    obs, noise = batch(64, OBS_DIM, 1), batch(64, action_dim, 2)
    latent = policy.generate(obs, noise)
    torch.testing.assert_close(policy.invert(obs, latent), noise, rtol=0, atol=1e-9)
    _, fwd = policy.flow_forward(obs, noise)
    back, inv = policy.flow_inverse(obs, latent)
    torch.testing.assert_close(back, noise, rtol=0, atol=1e-9)
    torch.testing.assert_close(fwd + inv, torch.zeros_like(fwd), rtol=0, atol=1e-8)


@pytest.mark.parametrize("name", NAMES)
def test_log_prob_matches_autograd_jacobian(name: str) -> None:
    policy = perturbed(name, action_dim=3)
    obs = batch(1, OBS_DIM, 5)
    for noise in batch(3, 3, 6):
        jac = torch.autograd.functional.jacobian(lambda z: policy.generate(obs, z[None])[0], noise)
        assert (jac - torch.eye(3, dtype=torch.float64)).abs().max() > 0.2  # a real, non-identity map
        expected = std_normal_log_prob(noise[None]) - torch.linalg.slogdet(jac).logabsdet
        latent = policy.generate(obs, noise[None])
        torch.testing.assert_close(policy.log_prob(obs, latent), expected, rtol=0, atol=1e-9)


@pytest.mark.parametrize("action_dim", [1, 2])
@pytest.mark.parametrize("name", NAMES)
def test_float32_batch_one_and_deterministic_action(name: str, action_dim: int) -> None:
    torch.manual_seed(0)
    policy = make_policy(OBS_DIM, action_dim, model=name, **small_options(name))
    obs = torch.randn(1, OBS_DIM)
    action, latent, lp = policy.sample(obs)
    assert action.dtype == lp.dtype == torch.float32
    assert action.shape == (1, action_dim) and lp.shape == (1,)
    torch.testing.assert_close(policy.log_prob(obs, latent), lp, rtol=0, atol=1e-4)
    torch.testing.assert_close(policy.deterministic_action(obs), policy(obs))
    torch.testing.assert_close(policy.deterministic_action(obs), policy.generate(obs, torch.zeros(1, action_dim)))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", NAMES)
def test_cuda(name: str) -> None:
    policy = perturbed(name).cuda()
    obs = batch(16, OBS_DIM).cuda()
    _, latent, lp = policy.sample(obs)
    assert latent.is_cuda and lp.is_cuda
    torch.testing.assert_close(policy.log_prob(obs, latent), lp, rtol=0, atol=1e-8)
    policy.float()
    _, latent, lp = policy.sample(obs.float())
    assert torch.isfinite(lp).all()


@pytest.mark.parametrize("name", SPLINES)
def test_spline_tails_are_identity(name: str) -> None:
    # One block, no mixing layer: every coordinate outside the tail bound passes unchanged.
    policy = perturbed(name, blocks=1, mixing="none", tail_bound=1.5)
    obs = batch(4, OBS_DIM)
    latent = torch.tensor([[2.0, -3.0, 50.0], [-1.6, 1.6, -1e3], [1e4, 7.0, -2.5], [-9.0, 4.0, 1.51]]).double()
    noise, log_det = policy.flow_inverse(obs, latent)
    torch.testing.assert_close(noise, latent, rtol=0, atol=0)
    torch.testing.assert_close(log_det, torch.zeros(4, dtype=torch.float64), rtol=0, atol=0)
    torch.testing.assert_close(policy.log_prob(obs, latent), std_normal_log_prob(latent))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", NAMES)
def test_far_actions_have_finite_log_prob_and_gradients(name: str, dtype: torch.dtype) -> None:
    policy = perturbed(name).to(dtype)
    obs = batch(4, OBS_DIM).to(dtype)
    latent = torch.tensor([[40.0, -3.5, 1e3], [-1e3, 0.0, 5.0], [3.0, -3.0, 3.0], [0.1, 200.0, -60.0]], dtype=dtype)
    lp = policy.log_prob(obs, latent)
    assert torch.isfinite(lp).all()
    lp.sum().backward()
    for p in policy.parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all()


@pytest.mark.parametrize(("name", "seed", "scale", "bins"), [("nsf", 2, 3.0, 32), ("nsf-ar", 3, 4.0, 64)])
def test_float32_sampling_stays_finite_with_sharp_splines(name: str, seed: int, scale: float, bins: int) -> None:
    # Regression: normflows' float32 spline inverse (a quadratic root) overshoots [0, 1] in narrow,
    # steep bins and returns NaN log-dets; without the float64 root solve these exact cases gave
    # 9 (nsf) and 9 (nsf-ar) NaN log-probs out of 4096 samples.
    torch.manual_seed(seed)
    policy = make_policy(OBS_DIM, 3, model=name, blocks=1, hidden=16, net_blocks=1, num_bins=bins, mixing="none")
    with torch.no_grad():
        for p in policy.parameters():
            p.add_(scale * torch.randn_like(p))
        obs = 2 * torch.randn(4096, OBS_DIM, generator=torch.Generator().manual_seed(seed))
        _, latent, lp = policy.sample(obs, generator=torch.Generator().manual_seed(seed))
    assert lp.dtype == torch.float32
    assert torch.isfinite(latent).all() and torch.isfinite(lp).all()


@pytest.mark.parametrize("name", NAMES)
def test_parameter_gradients_of_log_prob_are_finite(name: str) -> None:
    policy = perturbed(name)
    obs = batch(32, OBS_DIM)
    with torch.no_grad():
        _, latent, _ = policy.sample(obs)
    policy.log_prob(obs, latent).mean().backward()
    grads = [p.grad for p in policy.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(g.abs().sum() for g in grads) > 0


@pytest.mark.parametrize("mixing", ["lu", "permute", "none"])
@pytest.mark.parametrize("name", NAMES)
def test_mixing_variants_round_trip(name: str, mixing: str) -> None:
    policy = perturbed(name, mixing=mixing)
    obs, noise = batch(16, OBS_DIM, 1), batch(16, 3, 2)
    latent, fwd = policy.flow_forward(obs, noise)
    back, inv = policy.flow_inverse(obs, latent)
    torch.testing.assert_close(back, noise, rtol=0, atol=1e-9)
    torch.testing.assert_close(fwd + inv, torch.zeros_like(fwd), rtol=0, atol=1e-9)


@pytest.mark.parametrize("name", NAMES)
def test_unknown_option_names_accepted_ones(name: str) -> None:
    with pytest.raises(ValueError, match=r"unknown option\(s\) bogus.*accepted options:.*hidden"):
        make_policy(OBS_DIM, 2, model=name, bogus=1)


def test_spline_options_are_rejected_by_maf() -> None:
    with pytest.raises(ValueError, match="num_bins"):
        make_policy(OBS_DIM, 2, model="maf", num_bins=8)


@pytest.mark.parametrize("cls", [NSFPolicy, AutoregressiveNSFPolicy, MAFPolicy])
@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("blocks", 0, "blocks must be an integer >= 1"),
        ("blocks", 2.0, "blocks must be an integer"),
        ("hidden", 0, "hidden must be an integer >= 1"),
        ("net_blocks", -1, "net_blocks must be an integer >= 0"),
        ("activation", "nope", "choose one of: mish"),
        ("mixing", "nope", "choose one of: lu, permute, none"),
    ],
)
def test_bad_common_options(cls: type[NormflowsPolicy], option: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cls(OBS_DIM, 2, **{option: value})


@pytest.mark.parametrize("cls", [NSFPolicy, AutoregressiveNSFPolicy])
@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("num_bins", 1, r"num_bins must be an integer in \[2, 1000\]"),
        ("num_bins", 1001, r"num_bins must be an integer in \[2, 1000\]"),
        ("tail_bound", 0.0, "tail_bound must be a finite number > 0"),
        ("tail_bound", math.inf, "tail_bound must be a finite number > 0"),
        ("tail_bound", "3", "tail_bound must be a finite number > 0"),
    ],
)
def test_bad_spline_options(cls: type[NormflowsPolicy], option: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cls(OBS_DIM, 2, **{option: value})


@pytest.mark.parametrize("name", NAMES)
def test_wrong_widths_raise(name: str) -> None:
    policy = make_policy(OBS_DIM, 2, model=name, **small_options(name))
    with pytest.raises(ValueError, match=r"obs must have shape \[batch, 4\]"):
        policy.sample(torch.randn(3, OBS_DIM + 1))
    with pytest.raises(ValueError, match=r"obs must have shape"):
        policy.log_prob(torch.randn(3, OBS_DIM - 1), torch.randn(3, 2))
    with pytest.raises(ValueError, match=r"latent must have shape \[batch, 2\]"):
        policy.log_prob(torch.randn(3, OBS_DIM), torch.randn(3, 3))
    with pytest.raises(ValueError, match="action_dim must be an integer >= 1"):
        make_policy(OBS_DIM, 0, model=name)
