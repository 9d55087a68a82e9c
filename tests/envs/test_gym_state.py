"""Exact save/restore of Gymnasium environments: bit-identical continuation, across worker settings, validation."""

from __future__ import annotations

import io

import pytest
import torch

gym = pytest.importorskip("gymnasium")
pytest.importorskip("mujoco")

from genpo.envs import GymVecEnv  # noqa: E402

N = 3
K, M = 13, 30  # steps before the save, steps compared after it

# InvertedPendulum ends episodes often under random actions; the others hit the short time limit. Ant reads
# MuJoCo's derived quantities (torso xpos) before stepping: it fails unless those are restored too.
CASES = [
    ("InvertedPendulum-v5", {}),
    ("HalfCheetah-v5", {"max_episode_steps": 10}),
    ("Ant-v5", {"max_episode_steps": 10}),
    ("Pendulum-v1", {"max_episode_steps": 10}),
]


def _actions(action_dim: int, count: int) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return [torch.rand(N, action_dim, generator=gen) * 2.4 - 1.2 for _ in range(count)]  # some get clipped


def _rollout(env: GymVecEnv, actions: list[torch.Tensor]) -> list[tuple[torch.Tensor, ...]]:
    rows = []
    for a in actions:
        obs, reward, terminated, truncated, extras = env.step(a)
        ep = extras["episode"]
        rows.append((obs, reward, terminated, truncated, extras["final_observation"], ep["return"], ep["length"]))
    return rows


def _round_trip(state: dict) -> dict:
    """Through torch.save / torch.load(weights_only=True), as a checkpoint would."""
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


def _assert_identical(expected: list, got: list) -> None:
    for step, (e, g) in enumerate(zip(expected, got, strict=True)):
        for name, a, b in zip(
            ("obs", "reward", "terminated", "truncated", "final_obs", "ret", "len"), e, g, strict=True
        ):
            assert a.dtype == b.dtype and torch.equal(a, b), f"{name} differs {step} steps after the restore"


@pytest.mark.parametrize(("task", "options"), CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize(("save_workers", "load_workers"), [(0, 0), (2, 2), (0, 2), (2, 0)])
def test_restore_continues_bit_identically(task, options, save_workers, load_workers):
    with GymVecEnv(task, N, seed=5, workers=save_workers, **options) as env:
        actions = _actions(env.action_dim, K + M)
        _rollout(env, actions[:K])
        state = _round_trip(env.state_dict())
        obs_at_save = env._buffers["obs"].copy()
        expected = _rollout(env, actions[K:])
    assert sum(row[5].numel() for row in expected) >= 2, "the comparison should cross episode ends"
    # Another seed: nothing of the fresh env's own start may leak into the continuation.
    with GymVecEnv(task, N, seed=123, workers=load_workers, **options) as fresh:
        fresh.load_state_dict(state)
        assert (fresh._buffers["obs"] == obs_at_save).all()
        got = _rollout(fresh, actions[K:])
    _assert_identical(expected, got)


def test_state_before_the_first_step_restores_the_first_reset():
    with GymVecEnv("Pendulum-v1", N, seed=5, workers=0) as env:
        env.reset()
        state = env.state_dict()
        expected = _rollout(env, _actions(env.action_dim, 5))
    with GymVecEnv("Pendulum-v1", N, seed=9, workers=0) as fresh:
        fresh.load_state_dict(state)
        _assert_identical(expected, _rollout(fresh, _actions(fresh.action_dim, 5)))


def test_mismatched_states_are_refused_without_changes():
    with GymVecEnv("InvertedPendulum-v5", N, seed=0, workers=0) as env:
        env.step(torch.zeros(N, 1))
        state = env.state_dict()
    with GymVecEnv("InvertedPendulum-v5", N + 1, seed=0, workers=0) as other:
        with pytest.raises(ValueError, match="holds 3 sub-environments"):
            other.load_state_dict(state)
    with GymVecEnv("Pendulum-v1", N, seed=0, workers=0) as other:
        with pytest.raises(ValueError, match="saved from 'gym:InvertedPendulum-v5'"):
            other.load_state_dict(state)
    with GymVecEnv("InvertedPendulum-v5", N, seed=0, workers=0, max_episode_steps=7) as other:
        with pytest.raises(ValueError, match="time limit"):
            other.load_state_dict(state)
    with GymVecEnv("InvertedPendulum-v5", N, seed=0, workers=2) as target:
        obs, _ = target.reset()
        broken = dict(state, envs=dict(state["envs"], physics=state["envs"]["physics"][:, :-1]))
        with pytest.raises(ValueError, match="sub-environment 0: MuJoCo state of shape"):
            target.load_state_dict(broken)
        with pytest.raises(ValueError, match="not a Gymnasium environment state"):
            target.load_state_dict({"pos": torch.zeros(3)})
        # Refused before anything changed: the workers still run and the envs are where they were.
        assert torch.equal(torch.from_numpy(target._buffers["obs"]).float(), obs)
        target.step(torch.zeros(N, 1))


class _CounterEnv(gym.Env):
    """A custom task: its Python-level state is unknown to genpo."""

    def __init__(self) -> None:
        self.action_space = gym.spaces.Box(-1.0, 1.0, (1,))
        self.observation_space = gym.spaces.Box(-float("inf"), float("inf"), (1,))
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return torch.zeros(1).numpy(), {}

    def step(self, action):
        self.t += 1
        return torch.full((1,), float(self.t)).numpy(), 0.0, False, False, {}


COUNTER = "GenpoTest/Counter-v0"
if COUNTER not in gym.registry:
    gym.register(COUNTER, entry_point=_CounterEnv, max_episode_steps=5)


def test_unsupported_task_raises_not_implemented():
    with GymVecEnv(COUNTER, 2, seed=0, workers=0) as env:
        env.step(torch.zeros(2, 1))
        with pytest.raises(NotImplementedError, match=r"gym:GenpoTest/Counter-v0 cannot save its state.*_CounterEnv"):
            env.state_dict()
