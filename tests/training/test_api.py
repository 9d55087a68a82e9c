"""The rules of a run in-process: precedence, resume, ``latest`` lookup, run folders; the API equals the CLI."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from rich.console import Console

import genpo
from genpo.errors import ConfigError, RunFolderError
from genpo.training import api
from genpo.training.checkpoint import load_checkpoint

SMALL = {
    "env": {"id": "builtin:PointMass", "num_envs": 4},
    "policy": {"hidden": [16, 16], "critic_hidden": [16, 16]},
    "algo": {"steps_per_env": 8, "num_epochs": 1, "num_minibatches": 2},
    "run": {"max_iterations": 2, "seed": 5},
}
QUIET = Console(file=io.StringIO())


def small(tmp_path: Path, **run) -> dict:
    data = {k: dict(v) for k, v in SMALL.items()}
    data["run"].update(logdir=str(tmp_path / "logs"), **run)
    return data


def test_precedence_defaults_preset_checkpoint_file_overrides(tmp_path):
    ckpt_cfg = genpo.TrainConfig.from_dict({"algo": {"gamma": 0.9, "lam": 0.8}, "run": {"seed": 7}}).to_dict()
    file = tmp_path / "c.yaml"
    file.write_text(yaml.safe_dump({"algo": {"lam": 0.7}, "run": {"seed": 8}}))
    cfg = api.resolve_config(file, {"seed": 9}, checkpoint_config=ckpt_cfg)
    assert (cfg.algo.gamma, cfg.algo.lam, cfg.run.seed) == (0.9, 0.7, 9)
    assert cfg.algo.num_epochs == 5  # untouched default


def test_preset_sits_below_checkpoint_and_needs_a_task():
    cfg = api.resolve_config(None, {"env": "isaaclab:Isaac-Ant"}, preset="paper")
    assert cfg.env.id == "isaaclab:Isaac-Ant"
    with pytest.raises(ConfigError, match=r"needs env\.id"):
        api.resolve_config(None, {}, preset="paper")


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"max_iterations": 3}, {"run": {"max_iterations": 3}}),
        ({"env": "gym:Hopper-v5"}, {"env": {"id": "gym:Hopper-v5"}}),
        ({"policy": {"hidden": [8]}}, {"policy": {"hidden": [8]}}),
        ({"algo.gamma": 0.5}, {"algo": {"gamma": 0.5}}),
    ],
)
def test_keyword_overrides_nest(overrides, expected):
    assert api.nest_overrides(overrides) == expected


@pytest.mark.parametrize(("overrides", "match"), [({"options": {}}, "ambiguous.*env.options"), ({"lrr": 1}, "unknown")])
def test_bad_overrides_are_refused(overrides, match):
    with pytest.raises(ConfigError, match=match):
        api.nest_overrides(overrides)


def test_total_steps_replaces_the_iteration_budget():
    cfg = api.resolve_config({"run": {"total_steps": 64}}, {})
    assert cfg.run.max_iterations is None and cfg.run.total_steps == 64
    cfg = api.resolve_config(None, {"total_steps": 64, "max_iterations": 2})
    assert cfg.run.max_iterations == 2


def test_resume_keeps_architecture_and_finds_latest(tmp_path):
    first = genpo.train(small(tmp_path), console=QUIET)
    assert first.run_dir is not None and (first.run_dir / "model_2.pt").is_file()
    run = api.prepare(small(tmp_path), resume=True, env="builtin:PointMass")
    assert run.checkpoint_path == first.run_dir / "model_2.pt" and run.checkpoint["iteration"] == 2
    with pytest.raises(ConfigError, match=r"the overrides sets policy.flow_steps=3 .*keeps its architecture"):
        api.prepare(small(tmp_path), resume=True, steps=3)
    with pytest.raises(ConfigError, match=r"policy\.activation='elu'"):
        api.prepare(small(tmp_path), resume=True, activation="elu")
    changed = small(tmp_path)
    changed["policy"]["hidden"] = [8]
    with pytest.raises(ConfigError, match=r"the configuration sets policy.hidden=\[8\]"):
        api.prepare(changed, checkpoint=first.run_dir)
    # the layer that decides counts: the file's other width set back to the trained one by an override is fine
    assert api.prepare(changed, checkpoint=first.run_dir, hidden=[16, 16]).config.policy.hidden == [16, 16]
    with pytest.raises(ConfigError, match=r"the overrides sets policy.hidden=\[4\]"):
        api.prepare(small(tmp_path), checkpoint=first.run_dir, hidden=[4])
    other_task = small(tmp_path)
    other_task["env"]["id"] = "builtin:MultiGoal"
    assert (
        api.prepare(other_task, checkpoint=first.run_dir, env="builtin:PointMass").config.env.id == "builtin:PointMass"
    )
    with pytest.raises(ConfigError, match=r"the overrides sets env.id='builtin:MultiGoal' but the checkpoint"):
        api.prepare(small(tmp_path), checkpoint=first.run_dir, env="builtin:MultiGoal")
    # Same architecture restated is fine; the run continues where the checkpoint ended.
    again = genpo.train(small(tmp_path), checkpoint="latest", console=QUIET)
    assert again.iterations == 4 and (again.run_dir / "model_4.pt").is_file()
    with pytest.raises(ConfigError, match="use one"):
        api.prepare(small(tmp_path), resume=True, checkpoint="latest")


def test_missing_checkpoint_and_bad_values_raise_before_any_folder(tmp_path):
    with pytest.raises(ConfigError, match="no run folder"):
        genpo.train(small(tmp_path), resume=True, console=QUIET)
    with pytest.raises(ConfigError, match=r"algo\.entropy_coef"):
        genpo.train(small(tmp_path), entropy_coef=-1.0, console=QUIET)
    with pytest.raises(ConfigError, match="unknown environment backend"):
        genpo.train(small(tmp_path), env="nope:Task", console=QUIET)
    assert not (tmp_path / "logs").exists()


def test_run_folder_creation_fails_clearly(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    cfg = genpo.TrainConfig.from_dict({"run": {"logdir": str(blocker)}})
    with pytest.raises(RunFolderError, match=r"run\.logdir"):
        api.create_run_dir(cfg)


def test_load_and_evaluate(tmp_path):
    result = genpo.train(small(tmp_path), console=QUIET)
    ac, cfg = genpo.load(result.run_dir)
    assert cfg == result.config
    returns = genpo.evaluate(result.run_dir, episodes=3)
    assert returns.shape == (3,) and torch.isfinite(returns).all()
    assert genpo.evaluate(ac, episodes=2, config=cfg).shape == (2,)
    with pytest.raises(ConfigError, match="episodes"):
        genpo.evaluate(ac, episodes=0, config=cfg)


def test_api_and_cli_write_the_same_config_and_parameters(tmp_path):
    data = small(tmp_path / "a")
    (tmp_path / "a").mkdir()
    file = tmp_path / "a" / "c.yaml"
    file.write_text(yaml.safe_dump(data))
    lib = genpo.train(file, seed=11, console=QUIET)

    logdir = tmp_path / "b" / "logs"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "genpo", "train", "--config", str(file), "--seed", "11", "--logdir", str(logdir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (cli_run,) = (logdir / "genpo" / "PointMass").iterdir()
    lib_cfg = yaml.safe_load((lib.run_dir / "params" / "config.yaml").read_text())
    cli_cfg = yaml.safe_load((cli_run / "params" / "config.yaml").read_text())
    lib_cfg["run"].pop("logdir"), cli_cfg["run"].pop("logdir")
    assert lib_cfg == cli_cfg
    a, b = load_checkpoint(lib.run_dir / "model_2.pt"), load_checkpoint(cli_run / "model_2.pt")
    assert a["model_state"].keys() == b["model_state"].keys()
    for name, t in a["model_state"].items():
        torch.testing.assert_close(t, b["model_state"][name], atol=0, rtol=0, msg=name)
