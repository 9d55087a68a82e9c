"""The search space of ``genpo tune``: fields named as ``--set`` names them, every range and choice checked first."""

from __future__ import annotations

import optuna
import pytest

from genpo.errors import ConfigError
from genpo.training.config import TrainConfig
from genpo.workbench.space import parse_space


def space(data: dict, fixed: dict | None = None):
    return parse_space(data, TrainConfig(), fixed)


def test_fields_resolve_by_the_names_set_and_vary_use():
    s = space({
        "lr": {"type": "float", "low": 1e-5, "high": 1e-3, "log": True},
        "num-epochs": {"type": "int", "low": 3, "high": 10},
        "algo.schedule": {"type": "categorical", "values": ["adaptive", "fixed"]},
        "hidden": {"type": "categorical", "values": [[64, 64], [256, 256]]},
    })  # fmt: skip
    assert [p.field for p in s.params] == ["algo.learning_rate", "algo.num_epochs", "algo.schedule", "policy.hidden"]
    assert s.params[0].log and s.params[1].kind == "int" and (s.params[1].low, s.params[1].high) == (3, 10)
    assert s.params[3].labels == ["[64, 64]", "[256, 256]"]  # lists travel through Optuna as YAML text


def test_suggest_draws_inside_the_space_and_gives_config_values():
    s = space({
        "lr": {"type": "float", "low": 1e-5, "high": 1e-3, "log": True},
        "steps": {"type": "int", "low": 1, "high": 4},
        "hidden": {"type": "categorical", "values": [[64, 64], [256, 256]]},
    })  # fmt: skip
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        trial = study.ask()
        values = s.suggest(trial)
        assert 1e-5 <= values["algo.learning_rate"] <= 1e-3
        assert values["policy.flow_steps"] in (1, 2, 3, 4)  # the short name "steps" is the flow's K
        assert values["policy.hidden"] in ([64, 64], [256, 256])
        assert s.values_of(trial.params) == values  # what a resumed trial rebuilds from the journal
        study.tell(trial, 0.0)


@pytest.mark.parametrize(
    ("data", "phrase"),
    [
        ({"lerning_rate": {"type": "float", "low": 0.1, "high": 0.2}}, "unknown configuration field 'lerning_rate'"),
        ({"lr": {"type": "float", "low": 0.3, "high": 0.1}}, "the range is empty"),
        ({"lr": {"type": "float", "low": 0.1, "high": 0.1}}, "the range is empty"),
        ({"schedule": {"type": "categorical", "values": []}}, "a categorical needs a non-empty list of values"),
        ({"schedule": {"type": "categorical"}}, "a categorical needs a non-empty list of values"),
        ({"schedule": {"type": "categorical", "values": ["fixed", "fixed"]}}, "values repeat a choice"),
        ({"lr": {"type": "float", "low": "abc", "high": 0.1}}, "low must be a number, got 'abc'"),
        ({"lr": {"type": "float", "low": True, "high": 0.1}}, "low must be a number"),
        ({"lr": {"type": "float", "low": 0.1}}, "needs low and high (missing high)"),
        ({"lr": {"type": "float", "low": 0.0, "high": 0.1, "log": True}}, "a log range needs low > 0"),
        ({"lr": {"type": "float", "low": 0.01, "high": 0.1, "log": "yes"}}, "log must be true or false"),
        ({"num_epochs": {"type": "int", "low": 1.5, "high": 4}}, "must be an integer"),
        ({"lr": {"type": "uniform", "low": 0.1, "high": 0.2}}, "type must be one of float, int, categorical"),
        ({"lr": {"type": "float", "low": 0.1, "high": 0.2, "step": 0.1}}, "unknown key(s) step"),
        ({"lr": [0.1, 0.2]}, "must be a mapping like"),
        ({"seed": {"type": "int", "low": 1, "high": 3}}, "run.seed is set by genpo tune (--seeds)"),
        ({"env": {"type": "categorical", "values": ["a", "b"]}}, "env.id is set by genpo tune (--env)"),
        ({"total_steps": {"type": "int", "low": 1, "high": 3}}, "set by genpo tune (--total-steps)"),
        ({"num_epochs": {"type": "int", "low": 0, "high": 3}}, "algo.num_epochs = 0 is not a valid value"),
        ({"schedule": {"type": "categorical", "values": ["fixed", "cosine"]}}, "algo.schedule = 'cosine'"),
        (
            {
                "lr": {"type": "float", "low": 0.1, "high": 0.2},
                "algo.learning_rate": {"type": "float", "low": 0.2, "high": 0.3},
            },
            "algo.learning_rate is given twice",
        ),
        ({}, "non-empty YAML mapping"),
    ],
)
def test_bad_spaces_are_refused_naming_the_field_and_the_rule(data, phrase):
    with pytest.raises(ConfigError) as err:
        space(data)
    assert phrase in str(err.value)


def test_a_field_fixed_by_the_setting_cannot_be_searched_too():
    with pytest.raises(ConfigError, match="also set by --setting"):
        space({"lr": {"type": "float", "low": 0.1, "high": 0.2}}, fixed={"algo.learning_rate": 0.01})


def test_one_key_of_part_options_is_searched_on_top_of_the_fixed_options():
    fixed = {"policy.integrator": "pf-ode", "policy.likelihood": "hutchinson", "policy.options": {"method": "rk4"}}
    s = space({"policy.options.probes": {"type": "int", "low": 1, "high": 4}}, fixed)
    assert [p.field for p in s.params] == ["policy.options.probes"]
    with pytest.raises(ConfigError, match=r"policy\.options\.probes = 0 is not a valid value: .*probes must be"):
        space({"policy.options.probes": {"type": "int", "low": 0, "high": 4}}, fixed)
