"""Reading run folders: a resumed run's second events file wins; wall time is the sum of iteration times."""

from __future__ import annotations

import time

import numpy as np
import pytest
import yaml
from torch.utils.tensorboard import SummaryWriter

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
    with pytest.raises(ValueError, match="not a run folder"):
        read_run(tmp_path)
