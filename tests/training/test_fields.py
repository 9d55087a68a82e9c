"""Field names as users type them, and their values (shared by ``genpo train --set`` and ``genpo ablate``)."""

from __future__ import annotations

import re

import pytest

from genpo.errors import ConfigError
from genpo.training.fields import all_fields, parse_assignment, resolve_field


@pytest.mark.parametrize(
    ("text", "dotted", "value"),
    [
        ("policy.hidden=[256, 256]", "policy.hidden", [256, 256]),
        ("hidden=[64,64]", "policy.hidden", [64, 64]),
        ("compress-coef=0", "algo.compress_coef", 0),
        ("lr=3e-4", "algo.learning_rate", 3e-4),  # YAML 1.1 would read "3e-4" as a string
        ("env=gym:Hopper-v5", "env.id", "gym:Hopper-v5"),
        ("policy.options={method: rk4}", "policy.options", {"method": "rk4"}),
        ("normalize_reward=true", "algo.normalize_reward", True),
        ("policy.options.rtol=1e-3", "policy.options.rtol", 1e-3),  # one key of a mapping field
        ("env.options.workers=2", "env.options.workers", 2),
    ],
)
def test_assignments(text, dotted, value):
    assert parse_assignment(text) == (dotted, value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("hidden", "expected FIELD=VALUE"),
        ("=5", "expected FIELD=VALUE"),
        ("stepz=5", "unknown configuration field 'stepz'; allowed: env.id"),
        ("hidden=[1, 2", "cannot read value"),
        ("policy.options.=1", "'policy.options.' names no key of policy.options; write policy.options.KEY"),
        ("algo.gamma.x=1", "unknown configuration field 'algo.gamma.x'"),  # gamma holds no mapping
    ],
)
def test_bad_assignments(text, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(")):
        parse_assignment(text)


def test_reserved_fields_say_who_sets_them():
    with pytest.raises(ConfigError, match=r"run.seed is set by the workbench \(--seeds\)"):
        resolve_field("seed", {"run.seed": "the workbench (--seeds)"})


def test_short_names_are_unique_or_refused():
    short = [f.split(".", 1)[1] for f in all_fields()]
    for name in set(short):
        if short.count(name) == 1:
            assert resolve_field(name).endswith("." + name)
        else:
            with pytest.raises(ConfigError, match="ambiguous"):
                resolve_field(name)


def test_a_key_of_a_mapping_field_is_set_on_top_of_the_keys_below_it():
    from genpo.training.api import resolve_config

    file_layer = {"policy": {"integrator": "pf-ode", "likelihood": "trace", "options": {"method": "rk4"}}}
    cfg = resolve_config(file_layer, {"policy.options.rtol": 1e-3, "env.options.workers": 1})
    assert cfg.policy.options == {"method": "rk4", "rtol": 1e-3}
    assert cfg.env.options == {"workers": 1}
    cfg.validate()
    # the whole mapping and one key of it in one layer: the key lands on top of that mapping
    both = resolve_config(None, {"policy.options": {"method": "rk4"}, "policy.options.method": "euler"})
    assert both.policy.options == {"method": "euler"}
    assert file_layer["policy"]["options"] == {"method": "rk4"}  # inputs are not mutated


def test_a_key_of_a_mapping_field_given_a_non_mapping_is_refused():
    from genpo.training.api import resolve_config

    with pytest.raises(
        ConfigError, match=re.escape("policy.options must be a mapping to set policy.options.rtol, got 3")
    ):
        resolve_config(None, {"policy.options": 3, "policy.options.rtol": 1e-3})
