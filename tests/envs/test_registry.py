"""Environment ids, the backend registry and make_env's argument checks."""

from __future__ import annotations

import subprocess
import sys

import pytest

from genpo.envs import DEFAULT_BACKEND, ENV_BACKENDS, make_env, parse_env_id


def test_gym_backend_is_registered_and_default():
    assert "gym" in ENV_BACKENDS and DEFAULT_BACKEND == "gym"
    assert ENV_BACKENDS.entries()[ENV_BACKENDS.names().index("gym")].description


@pytest.mark.parametrize(
    ("env_id", "expected"),
    [
        ("HalfCheetah-v5", ("gym", "HalfCheetah-v5")),
        ("gym:HalfCheetah-v5", ("gym", "HalfCheetah-v5")),
        ("gym:my_pkg.envs:Thing-v0", ("gym", "my_pkg.envs:Thing-v0")),
    ],
)
def test_parse_env_id(env_id, expected):
    assert parse_env_id(env_id) == expected


@pytest.mark.parametrize(
    ("env_id", "pattern"),
    [("", "non-empty"), ("   ", "non-empty"), (None, "non-empty"), ("nope:Task", "unknown environment backend 'nope'")],
)
def test_parse_env_id_errors(env_id, pattern):
    with pytest.raises(ValueError, match=pattern):
        parse_env_id(env_id)


def test_parse_env_id_needs_a_task():
    with pytest.raises(ValueError, match="names no task"):
        parse_env_id("gym:")


@pytest.mark.parametrize("num_envs", [0, -1, 1.5, True, None])
def test_make_env_rejects_bad_num_envs(num_envs):
    with pytest.raises(ValueError, match="num_envs"):
        make_env("HalfCheetah-v5", num_envs)


@pytest.mark.parametrize("env_id", ["HalfCheetah-v5", "gym:HalfCheetah-v5"])
def test_make_env_bare_and_prefixed_ids(env_id):
    pytest.importorskip("gymnasium")
    pytest.importorskip("mujoco")
    with make_env(env_id, 2, seed=0, workers=0) as env:
        assert env.env_id == "gym:HalfCheetah-v5" and env.num_envs == 2
        assert env.reset()[0].shape == (2, 17)


def test_importing_genpo_does_not_import_gymnasium():
    code = "import sys, genpo, genpo.envs; assert 'gymnasium' not in sys.modules, 'gymnasium imported eagerly'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
