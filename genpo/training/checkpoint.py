"""Checkpoints: written atomically, read with ``weights_only=True``, validated before anything is touched."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch

from genpo.errors import ConfigError
from genpo.training.files import atomic_files, describe_os_error, ensure_folder, remove_orphans

FORMAT_VERSION = 1
CHECKPOINT_RE = re.compile(r"^model_(\d+)\.pt$")
# What every genpo checkpoint holds, and the type each entry must have (a crafted file fails here, named).
REQUIRED: dict[str, type | tuple[type, ...]] = {
    "model_state": dict,
    "config": dict,
    "iteration": int,
    "global_step": int,
    "optimizer_state": dict,
    "learning_rate": (int, float),
    "rng": dict,
}


class CheckpointError(ConfigError):
    """A checkpoint is missing, unreadable, or does not fit the run."""


def save_checkpoint(payload: dict[str, Any], path: str | Path) -> Path:
    """Writes ``payload`` to ``path`` through a temporary file in the same folder and an atomic rename.

    A crash mid-write leaves the previous file (if any) intact; leftovers of killed writers in the folder
    are removed first. The file gets the mode a plain write would give (the umask's), not ``0600``.

    Raises:
        RunFolderError: The folder cannot be created or written (the message names it and says why).
        DiskError: The file system failed the write (no space, read-only, ...); no partial file is left.
    """
    path = Path(path)
    ensure_folder(path.parent, "run folder")
    remove_orphans(path.parent)
    with atomic_files([path]) as (tmp,), open(tmp, "wb") as f:
        # Through a Python file, so the OSError (ENOSPC, ...) reaches us under torch's zip-writer error.
        torch.save({"format_version": FORMAT_VERSION, **payload}, f)
    return path


# Bytes of a checkpoint besides its tensors: RNG states, configuration, counters, the zip's own records.
CHECKPOINT_OVERHEAD_BYTES = 64 * 1024


def tensor_bytes(tensors: Any) -> int:
    """Bytes of every tensor in a (nested) dict, list or tuple."""
    if isinstance(tensors, torch.Tensor):
        return tensors.numel() * tensors.element_size()
    if isinstance(tensors, dict):
        return sum(tensor_bytes(v) for v in tensors.values())
    if isinstance(tensors, (list, tuple)):
        return sum(tensor_bytes(v) for v in tensors)
    return 0


def estimate_checkpoint_bytes(module: torch.nn.Module, optimizer: torch.optim.Optimizer, extra: int = 0) -> int:
    """About the size of one checkpoint of ``module`` trained by ``optimizer``, before any is written.

    The module's state dict, the optimizer's state (for Adam before its first step: the two moments it
    will hold, each the size of the trainable parameters), ``extra`` bytes (saved observations) and
    :data:`CHECKPOINT_OVERHEAD_BYTES`.
    """
    opt = tensor_bytes(list(optimizer.state.values()))
    if not optimizer.state and isinstance(optimizer, (torch.optim.Adam, torch.optim.AdamW)):
        opt = 2 * sum(p.numel() * p.element_size() for p in module.parameters() if p.requires_grad)
    return tensor_bytes(module.state_dict()) + opt + extra + CHECKPOINT_OVERHEAD_BYTES


def non_finite_tensors(state: dict[str, Any]) -> list[str]:
    """Names of the floating-point tensors in a state dict that hold NaN or infinity."""
    return [
        name
        for name, t in state.items()
        if isinstance(t, torch.Tensor) and t.is_floating_point() and not bool(torch.isfinite(t).all())
    ]


def _check_payload(data: Any, path: Path) -> None:
    where = repr(str(path))
    if not isinstance(data, dict) or "model_state" not in data or "config" not in data:
        raise CheckpointError(f"{where} is not a genpo checkpoint (no model_state/config)")
    if data.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint {where} has format version {data.get('format_version')!r}; this genpo reads {FORMAT_VERSION}"
        )
    for key, kind in REQUIRED.items():
        value = data.get(key)
        if value is None or isinstance(value, bool) or not isinstance(value, kind):
            got = "missing" if key not in data else f"a {type(value).__name__}"
            raise CheckpointError(f"checkpoint {where} is damaged: entry {key!r} is {got}")
    if data["iteration"] < 0 or data["global_step"] < 0:
        raise CheckpointError(f"checkpoint {where} is damaged: negative iteration or global_step")
    bad = non_finite_tensors(data["model_state"])
    if bad:
        shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise CheckpointError(
            f"checkpoint {where} holds non-finite (NaN or inf) parameters in {shown}; "
            "refusing to use it (resume from an earlier checkpoint of the run)"
        )


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Reads a checkpoint with ``torch.load(weights_only=True)``; ``CheckpointError`` says what is wrong.

    Refuses files that are unreadable, not genpo checkpoints, missing an entry, or hold non-finite
    parameters (a policy with NaN weights must not play, export or resume), naming the tensor.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist")
    try:
        with open(path, "rb") as f:
            data = torch.load(f, map_location=map_location, weights_only=True)
    except OSError as exc:  # permission denied, I/O error: not a damaged file
        raise CheckpointError(describe_os_error(exc, path, "read the checkpoint")) from None
    except Exception as exc:  # truncated, corrupt, or not a torch file
        raise CheckpointError(f"checkpoint {str(path)!r} is unreadable (truncated or corrupt?): {exc}") from None
    _check_payload(data, path)
    return data


def checkpoints_in(run_dir: Path) -> list[Path]:
    """``model_<it>.pt`` files of a run folder, oldest iteration first."""
    found = [(int(m.group(1)), p) for p in run_dir.glob("model_*.pt") if (m := CHECKPOINT_RE.match(p.name))]
    return [p for _, p in sorted(found)]


def find_latest(logdir: str | Path, env_name: str | None = None) -> Path:
    """The most recently written checkpoint under ``<logdir>/genpo[/<env_name>]``.

    Each run folder offers its highest-iteration ``model_<it>.pt``; among those, the one whose write
    finished last (file modification time; ties: the higher iteration) wins. Folder names are not used:
    a run name or a copied folder can sort anywhere.

    Raises:
        CheckpointError: When no run folder holds a checkpoint.
    """
    root = Path(logdir) / "genpo"
    if env_name:
        root = root / env_name
    if not root.is_dir():
        raise CheckpointError(f"no run folder at {str(root)!r}; train first or name a checkpoint file")
    newest = [ckpts[-1] for d in root.rglob("*") if d.is_dir() and (ckpts := checkpoints_in(d))]
    if not newest:
        raise CheckpointError(f"no checkpoint (model_<iteration>.pt) under {str(root)!r}")

    def written(p: Path) -> tuple[int, int]:
        m = CHECKPOINT_RE.match(p.name)
        return p.stat().st_mtime_ns, int(m.group(1)) if m else -1

    return max(newest, key=written)


def resolve_checkpoint(spec: str, logdir: str | Path, env_name: str | None = None) -> Path:
    """``latest`` -> :func:`find_latest`; a run folder -> its newest checkpoint; else the file itself.

    Also removes what killed writers left in the checkpoint's folder (see :func:`remove_orphans`).
    """
    path = _resolve(spec, logdir, env_name)
    remove_orphans(path.parent)
    return path


def _resolve(spec: str, logdir: str | Path, env_name: str | None) -> Path:
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
