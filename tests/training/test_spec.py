"""Each configuration field declares its doc and allowed values beside itself; one routine checks them all."""

from __future__ import annotations

import dataclasses

import pytest

from genpo.errors import ConfigError
from genpo.training.config import SECTIONS, TrainConfig
from genpo.training.fields import command_sections
from genpo.training.pretrain import PretrainConfig
from genpo.training.spec import check_fields, doc_of, integer, number, one_of

# Fields whose values are checked by what they name (a part or environment is built), not by a constraint.
CHECKED_BY_WHAT_THEY_NAME = {
    "policy.model",
    "policy.velocity",
    "policy.integrator",
    "policy.likelihood",
    "run.logger",  # genpo.loggers.check_loggers: names, installed extras, user writers
}


def test_every_field_declares_a_doc_and_a_constraint():
    assert command_sections() == {"pretrain": PretrainConfig}
    for section, cls in {**SECTIONS, **command_sections()}.items():
        for f in dataclasses.fields(cls):
            dotted = f"{section}.{f.name}"
            assert doc_of(f), f"{dotted} has no doc"
            if dotted not in CHECKED_BY_WHAT_THEY_NAME:
                assert f.metadata.get("check") is not None, f"{dotted} declares no constraint"


def test_the_defaults_pass_their_own_constraints():
    cfg = TrainConfig()
    for section in SECTIONS:
        check_fields(getattr(cfg, section), section)
    PretrainConfig().validate()


@pytest.mark.parametrize(
    ("section", "name", "value", "message"),
    [
        ("env", "num_envs", True, "env.num_envs must be an integer in [1, 1048576], got True"),
        ("policy", "flow_steps", 0, "policy.flow_steps must be an integer in [1, 1000], got 0"),
        ("policy", "activation", "swish", "policy.activation must be one of "),
        ("policy", "hidden", [], "policy.hidden must be a non-empty list of integers in [1, 65536] or null"),
        ("algo", "schedule", "cosine", "algo.schedule must be one of adaptive, fixed, linear, got 'cosine'"),
        ("algo", "gamma", 1.5, "algo.gamma must be in [0, 1], got 1.5"),
        ("algo", "learning_rate", float("nan"), "algo.learning_rate must be finite and > 0, got nan"),
        ("run", "max_iterations", 0, "run.max_iterations must be an integer in [1, 1000000000], got 0"),
        ("run", "plugins", "mod", "run.plugins must be a list of module names, got 'mod'"),
        ("run", "seed", -1, "run.seed must be an integer in [0, 4294967295], got -1"),
    ],
)
def test_one_routine_names_the_field_the_allowed_values_and_the_value(section, name, value, message):
    cfg = TrainConfig()
    setattr(getattr(cfg, section), name, value)
    with pytest.raises(ConfigError) as err:
        check_fields(getattr(cfg, section), section)
    assert str(err.value).startswith(message) and err.value.field == f"{section}.{name}"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("epochs", 0, "pretrain.epochs must be an integer in [1, 1000000], got 0"),
        ("batch_size", 2.5, "pretrain.batch_size must be an integer >= 1, got 2.5"),
        ("learning_rate", float("inf"), "pretrain.learning_rate must be finite and > 0, got inf"),
        ("validation_fraction", 1, "pretrain.validation_fraction must be in [0, 1), got 1"),
        ("objective", "a,,b", "pretrain.objective must be an objective name, two separated by a comma, or null"),
        ("eval_episodes", -1, "pretrain.eval_episodes must be an integer in [0, 1048576], got -1"),
    ],
)
def test_the_pretrain_section_is_checked_by_the_same_routine(name, value, message):
    cfg = dataclasses.replace(PretrainConfig(), **{name: value})
    with pytest.raises(ConfigError) as err:
        cfg.validate()
    assert str(err.value).startswith(message) and err.value.field == f"pretrain.{name}"


def test_constraint_helpers():
    assert integer(1, None)(5, "x") == 5
    with pytest.raises(ConfigError, match=r"x must be an integer >= 1, got 0"):
        integer(1)(0, "x")
    assert integer(1, 3, optional=True)(None, "x") is None
    with pytest.raises(ConfigError, match=r"x must be positive, got inf"):
        number(lambda v: v > 0, "positive")(float("inf"), "x")
    names = ["a"]
    late = one_of(lambda: names)
    names.append("b")  # choices asked when checked (a plug-in registered since)
    assert late("b", "x") == "b"


def test_cross_field_rules_and_part_rules_run_after_the_fields():
    cfg = TrainConfig.from_dict({"env": {"num_envs": 2}, "algo": {"steps_per_env": 4, "num_minibatches": 9}})
    with pytest.raises(ConfigError, match=r"algo\.num_minibatches must be at most the rollout size"):
        cfg.validate()
    cfg = TrainConfig.from_dict({"run": {"max_iterations": None, "total_steps": None}})
    with pytest.raises(ConfigError, match="set a budget"):
        cfg.validate()
    cfg = TrainConfig.from_dict({"policy": {"integrator": "euler", "likelihood": "cfm"}, "algo": {"entropy_coef": 0.1}})
    with pytest.raises(ConfigError, match=r"algo\.entropy_coef must be 0 with likelihood 'cfm'") as err:
        cfg.validate()
    assert err.value.field == "algo.entropy_coef"
    with pytest.raises(ConfigError, match=r"two phases needs pretrain\.epochs >= 2") as err:
        PretrainConfig(epochs=1, objective="flow-matching,likelihood").validate()
    assert err.value.field == "pretrain.objective"
