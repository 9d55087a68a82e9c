"""make_policy: option routing, and bad input refused with a message that names what is allowed."""

from __future__ import annotations

import math
import re

import pytest
import torch
from flow_factories import F64, Case, case_params, policy_cases

import genpo
from genpo.inversion import INTEGRATORS, LIKELIHOODS
from genpo.models import MODELS, VELOCITIES
from genpo.models.velocity import ACTIVATIONS

pytestmark = pytest.mark.usefixtures("one_thread")

SMALL = {"hidden": (16,)}


def small(**kwargs: object) -> genpo.Policy:
    return genpo.make_policy(3, 2, **{**SMALL, **kwargs})


# -- routing -------------------------------------------------------------------------------------


def test_options_reach_the_part_that_accepts_them() -> None:
    policy = genpo.make_policy(
        3, 2, integrator="pf-ode", likelihood="hutchinson", steps=7, hidden=(16, 8), method="rk4", probes=3
    )
    assert policy.velocity.in_x.out_features == 16
    assert policy.integrator.method == "rk4" and policy.integrator.steps == 7
    assert policy.estimator.probes == 3
    edict = small(p=0.8, steps=2, activation="elu")
    assert edict.integrator.p == 0.8 and edict.integrator.steps == 2
    assert isinstance(edict.velocity.act, torch.nn.ELU)
    assert (edict.obs_dim, edict.action_dim, edict.latent_dim) == (3, 2, 4)
    gauss = genpo.make_policy(3, 2, model="gaussian", hidden=(8,), init_log_std=-1.0)
    assert torch.equal(gauss.log_std.detach(), torch.full((2,), -1.0))
    assert gauss.latent_dim == 2


def test_the_default_is_the_authors_configuration() -> None:
    policy = genpo.make_policy(5, 2)
    assert policy.integrator.name == "edict" and policy.integrator.steps == 5 and policy.integrator.p == 0.95
    assert policy.estimator.name == "exact"
    assert [m.out_features for m in policy.velocity.trunk if isinstance(m, torch.nn.Linear)] == [200, 100, 2]
    assert isinstance(policy.velocity.act, torch.nn.Mish)
    assert next(policy.parameters()).dtype == torch.float32


# -- unknown names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "kind", "bad", "allowed"),
    [
        ({"model": "transformer"}, "model", "transformer", MODELS.names()),
        ({"velocity": "unet"}, "velocity network", "unet", VELOCITIES.names()),
        ({"integrator": "leapfrog"}, "integrator", "leapfrog", INTEGRATORS.names()),
        ({"likelihood": "elbo"}, "likelihood estimator", "elbo", LIKELIHOODS.names()),
        ({"activation": "swish"}, "activation", "swish", list(ACTIVATIONS)),
        ({"model": "gaussian", "activation": "swish"}, "activation", "swish", list(ACTIVATIONS)),
    ],
)
def test_unknown_names_list_the_allowed_ones(kwargs: dict, kind: str, bad: str, allowed: list[str]) -> None:
    with pytest.raises(ValueError, match=rf"unknown {kind} '{bad}'; choose one of: ") as info:
        small(**kwargs)
    for name in allowed:
        assert name in str(info.value)


def test_unknown_pf_ode_method_and_probe_kind() -> None:
    with pytest.raises(ValueError, match=r"unknown pf-ode method 'rk45'; choose one of: dopri5, .*rk4, euler"):
        small(integrator="pf-ode", likelihood="trace", method="rk45")
    with pytest.raises(ValueError, match="unknown probe 'sphere'; choose one of: gaussian, rademacher"):
        small(integrator="pf-ode", likelihood="hutchinson", probe="sphere")


def test_unknown_options_list_the_accepted_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown option\(s\) depth for flow/mlp/edict/exact") as info:
        small(depth=3)
    for accepted in ("hidden", "activation", "time_dim"):
        assert accepted in str(info.value)
    # An option of another part is unknown where that part is absent.
    with pytest.raises(ValueError, match=r"unknown option\(s\) method for flow/mlp/edict/exact"):
        small(method="rk4")
    with pytest.raises(ValueError, match=r"unknown option\(s\) method for GaussianPolicy; accepted options: .*hidden"):
        genpo.make_policy(3, 2, model="gaussian", method="rk4")


# -- out-of-range values ---------------------------------------------------------------------------


@pytest.mark.parametrize("p", [0, 1, -0.1, 1.5, 0.0, 1.0, math.nan, True, "0.5"])
def test_p_outside_the_open_unit_interval(p: object) -> None:
    with pytest.raises(ValueError, match=r"p must lie in the open interval \(0, 1\), got "):
        small(p=p)


@pytest.mark.parametrize("steps", [0, -1, 2.5, "5", True])
def test_steps_must_be_a_positive_integer(steps: object) -> None:
    with pytest.raises(ValueError, match=r"steps must be an integer >= 1, got "):
        small(steps=steps)


@pytest.mark.parametrize(("obs_dim", "action_dim"), [(0, 2), (3, 0), (-1, 2), (3, 2.0)])
def test_dims_must_be_positive_integers(obs_dim: object, action_dim: object) -> None:
    with pytest.raises(ValueError, match=r"(obs_dim|action_dim) must be an integer >= 1, got "):
        genpo.make_policy(obs_dim, action_dim, model="gaussian", hidden=(4,))  # type: ignore[arg-type]


def test_incompatible_pairs_name_the_compatible_estimators() -> None:
    with pytest.raises(
        ValueError, match=r"'exact' does not work with integrator 'pf-ode'; compatible estimators: "
    ) as e:
        small(integrator="pf-ode", likelihood="exact")
    assert re.search(r"compatible estimators: .*trace", str(e.value))
    for lk in ("trace", "hutchinson"):
        for integ in ("edict", "euler"):
            with pytest.raises(ValueError, match=rf"'{lk}' does not work with integrator '{integ}'") as info:
                small(integrator=integ, likelihood=lk)
            assert "compatible estimators: exact, jacobian" in str(info.value)


# -- bad tensors, for every family -----------------------------------------------------------------


@pytest.mark.parametrize("case", case_params(policy_cases()))
def test_wrong_widths_and_non_finite_inputs(case: Case) -> None:
    policy = case.build(obs_dim=3, action_dim=2, dtype=F64)
    w = policy.latent_dim
    obs, latent = torch.zeros(4, 3, dtype=F64), torch.zeros(4, w, dtype=F64)
    calls = {
        "sample": lambda o, z: policy.sample(o),
        "log_prob": policy.log_prob,
        "generate": policy.generate,
        "invert": policy.invert,
        "deterministic_action": lambda o, z: policy.deterministic_action(o),
    }
    for name, call in calls.items():
        with pytest.raises(ValueError, match=re.escape("obs must have shape [batch, 3], got [4, 5]")):
            call(torch.zeros(4, 5, dtype=F64), latent)
        with pytest.raises(ValueError, match=re.escape("obs must have shape [batch, 3], got [3]")):
            call(torch.zeros(3, dtype=F64), latent)
        for bad in (math.nan, math.inf, -math.inf):
            broken = obs.clone()
            broken[1, 2] = bad
            with pytest.raises(ValueError, match="obs contains NaN or inf values"):
                call(broken, latent)
        with pytest.raises(ValueError, match=re.escape("obs must be a torch.Tensor, got list")):
            call([[0.0, 0.0, 0.0]], latent)
        if name in ("log_prob", "invert", "generate"):
            what = "noise" if name == "generate" else "latent"
            with pytest.raises(ValueError, match=re.escape(f"{what} must have shape [batch, {w}], got [4, {w + 1}]")):
                call(obs, torch.zeros(4, w + 1, dtype=F64))
            broken = latent.clone()
            broken[0, 0] = math.nan
            with pytest.raises(ValueError, match=f"{what} contains NaN or inf values"):
                call(obs, broken)


def test_edict_latents_are_twice_the_action_width() -> None:
    policy = small()
    with pytest.raises(ValueError, match=re.escape("latent must have shape [batch, 4], got [2, 2]")):
        policy.log_prob(torch.zeros(2, 3), torch.zeros(2, 2))
