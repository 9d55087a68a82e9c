"""One environment contract (``env_contract.py``) over every backend available here.

IsaacLab runs the same check inside its worker process
(``test_isaaclab.py::test_cartpole_direct_keeps_the_env_contract``).
"""

from __future__ import annotations

import pytest
from env_contract import contract_violations

from genpo.envs import make_env

CASES = [
    pytest.param("builtin:PointMass", {"episode_length": 10}, id="builtin-PointMass"),
    pytest.param("builtin:MultiGoal", {"episode_length": 10}, id="builtin-MultiGoal"),
    pytest.param("gym:InvertedPendulum-v5", {"workers": 0}, id="gym-InvertedPendulum-inprocess"),
    pytest.param("gym:Pendulum-v1", {"workers": 2, "max_episode_steps": 12}, id="gym-Pendulum-workers"),
    pytest.param("env_factories:make_point_mass", {}, id="dotted-user-factory"),
]


@pytest.mark.parametrize(("env_id", "options"), CASES)
def test_backend_keeps_the_env_contract(env_id, options):
    if env_id.startswith("gym:"):
        pytest.importorskip("gymnasium")
        if "InvertedPendulum" in env_id:
            pytest.importorskip("mujoco")
    violations = contract_violations(lambda: make_env(env_id, num_envs=3, seed=1, **options), steps=40)
    assert violations == []
