"""``genpo bench env | act | train | profile | curves`` at toy sizes: the commands run and report what they measured."""

from __future__ import annotations

import csv

import torch
from typer.testing import CliRunner

from genpo.cli.main import app

runner = CliRunner()


def invoke(*args: str):
    threads = torch.get_num_threads()
    try:
        result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    finally:
        torch.set_num_threads(threads)  # the benches pin threads; keep the rest of the suite as it was
    assert result.exit_code == 0, result.output
    return result.output


def test_bench_env_on_the_builtin_task():
    out = invoke("bench", "env", "--env", "builtin:PointMass", "--num-envs", "4", "--seconds", "0.05", "--repeats", "1")
    assert "builtin:PointMass" in out


def test_bench_act_reports_both_models_and_modes():
    out = invoke("bench", "act", "--obs-dim", "3", "--action-dim", "2", "--batch", "1", "--repeats", "1")
    for word in ("gaussian", "flow", "eager", "torchscript"):
        assert word in out
    from genpo.benchmarks.act import onnxruntime_available

    if onnxruntime_available():  # the exported ONNX file is timed in onnxruntime, where deployments run it
        assert "onnx" in out


def test_bench_train_reports_throughput_per_model():
    out = invoke(
        "bench",
        "train",
        "--env",
        "builtin:PointMass",
        "--model",
        "gaussian,flow",
        "--num-envs",
        "2",
        "--iterations",
        "1",
    )
    assert "gaussian" in out and "flow" in out and "env-steps/s" in out


def test_bench_train_accepts_zoo_variants():
    from genpo.benchmarks import train as bench

    rows = bench.run(("builtin:PointMass",), ("gaussian-chain", "cfm", "reversible-heun"), num_envs=2, iterations=1)
    assert [r.model for r in rows] == ["gaussian-chain", "cfm", "reversible-heun"]
    assert all(r.steps_per_s > 0 for r in rows)
    assert bench.policy_section("cfm")["likelihood"] == "cfm" and bench.policy_section("maf") == {"model": "maf"}


def test_bench_train_model_specs_set_fields():
    from genpo.benchmarks import train as bench

    assert bench.model_sections("edict:compress_fraction=0.25:steps=3") == {
        "policy": {"model": "flow", "integrator": "edict", "flow_steps": 3},
        "algo": {"compress_fraction": 0.25},
    }
    rows = bench.run(("builtin:PointMass",), ("edict", "edict:compress_fraction=0.25"), num_envs=2, iterations=1)
    assert [r.model for r in rows] == ["edict", "edict:compress_fraction=0.25"]


def test_bench_train_refuses_bad_model_specs_before_running():
    for spec, message in (
        ("edict:nonsense=1", "unknown configuration field 'nonsense'"),
        ("edict:seed=3", "run.seed is set by genpo bench train"),
        ("edict:compress_fraction", "expected FIELD=VALUE"),
        ("edict:compress_fraction=2", "algo.compress_fraction must be a number in (0, 1]"),
    ):
        result = runner.invoke(app, ["bench", "train", "--env", "builtin:PointMass", "--model", f"gaussian,{spec}"])
        assert result.exit_code == 2, (spec, result.output)
        assert message in result.output, (spec, result.output)
        assert "env-steps/s" not in result.output  # refused before the first model ran


def test_bench_profile_reports_every_phase():
    out = invoke(
        "bench",
        "profile",
        "--env",
        "builtin:PointMass",
        "--model",
        "edict,gaussian",
        "--num-envs",
        "2",
        "--iterations",
        "1",
    )
    for phase in ("rollout: policy sample", "rollout: env", "log-prob pass", "compression", "critic", "Adam step"):
        assert phase in out, phase
    assert out.count("compression (fwd + bwd)") == 1  # the Gaussian has no compression phase
    from genpo.benchmarks import profile as bench

    result = bench.run("builtin:PointMass", "edict:compress_fraction=0.5", num_envs=2, iterations=1, shared=False)
    assert all(v >= 0 for k, v in result.phases.items() if k.startswith("update")) and result.update_s > 0


def test_bench_curves_writes_csv_and_plot(tmp_path):
    out = invoke(
        "bench",
        "curves",
        "--env",
        "builtin:PointMass",
        "--model",
        "gaussian",
        "--seeds",
        "1,2",
        "--total-steps",
        "128",
        "--num-envs",
        "2",
        "--out",
        str(tmp_path),
    )
    assert "wrote" in out
    rows = list(csv.DictReader((tmp_path / "curves.csv").open()))
    assert {r["seed"] for r in rows} == {"1", "2"} and all(r["model"] == "gaussian" for r in rows)
    assert any(r["mean_return"] not in ("", "None") for r in rows)  # 50-step episodes end within 64 steps
    assert (tmp_path / "curves.png").stat().st_size > 1000
