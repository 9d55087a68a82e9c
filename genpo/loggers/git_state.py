"""The git state of the working directory, for writers that record it (:meth:`Writer.git`)."""

from __future__ import annotations

import subprocess
from pathlib import Path


def git_state(folder: Path | None = None) -> dict[str, str] | None:
    """``{"commit", "branch", "dirty"}`` of the git work tree holding ``folder`` (default: the working directory).

    ``dirty`` is ``"true"`` when tracked files differ from the commit. None when ``folder`` is not in a git
    work tree or git is not installed (nothing is raised: a run outside a repository logs no git state).
    """

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, timeout=10, check=False)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return None
    status = git("status", "--porcelain", "--untracked-files=no")
    return {
        "commit": commit,
        "branch": git("rev-parse", "--abbrev-ref", "HEAD") or "",
        "dirty": "unknown" if status is None else ("true" if status else "false"),
    }
