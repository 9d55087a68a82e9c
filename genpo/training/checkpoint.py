"""Checkpoints: written atomically, read with ``weights_only=True``, validated before anything is touched."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

import torch

from genpo.errors import ConfigError

FORMAT_VERSION = 1
CHECKPOINT_RE = re.compile(r"^model_(\d+)\.pt$")


class CheckpointError(ConfigError):
    """A checkpoint is missing, unreadable, or does not fit the run."""


def save_checkpoint(payload: dict[str, Any], path: str | Path) -> Path:
    """Writes ``payload`` to ``path`` through a temporary file in the same folder and an atomic rename.

    A crash mid-write leaves the previous file (if any) intact.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save({"format_version": FORMAT_VERSION, **payload}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Reads a checkpoint with ``torch.load(weights_only=True)``; ``CheckpointError`` says what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist")
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # truncated, corrupt, or not a torch file
        raise CheckpointError(f"checkpoint {str(path)!r} is unreadable (truncated or corrupt?): {exc}") from None
    if not isinstance(data, dict) or "model_state" not in data or "config" not in data:
        raise CheckpointError(f"{str(path)!r} is not a genpo checkpoint (no model_state/config)")
    if data.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint {str(path)!r} has format version {data.get('format_version')!r}; "
            f"this genpo reads {FORMAT_VERSION}"
        )
    return data


def checkpoints_in(run_dir: Path) -> list[Path]:
    """``model_<it>.pt`` files of a run folder, oldest iteration first."""
    found = [(int(m.group(1)), p) for p in run_dir.glob("model_*.pt") if (m := CHECKPOINT_RE.match(p.name))]
    return [p for _, p in sorted(found)]


def find_latest(logdir: str | Path, env_name: str | None = None) -> Path:
    """The newest checkpoint of the newest run under ``<logdir>/genpo[/<env_name>]``.

    Raises:
        CheckpointError: When no run folder holds a checkpoint.
    """
    root = Path(logdir) / "genpo"
    if env_name:
        root = root / env_name
    if not root.is_dir():
        raise CheckpointError(f"no run folder at {str(root)!r}; train first or name a checkpoint file")
    runs = sorted((d for d in root.rglob("*") if d.is_dir() and checkpoints_in(d)), key=lambda d: d.name)
    if not runs:
        raise CheckpointError(f"no checkpoint (model_<iteration>.pt) under {str(root)!r}")
    # Run folder names start with a sortable timestamp; ties across envs break by modification time.
    latest = max(runs, key=lambda d: (d.name[:19], d.stat().st_mtime))
    return checkpoints_in(latest)[-1]


def resolve_checkpoint(spec: str, logdir: str | Path, env_name: str | None = None) -> Path:
    """``latest`` -> :func:`find_latest`; a run folder -> its newest checkpoint; else the file itself."""
    if spec == "latest":
        return find_latest(logdir, env_name)
    path = Path(spec)
    if path.is_dir():
        ckpts = checkpoints_in(path)
        if not ckpts:
            raise CheckpointError(f"run folder {str(path)!r} holds no model_<iteration>.pt")
        return ckpts[-1]
    if not path.exists():
        raise CheckpointError(f"checkpoint {spec!r} does not exist")
    return path
