"""Checkpoints: atomic writes, clear errors for corrupt/missing files, 'latest' resolution."""

from __future__ import annotations

import os
import time

import pytest
import torch

from genpo.training.checkpoint import CheckpointError, find_latest, load_checkpoint, resolve_checkpoint, save_checkpoint


def payload(i=1):
    return {
        "model_state": {"w": torch.ones(2) * i},
        "config": {"env": {"id": "x"}},
        "iteration": i,
        "global_step": 10 * i,
        "optimizer_state": {},
        "learning_rate": 1e-3,
        "rng": {},
    }


def test_roundtrip_and_no_temporary_files_left(tmp_path):
    p = save_checkpoint(payload(), tmp_path / "run" / "model_1.pt")
    data = load_checkpoint(p)
    assert data["iteration"] == 1 and torch.equal(data["model_state"]["w"], torch.ones(2))
    assert sorted(os.listdir(p.parent)) == ["model_1.pt"]


def test_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    p = save_checkpoint(payload(1), tmp_path / "model_1.pt")

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(payload(2), p)
    monkeypatch.undo()
    assert load_checkpoint(p)["iteration"] == 1
    assert sorted(os.listdir(tmp_path)) == ["model_1.pt"]


def test_corrupt_truncated_and_foreign_files_give_clear_errors(tmp_path):
    p = save_checkpoint(payload(), tmp_path / "model_1.pt")
    raw = p.read_bytes()
    (tmp_path / "trunc.pt").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CheckpointError, match="unreadable"):
        load_checkpoint(tmp_path / "trunc.pt")
    (tmp_path / "junk.pt").write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match="unreadable"):
        load_checkpoint(tmp_path / "junk.pt")
    torch.save({"a": 1}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="not a genpo checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")


def test_latest_picks_newest_run_and_highest_iteration(tmp_path):
    with pytest.raises(CheckpointError, match="no run folder"):
        find_latest(tmp_path)
    old = tmp_path / "genpo" / "Env-v0" / "2026-01-01_00-00-00"
    new = tmp_path / "genpo" / "Env-v0" / "2026-02-01_00-00-00_named"
    for d, its in ((old, (1, 5)), (new, (2, 10, 3))):
        for i in its:
            save_checkpoint(payload(i), d / f"model_{i}.pt")
            time.sleep(0.01)
    assert find_latest(tmp_path) == new / "model_10.pt"
    assert resolve_checkpoint("latest", tmp_path, "Env-v0") == new / "model_10.pt"
    assert resolve_checkpoint(str(old), tmp_path) == old / "model_5.pt"
    with pytest.raises(CheckpointError, match="no run folder"):
        resolve_checkpoint("latest", tmp_path, "Other-v0")
    with pytest.raises(CheckpointError, match="does not exist"):
        resolve_checkpoint(str(tmp_path / "nope.pt"), tmp_path)


def test_files_get_the_umask_mode_not_0600(tmp_path):
    old = os.umask(0o022)
    try:
        p = save_checkpoint(payload(), tmp_path / "model_1.pt")
    finally:
        os.umask(old)
    assert p.stat().st_mode & 0o777 == 0o644


def test_a_crafted_checkpoint_missing_an_entry_is_named(tmp_path):
    for key in ("iteration", "optimizer_state", "rng"):
        data = {"format_version": 1, **payload()}
        del data[key]
        torch.save(data, tmp_path / "crafted.pt")
        with pytest.raises(CheckpointError, match=f"entry '{key}' is missing"):
            load_checkpoint(tmp_path / "crafted.pt")
    torch.save({"format_version": 1, **payload(), "iteration": "7"}, tmp_path / "crafted.pt")
    with pytest.raises(CheckpointError, match="entry 'iteration' is a str"):
        load_checkpoint(tmp_path / "crafted.pt")


def test_non_finite_parameters_are_refused_naming_the_tensor(tmp_path):
    bad = payload()
    bad["model_state"] = {"policy.net.0.weight": torch.tensor([1.0, float("nan")]), "ok": torch.ones(1)}
    save_checkpoint(bad, tmp_path / "model_1.pt")
    with pytest.raises(CheckpointError, match=r"non-finite.*policy\.net\.0\.weight") as info:
        load_checkpoint(tmp_path / "model_1.pt")
    assert "'ok'" not in str(info.value) and " ok" not in str(info.value)
    bad["model_state"] = {"obs_norm.var": torch.tensor([float("inf")])}
    save_checkpoint(bad, tmp_path / "model_2.pt")
    with pytest.raises(CheckpointError, match=r"obs_norm\.var"):
        load_checkpoint(tmp_path / "model_2.pt")


def test_a_read_permission_error_says_so(tmp_path, monkeypatch):
    p = save_checkpoint(payload(), tmp_path / "model_1.pt")
    real_open = open

    def denied(path, *a, **k):
        if str(path) == str(p):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *a, **k)

    monkeypatch.setattr("builtins.open", denied)
    with pytest.raises(CheckpointError, match="permission denied") as info:
        load_checkpoint(p)
    assert "corrupt" not in str(info.value)


def test_orphaned_temporary_files_of_dead_writers_are_removed(tmp_path):
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    run = tmp_path / "run"
    save_checkpoint(payload(1), run / "model_1.pt")
    orphan = run / f".model_2.pt.{dead_pid}-abcd1234.tmp"
    live = run / f".model_3.pt.{os.getpid()}-abcd1234.tmp"  # this process: a write in flight
    legacy_old, legacy_new = run / ".model_4.pt.k2j4h5g6.tmp", run / ".model_5.pt.q9w8e7r6.tmp"
    legacy_onnx_data = run / ".policy.onnx.dtuuz5k7.tmp.data"  # what torch.onnx left next to older exports
    user_file = run / ".notes.txt.abc.tmp"  # not a name genpo writes: never touched
    for f in (orphan, live, legacy_old, legacy_new, legacy_onnx_data, user_file):
        f.write_bytes(b"partial")
    for f in (legacy_old, legacy_onnx_data):
        os.utime(f, (time.time() - 3600, time.time() - 3600))
    save_checkpoint(payload(6), run / "model_6.pt")
    assert not orphan.exists() and not legacy_old.exists() and not legacy_onnx_data.exists()
    assert live.exists() and legacy_new.exists() and user_file.exists()
    live.unlink()
    legacy_new.unlink()
    orphan.write_bytes(b"partial")
    assert resolve_checkpoint(str(run), tmp_path) == run / "model_6.pt"  # resuming or playing cleans too
    assert not orphan.exists()


def test_latest_is_the_last_written_checkpoint_not_the_last_folder_name(tmp_path):
    env = tmp_path / "genpo" / "Env-v0"
    first = env / "2026-03-01_00-00-00_zzz"  # sorts last by name, written first
    nested = env / "2026-01-01_00-00-00_a" / "b"  # an old run name with '/' made a nested folder
    second = env / "2026-02-01_00-00-00_aaa"
    for d, i in ((first, 7), (nested, 3), (second, 2)):
        save_checkpoint(payload(i), d / f"model_{i}.pt")
    stamps = {first: 1000, nested: 2000, second: 3000}
    for d, t in stamps.items():
        for p in d.glob("model_*.pt"):
            os.utime(p, (t, t))
    assert find_latest(tmp_path) == second / "model_2.pt"
    os.utime(nested / "model_3.pt", (4000, 4000))
    assert find_latest(tmp_path, "Env-v0") == nested / "model_3.pt"
