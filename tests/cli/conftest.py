"""Helpers to run the real ``genpo`` command in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

TINY = {
    "policy": {"hidden": [32, 32], "critic_hidden": [32, 32]},
    "algo": {"steps_per_env": 8, "num_epochs": 1, "num_minibatches": 2},
    "env": {"options": {}},
}


def run_genpo(*args: str, cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess:
    """Runs ``python -m genpo ARGS`` and returns the completed process (never raises on exit code)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "genpo", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture
def genpo_cli():
    """The :func:`run_genpo` runner, as a fixture."""
    return run_genpo


@pytest.fixture
def tiny_config(tmp_path: Path) -> Path:
    """A YAML config with small networks and a short rollout."""
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    return path
