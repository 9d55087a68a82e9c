"""Checkpoints: atomic writes, clear errors for corrupt/missing files, 'latest' resolution."""

from __future__ import annotations

import os
import time

import pytest
import torch

from genpo.training.checkpoint import CheckpointError, find_latest, load_checkpoint, resolve_checkpoint, save_checkpoint


def payload(i=1):
    return {"model_state": {"w": torch.ones(2) * i}, "config": {"env": {"id": "x"}}, "iteration": i}


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
