"""Strict options: every option of every part reaches that part; options no chosen part takes are refused."""

from __future__ import annotations

import functools
import inspect
from typing import Any

import pytest

from genpo.errors import ConfigError
from genpo.inversion import INTEGRATORS, LIKELIHOODS
from genpo.models import MODELS, VELOCITIES
from genpo.models.factory import _FILLED
from genpo.training.config import PolicyConfig, TrainConfig, build_actor, check_parts

# Fields of the policy section that reach parts under their own name (not through policy.options).
FIELD_VALUES: dict[str, Any] = {"hidden": [8], "activation": "tanh", "p": 0.9}
FIELD_OF = {"p": "mix_p"}  # a part's option -> the policy field that sets it, where the names differ


def _pair_for(integrator: str | None = None, likelihood: str | None = None) -> tuple[str, str]:
    """A compatible (integrator, likelihood) with one of them fixed."""
    for i in [integrator] if integrator else INTEGRATORS.names():
        for e in [likelihood] if likelihood else LIKELIHOODS.names():
            if LIKELIHOODS.get(e)().compatible(INTEGRATORS.get(i)()):
                return i, e
    raise AssertionError(f"no compatible pair for {integrator} / {likelihood}")


def _options(cls: type) -> dict[str, Any]:
    """Constructor options with their defaults (what make_policy does not fill itself)."""
    cls = getattr(cls, "policy_class", cls)
    return {
        n: p.default
        for n, p in inspect.signature(cls).parameters.items()
        if n not in _FILLED and p.default is not p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }


def _cases() -> list[Any]:
    cases = []
    for name in VELOCITIES.names():
        i, e = _pair_for()
        cases += [
            pytest.param(
                "velocity",
                name,
                VELOCITIES.get(name),
                opt,
                dict(velocity=name, integrator=i, likelihood=e),
                id=f"velocity-{name}-{opt}",
            )
            for opt in _options(VELOCITIES.get(name))
        ]
    for kind, registry in (("integrator", INTEGRATORS), ("likelihood", LIKELIHOODS)):
        for name in registry.names():
            i, e = _pair_for(**{kind: name})
            part = registry.get(name)
            cases += [
                pytest.param(kind, name, part, opt, dict(integrator=i, likelihood=e), id=f"{kind}-{name}-{opt}")
                for opt in _options(part)
            ]
    for name in MODELS.names():
        if name == "flow":
            continue
        cls = MODELS.get(name).policy_class
        cases += [
            pytest.param("model", name, cls, opt, dict(model=name), id=f"model-{name}-{opt}") for opt in _options(cls)
        ]
    return cases


@pytest.mark.parametrize(("kind", "name", "cls", "option", "section"), _cases())
def test_every_option_of_every_part_reaches_it(monkeypatch, kind, name, cls, option, section):
    seen: list[dict[str, Any]] = []
    original = cls.__init__

    @functools.wraps(original)  # keeps the signature option routing reads
    def recording(self, *args, **kwargs):
        seen.append(kwargs)
        original(self, *args, **kwargs)

    monkeypatch.setattr(cls, "__init__", recording)
    if option in FIELD_VALUES:
        value = FIELD_VALUES[option]
        policy = PolicyConfig(**section, **{FIELD_OF.get(option, option): value})
        expected = tuple(value) if option == "hidden" else value
    else:
        value = expected = _options(cls)[option]  # the default, given explicitly: it must arrive as given
        policy = PolicyConfig(**section, options={option: value})
    build_actor(policy, obs_dim=3, action_dim=2)
    assert seen, f"{kind} {name!r} was not built"
    assert option in seen[-1] and seen[-1][option] == expected, f"{option} did not reach {kind} {name!r}: {seen[-1]}"


@pytest.mark.parametrize(
    ("policy", "match"),
    [
        ({"model": "gaussian", "integrator": "euler"}, r"policy.integrator='euler': only model 'flow' takes it"),
        (
            {"model": "gaussian", "flow_steps": 3, "likelihood": "jacobian"},
            r"policy.flow_steps=3, policy.likelihood='jacobian'",
        ),
        ({"model": "nsf", "mix_p": 0.5}, r"policy.mix_p=0.5: only model 'flow'"),
        (
            {"integrator": "euler", "mix_p": 0.5},
            r"policy.mix_p=0.5 is taken by none of the chosen parts.*integrator 'euler'",
        ),
        (
            {"velocity": "resmlp", "options": {"depth": 3}},
            r"unknown option\(s\) depth.*velocity network 'resmlp' takes",
        ),
        ({"options": {"hidden": [8]}}, r"set policy.hidden itself"),
        ({"options": {"init_log_std": 0.0}}, r"unknown option\(s\) init_log_std for flow/mlp/edict/exact"),
        ({"model": "gaussian", "options": {"method": "rk4"}}, r"unknown option\(s\) method for GaussianPolicy"),
        ({"model": "nsf", "hidden": [64, 32]}, r"one width"),
        (
            {"velocity": "flow_factories:SmoothVelocity", "activation": "elu"},
            r"policy.activation='elu' is taken by none",
        ),
    ],
)
def test_misplaced_options_are_refused(policy, match):
    with pytest.raises(ConfigError, match=match):
        check_parts(TrainConfig(policy=PolicyConfig(**policy)))


def test_defaults_of_fields_a_part_does_not_take_are_not_errors():
    # SmoothVelocity takes hidden but not activation: the default activation (the critic's) is not forced on it.
    actor = build_actor(PolicyConfig(velocity="flow_factories:SmoothVelocity", hidden=[8]), obs_dim=3, action_dim=2)
    assert actor.velocity.net[0].out_features == 8
    assert build_actor(PolicyConfig(model="gaussian"), obs_dim=3, action_dim=2).action_dim == 2
