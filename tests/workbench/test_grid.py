"""The ablation grid: field names, values, settings, the product, and refusals that name what is allowed."""

from __future__ import annotations

import pytest

from genpo.errors import ConfigError
from genpo.training.config import TrainConfig
from genpo.workbench.grid import build_grid, parse_setting, parse_vary, resolve_field, split_values


@pytest.mark.parametrize(
    ("name", "dotted"),
    [
        ("policy.flow_steps", "policy.flow_steps"),
        ("policy.steps", "policy.flow_steps"),  # the spelling before issue 16
        ("steps", "policy.flow_steps"),  # the flow's K, as --steps
        ("p", "policy.mix_p"),
        ("likelihood", "policy.likelihood"),
        ("compress-coef", "algo.compress_coef"),
        ("env", "env.id"),
        ("lr", "algo.learning_rate"),
        ("num_envs", "env.num_envs"),
    ],
)
def test_field_names(name, dotted):
    assert resolve_field(name) == dotted


@pytest.mark.parametrize(
    ("name", "pattern"),
    [
        ("stepz", r"unknown configuration field 'stepz'; allowed: env.id, .*policy.flow_steps"),
        ("options", "ambiguous: use one of env.options, policy.options"),
        ("seed", "set by the workbench \\(--seeds\\)"),
        ("run.logdir", "--out"),
    ],
)
def test_bad_field_names(name, pattern):
    with pytest.raises(ConfigError, match=pattern):
        resolve_field(name)


def test_values_are_yaml_and_lists_survive_commas():
    assert split_values("1, 5,[64, 64],{a: 1, b: 2}") == ["1", "5", "[64, 64]", "{a: 1, b: 2}"]
    assert parse_vary("steps=1,5,10") == ("policy.flow_steps", [1, 5, 10])
    assert parse_vary("policy.hidden=[64, 64],[256,256]") == ("policy.hidden", [[64, 64], [256, 256]])
    assert parse_vary("compress_coef=0,0.01") == ("algo.compress_coef", [0, 0.01])
    assert parse_vary("lr=3e-4,1e-3,edict") == ("algo.learning_rate", [3e-4, 1e-3, "edict"])
    assert parse_setting('genpo=integrator=edict "likelihood=exact" p=0.9') == (
        "genpo",
        {"policy.integrator": "edict", "policy.likelihood": "exact", "policy.mix_p": 0.9},
    )


@pytest.mark.parametrize(
    "spec",
    ["steps", "steps=", "=1,2", "steps=1,,2", "steps=1,1"],
    ids=["no-eq", "no-values", "no-field", "empty", "dup"],
)
def test_bad_vary(spec):
    with pytest.raises(ConfigError, match="--vary"):
        parse_vary(spec)


@pytest.mark.parametrize("spec", ["no equals", "bad name=model=flow", "x=model", "x=model=flow 'open"])
def test_bad_setting(spec):
    with pytest.raises(ConfigError, match="--setting"):
        parse_setting(spec)


def test_grid_is_the_product_with_stable_names():
    grid, notes = build_grid(["genpo=model=flow", "ppo=model=gaussian"], ["steps=1,5"], [1, 2])
    assert grid.settings == ["genpo", "ppo"] and grid.varied_fields == ["policy.flow_steps"]
    names = [c.name for c in grid.cells]
    # A Gaussian takes no policy.flow_steps: its setting runs once per seed, not once per value.
    assert names == ["genpo_steps=1_s1", "genpo_steps=1_s2", "genpo_steps=5_s1", "genpo_steps=5_s2", "ppo_s1", "ppo_s2"]
    assert notes == ["setting ppo: policy.flow_steps not varied where the model is not flow"]
    assert grid.cells[0].group == "genpo steps=1" and grid.cells[-1].group == "ppo"
    assert grid.cells[0].overrides == {"policy.model": "flow", "policy.flow_steps": 1, "run.seed": 1}
    cfgs = grid.configs(TrainConfig())
    assert cfgs["ppo_s2"].policy.model == "gaussian" and cfgs["ppo_s2"].run.seed == 2
    assert cfgs["genpo_steps=5_s1"].policy.flow_steps == 5


def test_varying_the_model_drops_flow_fields_for_other_models():
    grid, _ = build_grid([], ["model=flow,gaussian", "steps=1,5"], [1])
    assert [c.name for c in grid.cells] == [
        "default_model=flow_steps=1_s1",
        "default_model=flow_steps=5_s1",
        "default_model=gaussian_s1",
    ]
    grid.configs(TrainConfig())  # every cell valid


def test_default_setting_when_none_given():
    grid, _ = build_grid([], [], [3])
    assert [c.name for c in grid.cells] == ["default_s3"]


def test_invalid_values_are_refused_per_cell_with_the_allowed_ones():
    grid, _ = build_grid([], ["integrator=edict,nope"], [1])
    with pytest.raises(ConfigError, match=r"cell default_integrator=nope_s1: .*nope.*edict"):
        grid.configs(TrainConfig())
    grid, _ = build_grid([], ["p=0.5,1.5"], [1])
    with pytest.raises(ConfigError, match=r"policy.mix_p must be in the open interval \(0, 1\)"):
        grid.configs(TrainConfig())


@pytest.mark.parametrize(("seeds", "pattern"), [([], "at least one"), ([1, 1], "repeats"), ([-1], ">= 0")])
def test_bad_seeds(seeds, pattern):
    with pytest.raises(ConfigError, match=pattern):
        build_grid([], [], seeds)


def test_duplicate_settings_and_fields():
    with pytest.raises(ConfigError, match="given twice"):
        build_grid(["a=steps=1", "a=steps=2"], [], [1])
    with pytest.raises(ConfigError, match="given twice"):
        build_grid([], ["steps=1", "policy.steps=2"], [1])


def test_one_key_of_part_options_can_be_varied_on_top_of_the_settings_options():
    setting = "pfode=integrator=pf-ode likelihood=hutchinson 'policy.options={method: rk4}'"
    grid, _ = build_grid([setting], ["policy.options.probes=1,4"], [1])
    assert [c.name for c in grid.cells] == ["pfode_options.probes=1_s1", "pfode_options.probes=4_s1"]
    cfgs = grid.configs(TrainConfig())
    assert cfgs["pfode_options.probes=4_s1"].policy.options == {"method": "rk4", "probes": 4}
