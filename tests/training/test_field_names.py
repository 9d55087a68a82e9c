"""Field names are resolved in one place (genpo/training/fields.py); spellings of older genpo keep loading."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch
import yaml
from rich.console import Console

from genpo.errors import ConfigError
from genpo.training import api
from genpo.training.checkpoint import checkpoints_in, load_checkpoint, save_checkpoint
from genpo.training.config import TrainConfig
from genpo.training.fields import RENAMED, canonical, nest, resolve_field

QUIET = Console(file=io.StringIO())
OLD = {
    "env": {"id": "builtin:PointMass", "num_envs": 4},
    "policy": {"hidden": [16], "critic_hidden": [16], "steps": 3, "p": 0.9},
    "algo": {"steps_per_env": 8, "num_epochs": 1, "num_minibatches": 2},
    "run": {"max_iterations": 2, "seed": 5},
}


def test_old_spellings_load_from_a_mapping_and_a_yaml_file(tmp_path):
    cfg = TrainConfig.from_dict(OLD)
    assert (cfg.policy.flow_steps, cfg.policy.mix_p) == (3, 0.9)
    path = tmp_path / "old.yaml"
    path.write_text(yaml.safe_dump(OLD))
    assert api.resolve_config(path) == cfg
    assert "steps" not in cfg.to_dict()["policy"]  # written with today's names


def test_a_field_given_by_both_spellings_is_refused():
    with pytest.raises(ConfigError, match=r"policy.steps and policy.flow_steps are one field"):
        TrainConfig.from_dict({"policy": {"steps": 3, "flow_steps": 4}})


@pytest.mark.parametrize(
    ("name", "dotted"),
    [("steps", "policy.flow_steps"), ("policy.steps", "policy.flow_steps"), ("p", "policy.mix_p"),
     ("flow-steps", "policy.flow_steps"), ("plugin", "run.plugins"), ("total_steps", "run.total_steps")],
)  # fmt: skip
def test_every_front_end_resolves_names_the_same_way(name, dotted):
    assert resolve_field(name) == dotted
    assert nest({name: 1}) == {dotted.split(".")[0]: {dotted.split(".")[1]: 1}}
    assert api.nest_overrides({name: 1}) == nest({name: 1})


def test_one_field_by_two_names_in_one_call_is_refused():
    with pytest.raises(ConfigError, match="given twice"):
        nest({"steps": 3, "policy.flow_steps": 4})


def test_canonical_renames_only_what_was_renamed():
    assert canonical({"policy": {"steps": 1, "hidden": [8]}, "algo": {"steps_per_env": 4}}) == {
        "policy": {"flow_steps": 1, "hidden": [8]},
        "algo": {"steps_per_env": 4},
    }
    assert set(RENAMED) == {"policy.steps", "policy.p"}


def _old_checkpoint(path: Path) -> Path:
    """A copy of a checkpoint whose configuration uses the field names written before issue 16."""
    ckpt = load_checkpoint(path)
    policy = ckpt["config"]["policy"]
    policy["steps"], policy["p"] = policy.pop("flow_steps"), policy.pop("mix_p")
    old = path.with_name("model_old.pt")
    save_checkpoint(ckpt, old)
    return old


def test_a_checkpoint_with_old_field_names_resumes_identically(tmp_path):
    data = {k: dict(v) for k, v in OLD.items()}
    data["run"]["logdir"] = str(tmp_path / "logs")
    first = api.train(data, console=QUIET)
    (ckpt,) = checkpoints_in(first.run_dir)
    old = _old_checkpoint(ckpt)
    resumed = [
        api.train(checkpoint=str(c), max_iterations=1, logdir=str(tmp_path / "r"), console=QUIET)
        for c in (ckpt, old)
    ]
    assert resumed[0].config == resumed[1].config
    assert resumed[1].config.policy.flow_steps == 3 and resumed[1].config.policy.mix_p == 0.9
    params = [load_checkpoint(checkpoints_in(r.run_dir)[-1])["model_state"] for r in resumed]
    assert params[0].keys() == params[1].keys()
    assert all(torch.equal(params[0][k], params[1][k]) for k in params[0])
    # the architecture check reads the old names too: changing K on resume is refused
    with pytest.raises(ConfigError, match=r"policy.flow_steps=4 but the checkpoint was trained with 3"):
        api.prepare(checkpoint=str(old), steps=4)
