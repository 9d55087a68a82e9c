"""run.logger: the writers a run's scalars go to, checked by reading back what each one stored.

W&B runs offline (``WANDB_MODE=offline``) and trackio writes its local SQLite database; both under
``tmp_path``, in a ``genpo train`` subprocess (trackio fixes its folder when first imported), with every
setting that could point them at a server removed. Nothing here reaches the network.
"""

from __future__ import annotations

import json
import os
import sqlite3
import struct
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from genpo.cli.main import app
from genpo.errors import ConfigError, RunFailed
from genpo.loggers import LOGGERS, RunInfo, Writer, check_loggers, logger_names
from genpo.loggers.git_state import git_state
from genpo.training.loading import imports_of
from genpo.training.logger import RunLogger

# Two PointMass envs, 4 steps per iteration, episodes of 4 steps: each iteration logs 8 env steps and 2 episodes.
TINY = {
    "env": {"options": {"episode_length": 4}},
    "policy": {"hidden": [16], "critic_hidden": [16]},
    "algo": {"steps_per_env": 4, "num_epochs": 1, "num_minibatches": 1},
}
TRAIN = ("train", "--env", "builtin:PointMass", "--num-envs", "2", "--max-iterations", "3")
STEPS = [8, 16, 24]

# A user's writer, imported by dotted path: it keeps what it is handed and writes it to the run folder at close.
RECORDER = '''
import json
from genpo.loggers import Writer


class Recorder(Writer):
    """Test writer: records scalars, config, episodes and git state into recorder.json."""

    name = "recorder"

    def __init__(self, run):
        self.run, self.got = run, {"scalars": {}, "config": None, "episodes": {}, "git": None, "flushes": 0}

    def write(self, values, step):
        self.got["scalars"][str(step)] = dict(values)

    def flush(self):
        self.got["flushes"] += 1

    def config(self, values):
        self.got["config"] = values

    def episodes(self, returns, lengths, step):
        self.got["episodes"][str(step)] = [list(returns), list(lengths)]

    def git(self, state):
        self.got["git"] = state

    def close(self):
        (self.run.run_dir / "recorder.json").write_text(json.dumps(self.got))
'''


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``rec_writer.py`` (the Recorder) importable in this process and in subprocesses (PYTHONPATH)."""
    folder = tmp_path / "usercode"
    folder.mkdir()
    (folder / "rec_writer.py").write_text(textwrap.dedent(RECORDER))
    monkeypatch.syspath_prepend(str(folder))
    return folder


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    return path


def _run_dir(logdir: Path) -> Path:
    (run,) = (logdir / "genpo" / "PointMass").iterdir()
    return run


def _recorded(run: Path) -> dict[str, Any]:
    return json.loads((run / "recorder.json").read_text())


# -- a user writer, in process -------------------------------------------------------------------------
def test_user_writer_by_dotted_path_gets_scalars_config_and_episodes_beside_tensorboard(
    tmp_path: Path, user_module: Path
) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    args = (*TRAIN, "--config", str(_config(tmp_path)), "--logdir", str(tmp_path / "logs"))
    res = CliRunner().invoke(app, [*args, "--logger", "rec_writer:Recorder", "--logger", "tensorboard"])
    assert res.exit_code == 0, res.output
    run = _run_dir(tmp_path / "logs")
    got = _recorded(run)
    assert sorted(map(int, got["scalars"])) == STEPS
    assert got["flushes"] >= 3  # flushed by every iteration's check
    for values in got["scalars"].values():
        assert {"losses/policy_loss", "charts/learning_rate", "perf/sps", "charts/episodic_return"} <= set(values)
    assert got["config"] == yaml.safe_load((run / "params" / "config.yaml").read_text())
    assert got["config"]["run"]["logger"] == ["rec_writer:Recorder", "tensorboard"]
    assert sorted(map(int, got["episodes"])) == STEPS
    for step, (returns, lengths) in got["episodes"].items():
        assert len(returns) == 2 and lengths == [4.0, 4.0]
        assert got["scalars"][step]["charts/episodic_return"] == pytest.approx(sum(returns) / 2)
    # TensorBoard, named with it, received the same scalars (as float32)
    events = EventAccumulator(str(run))
    events.Reload()
    tb = [(e.step, e.value) for e in events.Scalars("losses/value_loss")]
    assert tb == [(s, pytest.approx(got["scalars"][str(s)]["losses/value_loss"], rel=1e-6)) for s in STEPS]


# -- wandb (offline) and trackio (local SQLite), in a subprocess --------------------------------------
def _offline_env(root: Path, user_code: Path) -> dict[str, str]:
    """The environment of the subprocess: offline W&B and trackio under ``root``, nothing pointing at a server."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not (k.startswith(("WANDB_", "TRACKIO_")) or k in ("HF_TOKEN", "HF_ENDPOINT"))
    }
    env.update(
        WANDB_MODE="offline",
        WANDB_DIR=str(root / "wandb-dir"),
        WANDB_CONFIG_DIR=str(root / "wandb-config"),
        WANDB_CACHE_DIR=str(root / "wandb-cache"),
        WANDB_SILENT="true",
        TRACKIO_DIR=str(root / "trackio-dir"),
        HF_HUB_OFFLINE="1",
        PYTHONPATH=os.pathsep.join([str(user_code), env.get("PYTHONPATH", "")]),
    )
    return env


@pytest.fixture(scope="module")
def tracked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3-iteration run logging to wandb, trackio and the Recorder at once; returns its run folder."""
    root = tmp_path_factory.mktemp("tracked")
    (root / "usercode").mkdir()
    (root / "usercode" / "rec_writer.py").write_text(textwrap.dedent(RECORDER))
    (root / "wandb-dir").mkdir()
    args = (*TRAIN, "--config", str(_config(root)), "--logdir", str(root / "logs"))
    cmd = [sys.executable, "-m", "genpo", *args, "--logger", "wandb,trackio", "--logger", "rec_writer:Recorder"]
    env = _offline_env(root, root / "usercode")
    out = subprocess.run(cmd, env=env, cwd=root, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    run = _run_dir(root / "logs")
    assert not list(run.glob("events.out.tfevents.*")), "tensorboard was not named"
    return run


def _wandb_records(path: Path) -> list[Any]:
    """The protobuf records of a ``run-<id>.wandb`` file (wandb's transaction log: a 7-byte header, then
    LevelDB-log blocks of 32 KiB whose chunks have a 7-byte header: crc32c, length, type)."""
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert data[:4] == b":W&B", "not a wandb transaction log"
    records, pos, pending, block = [], 7, b"", 32768
    while pos + 7 <= len(data):
        left = block - pos % block
        if left < 7:  # a block's tail too short for a chunk header is padding
            pos += left
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if kind == 0 and length == 0:
            break
        pending += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # FULL or LAST chunk: a record is complete
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            records.append(record)
            pending = b""
    return records


def test_wandb_offline_stores_the_scalars_and_config_the_run_logged(tracked: Path) -> None:
    got = _recorded(tracked)
    (log,) = (tracked.parents[3] / "wandb-dir").glob("wandb/offline-run-*/run-*.wandb")
    history: dict[int, dict[str, Any]] = {}
    config: dict[str, Any] = {}
    for record in _wandb_records(log):
        kind = record.WhichOneof("record_type")
        if kind == "history":
            items = {(i.key or "/".join(i.nested_key)): json.loads(i.value_json) for i in record.history.item}
            history[record.history.step.num] = items
        elif kind in ("config", "run"):
            update = record.config.update if kind == "config" else record.run.config.update
            config.update({i.key: json.loads(i.value_json) for i in update})
    assert sorted(history) == STEPS
    for step in STEPS:
        for tag, value in got["scalars"][str(step)].items():
            assert history[step][tag] == value, tag
        # the episodes hook: a histogram of the iteration's two episode returns (nested keys: name/field)
        assert history[step]["episodes/return/_type"] == "histogram"
        assert sum(history[step]["episodes/return/values"]) == 2
    assert {k: config[k] for k in ("env", "policy", "algo", "run")} == got["config"]
    assert config["run"]["logger"] == ["wandb,trackio", "rec_writer:Recorder"]


def test_trackio_stores_the_scalars_and_config_the_run_logged_in_its_local_database(tracked: Path) -> None:
    got = _recorded(tracked)
    db = tracked.parents[3] / "trackio-dir" / "genpo.db"
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT run_name, step, metrics FROM metrics ORDER BY step").fetchall()
        (config_row,) = conn.execute("SELECT config FROM configs WHERE run_name = ?", (tracked.name,)).fetchall()
    assert {name for name, _, _ in rows} == {tracked.name}
    metrics: dict[int, dict[str, Any]] = {}
    for _, step, text in rows:  # the scalars and the episodes' histograms are two records of one step
        metrics.setdefault(step, {}).update(json.loads(text))
    assert sorted(metrics) == STEPS
    for step in STEPS:
        for tag, value in got["scalars"][str(step)].items():
            assert metrics[step][tag] == value, tag
        assert "episodes/return" in metrics[step]
    config = json.loads(config_row[0])
    assert {k: config[k] for k in ("env", "policy", "algo", "run")} == got["config"]


# -- RunLogger and the writer interface ---------------------------------------------------------------
class Scalars(Writer):
    """Implements only the required method."""

    name = "scalars-only"
    opened: list[Scalars] = []  # noqa: RUF012

    def __init__(self, run: RunInfo) -> None:
        self.run, self.values = run, []
        Scalars.opened.append(self)

    def write(self, values: dict[str, float], step: int) -> None:
        self.values.append((step, values))


class Everything(Scalars):
    name = "everything"

    def __init__(self, run: RunInfo) -> None:
        super().__init__(run)
        self.calls: list[tuple[str, Any]] = []

    def config(self, values: dict[str, Any]) -> None:
        self.calls.append(("config", values))

    def episodes(self, returns: Any, lengths: Any, step: int) -> None:
        self.calls.append(("episodes", (returns, lengths, step)))

    def video(self, path: Path, step: int) -> None:
        self.calls.append(("video", (path, step)))

    def git(self, state: dict[str, str]) -> None:
        self.calls.append(("git", state))


class BadVideo(Scalars):
    name = "bad-video"

    def video(self, path: Path, step: int) -> None:
        raise ValueError("cannot encode")


def _logger(tmp_path: Path, *classes: type[Writer], enabled: bool = True) -> RunLogger:
    """A RunLogger on ``tmp_path`` opening these writers of this module by dotted path."""
    Scalars.opened.clear()
    names = [f"{__name__}:{cls.__qualname__}" for cls in classes]
    return RunLogger(tmp_path, 1, enabled=enabled, loggers=names, config={"run": {"seed": 1}})


def test_only_rank_0_opens_writers(tmp_path: Path) -> None:
    logger = _logger(tmp_path, Scalars, enabled=False)  # what the Trainer builds on ranks other than 0
    logger.scalars({"a": 1.0}, 8)
    logger.check()
    logger.close()
    assert Scalars.opened == [] and list(tmp_path.iterdir()) == []


def test_optional_hooks_reach_only_writers_that_define_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # not a git work tree: no git state to hand
    logger = _logger(tmp_path, Scalars, Everything)
    plain, full = Scalars.opened
    assert plain.run == RunInfo(tmp_path, tmp_path.name)
    logger.scalars({"a": 1.0}, 8)
    logger.episodes([1.0, 2.0], [4, 4], 8)
    logger.video(tmp_path / "v.mp4", 8)
    logger.check()
    logger.close()
    assert plain.values == full.values == [(8, {"a": 1.0})]
    assert full.calls == [
        ("config", {"run": {"seed": 1}}),
        ("episodes", ([1.0, 2.0], [4, 4], 8)),
        ("video", (tmp_path / "v.mp4", 8)),
    ]
    assert not Scalars.handles("video") and Everything.handles("video")


def test_a_failing_hook_stops_the_run_at_the_iterations_check(tmp_path: Path) -> None:
    logger = _logger(tmp_path, BadVideo, Scalars)
    logger.video(tmp_path / "v.mp4", 8)
    with pytest.raises(RunFailed, match="the bad-video logger failed: ValueError: cannot encode"):
        logger.check()
    logger.scalars({"a": 1.0}, 16)  # the failed writer was dropped; the others keep logging until the run stops
    logger.check()
    logger.close()
    assert Scalars.opened[1].values == [(16, {"a": 1.0})]


def test_a_writer_that_cannot_open_fails_naming_itself(tmp_path: Path) -> None:
    class Broken(Scalars):
        name = "broken"

        def __init__(self, run: RunInfo) -> None:
            raise ConnectionError("no server")

    class Closes(Scalars):
        closed: list[bool] = []  # noqa: RUF012

        def close(self) -> None:
            Closes.closed.append(True)

    LOGGERS.add("test-broken", Broken, "test")
    LOGGERS.add("test-closes", Closes, "test")
    try:
        with pytest.raises(RunFailed, match="the broken logger failed: ConnectionError: no server"):
            RunLogger(tmp_path, 1, loggers=["test-closes", "test-broken"])
    finally:
        LOGGERS._entries.pop("test-broken")
        LOGGERS._entries.pop("test-closes")
    assert Closes.closed == [True], "the writer opened before the broken one is closed"


def _git(folder: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t"}
    env["GIT_COMMITTER_EMAIL"] = "t@t"
    return subprocess.run(["git", *args], cwd=folder, env=env, check=True, capture_output=True, text=True).stdout


def test_git_state_names_the_commit_and_whether_tracked_files_changed(tmp_path: Path) -> None:
    assert git_state(tmp_path) is None  # not a work tree
    _git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "a.txt").write_text("1")
    _git(tmp_path, "add", "a.txt")
    _git(tmp_path, "commit", "-q", "-m", "one")
    head = _git(tmp_path, "rev-parse", "HEAD").strip()
    assert git_state(tmp_path) == {"commit": head, "branch": "main", "dirty": "false"}
    (tmp_path / "a.txt").write_text("2")
    assert git_state(tmp_path) == {"commit": head, "branch": "main", "dirty": "true"}


def test_a_writer_that_takes_git_state_gets_the_working_directorys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "a.txt").write_text("1")
    _git(tmp_path, "add", "a.txt")
    _git(tmp_path, "commit", "-q", "-m", "one")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "run").mkdir()
    logger = _logger(tmp_path / "run", Everything)
    logger.close()
    (full,) = Scalars.opened
    assert ("git", git_state(tmp_path)) in full.calls


# -- names ---------------------------------------------------------------------------------------------
def test_logger_names_take_lists_and_commas() -> None:
    assert logger_names(["tensorboard"]) == ["tensorboard"]
    assert logger_names(["wandb, trackio", "tensorboard"]) == ["wandb", "trackio", "tensorboard"]
    assert logger_names("wandb") == ["wandb"]
    assert logger_names([]) == []
    with pytest.raises(ConfigError, match="names wandb more than once"):
        logger_names(["wandb", "tensorboard,wandb"])
    with pytest.raises(ConfigError, match="empty name"):
        logger_names(["wandb,"])
    with pytest.raises(ConfigError, match="must be a list of logger names, got 3"):
        logger_names(3)


def test_a_missing_package_is_named_with_its_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "wandb", None)
    with pytest.raises(ConfigError, match=r"needs the wandb package.*pip install 'genpo\[wandb\]'") as info:
        check_loggers(["tensorboard", "wandb"])
    assert info.value.field == "run.logger"


def test_a_checkpoint_naming_a_user_writer_imports_it_only_when_named() -> None:
    config = {"run": {"logger": ["tensorboard,rec_writer:Recorder"], "plugins": []}}
    assert imports_of(config) == {"rec_writer": "run.logger entry 'rec_writer:Recorder'"}


# -- disk faults (issue 20): a tracker's nearly full disk stops the run after saving --------------------
def test_wandb_on_a_nearly_full_disk_stops_the_run_after_saving(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import genpo.training.files as files

    for key in [k for k in os.environ if k.startswith("WANDB_")]:
        monkeypatch.delenv(key)
    for key, value in _offline_env(tmp_path, tmp_path).items():
        if key.startswith("WANDB_"):
            monkeypatch.setenv(key, value)
    (tmp_path / "wandb-dir").mkdir()
    real = files.free_bytes
    monkeypatch.setattr(files, "free_bytes", lambda f: 4096 if "wandb-dir" in str(f) else real(f))
    args = (*TRAIN, "--config", str(_config(tmp_path)), "--logdir", str(tmp_path / "logs"), "--logger", "wandb")
    res = CliRunner().invoke(app, list(args), env={"COLUMNS": "400"})
    out = " ".join(res.output.split())
    run = _run_dir(tmp_path / "logs")
    assert res.exit_code == 1 and "Traceback" not in out, out
    assert f"cannot start writing into '{tmp_path}/wandb-dir/wandb/offline-run-" in out
    assert "only 4.1 kB free on its file system" in out and "WANDB_DIR moves them" in out
    assert f"stopped after iteration 1: iteration 1 is saved in {run}/model_1.pt" in out


def test_trackio_on_a_real_full_disk_stops_the_run_after_saving(tmp_path: Path) -> None:
    import shutil

    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a real full disk needs root and mount(8) for a small tmpfs; the wandb case injects it")
    small = tmp_path / "trackio-dir"
    small.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=524288", "tmpfs", str(small)], capture_output=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({res.stderr.decode().strip()}); the wandb case injects it")
    try:
        args = (*TRAIN, "--config", str(_config(tmp_path)), "--logdir", str(tmp_path / "logs"), "--logger", "trackio")
        env = {**_offline_env(tmp_path, tmp_path), "COLUMNS": "400"}
        out = subprocess.run(
            [sys.executable, "-m", "genpo", *args], env=env, capture_output=True, text=True, timeout=300
        )
    finally:
        subprocess.run(["umount", "-l", str(small)], capture_output=True)
    text = " ".join((out.stdout + out.stderr).split())
    run = _run_dir(tmp_path / "logs")
    assert out.returncode == 1 and "Traceback" not in text, text
    assert f"cannot start writing into '{small}': only" in text and "TRACKIO_DIR moves them" in text
    assert f"stopped after iteration 1: iteration 1 is saved in {run}/model_1.pt" in text


RNG_SCRIPT = """
import hashlib, pickle, random, sys
from pathlib import Path
import numpy as np, torch
from genpo.training.logger import RunLogger

def streams():
    state = (random.getstate(), np.random.get_state(), torch.get_rng_state().numpy().tobytes())
    return hashlib.sha256(pickle.dumps(state)).hexdigest()

random.seed(1); np.random.seed(1); torch.manual_seed(1)
before = streams()
run = Path(sys.argv[1])
logger = RunLogger(run, 3, loggers=["tensorboard", "wandb", "trackio"], config={"run": {"seed": 1}})
for it in range(3):
    logger.scalars({"x": float(it)}, 8 * it)
    logger.episodes([1.0, 2.0], [4, 4], 8 * it)
    logger.check()
logger.close()
print("unchanged" if streams() == before else "changed")
"""


def test_logging_leaves_the_random_streams_alone(tmp_path: Path) -> None:
    """Python's, NumPy's and torch's global generators are as they were after all three built-in writers ran
    (fixed-seed runs and exact resume do not depend on which loggers are on)."""
    (tmp_path / "run").mkdir()
    (tmp_path / "wandb-dir").mkdir()
    env = _offline_env(tmp_path, tmp_path)
    out = subprocess.run(
        [sys.executable, "-c", RNG_SCRIPT, str(tmp_path / "run")], env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip().splitlines()[-1] == "unchanged"
    assert list((tmp_path / "run").glob("events.out.tfevents.*")) and (tmp_path / "trackio-dir" / "genpo.db").exists()
