"""Writing files a user keeps (checkpoints, exports, videos): atomic, with normal permissions, clear errors.

Every such file is written to a hidden temporary file in its destination folder, flushed to disk and
renamed over the target, so a crash leaves either the old file or the new one, never half of one. The
temporary name records the writer's process id, so a later writer can remove the leftovers of a killed
one (``.model_50.pt.<pid>-<random>.tmp``) without touching a live writer's file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

from genpo.errors import RunFolderError

# Only names genpo itself writes: a user's own hidden files in the same folder are never touched.
_TMP_RE = re.compile(
    r"^\.(?:model_\d+\.pt|policy(?:_stochastic)?\.(?:pt|onnx)|config\.yaml|[^/]+\.mp4)"
    r"\.(?:(\d+)-)?[a-z0-9_]+\.tmp(?:\.data|\.mp4)?$"
)
# Leftovers without a process id (older genpo versions) count as orphans after this long.
_LEGACY_ORPHAN_AGE_S = 600.0


def normal_file_mode() -> int:
    """The mode ``open(path, "w")`` would give a new file: ``0o666`` minus the process umask."""
    try:  # Linux reports the umask without changing it (os.umask is a process-wide set-and-get)
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def describe_os_error(exc: OSError, path: str | Path, action: str) -> str:
    """A one-line message for an ``OSError`` raised while ``action`` (e.g. "write") on ``path``."""
    where = str(path)
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"cannot {action} {where!r}: permission denied for this user"
    if exc.errno == errno.ENOSPC:
        return f"cannot {action} {where!r}: no space left on the device"
    if exc.errno == errno.EROFS:
        return f"cannot {action} {where!r}: the file system is read-only"
    if exc.errno == errno.ENOTDIR:
        return f"cannot {action} {where!r}: a part of that path is a file, not a folder"
    if exc.errno == errno.EEXIST:
        return f"cannot {action} {where!r}: a file of that name is in the way"
    if exc.errno == errno.ENAMETOOLONG:
        return f"cannot {action} {where!r}: the name is too long for the file system"
    return f"cannot {action} {where!r}: {exc.strerror or exc}"


def exists(path: str | Path) -> bool:
    """``Path.exists`` that answers False, not an exception, for a path that cannot be looked up (name too long)."""
    try:
        return Path(path).exists()
    except OSError:
        return False


def ensure_folder(path: str | Path, what: str = "folder", create: bool = True) -> Path:
    """Creates folder ``path`` (and parents) or raises :class:`RunFolderError` naming it and why not.

    Args:
        path: The folder.
        what: What the folder is, for the message ("export folder", "run.logdir", ...).
        create: False only checks that it exists or could be created (nothing is written).
    """
    path = Path(path)
    try:
        return _ensure_folder(path, what, create)
    except RunFolderError:
        raise
    except OSError as exc:  # e.g. a name too long to even look up
        raise RunFolderError(describe_os_error(exc, path, f"create the {what}")) from None


def _ensure_folder(path: Path, what: str, create: bool) -> Path:
    if path.exists() and not path.is_dir():
        raise RunFolderError(f"{what} {str(path)!r} is a file, not a folder")
    if not create:
        existing = next(p for p in (path, *path.parents) if p.exists() or p == p.parent)
        if not existing.is_dir():
            raise RunFolderError(f"cannot create the {what} {str(path)!r}: {str(existing)!r} is a file, not a folder")
        if not os.access(existing, os.W_OK | os.X_OK):
            raise RunFolderError(f"cannot create the {what} {str(path)!r}: permission denied for this user")
        return path
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunFolderError(describe_os_error(exc, path, f"create the {what}")) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise RunFolderError(f"cannot write into the {what} {str(path)!r}: permission denied for this user")
    return path


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def remove_orphans(folder: str | Path) -> list[Path]:
    """Deletes temporary files that killed writers left in ``folder``; returns what was removed.

    A file counts as orphaned when the process that made it is gone (or, for names without a process
    id, when it is older than ten minutes); errors are ignored (another process may be cleaning too).
    """
    removed = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    now = time.time()
    for p in folder.glob(".*.tmp*"):
        m = _TMP_RE.match(p.name)
        if m is None or not p.is_file():
            continue
        try:
            if m.group(1) is not None:
                if int(m.group(1)) == os.getpid() or _pid_alive(int(m.group(1))):
                    continue
            elif now - p.stat().st_mtime < _LEGACY_ORPHAN_AGE_S:
                continue
            p.unlink()
            removed.append(p)
        except OSError:
            continue
    return removed


def temp_path_for(target: Path, suffix: str = "") -> Path:
    """A fresh hidden name next to ``target`` that :func:`remove_orphans` recognises."""
    return target.with_name(f".{target.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp{suffix}")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_files(targets: list[Path], suffix: str = "") -> Iterator[list[Path]]:
    """Yields one temporary path per target; on success renames them all over their targets.

    The caller writes each temporary file (by path, so any writer works: ``torch.save``, ONNX, ffmpeg).
    The files get :func:`normal_file_mode`, are flushed to disk, then renamed together, so on an error
    no target is touched and no temporary file stays behind.

    Args:
        targets: Final paths; their folders must exist (see :func:`ensure_folder`).
        suffix: Appended to each temporary name (writers that pick a format by extension need it).

    Raises:
        RunFolderError: A target is a folder, or a folder cannot be written; the message names the path.
    """
    for t in targets:
        if t.is_dir():
            raise RunFolderError(f"cannot write {str(t)!r}: a folder of that name is in the way")
    tmps = [temp_path_for(t, suffix) for t in targets]
    try:
        try:
            yield tmps
            mode = normal_file_mode()
            for tmp in tmps:
                if not tmp.is_file():
                    raise RunFolderError(f"the writer of {str(tmp)!r} produced no file")
                os.chmod(tmp, mode)  # writers that use mkstemp-style 0600 files would keep that mode
                _fsync(tmp)
            for tmp, target in zip(tmps, targets, strict=True):
                os.replace(tmp, target)
        except RunFolderError:
            raise
        except OSError as exc:
            failed = Path(exc.filename) if getattr(exc, "filename", None) else targets[0].parent
            failed = dict(zip(tmps, targets, strict=True)).get(failed, failed)  # name the file the user asked for
            raise RunFolderError(describe_os_error(exc, failed, "write")) from None
    finally:
        for tmp in tmps:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
