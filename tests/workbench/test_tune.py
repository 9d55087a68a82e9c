"""The study driver of ``genpo tune``: objectives, pruning on reported returns, the study's identity, results."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import optuna
import pytest
import yaml
from rich.console import Console

from genpo.errors import ConfigError
from genpo.training.config import TrainConfig
from genpo.workbench.ablate import base_config
from genpo.workbench.runs import read_cell, write_json
from genpo.workbench.tune import (
    JOURNAL_FILE,
    STUDY_FILE,
    open_study,
    plan_study,
    tune,
    window_return,
)
from genpo.workbench.tune_report import study_figures

TINY = {
    "env": {"id": "builtin:PointMass", "options": {"episode_length": 8}},
    "policy": {"model": "gaussian", "hidden": [16], "critic_hidden": [16]},
    "algo": {"steps_per_env": 8, "num_epochs": 1, "num_minibatches": 2},
    "run": {"save_interval": 1},
}


def write(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    return {
        "config": write(tmp_path / "tiny.yaml", TINY),
        "space": write(tmp_path / "space.yaml", {"lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True}}),
    }


def test_window_return_averages_the_last_part_of_the_budget():
    steps, rets = np.array([10, 20, 30, 40]), np.array([1.0, 2.0, 3.0, 5.0])
    assert window_return(steps, rets, 40, 15) == 4.0  # 30 and 40 are in (25, 40]
    assert window_return(steps, rets, 25, 4) == 2.0  # nothing in (21, 25]: the last value before 25
    assert window_return(steps, rets, 5, 10) is None  # no episode finished by step 5


def test_the_out_folder_of_another_study_is_refused_before_anything_is_written(tmp_path, files):
    base = base_config({"env.num_envs": 4, "run.total_steps": 64}, files["config"])
    plan = plan_study(tmp_path / "st", [], files["space"], [1], base, 2)
    (tmp_path / "st").mkdir()
    write_json(tmp_path / "st" / STUDY_FILE, plan.identity)
    same = plan_study(tmp_path / "st", [], files["space"], [1], base, 5)  # more trials: the same study
    assert same.identity == plan.identity
    with pytest.raises(ConfigError, match=r"holds another study \(it differs in: seeds\)"):
        plan_study(tmp_path / "st", [], files["space"], [1, 2], base, 2)
    with pytest.raises(ConfigError, match="differs in: space"):
        other = write(tmp_path / "other.yaml", {"lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True}})
        plan_study(tmp_path / "st", [], other, [1], base, 2)
    with pytest.raises(ConfigError, match="differs in: setting"):
        plan_study(tmp_path / "st", ['fast="num_epochs=2"'], files["space"], [1], base, 2)
    (tmp_path / "st" / STUDY_FILE).unlink()
    (tmp_path / "st" / JOURNAL_FILE).write_text("")
    with pytest.raises(ConfigError, match=r"holds a study journal without its study\.json"):
        plan_study(tmp_path / "st", [], files["space"], [1], base, 2)


def test_a_trial_below_the_median_is_pruned_and_its_run_stopped_and_marked(tmp_path, files):
    # Returns are sums over an episode: 64-step episodes give far lower returns than 8-step ones, so the last
    # trial is below the median of the three before it at every reported step once its first episode ends.
    space = write(
        tmp_path / "space.yaml",
        {"env.options": {"type": "categorical", "values": [{"episode_length": 8}, {"episode_length": 64}]}},
    )
    base = base_config({"env.num_envs": 4, "run.total_steps": 1280}, files["config"])
    plan = plan_study(tmp_path / "st", [], space, [1], base, 4, pruner="median", episodes=1)
    (tmp_path / "st").mkdir()
    write_json(tmp_path / "st" / STUDY_FILE, plan.identity)
    study = open_study(plan)
    for length in (8, 8, 8, 64):
        study.enqueue_trial({"env.options": f"{{episode_length: {length}}}"})
    state, results = tune(plan, jobs=1, console=Console(quiet=True), poll_s=0.2)
    assert state == "done"
    trials = study.get_trials()
    assert [t.state for t in trials] == [optuna.trial.TrialState.COMPLETE] * 3 + [optuna.trial.TrialState.PRUNED]
    pruned = trials[3]
    stopped_at = max(pruned.intermediate_values)
    assert 0.25 * 1280 <= stopped_at < 1280  # not before the warm-up quarter, and before the budget
    cell = read_cell(tmp_path / "st" / "genpo" / "PointMass" / "t0003_s1")
    assert cell["state"] == "pruned" and cell["pruned_at_steps"] == stopped_at
    rows = {r["trial"]: r for r in results["rows"]}
    assert rows[3]["state"] == "pruned" and rows[3]["value"] is None
    assert results["best"]["values"] == {"env.options": {"episode_length": 8}}
    best = yaml.safe_load((tmp_path / "st" / "best.yaml").read_text())
    assert best["env"]["options"] == {"episode_length": 8}
    assert TrainConfig.from_dict(best).validate() is None  # what genpo train --config reads
    assert "| 3 | pruned |" in (tmp_path / "st" / "trials.md").read_text()


def test_importance_needs_two_completed_trials_and_says_so(tmp_path, files):
    study = optuna.create_study(direction="maximize")
    paths, notes = study_figures(study, tmp_path / "fig")
    assert paths == [] and "no trial completed" in notes[0] and "importances need at least 2" in notes[1]
    study.add_trial(optuna.trial.create_trial(params={"x": 0.5}, distributions={
        "x": optuna.distributions.FloatDistribution(0, 1)}, value=1.0))  # fmt: skip
    paths, notes = study_figures(study, tmp_path / "fig")
    assert [p.name for p in paths] == ["history.png", "history.svg"]
    assert "(1 completed): no importance figure" in notes[0]


def test_the_study_identity_is_plain_json(tmp_path, files):
    base = base_config({"env.num_envs": 4, "run.total_steps": 64}, files["config"])
    plan = plan_study(tmp_path / "st", ['fast="num_epochs=2"'], files["space"], [1, 2], base, 3, objective="eval")
    assert json.loads(json.dumps(plan.identity)) == plan.identity
    assert plan.identity["setting"] == {"name": "fast", "fields": {"algo.num_epochs": 2}}
    assert plan.startup_trials == 1 and plan.report_steps()[-1] == 64


def test_hyperband_prunes_on_reported_env_steps_end_to_end(tmp_path, files):
    # Hyperband's resource is the env step a return was reported at (min budget/4, max the budget): the study runs
    # to the end, every trial completes or is pruned, and a pruned trial's run is stopped and marked.
    space = write(
        tmp_path / "space.yaml",
        {"env.options": {"type": "categorical", "values": [{"episode_length": 8}, {"episode_length": 64}]}},
    )
    base = base_config({"env.num_envs": 4, "run.total_steps": 1280}, files["config"])
    plan = plan_study(tmp_path / "st", [], space, [1], base, 6, pruner="hyperband", episodes=1)
    (tmp_path / "st").mkdir()
    write_json(tmp_path / "st" / STUDY_FILE, plan.identity)
    study = open_study(plan)
    for length in (8, 8, 8, 8, 64, 64):
        study.enqueue_trial({"env.options": f"{{episode_length: {length}}}"})
    state, results = tune(plan, jobs=1, console=Console(quiet=True), poll_s=0.2)
    assert state == "done"
    trials = study.get_trials()
    states = [t.state for t in trials]
    assert set(states) <= {optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED}
    assert optuna.trial.TrialState.PRUNED in states
    for i, t in enumerate(trials):
        assert all(isinstance(s, int) and 0 < s <= 1280 for s in t.intermediate_values)
        cell = read_cell(tmp_path / "st" / "genpo" / "PointMass" / f"t{i:04d}_s1")
        assert cell["state"] == ("pruned" if t.state == optuna.trial.TrialState.PRUNED else "done")
    assert results["best"]["values"] == {"env.options": {"episode_length": 8}}


def test_a_study_continued_in_two_drivers_draws_what_one_uninterrupted_driver_draws(tmp_path, files):
    # Optuna keeps the sampler's random state in memory only; genpo seeds one sampler per trial by its number.
    base = base_config({"env.num_envs": 4, "run.total_steps": 64}, files["config"])

    def study_params(out: Path, stops: list[int]) -> list[dict]:
        for trials in stops:
            plan = plan_study(out, [], files["space"], [1], base, trials, startup_trials=3)  # random draws span stops
            out.mkdir(exist_ok=True)
            write_json(out / STUDY_FILE, plan.identity)
            assert tune(plan, jobs=1, console=Console(quiet=True), poll_s=0.2)[0] == "done"
        return [t.params for t in open_study(plan).get_trials()]

    whole = study_params(tmp_path / "one", [4])
    assert study_params(tmp_path / "two", [2, 4]) == whole
    assert len({p["algo.learning_rate"] for p in whole}) == 4
