"""Configuration: YAML round trip, unknown keys, and validation before any work starts."""

from __future__ import annotations

import pytest
import yaml

from genpo.training.config import TrainConfig, load_yaml, save_yaml


def test_yaml_roundtrip_and_override(tmp_path):
    cfg = TrainConfig.from_dict({"algo": {"learning_rate": 1e-3}, "policy": {"steps": 3}})
    assert cfg.algo.learning_rate == 1e-3 and cfg.policy.flow_steps == 3 and cfg.algo.num_epochs == 5
    save_yaml(cfg, tmp_path / "c.yaml")
    again = TrainConfig.from_dict(load_yaml(tmp_path / "c.yaml"))
    assert again == cfg


def test_from_dict_does_not_mutate_its_inputs():
    data = {"run": {"seed": 3}}
    base = TrainConfig()
    TrainConfig.from_dict(data, base)
    assert data == {"run": {"seed": 3}} and base.run.seed == 1


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"algo": {"lr": 1}}, "unknown field.*lr.*allowed.*learning_rate"),
        ({"nope": {}}, "unknown config section"),
        ({"algo": 3}, "must be a mapping"),
    ],
)
def test_unknown_keys_are_refused(data, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig.from_dict(data)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"policy": {"p": 1.0}}, r"p.*\(0, 1\)"),
        ({"policy": {"steps": 0}}, "steps"),
        ({"policy": {"integrator": "rk9"}}, "edict, euler, pf-ode"),
        ({"policy": {"likelihood": "exact", "integrator": "pf-ode"}}, "compatible estimators: jacobian"),
        ({"policy": {"model": "vae"}}, "choose one of: flow, gaussian"),
        ({"env": {"num_envs": 0}}, "num_envs"),
        ({"env": {"id": "nobackend:Foo"}}, "unknown environment backend"),
        ({"algo": {"gamma": 1.5}}, "gamma"),
        ({"algo": {"schedule": "cosine"}}, "adaptive, fixed"),
        ({"algo": {"trust_region": "spo"}}, "algo.trust_region must be one of clip, aspo"),
        ({"algo": {"compress_coef": float("nan")}}, "compress_coef"),
        ({"algo": {"num_minibatches": 10_000}}, "rollout size"),
        ({"run": {"device": "tpu"}}, "cpu, cuda"),
        ({"run": {"max_iterations": None}}, "budget"),
    ],
)
def test_validation_names_the_field_and_allowed_values(data, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig.from_dict(data).validate()


def test_bad_yaml_files(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_yaml(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("algo: [1, 2\n")
    with pytest.raises(ValueError, match="not valid YAML"):
        load_yaml(bad)
    lst = tmp_path / "list.yaml"
    lst.write_text(yaml.safe_dump([1, 2]))
    with pytest.raises(ValueError, match="mapping"):
        load_yaml(lst)


def test_configuration_reference_is_current_and_complete():
    import dataclasses
    from pathlib import Path

    from genpo.training.config import SECTIONS
    from genpo.training.config_doc import field_docs, render
    from genpo.training.fields import command_sections

    doc = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
    assert doc.read_text() == render(), "regenerate: python -m genpo.training.config_doc > docs/configuration.md"
    for cls in (*SECTIONS.values(), *command_sections().values()):
        assert set(field_docs(cls)) == {f.name for f in dataclasses.fields(cls)}, f"{cls.__name__} lacks a docstring"
