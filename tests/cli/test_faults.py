"""Bad-input corpus: every fault a user can cause gets a clear message and exit code, and nothing is lost.

Each :class:`Fault` is one command (run in-process through Typer's test runner), the exit code it must give,
a phrase its message must contain, and a setup. Around each command the whole case folder is snapshotted:
a refused command must leave every file as it was (nothing written, nothing lost) and print no traceback.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from typer.testing import CliRunner

from genpo.cli.main import app
from genpo.envs import ENV_BACKENDS
from genpo.registry import Entry

TINY = {
    "policy": {"hidden": [16], "critic_hidden": [16]},
    "algo": {"steps_per_env": 4, "num_epochs": 1, "num_minibatches": 1},
}


def invoke(*args: str) -> tuple[int, str]:
    """Runs ``genpo ARGS`` in this process; returns the exit code and everything printed."""
    res = CliRunner().invoke(app, list(args), env={"COLUMNS": "400"})
    text = res.output
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        text += f"\n{type(res.exception).__name__}: {res.exception}"
        return 99, text  # an exception escaped the CLI: a traceback for a user
    return res.exit_code, text


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One finished tiny PointMass run (a run folder with ``model_1.pt``), shared read-only by the cases."""
    root = tmp_path_factory.mktemp("trained")
    (root / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    code, out = invoke(
        "train", "--env", "builtin:PointMass", "--num-envs", "2", "--max-iterations", "1",
        "--config", str(root / "tiny.yaml"), "--logdir", str(root / "logs"),
    )  # fmt: skip
    assert code == 0, out
    (ckpt,) = (root / "logs").rglob("model_1.pt")
    return ckpt


def _copy_run(trained: Path, case: Path) -> Path:
    """A private copy of the trained run folder; returns its checkpoint."""
    run = case / "run"
    shutil.copytree(trained.parent, run)
    return run / trained.name


def _tamper(ckpt: Path, edit: Callable[[dict], None]) -> None:
    data = torch.load(ckpt, weights_only=True)
    edit(data)
    torch.save(data, ckpt)


def _nan_weight(data: dict) -> None:
    name = next(k for k, v in data["model_state"].items() if k.startswith("policy.") and v.is_floating_point())
    data["model_state"][name] = data["model_state"][name].clone().fill_(float("nan"))


@dataclass
class Fault:
    """One bad input.

    Attributes:
        name: Test id.
        args: The command after ``genpo``; ``{ckpt}``, ``{run}`` and ``{case}`` are filled in.
        code: Expected exit code.
        phrase: Text the message must contain.
        setup: Prepares the case folder (and may monkeypatch); gets (case folder, checkpoint copy, monkeypatch).
    """

    name: str
    args: tuple[str, ...]
    code: int
    phrase: str
    setup: Callable[[Path, Path, pytest.MonkeyPatch], None] | None = None


def _deny_replace(case: Path, ckpt: Path, mp: pytest.MonkeyPatch) -> None:
    def denied(src: object, dst: object) -> None:
        raise PermissionError(13, "Permission denied", str(dst))

    mp.setattr(os, "replace", denied)


def _binary_config(case: Path, ckpt: Path, mp: pytest.MonkeyPatch) -> None:
    (case / "bin.yaml").write_bytes(bytes(range(256)))


def _file_in_the_way(case: Path, ckpt: Path, mp: pytest.MonkeyPatch) -> None:
    (case / "afile").write_text("keep me")


def _videos_is_a_file(case: Path, ckpt: Path, mp: pytest.MonkeyPatch) -> None:
    (ckpt.parent / "videos").write_text("not a folder")


def _no_iteration(case: Path, ckpt: Path, mp: pytest.MonkeyPatch) -> None:
    _tamper(ckpt, lambda d: d.pop("iteration"))


def _nan(case: Path, ckpt: Path, mp: pytest.MonkeyPatch) -> None:
    _tamper(ckpt, _nan_weight)


def _unreadable(case: Path, ckpt: Path, mp: pytest.MonkeyPatch) -> None:
    real_load = torch.load

    def load(f: object, *a: object, **k: object) -> object:
        if Path(getattr(f, "name", f)) == ckpt:
            raise PermissionError(13, "Permission denied", str(ckpt))
        return real_load(f, *a, **k)

    mp.setattr(torch, "load", load)


def _read_only_folder(case: Path, ckpt: Path, mp: pytest.MonkeyPatch) -> None:
    (case / "ro").mkdir()
    real_access = os.access  # as another user sees it (tests may run as root, who may write anywhere)
    mp.setattr(os, "access", lambda p, mode: False if Path(p) == case / "ro" else real_access(p, mode))


class _StepRaises:
    """Wraps PointMass; ``step`` raises like a buggy user environment."""

    def __init__(self, num_envs: int, **kwargs: object) -> None:
        from genpo.envs.builtin import make_builtin_env

        self.inner = make_builtin_env("PointMass", num_envs, **kwargs)
        self.env_id = "faulty:PointMass"

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def step(self, action: torch.Tensor) -> object:
        raise KeyError("joint_7")


def _faulty_backend(case: Path, ckpt: Path, mp: pytest.MonkeyPatch) -> None:
    entry = Entry("faulty", lambda task, num_envs, **kw: _StepRaises(num_envs, **kw), "test backend")
    mp.setitem(ENV_BACKENDS._entries, "faulty", entry)


def _no_isaaclab(case: Path, ckpt: Path, mp: pytest.MonkeyPatch) -> None:
    import genpo.envs.isaaclab.launch as il

    mp.setattr(il, "isaaclab_generation", lambda: None)


def _broken_isaaclab(case: Path, ckpt: Path, mp: pytest.MonkeyPatch) -> None:
    import builtins
    import importlib.util

    import genpo.envs.isaaclab.launch as il

    real_import = builtins.__import__

    def imp(name: str, *a: object, **k: object) -> object:
        if name.startswith("isaaclab_tasks") or name.startswith("isaaclab."):
            raise ImportError("libGLU.so.1: cannot open shared object file")
        return real_import(name, *a, **k)

    mp.setattr(il, "isaaclab_generation", lambda: 3)
    mp.setattr(il, "use_local_assets", lambda *a, **k: None)
    real_find = importlib.util.find_spec
    mp.setattr(importlib.util, "find_spec", lambda n, *a: object() if n == "isaaclab_tasks" else real_find(n, *a))
    mp.setattr(builtins, "__import__", imp)


def _writer_fails(code: int, where: str = "torch.save") -> Callable[[Path, Path, pytest.MonkeyPatch], None]:
    """A setup whose writer (``torch.save``, ``torch.jit.save`` or ``torch.onnx.export``) raises ``OSError(code)``."""

    def setup(case: Path, ckpt: Path, mp: pytest.MonkeyPatch) -> None:
        def fail(*a: object, **k: object) -> None:
            raise OSError(code, os.strerror(code))

        module, name = where.rsplit(".", 1)
        mp.setattr({"torch": torch, "torch.jit": torch.jit, "torch.onnx": torch.onnx}[module], name, fail)

    return setup


def _text_writer_fails(name: str, code: int) -> Callable[[Path, Path, pytest.MonkeyPatch], None]:
    """A setup under which writing the text file ``name`` writes half of it, then raises ``OSError(code)``."""

    def setup(case: Path, ckpt: Path, mp: pytest.MonkeyPatch) -> None:
        real = Path.write_text

        def write_text(self: Path, data: str, *a: object, **k: object) -> int:
            if self.name.startswith(f".{name}."):  # the temporary file of an atomic write
                real(self, data[: len(data) // 2], *a, **k)
                raise OSError(code, os.strerror(code), str(self))
            return real(self, data, *a, **k)

        mp.setattr(Path, "write_text", write_text)

    return setup


def _no_room(case: Path, ckpt: Path, mp: pytest.MonkeyPatch) -> None:
    import genpo.training.files as files

    mp.setattr(files, "free_bytes", lambda folder: 1000)


def _read_only_fs(case: Path, ckpt: Path, mp: pytest.MonkeyPatch) -> None:
    import genpo.training.files as files

    mp.setattr(files, "read_only", lambda folder: True)


def _tensorboard_fails(case: Path, ckpt: Path, mp: pytest.MonkeyPatch) -> None:
    from genpo.training.logger import TensorBoardSink

    def flush(self: TensorBoardSink) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(self.path))

    mp.setattr(TensorBoardSink, "flush", flush)


def _ablate_report_fails(case: Path, ckpt: Path, mp: pytest.MonkeyPatch) -> None:
    (case / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    _text_writer_fails("runs.csv", errno.EDQUOT)(case, ckpt, mp)


PM = ("--env", "builtin:PointMass", "--num-envs", "2", "--max-iterations", "1")
ABLATE_TINY = ("ablate", "--env", "builtin:PointMass", "--seeds", "1", "--total-steps", "8", "--num-envs", "2")
ABLATE_TINY += ("--config", "{case}/tiny.yaml", "--episodes", "1", "--jobs", "1", "--out", "{case}/abl")


def _store(case: Path, mp: pytest.MonkeyPatch) -> Path:
    """The case's own Minari store (never ~/.minari)."""
    mp.setenv("MINARI_DATASETS_PATH", str(case / "store"))
    return case / "store"


def _npz(case: Path, obs: np.ndarray | None = None, actions: np.ndarray | None = None) -> None:
    """``{case}/d.npz``: MultiGoal-shaped demonstrations (obs 3, action 2), 6 rows, with the given arrays."""
    obs = np.zeros((6, 3), np.float32) if obs is None else obs
    actions = np.zeros((6, 2), np.float32) if actions is None else actions
    np.savez(case / "d.npz", observations=obs, actions=actions, env_id=np.array("builtin:MultiGoal"))


def _demos_ok(case: Path, ckpt: Path, mp: pytest.MonkeyPatch) -> None:
    _npz(case)


def _demos_nan_obs(case: Path, ckpt: Path, mp: pytest.MonkeyPatch) -> None:
    obs = np.zeros((6, 3), np.float32)
    obs[3:, 1] = np.nan
    _npz(case, obs=obs)


def _demos_inf_actions(case: Path, ckpt: Path, mp: pytest.MonkeyPatch) -> None:
    actions = np.zeros((6, 2), np.float32)
    actions[2, 0] = -np.inf
    _npz(case, actions=actions)


def _demos_empty(case: Path, ckpt: Path, mp: pytest.MonkeyPatch) -> None:
    _npz(case, obs=np.zeros((0, 3), np.float32), actions=np.zeros((0, 2), np.float32))


def _demos_truncated(case: Path, ckpt: Path, mp: pytest.MonkeyPatch) -> None:
    _npz(case, obs=np.ones((500, 3), np.float32), actions=np.ones((500, 2), np.float32) * 0.5)
    data = (case / "d.npz").read_bytes()
    (case / "d.npz").write_bytes(data[: len(data) // 2])


def _demos_far_outside(case: Path, ckpt: Path, mp: pytest.MonkeyPatch) -> None:
    actions = np.zeros((6, 2), np.float32)
    actions[4] = [0.0, 30.0]  # bounds [-1, 1]: another unit
    _npz(case, actions=actions)


def _empty_store(case: Path, ckpt: Path, mp: pytest.MonkeyPatch) -> None:
    _store(case, mp)


def _existing_dataset(case: Path, ckpt: Path, mp: pytest.MonkeyPatch) -> None:
    _store(case, mp)
    code, out = invoke("collect", "--checkpoint", "scripted:MultiGoal", "--episodes", "2", "--out", "genpo/mg-v0")
    assert code == 0, out


def _store_and_deny_replace(case: Path, ckpt: Path, mp: pytest.MonkeyPatch) -> None:
    _store(case, mp)
    _deny_replace(case, ckpt, mp)


PM = ("--env", "builtin:PointMass", "--num-envs", "2", "--max-iterations", "1")
MG = ("collect", "--checkpoint", "scripted:MultiGoal", "--episodes", "2")

FAULTS = [
    # checkpoints
    Fault("play-nan-weights", ("play", "--checkpoint", "{ckpt}", "--episodes", "1"), 2, "non-finite", _nan),
    Fault("export-nan-weights", ("export", "--checkpoint", "{ckpt}", "-o", "{case}/out"), 2, "policy.", _nan),
    Fault("resume-nan-weights", ("train", "--checkpoint", "{ckpt}", "--logdir", "{case}/logs"), 2, "NaN", _nan),
    Fault("ckpt-without-iteration", ("play", "--checkpoint", "{ckpt}"), 2, "'iteration' is missing", _no_iteration),
    Fault("resume-without-iteration", ("train", "--checkpoint", "{ckpt}"), 2, "'iteration' is missing", _no_iteration),
    Fault("ckpt-permission", ("play", "--checkpoint", "{ckpt}"), 2, "permission denied", _unreadable),
    Fault(
        "resume-on-another-env",
        ("train", "--checkpoint", "{ckpt}", "--env", "builtin:MultiGoal", "--logdir", "{case}/logs"),
        2,
        "a resumed run continues on its own task",
    ),
    # values: checked before any work, with the allowed range, naming the option
    Fault(
        "lr-inf",
        ("train", *PM, "--lr", "inf"),
        2,
        "algo.learning_rate must be finite and > 0, got inf (option --learning-rate)",
    ),
    Fault(
        "compress-coef-inf", ("train", *PM, "--compress-coef", "inf"), 2, "algo.compress_coef must be a finite number"
    ),
    Fault(
        "compress-coef-no-doubled-latent",
        ("train", *PM, "--integrator", "gaussian-chain", "--compress-coef", "0.5"),
        2,
        "the compression loss applies to doubled-latent integrators only",
    ),
    Fault(
        "compress-fraction-0",
        ("train", *PM, "--set", "compress_fraction=0"),
        2,
        "algo.compress_fraction must be a number in (0, 1], got 0",
    ),
    Fault(
        "compress-fraction-above-1",
        ("train", *PM, "--set", "algo.compress_fraction=1.5"),
        2,
        "algo.compress_fraction must be a number in (0, 1], got 1.5",
    ),
    Fault(
        "compress-fraction-no-doubled-latent",
        ("train", *PM, "--model", "gaussian", "--set", "compress_fraction=0.5"),
        2,
        "compression loss, which is off here (this policy has no doubled latent)",
    ),
    Fault(
        "compress-fraction-without-compression",
        ("train", *PM, "--compress-coef", "0", "--set", "compress_fraction=1"),
        2,
        "(algo.compress_coef is 0)",
    ),
    Fault("entropy-coef-nan", ("train", *PM, "--entropy-coef", "nan"), 2, "algo.entropy_coef must be a finite number"),
    Fault(
        "rollout-huge", ("train", *PM, "--num-envs", "1000000"), 2, "rollout steps_per_env * env.num_envs is at most"
    ),
    Fault(
        "preset-for-a-task-without-one",
        ("train", "--preset", "paper", "--env", "isaaclab:Isaac-Nope", "--max-iterations", "1"),
        2,
        "no IsaacLab preset for 'isaaclab:Isaac-Nope'; presets: ant",
    ),
    Fault(
        "old-spelling-given-twice",
        ("train", *PM, "--set", "policy.steps=3", "--set", "steps=4"),
        2,
        "sets policy.flow_steps again",
    ),
    Fault("num-envs-huge", ("train", "--env", "builtin:PointMass", "--num-envs", "100000000000"), 2, "[1, 1048576]"),
    Fault("seed-overflow", ("train", *PM, "--seed", "99999999999999999999"), 2, "(option --seed)"),
    Fault("seed-negative", ("train", *PM, "--seed", "-3"), 2, "run.seed must be an integer in [0, 4294967295]"),
    Fault("play-episodes-huge", ("play", "--checkpoint", "{ckpt}", "--episodes", "100000000"), 2, "[1, 1048576]"),
    Fault("play-episodes-0", ("play", "--checkpoint", "{ckpt}", "--episodes", "0"), 2, "episodes must be"),
    Fault("config-is-a-device", ("train", *PM, "--config", "/dev/null"), 2, "is not a regular file"),
    Fault(
        "play-seed-overflow", ("play", "--checkpoint", "{ckpt}", "--seed", "18446744073709551616"), 2, "seed must be"
    ),
    Fault(
        "run-name-escapes", ("train", *PM, "--run-name", "../../x", "--logdir", "{case}/logs"), 2, "(option --run-name)"
    ),
    Fault("run-name-slash", ("train", *PM, "--run-name", "a/b", "--logdir", "{case}/logs"), 2, "no '/'"),
    Fault(
        "logdir-is-a-file", ("train", *PM, "--logdir", "{case}/afile"), 2, "is a file, not a folder", _file_in_the_way
    ),
    Fault("logdir-under-a-file", ("train", *PM, "--logdir", "{case}/afile/logs"), 2, "is a file", _file_in_the_way),
    Fault("logdir-unwritable", ("train", *PM, "--logdir", "{case}/ro/logs"), 2, "permission denied", _read_only_folder),
    Fault("logdir-name-too-long", ("train", *PM, "--logdir", "{case}/" + "x" * 300), 2, "the name is too long"),
    # files and folders
    Fault(
        "export-onto-a-file",
        ("export", "--checkpoint", "{ckpt}", "-o", "{case}/afile"),
        2,
        "is a file",
        _file_in_the_way,
    ),
    Fault("export-name-too-long", ("export", "--checkpoint", "{ckpt}", "-o", "{case}/" + "y" * 300), 2, "too long"),
    Fault(
        "export-under-a-file",
        ("export", "--checkpoint", "{ckpt}", "-o", "{case}/afile/sub"),
        2,
        "is a file, not a folder",
        _file_in_the_way,
    ),
    Fault(
        "export-unwritable",
        ("export", "--checkpoint", "{ckpt}", "-o", "{case}/out"),
        2,
        "permission denied",
        _deny_replace,
    ),
    Fault("binary-config", ("train", *PM, "--config", "{case}/bin.yaml"), 2, "bin.yaml", _binary_config),
    Fault("config-is-a-folder", ("train", *PM, "--config", "{case}"), 2, "is a folder"),
    Fault(
        "video-length-0",
        ("play", "--checkpoint", "{ckpt}", "--env", "gym:Pendulum-v1", "--video", "--video-length", "0"),
        2,
        "--video-length",
    ),
    Fault(
        "video-folder-is-a-file",
        ("play", "--checkpoint", "{ckpt}", "--env", "gym:Pendulum-v1", "--video"),
        2,
        "video folder",
        _videos_is_a_file,
    ),
    Fault(
        "video-env-dims",
        ("play", "--checkpoint", "{ckpt}", "--env", "gym:Pendulum-v1", "--video"),
        2,
        "gym:Pendulum-v1 has obs/action dims 3/1, the policy 6/2",
    ),
    Fault(
        "video-env-misspelt", ("play", "--checkpoint", "{ckpt}", "--env", "Pendulm-v1", "--video"), 2, "did you mean"
    ),
    Fault(
        "ablate-out-is-a-file",
        ("ablate", "--env", "builtin:PointMass", "--seeds", "1", "--total-steps", "10", "--out", "{case}/afile"),
        2,
        "is a file, not a folder",
        _file_in_the_way,
    ),
    # the file system fails (injected; tests/training/test_disk_faults.py causes them for real): exit 1, the file
    # and the cause named, in training the newest intact checkpoint and the command that resumes it
    Fault(
        "train-disk-full",
        ("train", *PM, "--logdir", "{case}/logs"),
        1,
        "model_1.pt': no space left on the device; stopped after iteration 1: no checkpoint was written by this run",
        _writer_fails(errno.ENOSPC),
    ),
    Fault(
        "train-read-only-fs",
        ("train", "--checkpoint", "{ckpt}", "--logdir", "{case}/logs"),
        1,
        "model_2.pt': the file system is read-only; stopped after iteration 2: the newest intact checkpoint is",
        _writer_fails(errno.EROFS),
    ),
    Fault(
        "train-quota",
        ("train", *PM, "--logdir", "{case}/logs"),
        1,
        "the disk quota is exceeded",
        _writer_fails(errno.EDQUOT),
    ),
    Fault(
        "train-tensorboard-disk-full",
        ("train", *PM, "--logdir", "{case}/logs"),
        1,
        "events.out.tfevents.*': no space left on the device",
        _tensorboard_fails,
    ),
    Fault(
        "train-no-room", ("train", *PM, "--logdir", "{case}/logs"), 1, "only 1.0 kB free on its file system", _no_room
    ),
    Fault(
        "train-logdir-read-only",
        ("train", *PM, "--logdir", "{case}/logs"),
        1,
        "file system is read-only",
        _read_only_fs,
    ),
    Fault(
        "export-disk-full",
        ("export", "--checkpoint", "{ckpt}", "-o", "{case}/out"),
        1,
        "out/policy.pt': no space left on the device",
        _writer_fails(errno.ENOSPC, "torch.jit.save"),
    ),
    Fault(
        "export-onnx-read-only-fs",
        ("export", "--checkpoint", "{ckpt}", "-o", "{case}/out", "--format", "onnx"),
        1,
        "out/policy.onnx': the file system is read-only",
        _writer_fails(errno.EROFS, "torch.onnx.export"),
    ),
    Fault(
        "plot-disk-full",
        ("plot", "{run}", "--out", "{case}/report"),
        1,
        "report/runs.csv': no space left on the device",
        _text_writer_fails("runs.csv", errno.ENOSPC),
    ),
    Fault("ablate-report-quota", ABLATE_TINY, 1, "abl/runs.csv': the disk quota is exceeded", _ablate_report_fails),
    # demonstration datasets (genpo dataset reads them with genpo.data.load_demonstrations) and genpo collect
    Fault(
        "dataset-dims-differ",
        ("dataset", "{case}/d.npz", "--env", "builtin:PointMass"),
        2,
        "{case}/d.npz has obs/action dims 3/2, builtin:PointMass 6/2",
        _demos_ok,
    ),
    Fault(
        "dataset-nan-obs",
        ("dataset", "{case}/d.npz"),
        2,
        "observations contain NaN or inf, first at row 3",
        _demos_nan_obs,
    ),
    Fault(
        "dataset-inf-actions",
        ("dataset", "{case}/d.npz"),
        2,
        "actions contain NaN or inf, first at row 2",
        _demos_inf_actions,
    ),
    Fault("dataset-empty", ("dataset", "{case}/d.npz"), 2, "the dataset is empty", _demos_empty),
    Fault("dataset-truncated", ("dataset", "{case}/d.npz"), 2, "(a truncated or damaged file?)", _demos_truncated),
    Fault("dataset-missing-file", ("dataset", "{case}/nothing.npz"), 2, "no such file or folder"),
    Fault(
        "dataset-unknown-id",
        ("dataset", "genpo/nothing-v0"),
        2,
        "no Minari dataset 'genpo/nothing-v0' in the local store {case}/store (MINARI_DATASETS_PATH)",
        _empty_store,
    ),
    Fault(
        "dataset-actions-far-outside-bounds",
        ("dataset", "{case}/d.npz"),
        2,
        "action at row 4 [0.0, 30.0] lies more than one bound range outside builtin:MultiGoal's action bounds",
        _demos_far_outside,
    ),
    Fault("collect-episodes-0", (*MG[:-1], "0", "--out", "genpo/x-v0"), 2, "episodes must be an integer", _empty_store),
    Fault(
        "collect-noise-negative",
        (*MG, "--out", "genpo/x-v0", "--action-noise", "-1"),
        2,
        "action noise must be a finite number >= 0, got -1.0",
        _empty_store,
    ),
    Fault("collect-bad-id", (*MG, "--out", "my data"), 2, "'my data' is not a valid Minari dataset id", _empty_store),
    Fault(
        "collect-out-exists",
        (*MG, "--out", "genpo/mg-v0"),
        2,
        "already exists; datasets are never overwritten",
        _existing_dataset,
    ),
    Fault(
        "collect-unknown-demonstrator",
        ("collect", "--checkpoint", "scripted:Hopper", "--episodes", "2", "--out", "genpo/x-v0"),
        2,
        "unknown scripted demonstrator 'Hopper'; choose one of: MultiGoal",
        _empty_store,
    ),
    Fault(
        "collect-scripted-stochastic",
        (*MG, "--out", "genpo/x-v0", "--stochastic"),
        2,
        "--stochastic applies to trained policies",
        _empty_store,
    ),
    Fault(
        "collect-env-option-no-value",
        (*MG, "--out", "genpo/x-v0", "--env-option", "num_goals"),
        2,
        "KEY=VALUE",
        _empty_store,
    ),
    Fault(
        "collect-env-option-unknown",
        (*MG, "--out", "genpo/x-v0", "--env-option", "goals=3"),
        2,
        "unknown option(s) goals for builtin:MultiGoal",
        _empty_store,
    ),
    Fault("collect-unwritable", (*MG, "--out", "genpo/x-v0"), 2, "permission denied", _store_and_deny_replace),
    Fault(
        "collect-nan-checkpoint",
        ("collect", "--checkpoint", "{ckpt}", "--episodes", "2", "--out", "{case}/pm-v0"),
        2,
        "non-finite",
        _nan,
    ),
    # environments
    Fault(
        "bench-env-discrete",
        ("bench", "env", "--env", "CartPole-v1", "--num-envs", "2", "--workers", "0"),
        2,
        "Discrete(2)",
    ),
    Fault(
        "bench-env-misspelt",
        ("bench", "env", "--env", "HalfCheeta-v5", "--num-envs", "2", "--workers", "0"),
        2,
        "did you mean 'HalfCheetah-v5'",
    ),
    Fault(
        "bench-env-workers-not-a-number",
        ("bench", "env", "--env", "builtin:PointMass", "--workers", "x"),
        2,
        "expected comma-separated integers >= 0, got 'x'",
    ),
    Fault(
        "bench-env-workers-negative",
        ("bench", "env", "--env", "builtin:PointMass", "--workers", "0,-1"),
        2,
        "expected comma-separated integers >= 0, got '0,-1'",
    ),
    Fault(
        "env-step-raises",
        ("train", "--env", "faulty:PointMass", "--num-envs", "2", "--max-iterations", "1", "--logdir", "{case}/logs"),
        1,
        "environment faulty:PointMass raised KeyError in step() during iteration 1",
        _faulty_backend,
    ),
    Fault(
        "isaaclab-missing",
        ("train", "--env", "isaaclab:Isaac-Ant", "--max-iterations", "1"),
        2,
        "IsaacLab is not installed. Install",
        _no_isaaclab,
    ),
    Fault(
        "isaaclab-import-fails",
        ("train", "--env", "isaaclab:Isaac-Ant", "--max-iterations", "1"),
        2,
        "IsaacLab is installed but does not import (ImportError: libGLU.so.1",
        _broken_isaaclab,
    ),
]


# pretraining (genpo pretrain) and runs started from pretrained weights (--init, run.init)
def _pretrain_ckpt(case: Path, ckpt: Path, mp: pytest.MonkeyPatch) -> None:
    _tamper(ckpt, lambda data: data.update(pretrain={"dataset": "x"}))


def _demos(case: Path, ckpt: Path, mp: pytest.MonkeyPatch, env_id: str | None = "builtin:MultiGoal") -> None:
    """A tiny MultiGoal demonstration file: 4 episodes of 5 steps."""
    import numpy as np

    rng = np.random.default_rng(0)
    extra = {} if env_id is None else {"env_id": np.array(env_id)}
    trunc = np.tile([False] * 4 + [True], 4)
    obs, act = rng.uniform(-1, 1, (20, 3)).astype(np.float32), rng.uniform(-1, 1, (20, 2)).astype(np.float32)
    np.savez(case / "mg.npz", observations=obs, actions=act, truncations=trunc, **extra)


def _bare_demos(case: Path, ckpt: Path, mp: pytest.MonkeyPatch) -> None:
    _demos(case, ckpt, mp, env_id=None)


PRE = ("pretrain", "--dataset", "{case}/mg.npz", "--epochs", "1", "--eval-episodes", "0", "--logdir", "{case}/logs")
FAULTS += [
    Fault(
        "init-on-another-env",
        ("train", "--init", "{ckpt}", "--env", "builtin:MultiGoal", "--logdir", "{case}/logs"),
        2,
        "an init must come from the same task",
    ),
    Fault(
        "init-another-network",
        ("train", "--init", "{run}", "--set", "hidden=[32]", "--logdir", "{case}/logs"),
        2,
        "this run sets policy.hidden=[32] but the checkpoint's actor has [16]",
    ),
    Fault(
        "init-another-model",
        ("train", "--init", "{ckpt}", "--model", "gaussian", "--logdir", "{case}/logs"),
        2,
        "this run sets policy.model='gaussian' but the checkpoint's actor has 'flow'",
    ),
    Fault("init-missing", ("train", "--init", "{case}/none.pt", "--logdir", "{case}/logs"), 2, "does not exist"),
    Fault("init-nan-weights", ("train", "--init", "{ckpt}", "--logdir", "{case}/logs"), 2, "non-finite", _nan),
    Fault(
        "init-and-resume",
        ("train", "--checkpoint", "{ckpt}", "--init", "{ckpt}", "--logdir", "{case}/logs"),
        2,
        "starts a new run from pretrained weights, but this command resumes",
    ),
    Fault(
        "resume-a-pretrain-checkpoint",
        ("train", "--checkpoint", "{ckpt}", "--logdir", "{case}/logs"),
        2,
        "is a genpo pretrain checkpoint: start a run from it with --init",
        _pretrain_ckpt,
    ),
    Fault("pretrain-unknown-objective", (*PRE, "--objective", "imitate"), 2, "choose one of: flow-matching", _demos),
    Fault(
        "pretrain-objective-of-another-family",
        (*PRE, "--model", "gaussian", "--objective", "flow-matching"),
        2,
        "choose one of: likelihood",
        _demos,
    ),
    Fault("pretrain-no-env", PRE, 2, "records no environment: name it with --env", _bare_demos),
    Fault("pretrain-env-disagrees", (*PRE, "--env", "builtin:PointMass"), 2, "was recorded on", _demos),
    Fault("pretrain-dims", (*PRE, "--env", "builtin:PointMass"), 2, "has obs/action dims 3/2", _bare_demos),
    Fault("pretrain-epochs-0", (*PRE, "--epochs", "0"), 2, "pretrain.epochs must be an integer", _demos),
    Fault("pretrain-set-unknown", (*PRE, "--set", "pretrain.epoch=3"), 2, "unknown pretrain field(s) epoch", _demos),
    Fault("pretrain-missing-dataset", ("pretrain", "--dataset", "{case}/none.npz"), 2, "none.npz"),
]


def _no_package(name: str) -> Callable[[Path, Path, pytest.MonkeyPatch], None]:
    """A setup under which ``import name`` fails as if the package were not installed."""

    def setup(case: Path, ckpt: Path, mp: pytest.MonkeyPatch) -> None:
        import sys

        mp.setitem(sys.modules, name, None)  # None in sys.modules: import raises ImportError

    return setup


# run.logger (issue 19): names and packages are checked before any work starts
LOG = ("train", *PM, "--logdir", "{case}/logs")
FAULTS += [
    Fault(
        "train-logger-unknown",
        (*LOG, "--logger", "tensorbord"),
        2,
        "run.logger: unknown logger 'tensorbord'; choose one of: tensorboard, wandb, trackio or a dotted path "
        "pkg.module:Name (option --logger)",
    ),
    Fault(
        "train-logger-wandb-missing",
        (*LOG, "--logger", "tensorboard,wandb"),
        2,
        "run.logger 'wandb' needs the wandb package, which cannot be imported",
        _no_package("wandb"),
    ),
    Fault(
        "train-logger-trackio-missing",
        (*LOG, "--logger", "trackio"),
        2,
        "pip install 'genpo[trackio]'",
        _no_package("trackio"),
    ),
    Fault(
        "train-logger-twice",
        (*LOG, "--logger", "wandb,tensorboard", "--logger", "wandb"),
        2,
        "names wandb more than once",
    ),
    Fault(
        "train-logger-not-a-writer",
        (*LOG, "--logger", "genpo.errors:ConfigError"),
        2,
        "does not derive from genpo.loggers.base.Writer",
    ),
    Fault("train-logger-not-a-list", (*LOG, "--set", "run.logger=3"), 2, "run.logger must be a list of logger names"),
]


# genpo tune: a bad space, budget or study folder is refused before any trial (and before the folder is made).
def _tune_space(text: str) -> Callable[[Path, Path, pytest.MonkeyPatch], None]:
    def setup(case: Path, ckpt: Path, mp: pytest.MonkeyPatch) -> None:
        (case / "tiny.yaml").write_text(yaml.safe_dump(TINY))
        (case / "space.yaml").write_text(text)

    return setup


def _tune_no_space(case: Path, ckpt: Path, mp: pytest.MonkeyPatch) -> None:
    (case / "tiny.yaml").write_text(yaml.safe_dump(TINY))


def _tune_file_in_the_way(case: Path, ckpt: Path, mp: pytest.MonkeyPatch) -> None:
    _tune_space("lr: {type: float, low: 1.0e-4, high: 1.0e-2}")(case, ckpt, mp)
    _file_in_the_way(case, ckpt, mp)


def _tune_other_study(case: Path, ckpt: Path, mp: pytest.MonkeyPatch) -> None:
    _tune_space("lr: {type: float, low: 1.0e-4, high: 1.0e-2}")(case, ckpt, mp)
    (case / "study").mkdir()
    other = {"env": "builtin:MultiGoal", "space": {"algo.clip_param": {"type": "float", "low": 0.1, "high": 0.3}}}
    (case / "study" / "study.json").write_text(json.dumps(other))
    (case / "study" / "study.journal").write_text("")


def _tune_bare_journal(case: Path, ckpt: Path, mp: pytest.MonkeyPatch) -> None:
    _tune_space("lr: {type: float, low: 1.0e-4, high: 1.0e-2}")(case, ckpt, mp)
    (case / "study").mkdir()
    (case / "study" / "study.journal").write_text("")


TUNE = ("tune", "--env", "builtin:PointMass", "--seeds", "1", "--total-steps", "8", "--num-envs", "2")
TUNE += ("--config", "{case}/tiny.yaml", "--space", "{case}/space.yaml", "--episodes", "1", "--jobs", "1")
TUNE += ("--out", "{case}/study")
LR = "lr: {type: float, low: 1.0e-4, high: 1.0e-2, log: true}"
FAULTS += [
    Fault(
        "tune-space-unknown-field",
        TUNE,
        2,
        "unknown configuration field 'lerning_rate'; allowed: env.id",
        _tune_space("lerning_rate: {type: float, low: 0.1, high: 0.2}"),
    ),
    Fault(
        "tune-space-empty-range",
        TUNE,
        2,
        "algo.clip_param: the range is empty: low (0.3) must be below high (0.1)",
        _tune_space("clip_param: {type: float, low: 0.3, high: 0.1}"),
    ),
    Fault(
        "tune-space-categorical-no-values",
        TUNE,
        2,
        "algo.schedule: a categorical needs a non-empty list of values",
        _tune_space("schedule: {type: categorical, values: []}"),
    ),
    Fault(
        "tune-space-non-numeric-bound",
        TUNE,
        2,
        "algo.learning_rate: low must be a number, got 'small'",
        _tune_space("lr: {type: float, low: small, high: 0.1}"),
    ),
    Fault(
        "tune-space-log-zero",
        TUNE,
        2,
        "a log range needs low > 0",
        _tune_space("lr: {type: float, low: 0, high: 0.1, log: true}"),
    ),
    Fault(
        "tune-space-unknown-type",
        TUNE,
        2,
        "type must be one of float, int, categorical",
        _tune_space("lr: {type: uniform, low: 0.1, high: 0.2}"),
    ),
    Fault(
        "tune-space-reserved-field",
        TUNE,
        2,
        "run.seed is set by genpo tune (--seeds)",
        _tune_space("seed: {type: int, low: 1, high: 9}"),
    ),
    Fault(
        "tune-space-invalid-value",
        TUNE,
        2,
        "algo.num_epochs = 0 is not a valid value",
        _tune_space("num_epochs: {type: int, low: 0, high: 4}"),
    ),
    Fault(
        "tune-space-not-a-mapping", TUNE, 2, "the search space must be a non-empty YAML mapping", _tune_space("- lr\n")
    ),
    Fault("tune-space-not-yaml", TUNE, 2, "is not valid YAML", _tune_space("lr: {type: float\n")),
    Fault("tune-space-missing", TUNE, 2, "cannot read the search space", _tune_no_space),
    Fault("tune-trials-0", (*TUNE, "--trials", "0"), 2, "--trials must be an integer >= 1, got 0", _tune_space(LR)),
    Fault("tune-jobs-0", (*TUNE, "--jobs", "0"), 2, "--jobs must be >= 1, got 0", _tune_space(LR)),
    Fault(
        "tune-objective-unknown",
        (*TUNE, "--objective", "best"),
        2,
        "unknown --objective 'best'; choose one of: train, eval",
        _tune_space(LR),
    ),
    Fault(
        "tune-pruner-unknown",
        (*TUNE, "--pruner", "mean"),
        2,
        "unknown --pruner 'mean'; choose one of: median, hyperband, none",
        _tune_space(LR),
    ),
    Fault("tune-launcher-unknown", (*TUNE, "--launcher", "pbs"), 2, "unknown launcher 'pbs'", _tune_space(LR)),
    Fault(
        "tune-no-budget",
        tuple(a for a in TUNE if a not in ("--total-steps", "8")),
        2,
        "genpo tune needs a budget in env steps: --total-steps N",
        _tune_space(LR),
    ),
    Fault(
        "tune-two-settings",
        (*TUNE, "--setting", "a=lr=0.001", "--setting", "b=lr=0.002"),
        2,
        "genpo tune takes one --setting",
        _tune_space(LR),
    ),
    Fault(
        "tune-searched-and-set",
        (*TUNE, "--setting", "a=lr=0.001"),
        2,
        "algo.learning_rate is also set by --setting",
        _tune_space(LR),
    ),
    Fault(
        "tune-out-holds-another-study",
        TUNE,
        2,
        "holds another study (it differs in: base, env, episodes",
        _tune_other_study,
    ),
    Fault("tune-out-holds-a-bare-journal", TUNE, 2, "holds a study journal without its study.json", _tune_bare_journal),
    Fault("tune-out-is-a-file", (*TUNE[:-1], "{case}/afile"), 2, "afile' is a file", _tune_file_in_the_way),
]
if not torch.cuda.is_available():  # on a CUDA machine these commands are valid
    FAULTS += [
        Fault("train-device-cuda", ("train", *PM, "--device", "cuda"), 2, "CUDA"),
        Fault("play-device-cuda", ("play", "--checkpoint", "{ckpt}", "--device", "cuda:1"), 2, "device is 'cuda:1'"),
    ]
# Runs that fail after starting may write their run folder (logs of what happened), nothing else.
MAY_WRITE = {
    "env-step-raises": "logs",
    **{
        name: "logs" for name in ("train-disk-full", "train-read-only-fs", "train-quota", "train-tensorboard-disk-full")
    },
    "plot-disk-full": "report",
    "ablate-report-quota": "abl",
}


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.name)
def test_fault_gives_a_clear_message_and_loses_nothing(
    fault: Fault, trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    ckpt = _copy_run(trained, tmp_path)
    if fault.setup is not None:
        fault.setup(tmp_path, ckpt, monkeypatch)
    before = _snapshot(tmp_path)
    args = [a.format(ckpt=ckpt, run=ckpt.parent, case=tmp_path) for a in fault.args]
    code, out = invoke(*args)
    monkeypatch.undo()
    assert code == fault.code, out
    assert fault.phrase.format(case=tmp_path) in " ".join(out.split()), out  # rich wraps lines longer than the terminal
    assert "Traceback" not in out, out
    after = _snapshot(tmp_path)
    allowed = MAY_WRITE.get(fault.name)
    if allowed:
        after = {k: v for k, v in after.items() if not k.startswith(allowed)}
    assert after == before, "a refused command must not write, change or delete files"


def test_resume_with_another_env_count_keeps_what_was_learned(trained: Path, tmp_path: Path) -> None:
    ckpt = _copy_run(trained, tmp_path)
    code, out = invoke(
        "train", "--checkpoint", str(ckpt), "--num-envs", "3", "--max-iterations", "1",
        "--logdir", str(tmp_path / "logs"),
    )  # fmt: skip
    assert code == 0, out
    assert "resuming with 3 environments instead of the checkpoint's 2" in out and "episodes restart" in out
    (new,) = (tmp_path / "logs").rglob("model_2.pt")
    old_state, new_state = (torch.load(p, weights_only=True) for p in (ckpt, new))
    assert new_state["config"]["env"]["num_envs"] == 3
    assert new_state["global_step"] == old_state["global_step"] + 3 * TINY["algo"]["steps_per_env"]
    old_count, new_count = old_state["model_state"]["obs_norm.count"], new_state["model_state"]["obs_norm.count"]
    assert new_count > old_count  # the normalizer kept its statistics and kept counting
