"""Reading run folders: a resumed run's second events file wins; wall time is the sum of iteration times."""

from __future__ import annotations

import time

import numpy as np
import pytest
import yaml
from torch.utils.tensorboard import SummaryWriter

from genpo.errors import ConfigError
from genpo.workbench.runs import ScalarReader, curve_of, find_runs, read_run


def log(run_dir, rows):
    writer = SummaryWriter(log_dir=str(run_dir))
    for step, sps, ret in rows:
        writer.add_scalar("perf/sps", sps, step)
        if ret is not None:
            writer.add_scalar("charts/episodic_return", ret, step)
    writer.close()


def test_resumed_run_later_file_wins_and_wall_time_sums_iterations(tmp_path):
    run = tmp_path / "genpo" / "Env" / "a_s2"
    (run / "params").mkdir(parents=True)
    (run / "params" / "config.yaml").write_text(
        yaml.safe_dump({"env": {"id": "x:Env"}, "run": {"seed": 2, "run_name": "a_s2"}})
    )
    log(run, [(100, 50.0, 1.0), (200, 100.0, None), (300, 100.0, 3.0)])  # killed after step 300
    time.sleep(1.1)  # event file names carry a timestamp in seconds
    log(run, [(300, 50.0, 5.0), (400, 25.0, 7.0)])  # resumed from the checkpoint at step 200
    steps, rets, wall, sps, last, total = curve_of(ScalarReader(run).poll())
    assert steps.tolist() == [100, 300, 400] and rets.tolist() == [1.0, 5.0, 7.0]
    # 100/50 + 100/100 + 100/50 + 100/25 seconds
    assert wall.tolist() == pytest.approx([2.0, 5.0, 9.0]) and total == pytest.approx(9.0) and last == 400
    assert sps == pytest.approx(np.mean([50, 100, 50, 25]))
    rec = read_run(run)
    assert (rec.group, rec.seed, rec.env, rec.eval_returns) == ("a", 2, "x:Env", None)
    assert rec.final_return(0.5) == pytest.approx(6.0)
    assert find_runs([tmp_path]) == [run.resolve()]


def test_read_run_refuses_a_folder_without_config(tmp_path):
    with pytest.raises(ConfigError, match="not a run folder"):
        read_run(tmp_path)


def _run(tmp_path, name="a_s1", seed=1):
    run = tmp_path / "genpo" / "Env" / name
    (run / "params").mkdir(parents=True)
    (run / "params" / "config.yaml").write_text(
        yaml.safe_dump({"env": {"id": "x:Env"}, "run": {"seed": seed, "run_name": name}})
    )
    return run


@pytest.mark.parametrize("keep", [0.5, 10, 0])
def test_a_truncated_events_file_is_named_and_its_run_marked(tmp_path, keep):
    run = _run(tmp_path)
    log(run, [(100, 50.0, 1.0), (200, 50.0, 2.0), (300, 50.0, 3.0)])
    (events,) = run.glob("events.out.tfevents.*")
    data = events.read_bytes()
    events.write_bytes(data[: int(len(data) * keep)] if isinstance(keep, float) else data[:keep])
    rec = read_run(run)
    assert len(rec.problems) == 1 and events.name in rec.problems[0]
    assert ("bytes after the last readable record" if keep else "empty") in rec.problems[0]
    if keep == 0.5:  # what was readable is kept
        assert 0 < rec.total_steps < 300


def test_a_damaged_record_and_unreadable_metrics_files_are_named(tmp_path):
    run = _run(tmp_path)
    log(run, [(100, 50.0, 1.0), (200, 50.0, 2.0)])
    (events,) = run.glob("events.out.tfevents.*")
    data = bytearray(events.read_bytes())
    data[len(data) // 2] ^= 0xFF  # a flipped byte: the record's CRC fails
    events.write_bytes(bytes(data))
    (run / "cell.json").write_text('{"group": "a", "seed"')  # cut mid-write by an older genpo
    rec = read_run(run)
    assert any(events.name in p for p in rec.problems)
    assert any(p.startswith("cell.json: unreadable") for p in rec.problems)


def test_a_complete_run_has_no_problems(tmp_path):
    run = _run(tmp_path)
    log(run, [(100, 50.0, 1.0)])
    assert read_run(run).problems == []
