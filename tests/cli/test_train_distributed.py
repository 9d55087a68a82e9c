"""Two gloo processes on CPU through torchrun: identical parameters on every rank, one run folder."""

from __future__ import annotations

import re


def test_two_process_run_keeps_ranks_identical_and_rank0_writes(tmp_path, tiny_config, genpo_cli):
    proc = genpo_cli(
        "train",
        "--nproc",
        "2",
        "--env",
        "InvertedPendulum-v5",
        "--num-envs",
        "2",
        "--max-iterations",
        "3",
        "--config",
        str(tiny_config),
        "--logdir",
        str(tmp_path / "logs"),
        cwd=tmp_path,
        timeout=400,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    sums = dict(re.findall(r"rank (\d)/2: parameter checksum ([0-9a-f]{16})", out))
    assert set(sums) == {"0", "1"}, out
    assert sums["0"] == sums["1"]
    runs = list((tmp_path / "logs" / "genpo" / "InvertedPendulum-v5").iterdir())
    assert len(runs) == 1
    assert sorted(p.name for p in runs[0].glob("model_*.pt")) == ["model_3.pt"]
    assert len(list(runs[0].glob("events.out.tfevents.*"))) == 1
    # 2 ranks x 2 envs x 8 steps x 3 iterations
    assert "96 env steps" in out
