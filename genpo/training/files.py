"""Writing files a user keeps (checkpoints, exports, videos, tables): atomic, normal permissions, clear errors.

Every such file is written to a hidden temporary file in its destination folder, flushed to disk and
renamed over the target, so a crash leaves either the old file or the new one, never half of one. The
temporary name records the writer's process id, so a later writer can remove the leftovers of a killed
one (``.model_50.pt.<pid>-<random>.tmp``) without touching a live writer's file.

:func:`disk_error` is the one place that reads a failed write as a failure of the file system itself (no
space, a quota, a read-only file system, a file-size limit, a folder removed while a command ran) and
turns it into a :class:`~genpo.errors.DiskError` naming the file and the cause in plain words. Writers that
lose the operating system's error on the way (torch's zip writer raises ``RuntimeError: basic_ios::clear``)
are read by looking at the folder: gone, read-only, or full.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import resource
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

from genpo.errors import DiskError, RunFolderError

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


# Failures of the file system, not of the path the user chose: a DiskError (exit 1, the input was fine).
DISK_CAUSES: dict[int, str] = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EROFS: "the file system is read-only",
    errno.EFBIG: "the file would exceed the file-size limit (ulimit -f) or the file system's largest file",
    errno.EIO: "an input/output error on the device",
}
# What writers that drop the OSError say when a write failed (torch's zip writer, given a path).
_WRITE_FAILED_RE = re.compile(
    r"iostream error|unexpected pos|PytorchStreamWriter failed|file write failed|Parent directory .* does not exist"
    r"|No space left|Read-only file system|quota exceeded|File too large",
    re.IGNORECASE,
)
# A folder with less free space than this after a failed write counts as full.
FULL_BELOW_BYTES = 1 << 20


def describe_os_error(exc: OSError, path: str | Path, action: str) -> str:
    """A one-line message for an ``OSError`` raised while ``action`` (e.g. "write") on ``path``."""
    where = str(path)
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"cannot {action} {where!r}: permission denied for this user"
    if exc.errno in DISK_CAUSES:
        return f"cannot {action} {where!r}: {DISK_CAUSES[exc.errno]}"
    if exc.errno == errno.ENOTDIR:
        return f"cannot {action} {where!r}: a part of that path is a file, not a folder"
    if exc.errno == errno.EEXIST:
        return f"cannot {action} {where!r}: a file of that name is in the way"
    if exc.errno == errno.ENAMETOOLONG:
        return f"cannot {action} {where!r}: the name is too long for the file system"
    return f"cannot {action} {where!r}: {exc.strerror or exc}"


def format_bytes(n: float) -> str:
    """``1.5 MB``-style size (powers of 1000, as ``df -H``)."""
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every exception it was raised from or during (``__cause__``, ``__context__``)."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo += [e.__cause__, e.__context__]


def existing_folder(path: str | Path) -> Path:
    """``path`` itself if it is a folder, else its nearest ancestor that exists (``/`` at worst)."""
    path = Path(path).absolute()
    return next(p for p in (path, *path.parents) if exists(p) or p == p.parent)


def removed_folder(path: str | Path) -> Path | None:
    """The outermost missing folder above file ``path`` (the one that was removed), or None if its folder exists."""
    folder = Path(path).absolute().parent
    if exists(folder):
        return None
    gone = folder
    for p in folder.parents:
        if exists(p):
            break
        gone = p
    return gone


def read_only(folder: str | Path) -> bool:
    """Whether the file system holding ``folder`` (or its nearest existing ancestor) is mounted read-only."""
    try:
        return bool(os.statvfs(existing_folder(folder)).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def free_bytes(folder: str | Path) -> int:
    """Bytes this process may still write on the file system of ``folder`` (root may use the reserve)."""
    st = os.statvfs(existing_folder(folder))
    blocks = st.f_bfree if os.geteuid() == 0 else st.f_bavail
    return blocks * st.f_frsize


def file_size_limit() -> int | None:
    """This process's file-size limit (``ulimit -f``) in bytes, or None when there is none."""
    soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    return None if soft == resource.RLIM_INFINITY else int(soft)


def _probe(path: Path, written: Path | None) -> str | None:
    """Why a write into ``path``'s folder failed, read from the folder, when the writer did not say."""
    gone = removed_folder(path)
    if gone is not None:
        return f"the folder {str(gone)!r} was removed while genpo was writing into it"
    if read_only(path.parent):
        return DISK_CAUSES[errno.EROFS]
    try:
        if free_bytes(path.parent) < FULL_BELOW_BYTES:
            return DISK_CAUSES[errno.ENOSPC]
    except OSError:
        pass
    limit = file_size_limit()
    if limit is not None and written is not None:
        with contextlib.suppress(OSError):
            if written.stat().st_size >= limit - min(65536, limit // 16):  # it stopped at the limit
                return f"the file would exceed the file-size limit (ulimit -f) of {format_bytes(limit)}"
    return None


def disk_cause(exc: BaseException, path: str | Path, written: str | Path | None = None) -> str | None:
    """The plain-words cause when ``exc`` is the file system failing a write into ``path``, else None.

    Reads the ``OSError`` in ``exc``'s chain (``ENOSPC``, ``EDQUOT``, ``EROFS``, ``EFBIG``, ``EIO``, or
    ``ENOENT`` because the folder is gone); for writers that drop it (a ``RuntimeError`` saying the write
    failed) it looks at the folder: removed, read-only, or full, or ``written`` (the file being written)
    at the file-size limit. Any other error (a permission, a bug) gives None.

    Args:
        exc: What the writer raised.
        path: The file the user asked for (named in messages).
        written: The file actually being written (a temporary file), when it differs.
    """
    path = Path(path)
    io_failure = False
    for e in _chain(exc):
        if isinstance(e, OSError):
            if e.errno in DISK_CAUSES:
                return DISK_CAUSES[e.errno]
            ours = e.filename is None or str(e.filename) in (str(path), str(written))
            if e.errno == errno.ENOENT and ours:  # not, say, a missing program the writer runs
                gone = removed_folder(path)
                if gone is not None:
                    return f"the folder {str(gone)!r} was removed while genpo was writing into it"
                if written is None and e.filename is not None and not exists(path):
                    return "the file was removed while genpo was writing it"
            io_failure = io_failure or (ours and e.errno in (errno.ENOENT, errno.EBADF, None))
        elif isinstance(e, RuntimeError) and _WRITE_FAILED_RE.search(str(e)):
            io_failure = True
    return _probe(path, Path(written) if written is not None else None) if io_failure else None


def disk_error(
    exc: BaseException, path: str | Path, written: str | Path | None = None, action: str = "write"
) -> DiskError | None:
    """A :class:`~genpo.errors.DiskError` naming ``path`` when :func:`disk_cause` finds a cause, else None.

    The caller raises it (``raise err from None``) and removes what it had partly written.
    """
    if isinstance(exc, DiskError):
        return exc
    cause = disk_cause(exc, path, written)
    return None if cause is None else DiskError(str(path), cause, action)


@contextlib.contextmanager
def disk_errors(path: str | Path, written: str | Path | None = None, action: str = "write") -> Iterator[None]:
    """Turns a file-system failure inside the block into a :class:`~genpo.errors.DiskError` naming ``path``.

    Other errors pass through unchanged. The block's own partial file is the caller's to remove.
    """
    try:
        yield
    except DiskError:
        raise
    except Exception as exc:
        err = disk_error(exc, path, written, action)
        if err is None:
            raise
        raise err from None


def check_free_space(folder: str | Path, needed: int, what: str) -> None:
    """Refuses to start when ``folder``'s file system clearly cannot hold ``needed`` bytes, or one file of them.

    Args:
        folder: Where the files will go (need not exist yet: its nearest existing ancestor is measured).
        needed: Bytes the command will need at least (an honest lower bound, not a guess of the total).
        what: What needs them, for the message ("two checkpoints, about 1.0 MB each").

    Raises:
        DiskError: Less free space than ``needed``, or a file-size limit below ``needed``.
    """
    try:
        free = free_bytes(folder)
    except OSError:
        return  # a folder that cannot be measured is reported by the writes themselves
    if free < needed:
        raise DiskError(
            str(folder),
            f"only {format_bytes(free)} free on its file system and at least {format_bytes(needed)} are needed "
            f"({what}); free some space or choose another folder",
            action="start writing into",
        )


def exists(path: str | Path) -> bool:
    """``Path.exists`` that answers False, not an exception, for a path that cannot be looked up (name too long)."""
    try:
        return Path(path).exists()
    except OSError:
        return False


def ensure_folder(path: str | Path, what: str = "folder", create: bool = True) -> Path:
    """Creates folder ``path`` (and parents) or raises :class:`~genpo.errors.RunFolderError` naming it and why not.

    Args:
        path: The folder.
        what: What the folder is, for the message ("export folder", "run.logdir", ...).
        create: False only checks that it exists or could be created (nothing is written).
    """
    path = Path(path)
    try:
        return _ensure_folder(path, what, create)
    except (RunFolderError, DiskError):
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
        if read_only(existing):
            raise DiskError(str(path), DISK_CAUSES[errno.EROFS], f"create the {what}")
        if not os.access(existing, os.W_OK | os.X_OK):
            raise RunFolderError(f"cannot create the {what} {str(path)!r}: permission denied for this user")
        return path
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if exc.errno in DISK_CAUSES:
            raise DiskError(str(path), DISK_CAUSES[exc.errno], f"create the {what}") from None
        raise RunFolderError(describe_os_error(exc, path, f"create the {what}")) from None
    if read_only(path):
        raise DiskError(str(path), DISK_CAUSES[errno.EROFS], f"write into the {what}")
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


def _being_written(tmps: list[Path], targets: list[Path]) -> tuple[Path, Path]:
    """The temporary file a writer was on when it failed (the last one that exists) and its target."""
    last = 0
    for i, tmp in enumerate(tmps):
        if exists(tmp):
            last = i
    return tmps[last], targets[last]


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Writes text or bytes to ``path`` through :func:`atomic_files` (its folder is created)."""
    path = Path(path)
    ensure_folder(path.parent, "folder")
    with atomic_files([path]) as (tmp,):
        if isinstance(data, bytes):
            tmp.write_bytes(data)
        else:
            tmp.write_text(data)
    return path


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
        DiskError: The file system failed the write (see :func:`disk_error`); the partial file is removed.
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
        except (RunFolderError, DiskError):
            raise
        except OSError as exc:
            failed = Path(exc.filename) if getattr(exc, "filename", None) else _being_written(tmps, targets)[1]
            failed = dict(zip(tmps, targets, strict=True)).get(failed, failed)  # name the file the user asked for
            err = disk_error(exc, failed, _being_written(tmps, targets)[0])
            if err is not None:
                raise err from None
            raise RunFolderError(describe_os_error(exc, failed, "write")) from None
        except Exception as exc:  # a writer that lost the OSError on the way (torch's zip writer)
            written, failed = _being_written(tmps, targets)
            err = disk_error(exc, failed, written)
            if err is not None:
                raise err from None
            raise
    finally:
        for tmp in tmps:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
