"""``genpo plot``: figures and summary from plain run folders; ``plot actions`` for every policy family."""

from __future__ import annotations

import csv
import io

import pytest
from rich.console import Console
from typer.testing import CliRunner

import genpo
from genpo.cli.main import app
from genpo.inversion import INTEGRATORS
from genpo.models import MODELS

TINY = {
    "env": {"num_envs": 4},
    "policy": {"hidden": [16], "critic_hidden": [16]},
    "algo": {"steps_per_env": 8, "num_epochs": 1, "num_minibatches": 2},
}
QUIET = Console(file=io.StringIO())


def train(tmp_path, env: str, iterations: int, **overrides):
    return genpo.train(TINY, env=env, max_iterations=iterations, logdir=str(tmp_path / "logs"), console=QUIET,
                       **overrides)  # fmt: skip


def test_plot_groups_plain_train_runs_by_run_name(tmp_path, one_thread):
    for seed in (1, 2):
        train(tmp_path, "builtin:MultiGoal", 3, seed=seed, run_name=f"mine_s{seed}")
    train(tmp_path, "builtin:MultiGoal", 3, seed=1, run_name="other_s1", **{"algo.learning_rate": 1e-3})
    out = tmp_path / "fig"
    done = CliRunner().invoke(app, ["plot", str(tmp_path / "logs"), "--out", str(out), "--smooth", "2"])
    assert done.exit_code == 0, done.output
    assert "3 run folders" in done.output
    with (out / "summary.csv").open() as f:
        rows = {r["setting"]: r for r in csv.DictReader(f)}
    assert set(rows) == {"mine", "other"} and rows["mine"]["seeds"] == "2" and rows["other"]["seeds"] == "1"
    assert rows["mine"]["eval_mean"] == ""  # plain runs have no end-of-run evaluation: said, not invented
    assert float(rows["mine"]["env_steps"]) == 96
    with (out / "runs.csv").open() as f:
        assert {r["kind"] for r in csv.DictReader(f)} == {"train"}
    for ext in ("png", "svg"):
        assert (out / "figures" / f"returns_builtin_MultiGoal.{ext}").stat().st_size > 1000

    # --evaluate: N deterministic episodes per run, stored once in the run folder.
    args = ["plot", str(tmp_path / "logs"), "--out", str(out), "--evaluate", "3"]
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    stored = sorted((tmp_path / "logs").glob("genpo/*/*/evaluation.json"))
    assert len(stored) == 3
    with (out / "summary.csv").open() as f:
        assert all(r["eval_mean"] != "" for r in csv.DictReader(f))
    assert "(3 episodes" in (out / "summary.md").read_text()
    stamps = [p.stat().st_mtime_ns for p in stored]
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0 and ": evaluation " not in again.output  # nothing evaluated twice
    assert [p.stat().st_mtime_ns for p in stored] == stamps

    # --baseline: a dashed reference line (the pretrained policy's return a fine-tuning run starts from)
    done = CliRunner().invoke(app, [*args[:4], "--baseline", "pretrained (deterministic)=1.5"])
    assert done.exit_code == 0, done.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "name run folders"),
        (["/nonexistent/folder"], "does not exist"),
        (["actions"], "needs --checkpoint"),
        (["actions", "/nonexistent/folder"], "does not exist"),
        (["actions", "--checkpoint", "/nonexistent.pt"], "does not exist"),
        (["some/dir", "--checkpoint", "x"], "belong to 'genpo plot actions'"),
        (["some/dir", "--baseline", "pre=abc"], "LABEL=RETURN"),
        (["some/dir", "--baseline", "=3"], "LABEL=RETURN"),
        (["actions", "--baseline", "pre=3"], "not to 'genpo plot actions'"),
    ],
)
def test_plot_bad_input_exits_2(args, message):
    done = CliRunner().invoke(app, ["plot", *args])
    assert done.exit_code == 2, done.output
    assert message in done.output


FAMILIES = (
    [{"model": m} for m in MODELS.names() if m != "flow"]
    + [
        {"model": "flow", "integrator": i, "likelihood": "trace" if i == "pf-ode" else "exact"}
        for i in INTEGRATORS.names()
    ]
    + [{"model": "flow", "integrator": "euler", "likelihood": "cfm"}]
)


@pytest.mark.parametrize(
    "policy", FAMILIES, ids=lambda p: "cfm" if p.get("likelihood") == "cfm" else p.get("integrator", p["model"])
)
def test_plot_actions_writes_a_figure_for_every_family(tmp_path, one_thread, policy):
    result = train(tmp_path, "builtin:MultiGoal", 1, policy=policy)
    out = tmp_path / "actions"
    done = CliRunner().invoke(app, ["plot", "actions", "--checkpoint", str(result.run_dir), "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert "modes holding >= 10%" in done.output
    for ext in ("png", "svg"):
        assert (out / f"actions_{result.run_dir.name}_model_1.{ext}").stat().st_size > 1000


def test_plot_actions_at_a_given_observation(tmp_path, one_thread):
    result = train(tmp_path, "builtin:PointMass", 1, policy={"model": "gaussian"})
    out = tmp_path / "actions"
    obs = ",".join(["0.1"] * 6)
    done = CliRunner().invoke(app, ["plot", "actions", "--checkpoint", str(result.run_dir), "--obs", obs,
                                    "--out", str(out), "--samples", "500"])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "modes holding" not in done.output  # PointMass names no optima
    assert (out / f"actions_{result.run_dir.name}_model_1.png").is_file()
    bad = CliRunner().invoke(app, ["plot", "actions", "--checkpoint", str(result.run_dir), "--obs", "1,2"])
    assert bad.exit_code == 2 and "--obs must have 6 numbers" in bad.output


def test_plot_actions_over_folders_tabulates_modes_per_setting(tmp_path, one_thread):
    for seed in (1, 2):
        train(tmp_path, "builtin:MultiGoal", 1, seed=seed, run_name=f"g_s{seed}", policy={"model": "gaussian"})
    out = tmp_path / "actions"
    done = CliRunner().invoke(app, ["plot", "actions", str(tmp_path / "logs"), "--out", str(out), "--samples", "400"])
    assert done.exit_code == 0, done.output
    with (out / "actions.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [(r["setting"], r["seed"]) for r in rows] == [("g", "1"), ("g", "2")]
    for r in rows:  # near_any is the sum of the per-optimum shares; modes_held counts those >= 10%
        shares = [float(r[f"share_{i}"]) for i in range(4)]
        assert float(r["near_any"]) == pytest.approx(sum(shares), abs=1e-3)
        assert int(r["modes_held"]) == sum(s >= 0.1 for s in shares)
    table = (out / "actions.md").read_text()
    assert table.splitlines()[2].startswith("| g | 2 | ")
    assert (out / "actions_grid.png").is_file() and (out / "actions_grid.svg").is_file()


def test_plot_warns_about_a_truncated_events_file_and_marks_its_setting(tmp_path, one_thread):
    for seed in (1, 2):
        train(tmp_path, "builtin:MultiGoal", 3, seed=seed, run_name=f"mine_s{seed}")
    (events,) = (tmp_path / "logs").glob("genpo/*/*_mine_s2/events.out.tfevents.*")
    events.write_bytes(events.read_bytes()[:-7])  # cut inside the last record
    out = tmp_path / "fig"
    done = CliRunner().invoke(app, ["plot", str(tmp_path / "logs"), "--out", str(out)])
    assert done.exit_code == 0, done.output
    text = " ".join(done.output.split())
    assert f"warning: {events.parent}: {events.name}: " in text and "truncated or damaged events file" in text
    summary = (out / "summary.md").read_text()
    assert "mine (damaged: 1 of 2 runs)" in summary and "*Damaged*" in summary
    assert "sample standard deviation across seeds (ddof = 1)" in summary
    with (out / "summary.csv").open() as f:
        (row,) = csv.DictReader(f)
    assert row["damaged_runs"] == "1" and float(row["env_steps"]) > 0


def test_one_seed_has_no_spread_said_as_such(tmp_path, one_thread):
    train(tmp_path, "builtin:MultiGoal", 3, seed=1, run_name="solo_s1")
    out = tmp_path / "fig"
    done = CliRunner().invoke(app, ["plot", str(tmp_path / "logs"), "--out", str(out)])
    assert done.exit_code == 0, done.output
    with (out / "summary.csv").open() as f:
        (row,) = csv.DictReader(f)
    assert row["train_std"] == ""
    assert " ± —" in (out / "summary.md").read_text()
