"""A full disk, a read-only file system, a file-size limit or a removed run folder, caused for real where the
machine allows it (a small tmpfs, ``ulimit -f``, a folder removed while a run is going) and by injection
otherwise: one line naming the file and the cause, exit 1, no traceback, no partial file, and in training the
newest intact checkpoint, which loads and resumes with the command the message gives.

The tmpfs cases need root and a kernel that lets this process mount (a container may not): they skip with
that reason. Every kind of fault is also covered by injection (here and in ``tests/cli/test_faults.py``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch
import yaml
from typer.testing import CliRunner

from genpo.cli.main import app
from genpo.training.checkpoint import checkpoints_in, load_checkpoint

TINY = {
    "policy": {"hidden": [16], "critic_hidden": [16]},
    "algo": {"steps_per_env": 4, "num_epochs": 1, "num_minibatches": 1},
}
PM = ("--env", "builtin:PointMass", "--num-envs", "2")


def invoke(*args: str) -> tuple[int, str]:
    """``genpo ARGS`` in this process: the exit code and the output (99 when an exception escaped)."""
    res = CliRunner().invoke(app, list(args), env={"COLUMNS": "400"})
    out = " ".join(res.output.split())
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        return 99, f"{out}\n{type(res.exception).__name__}: {res.exception}"
    return res.exit_code, out


def _config(folder: Path, **run: object) -> Path:
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump({**TINY, "run": dict(run)}))
    return path


def _leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(".*") if p.is_file()]


def _resume_command(out: str) -> list[str]:
    """The ``genpo train --checkpoint PATH`` command a failure message gives, as arguments after ``genpo``."""
    m = re.search(r"resume with: genpo (train --checkpoint \S+)", out)
    assert m, out
    return shlex.split(m.group(1))


def _assert_resumes(out: str, tmp_path: Path, iteration: int) -> None:
    """The named checkpoint loads and the printed command continues from it (into another folder)."""
    args = _resume_command(out)
    assert load_checkpoint(Path(args[-1]))["iteration"] == iteration
    code, res = invoke(*args, "--max-iterations", "1", "--logdir", str(tmp_path / "resumed"))
    assert code == 0, res
    assert f"(iteration {iteration})" in res
    assert list((tmp_path / "resumed").rglob(f"model_{iteration + 1}.pt"))


@contextlib.contextmanager
def tmpfs(path: Path, size: int) -> Iterator[Path]:
    """A tmpfs of ``size`` bytes mounted at ``path``; skips the test where this process may not mount."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a real full disk needs root and mount(8) for a small tmpfs; the injected cases cover it")
    path.mkdir(parents=True, exist_ok=True)
    size = max(4096, size // 4096 * 4096)
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({res.stderr.decode().strip()}); the injected cases cover it")
    try:
        yield path
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(path)], capture_output=True)
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


@pytest.fixture(scope="module")
def checkpoint_size(tmp_path_factory: pytest.TempPathFactory) -> int:
    """Bytes of one checkpoint of the tiny PointMass run (the tmpfs cases are sized from it)."""
    root = tmp_path_factory.mktemp("size")
    code, out = invoke("train", *PM, "--max-iterations", "1", "--config", str(_config(root)), "--logdir", str(root))
    assert code == 0, out
    (ckpt,) = root.rglob("model_1.pt")
    return ckpt.stat().st_size


# -- a full disk --------------------------------------------------------------------------------------
def test_disk_full_for_real_names_the_newest_checkpoint_and_it_resumes(tmp_path: Path, checkpoint_size: int) -> None:
    config = _config(tmp_path, save_interval=1)
    with tmpfs(tmp_path / "disk", int(3.5 * checkpoint_size)) as disk:
        code, out = invoke("train", *PM, "--max-iterations", "8", "--config", str(config), "--logdir", str(disk))
        (run_dir,) = (disk / "genpo" / "PointMass").iterdir()
        assert code == 1, out
        assert "Traceback" not in out
        assert f"cannot write '{run_dir}/model_4.pt': no space left on the device" in out, out
        assert f"the newest intact checkpoint is {run_dir}/model_3.pt (iteration 3; iteration 4 will be redone)" in out
        assert not _leftovers(run_dir), "a partial checkpoint was left behind"
        assert [p.name for p in checkpoints_in(run_dir)] == ["model_1.pt", "model_2.pt", "model_3.pt"]
        _assert_resumes(out, tmp_path, 3)


@pytest.mark.parametrize(
    ("code", "cause"),
    [
        (errno.ENOSPC, "no space left on the device"),
        (errno.EDQUOT, "the disk quota is exceeded"),
        (errno.EROFS, "the file system is read-only"),
    ],
    ids=["ENOSPC", "EDQUOT", "EROFS"],
)
def test_checkpoint_writer_failing_names_the_newest_checkpoint(
    code: int, cause: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_save = torch.save
    calls = []

    def save(obj: object, f: object, *a: object, **k: object) -> None:
        calls.append(1)
        if len(calls) == 2:  # the second checkpoint: half written, then the file system refuses
            f.write(b"PK\x03\x04 partial")  # type: ignore[union-attr]
            raise OSError(code, os.strerror(code))
        real_save(obj, f, *a, **k)

    monkeypatch.setattr(torch, "save", save)
    config = _config(tmp_path, save_interval=2)
    code_, out = invoke("train", *PM, "--max-iterations", "6", "--config", str(config), "--logdir", str(tmp_path))
    monkeypatch.undo()
    (run_dir,) = (tmp_path / "genpo" / "PointMass").iterdir()
    assert code_ == 1, out
    assert "Traceback" not in out
    assert f"cannot write '{run_dir}/model_4.pt': {cause}; stopped after iteration 4" in out
    assert f"newest intact checkpoint is {run_dir}/model_2.pt (iteration 2; iterations 3-4 will be redone)" in out
    assert "add --logdir OTHER_FOLDER" in out
    assert not _leftovers(run_dir)
    assert checkpoints_in(run_dir) == [run_dir / "model_2.pt"]
    _assert_resumes(out, tmp_path, 2)


def test_first_checkpoint_failing_says_none_was_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def save(obj: object, f: object, *a: object, **k: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", save)
    config = _config(tmp_path)
    code, out = invoke("train", *PM, "--max-iterations", "1", "--config", str(config), "--logdir", str(tmp_path))
    monkeypatch.undo()
    assert code == 1 and "Traceback" not in out, out
    assert "no space left on the device; stopped after iteration 1: no checkpoint was written by this run" in out
    assert not _leftovers(tmp_path / "genpo")


def test_torch_zip_writer_error_without_errno_is_read_from_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """torch.save given a path loses the OSError (``basic_ios::clear``): the folder says why (here: full)."""
    import genpo.training.files as files

    def save(obj: object, f: object, *a: object, **k: object) -> None:
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 576 vs 534")

    monkeypatch.setattr(torch, "save", save)
    monkeypatch.setattr(files, "free_bytes", lambda folder: 0)  # after the failed write: nothing left
    monkeypatch.setattr(files, "check_free_space", lambda *a, **k: None)
    monkeypatch.setattr("genpo.training.runner.check_free_space", lambda *a, **k: None)
    config = _config(tmp_path)
    code, out = invoke("train", *PM, "--max-iterations", "1", "--config", str(config), "--logdir", str(tmp_path))
    monkeypatch.undo()
    assert code == 1 and "Traceback" not in out, out
    assert "model_1.pt': no space left on the device" in out


# -- a read-only file system --------------------------------------------------------------------------
def test_read_only_logdir_for_real_is_called_read_only(tmp_path: Path) -> None:
    config = _config(tmp_path)
    with tmpfs(tmp_path / "ro", 1 << 20) as ro:
        subprocess.run(["mount", "-o", "remount,ro", str(ro)], check=True)
        code, out = invoke("train", *PM, "--max-iterations", "1", "--config", str(config), "--logdir", str(ro / "logs"))
    assert code == 1 and "Traceback" not in out, out
    assert "the file system is read-only" in out and "permission denied" not in out


def test_file_system_turning_read_only_mid_run_stops_with_the_last_checkpoint(
    tmp_path: Path, checkpoint_size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(tmp_path, save_interval=2)
    with tmpfs(tmp_path / "disk", 8 * checkpoint_size) as disk:
        _hook_env(monkeypatch, after_steps=2 * 4 + 1, action=lambda: _remount_ro(disk))  # in iteration 3
        code, out = invoke(
            "train", *PM, "--max-iterations", "6",
            "--config", str(config), "--logdir", str(disk),
        )  # fmt: skip
        monkeypatch.undo()
        (run_dir,) = (disk / "genpo" / "PointMass").iterdir()
        assert code == 1 and "Traceback" not in out, out
        assert "the file system is read-only" in out
        assert f"the newest intact checkpoint is {run_dir}/model_2.pt (iteration 2; iteration 3 will be redone)" in out
        assert checkpoints_in(run_dir) == [run_dir / "model_2.pt"]
        _assert_resumes(out, tmp_path, 2)


def _remount_ro(path: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True)


# -- a run folder removed while the run is going ------------------------------------------------------
def _hook_env(monkeypatch: pytest.MonkeyPatch, after_steps: int, action: Callable[[], None]) -> None:
    """PointMass's ``step`` runs ``action`` once, at its ``after_steps``-th call (a cleanup job, a remount)."""
    from genpo.envs.builtin import PointMassEnv

    real_step, calls = PointMassEnv.step, []

    def step(self: PointMassEnv, action_: torch.Tensor) -> object:
        calls.append(1)
        if len(calls) == after_steps:
            action()
        return real_step(self, action_)

    monkeypatch.setattr(PointMassEnv, "step", step)


def test_run_folder_removed_while_training_saves_and_stops(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    logs = tmp_path / "logs"

    def remove_run_folder() -> None:
        (run_dir,) = (logs / "genpo" / "PointMass").iterdir()
        shutil.rmtree(run_dir)

    _hook_env(monkeypatch, after_steps=2 * 4 + 2, action=remove_run_folder)  # inside iteration 3
    code, out = invoke(
        "train", *PM, "--max-iterations", "50",
        "--config", str(_config(tmp_path, save_interval=10)), "--logdir", str(logs),
    )  # fmt: skip
    monkeypatch.undo()
    (run_dir,) = (logs / "genpo" / "PointMass").iterdir()
    assert code == 1 and "Traceback" not in out, out
    assert f"the folder '{run_dir}' was removed while genpo was writing into it" in out
    assert f"iteration 3 is saved in {run_dir}/model_3.pt (the run folder was re-created for it)" in out
    assert not _leftovers(run_dir)
    _assert_resumes(out, tmp_path, 3)


# -- loggers ------------------------------------------------------------------------------------------
def test_tensorboard_failing_stops_the_run_after_saving(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from genpo.training.logger import TensorBoardSink

    real_flush = TensorBoardSink.flush
    flushes = []

    def flush(self: TensorBoardSink) -> None:
        flushes.append(1)
        if len(flushes) > 3:  # the first event, iterations 1 and 2 are written; iteration 3's is not
            raise OSError(errno.ENOSPC, "No space left on device", str(self.path))
        real_flush(self)

    monkeypatch.setattr(TensorBoardSink, "flush", flush)
    config = _config(tmp_path, save_interval=100)
    code, out = invoke("train", *PM, "--max-iterations", "50", "--config", str(config), "--logdir", str(tmp_path))
    monkeypatch.undo()
    (run_dir,) = (tmp_path / "genpo" / "PointMass").iterdir()
    assert code == 1 and "Traceback" not in out, out
    assert re.search(r"cannot write '\S+/events\.out\.tfevents\.\S+': no space left on the device", out), out
    assert f"stopped after iteration 3: iteration 3 is saved in {run_dir}/model_3.pt" in out
    _assert_resumes(out, tmp_path, 3)


def test_a_tracker_that_fails_stops_the_run_with_its_name() -> None:
    from genpo.errors import RunFailed
    from genpo.training.logger import RunLogger

    class Tracker:
        name, path = "test-tracker", None

        def write(self, values: dict[str, float], step: int) -> None:
            pass

        def flush(self) -> None:
            raise ConnectionError("server went away")

        def close(self) -> None:
            pass

    logger = RunLogger(None, 1)
    logger.add_sink(Tracker, "test-tracker")
    logger.scalars({"a": 1.0}, 1)
    with pytest.raises(RunFailed, match="the test-tracker logger failed: ConnectionError: server went away"):
        logger.check()
    logger.check()  # the failed sink is dropped: the run can save and stop
    logger.close()

    class Refuses(Tracker):
        name = "refusing-tracker"

        def write(self, values: dict[str, float], step: int) -> None:
            raise ValueError("tag too long")

        def flush(self) -> None:
            pass

    logger = RunLogger(None, 1)
    logger.add_sink(Refuses, "refusing-tracker")
    logger.scalars({"a": 1.0}, 1)  # a write that fails is reported by the iteration's check, not lost
    with pytest.raises(RunFailed, match="the refusing-tracker logger failed: ValueError: tag too long"):
        logger.check()


# -- pre-flight ---------------------------------------------------------------------------------------
def test_too_little_free_space_for_real_is_refused_before_the_run(tmp_path: Path, checkpoint_size: int) -> None:
    config = _config(tmp_path, save_interval=1)
    with tmpfs(tmp_path / "small", int(1.5 * checkpoint_size)) as small:
        code, out = invoke("train", *PM, "--max-iterations", "4", "--config", str(config), "--logdir", str(small))
        assert not list(small.iterdir()), "a refused run must not create its folder"
    assert code == 1 and "Traceback" not in out, out
    assert "free on its file system and at least" in out and "(two checkpoints, about" in out


def test_free_space_check_counts_one_checkpoint_for_a_run_that_saves_once(
    tmp_path: Path, checkpoint_size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    import genpo.training.files as files

    monkeypatch.setattr(files, "free_bytes", lambda folder: int(1.5 * checkpoint_size))
    config = _config(tmp_path, save_interval=10)
    code, out = invoke("train", *PM, "--max-iterations", "4", "--config", str(config), "--logdir", str(tmp_path))
    assert code == 0, out  # one checkpoint fits
    code, out = invoke("train", *PM, "--max-iterations", "20", "--config", str(config), "--logdir", str(tmp_path))
    assert code == 1 and "(two checkpoints, about" in out, out


def _with_file_size_limit(limit: int, *args: str) -> subprocess.CompletedProcess:
    """``genpo ARGS`` in a child process whose files may not grow past ``limit`` bytes (``ulimit -f``)."""
    code = (
        "import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit})); "
        "from genpo.cli.main import main; sys.argv = ['genpo', *sys.argv[1:]]; main()"
    )
    env = {**os.environ, "COLUMNS": "400", "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=300)


def test_file_size_limit_below_a_checkpoint_is_refused_before_the_run(tmp_path: Path, checkpoint_size: int) -> None:
    res = _with_file_size_limit(
        checkpoint_size // 2, "train", *PM, "--max-iterations", "1", "--config", str(_config(tmp_path)),
        "--logdir", str(tmp_path / "logs"),
    )  # fmt: skip
    out = " ".join((res.stdout + res.stderr).split())
    assert res.returncode == 1 and "Traceback" not in out, out
    assert "the file-size limit (ulimit -f) is" in out and "one checkpoint of this run is about" in out


# -- export and plot ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder with finished episodes (so ``genpo plot`` draws a figure) and ``model_3.pt``."""
    root = tmp_path_factory.mktemp("trained")
    config = root / "tiny.yaml"
    config.write_text(yaml.safe_dump({**TINY, "env": {"options": {"episode_length": 4}}}))
    code, out = invoke("train", *PM, "--max-iterations", "3", "--config", str(config), "--logdir", str(root))
    assert code == 0, out
    (ckpt,) = root.rglob("model_3.pt")
    return ckpt


def test_export_past_the_file_size_limit_for_real(trained: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    res = _with_file_size_limit(64 * 1024, "export", "--checkpoint", str(trained), "-o", str(out_dir))
    out = " ".join((res.stdout + res.stderr).split())
    assert res.returncode == 1 and "Traceback" not in out, out
    assert f"cannot write '{out_dir}/policy.pt': the file would exceed the file-size limit (ulimit -f)" in out
    assert not out_dir.exists(), "a failed export leaves no folder and no partial file"


def test_export_onto_a_full_disk_for_real(trained: Path, tmp_path: Path) -> None:
    with tmpfs(tmp_path / "disk", 64 * 1024) as disk:
        code, out = invoke("export", "--checkpoint", str(trained), "-o", str(disk / "out"), "--format", "onnx")
        assert code == 1 and "Traceback" not in out, out
        assert f"cannot write '{disk}/out/policy.onnx': no space left on the device" in out
        assert not (disk / "out").exists()


def test_plot_onto_a_full_disk_for_real(trained: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    with tmpfs(tmp_path / "disk", 16 * 1024) as disk:
        code, out = invoke("plot", str(trained.parent), "--out", str(disk / "report"))
        assert code == 1 and "Traceback" not in out, out
        assert "no space left on the device" in out and f"'{disk}/report/" in out
        assert not _leftovers(disk)


def test_plot_figure_writer_failing(trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    def savefig(self: Figure, fname: object, *a: object, **k: object) -> None:
        Path(str(fname)).write_bytes(b"\x89PNG partial")
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(Figure, "savefig", savefig)
    report = tmp_path / "report"
    code, out = invoke("plot", str(trained.parent), "--out", str(report))
    monkeypatch.undo()
    assert code == 1 and "Traceback" not in out, out
    assert re.search(rf"cannot write '{report}/figures/returns_\S+\.png': the file system is read-only", out), out
    assert not _leftovers(report) and not list(report.rglob("*.png"))
