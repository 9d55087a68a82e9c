"""genpo.training.files.disk_error: the one place that reads a failed write as the file system's failure."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import genpo.training.files as files
from genpo.errors import DiskError, RunFolderError
from genpo.training.files import atomic_files, check_free_space, disk_cause, disk_error


@pytest.mark.parametrize(
    ("code", "cause"),
    [
        (errno.ENOSPC, "no space left on the device"),
        (errno.EDQUOT, "the disk quota is exceeded"),
        (errno.EROFS, "the file system is read-only"),
        (errno.EFBIG, "file-size limit (ulimit -f)"),
        (errno.EIO, "an input/output error on the device"),
    ],
)
def test_os_errors_of_the_file_system_are_named(code: int, cause: str, tmp_path: Path) -> None:
    err = disk_error(OSError(code, os.strerror(code)), tmp_path / "model_3.pt")
    assert isinstance(err, DiskError) and err.exit_code == 1
    assert str(err).startswith(f"cannot write '{tmp_path}/model_3.pt': ") and cause in str(err)


def test_errors_of_the_path_or_of_a_bug_are_not_disk_errors(tmp_path: Path) -> None:
    assert disk_error(PermissionError(errno.EACCES, "Permission denied"), tmp_path / "x") is None
    assert disk_error(ValueError("a bug"), tmp_path / "x") is None
    assert disk_error(RuntimeError("shapes do not match"), tmp_path / "x") is None


def test_the_os_error_under_torchs_zip_writer_error_is_found(tmp_path: Path) -> None:
    wrapped = RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598")
    wrapped.__context__ = OSError(errno.ENOSPC, "No space left on device")  # what torch.save(obj, file) raises
    assert disk_cause(wrapped, tmp_path / "model_1.pt") == "no space left on the device"


def test_a_removed_folder_is_named(tmp_path: Path) -> None:
    run = tmp_path / "logs" / "run"
    run.mkdir(parents=True)
    shutil.rmtree(tmp_path / "logs")
    gone = FileNotFoundError(errno.ENOENT, "No such file or directory", str(run / "events"))
    assert (
        disk_cause(gone, run / "events") == f"the folder '{tmp_path}/logs' was removed while genpo was writing into it"
    )
    no_errno = RuntimeError(f"Parent directory {run} does not exist.")  # torch.save given a path
    assert "was removed" in (disk_cause(no_errno, run / "model_1.pt") or "")


def test_a_write_error_without_errno_is_read_from_the_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lost = RuntimeError("basic_ios::clear: iostream error")
    assert disk_cause(lost, tmp_path / "f") is None  # room, writable, no limit: not the disk's fault
    monkeypatch.setattr(files, "free_bytes", lambda folder: 10)
    assert disk_cause(lost, tmp_path / "f") == "no space left on the device"
    monkeypatch.setattr(files, "read_only", lambda folder: True)
    assert disk_cause(lost, tmp_path / "f") == "the file system is read-only"


def test_atomic_files_removes_the_partial_file_and_names_the_target(tmp_path: Path) -> None:
    (tmp_path / "a.pt").write_bytes(b"old")
    with pytest.raises(DiskError, match=rf"cannot write '{tmp_path}/b.pt': no space left on the device"):
        with atomic_files([tmp_path / "a.pt", tmp_path / "b.pt"]) as (ta, tb):
            ta.write_bytes(b"new a")
            with open(tb, "wb") as f:
                f.write(b"half")
                raise OSError(errno.ENOSPC, "No space left on device")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.pt"] and (tmp_path / "a.pt").read_bytes() == b"old"
    with pytest.raises(RunFolderError, match="permission denied"):  # the path's fault: still exit 2
        with atomic_files([tmp_path / "c.pt"]) as (tc,):
            raise PermissionError(errno.EACCES, "Permission denied", str(tc))


def test_free_space_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files, "free_bytes", lambda folder: 1_500_000)
    check_free_space(tmp_path / "not" / "yet", 1_000_000, "one checkpoint")
    with pytest.raises(DiskError, match=r"only 1\.5 MB free on its file system and at least 2\.0 MB are needed"):
        check_free_space(tmp_path / "not" / "yet", 2_000_000, "two checkpoints")


def test_checkpoint_size_estimate_is_close_to_the_file(tmp_path: Path) -> None:
    """The pre-flight refuses on this estimate, so it must be honest (docs/benchmarks.md measures more)."""
    from rich.console import Console

    from genpo.training.api import prepare
    from genpo.training.runner import Trainer

    over = {"policy.hidden": [16], "policy.critic_hidden": [16], "algo.steps_per_env": 4, "env.num_envs": 2}
    trainer = Trainer(
        prepare(None, env="builtin:PointMass", max_iterations=1, **over).config, console=Console(quiet=True)
    )
    estimate = trainer.checkpoint_bytes()
    trainer.train(tmp_path)
    assert 0.9 < estimate / (tmp_path / "model_1.pt").stat().st_size < 1.1


def test_the_cli_reports_a_disk_error_from_a_writer_genpo_does_not_wrap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from genpo.cli.main import app
    from genpo.training import api

    def evaluate(*a: object, **k: object) -> torch.Tensor:
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "somewhere.bin"))

    run = tmp_path / "run"
    res = CliRunner().invoke(app, ["train", "--env", "builtin:PointMass", "--num-envs", "2", "--max-iterations", "1",
                                   "--set", "hidden=[16]", "--set", "critic_hidden=[16]", "--set", "steps_per_env=4",
                                   "--logdir", str(run)], env={"COLUMNS": "400"})  # fmt: skip
    assert res.exit_code == 0, res.output
    monkeypatch.setattr(api, "evaluate", evaluate)
    res = CliRunner().invoke(app, ["play", "--checkpoint", "latest", "--logdir", str(run)], env={"COLUMNS": "400"})
    out = " ".join(res.output.split())
    assert res.exit_code == 1, out
    assert res.exception is None or isinstance(res.exception, SystemExit), out
    assert f"error: cannot write '{tmp_path}/somewhere.bin': no space left on the device" in out
