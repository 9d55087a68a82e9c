"""``genpo bench likelihood`` at toy sizes: the table, the JSON, the counted evaluations, the errors."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from typer.testing import CliRunner

from genpo.benchmarks import likelihood as bench
from genpo.cli.main import app

TOY = {"batch": 32, "dim": 2, "hidden": (16,), "repeats": 1, "oracle_rows": 8, "probe_draws": 3, "oracle_tol": 1e-6}


def test_run_measures_counts_and_errors() -> None:
    threads = torch.get_num_threads()
    try:
        keys = ["edict-exact", "edict-jacobian", "euler-exact", "rk4-hutch-rad"]
        result = bench.run(bench.Settings(only=keys, **TOY))
    finally:
        torch.set_num_threads(threads)
    rows = {r.key: r for r in result.rows}
    assert list(rows) == ["edict-exact", "edict-jacobian", "euler-exact", "rk4-hutch-rad"]
    assert abs(result.mean_speed - 1.0) < 1e-4
    # edict: K inverse steps of two network calls; jacobian adds the forward pass it differentiates.
    assert rows["edict-exact"].nfe == 10 and rows["edict-jacobian"].nfe == 20
    assert rows["euler-exact"].nfe > 10  # fixed-point iterations
    assert rows["rk4-hutch-rad"].nfe == 4 * 5
    for key in ("edict-exact", "edict-jacobian", "euler-exact"):
        assert rows[key].err_max < 1e-4, key  # float32 against the float64 oracle of the same map
        assert rows[key].probe_std is None
        assert rows[key].median_s > 0 and rows[key].runs >= 1
    assert rows["rk4-hutch-rad"].probe_std > 0.01  # stochastic, and the spread is reported
    assert result.ratio() is not None and result.ratio() > 0
    assert any(line.startswith("edict: jacobian / exact time = ") for line in bench.summary(result))


def test_cli_prints_the_table_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "lk.json"
    args = ["bench", "likelihood", "--batch", "16", "--dim", "2", "--hidden", "8", "--repeats", "0"]
    args += ["--only", "edict-exact,edict-jacobian", "--oracle-rows", "4", "--json", str(out)]
    threads = torch.get_num_threads()
    try:
        done = CliRunner().invoke(app, args)
    finally:
        torch.set_num_threads(threads)
    assert done.exit_code == 0, done.output
    assert "edict exact" in done.output and "edict jacobian" in done.output
    data = json.loads(out.read_text())
    assert [r["key"] for r in data["rows"]] == ["edict-exact", "edict-jacobian"]
    assert data["jacobian_over_exact"] > 0 and data["config"]["batch"] == 16 and data["machine"]["torch"]


def test_cli_refuses_unknown_rows_and_bad_sizes() -> None:
    done = CliRunner().invoke(app, ["bench", "likelihood", "--only", "edict-magic"])
    assert done.exit_code == 2
    assert "unknown row(s) edict-magic; choose from: edict-exact, edict-jacobian" in done.output
    done = CliRunner().invoke(app, ["bench", "likelihood", "--hidden", "400,x"])
    assert done.exit_code == 2
    assert "expected comma-separated positive integers" in done.output
    done = CliRunner().invoke(app, ["bench", "likelihood", "--activation", "swish", "--batch", "4", "--hidden", "4"])
    assert done.exit_code == 2
    assert "unknown activation 'swish'; choose one of: mish" in done.output


def test_new_members_rows_and_flow_distances() -> None:
    threads = torch.get_num_threads()
    keys = ["heun-exact", "heun-jacobian", "rrk4-exact", "chain-exact", "chain-jacobian"]
    try:
        result = bench.run(bench.Settings(only=keys, distance_steps=(2, 5, 10), **TOY))
    finally:
        torch.set_num_threads(threads)
    rows = {r.key: r for r in result.rows}
    # reversible Heun reuses v(w', t + h) as the next step's v(w, t): K + 1 evaluations per pass.
    assert rows["heun-exact"].nfe == 6 and rows["heun-jacobian"].nfe == 12
    assert rows["rrk4-exact"].nfe == 2 * 4 * 5  # two RK4 increments per step
    assert rows["chain-exact"].nfe == 5 and rows["chain-jacobian"].nfe == 10
    for key in keys:
        assert rows[key].error is None and rows[key].err_max < 1e-4, key
    dist = {(d.label, d.steps): d for d in result.distances}
    assert {label for label, _ in dist} == {s.label for s in bench.DISTANCE_SPECS}
    for label in ("reversible-rk rk4", "reversible-heun", "euler"):
        assert dist[(label, 10)].err_max < dist[(label, 2)].err_max, label
    assert dist[("reversible-rk rk4", 10)].err_max < 1e-2 * dist[("euler", 10)].err_max
    assert result.to_dict()["distances"][0]["steps"] == 2


def test_log_probs_are_timed_as_at_rollout_time_without_autograd(monkeypatch) -> None:
    from genpo.models.flow import FlowPolicy

    seen: list[bool] = []
    log_prob = FlowPolicy.log_prob

    def recording(self, *args, **kwargs):
        seen.append(torch.is_grad_enabled())
        return log_prob(self, *args, **kwargs)

    monkeypatch.setattr(FlowPolicy, "log_prob", recording)
    threads = torch.get_num_threads()
    try:
        bench.run(bench.Settings(only=["edict-exact"], **{**TOY, "distance_steps": ()}))
    finally:
        torch.set_num_threads(threads)
    assert seen and not any(seen)
