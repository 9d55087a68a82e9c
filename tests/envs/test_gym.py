"""The Gymnasium backend: interface, auto-reset, truncation, episode stats, clipping, workers, errors."""

from __future__ import annotations

import gc
import os
import signal
import time

import numpy as np
import pytest
import torch

gym = pytest.importorskip("gymnasium")
pytest.importorskip("mujoco")

from genpo.envs import GymVecEnv, make_env  # noqa: E402
from genpo.envs.gym import auto_workers  # noqa: E402


class _EchoEnv(gym.Env):
    """Observes the action it received; reward = its first entry. Options trigger failures for tests."""

    def __init__(
        self,
        dim: int = 3,
        bounded: bool = True,
        crash_at: int | None = None,
        hang_at: int | None = None,
        obs_shape: tuple[int, ...] | None = None,
        dict_obs: bool = False,
        only_in_pid: int | None = None,
    ) -> None:
        if only_in_pid is not None and os.getpid() != only_in_pid:
            raise RuntimeError("echo env refuses to start in a worker")
        bound = 1.0 if bounded else np.inf
        self.action_space = gym.spaces.Box(-bound, bound, (dim,), np.float64)
        box = gym.spaces.Box(-np.inf, np.inf, obs_shape or (dim,), np.float64)
        self.observation_space = gym.spaces.Dict({"x": box}) if dict_obs else box
        self.crash_at, self.hang_at, self.t = crash_at, hang_at, 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self.np_random.uniform(-1, 1, self.action_space.shape), {}

    def step(self, action):
        self.t += 1
        if self.t == self.crash_at:
            raise RuntimeError("echo env exploded")
        if self.t == self.hang_at:
            time.sleep(60)
        action = np.array(action, dtype=np.float64)
        return action, float(action[0]), False, False, {}


ECHO = "GenpoTest/Echo-v0"
if ECHO not in gym.registry:
    gym.register(ECHO, entry_point=_EchoEnv, max_episode_steps=50)


def _alive(pid: int) -> bool:
    return os.path.exists(f"/proc/{pid}")  # a zombie still has an entry: this also checks reaping


def _rollout(env, actions):
    out = [env.reset()[0]]
    for a in actions:
        obs, rew, term, trunc, extras = env.step(a)
        out += [obs, rew, term, trunc, extras["final_observation"], extras["episode"]["return"]]
        out += [extras["episode"]["length"]]
    return out


# ---------------------------------------------------------------- interface


@pytest.mark.parametrize(
    ("task", "obs_dim", "act_dim", "bound"), [("HalfCheetah-v5", 17, 6, 1.0), ("InvertedPendulum-v5", 4, 1, 3.0)]
)
def test_shapes_and_dtypes(task, obs_dim, act_dim, bound):
    with make_env(task, 3, seed=0, workers=0) as env:
        assert isinstance(env, GymVecEnv)
        assert (env.num_envs, env.observation_dim, env.action_dim) == (3, obs_dim, act_dim)
        assert env.env_id == f"gym:{task}" and env.max_episode_length == 1000 and env.critic_observation_dim is None
        assert env.device == torch.device("cpu")
        assert torch.equal(env.action_low, torch.full((act_dim,), -bound))
        assert torch.equal(env.action_high, torch.full((act_dim,), bound))
        obs, extras = env.reset()
        assert obs.shape == (3, obs_dim) and obs.dtype == torch.float32 and isinstance(extras, dict)
        obs, rew, term, trunc, extras = env.step(torch.zeros(3, act_dim))
        assert obs.shape == (3, obs_dim) and obs.dtype == torch.float32
        assert rew.shape == (3,) and rew.dtype == torch.float32
        assert term.shape == trunc.shape == (3,) and term.dtype == trunc.dtype == torch.bool
        assert extras["final_observation"].shape == (3, obs_dim)
        assert extras["final_observation"].dtype == torch.float32
        assert set(extras["episode"]) == {"return", "length"}
        with pytest.raises(ValueError, match="shape"):
            env.step(torch.zeros(3, act_dim + 1))


def test_step_before_reset_resets_with_the_constructor_seed():
    with make_env("HalfCheetah-v5", 2, seed=5, workers=0) as a, make_env("HalfCheetah-v5", 2, seed=5, workers=0) as b:
        a.reset()
        act = torch.zeros(2, 6)
        assert torch.equal(a.step(act)[0], b.step(act)[0])


def test_reset_seed_is_reproducible_and_per_env():
    with make_env("HalfCheetah-v5", 3, workers=0) as env:
        first = env.reset(seed=7)[0]
        env.step(torch.zeros(3, 6))
        assert torch.equal(env.reset(seed=7)[0], first)
        assert not torch.equal(first[0], first[1])
    with make_env("HalfCheetah-v5", 1, workers=0) as one:
        assert torch.equal(one.reset(seed=8)[0][0], first[1])  # sub-env i gets seed + i


# ------------------------------------------------------- semantics vs Gymnasium


@pytest.mark.parametrize("workers", [0, 2])
def test_auto_reset_final_observation_and_clipping_match_gymnasium(workers):
    n, seed, steps = 3, 11, 40
    gen = torch.Generator().manual_seed(0)
    # Actions beyond the bounds (+-3) make the pendulum fall within a few steps; env 2 acts randomly.
    actions = [torch.tensor([[10.0], [-10.0], [float(torch.randn(1, generator=gen)) * 5]]) for _ in range(steps)]
    refs = [gym.make("InvertedPendulum-v5") for _ in range(n)]
    ref_obs = [r.reset(seed=seed + i)[0] for i, r in enumerate(refs)]
    f32 = lambda x: torch.as_tensor(np.asarray(x)).float()  # noqa: E731
    returns, lengths, ended = [0.0] * n, [0] * n, 0
    with make_env("InvertedPendulum-v5", n, seed=seed, workers=workers) as env:
        obs, _ = env.reset()
        assert torch.equal(obs, torch.stack([f32(o) for o in ref_obs]))
        for a in actions:
            a_before = a.clone()
            obs, rew, term, trunc, extras = env.step(a)
            assert torch.equal(a, a_before)  # the caller's tensor is not clipped in place
            done_returns, done_lengths = [], []
            for i, r in enumerate(refs):
                clipped = np.clip(a[i].numpy(), -3.0, 3.0).astype(np.float32)
                o, rw, te, tr, _ = r.step(clipped)
                returns[i] += rw
                lengths[i] += 1
                assert torch.equal(extras["final_observation"][i], f32(o))
                assert rew[i].item() == np.float32(rw)
                assert (bool(term[i]), bool(trunc[i])) == (te, tr)
                if te or tr:
                    done_returns.append(returns[i])
                    done_lengths.append(lengths[i])
                    returns[i], lengths[i] = 0.0, 0
                    o, _ = r.reset()
                    ended += 1
                assert torch.equal(obs[i], f32(o))
            assert extras["episode"]["length"].tolist() == done_lengths
            assert torch.allclose(extras["episode"]["return"], torch.tensor(done_returns), rtol=1e-6)
    assert ended >= 4  # several auto-resets happened


def test_truncation_sets_truncated_not_terminated_and_episode_stats():
    n, limit, seed = 2, 4, 3
    gen = torch.Generator().manual_seed(1)
    refs = [gym.make("HalfCheetah-v5") for _ in range(n)]
    for i, r in enumerate(refs):
        r.reset(seed=seed + i)
    with make_env("HalfCheetah-v5", n, seed=seed, workers=0, max_episode_steps=limit) as env:
        assert env.max_episode_length == limit
        env.reset()
        sums = np.zeros(n)
        for t in range(1, 2 * limit + 1):
            a = torch.rand(n, 6, generator=gen) * 2 - 1
            _, _, term, trunc, extras = env.step(a)
            sums += [r.step(a[i].numpy())[1] for i, r in enumerate(refs)]
            assert not term.any()
            if t % limit == 0:
                assert trunc.all()
                assert extras["episode"]["length"].tolist() == [limit] * n
                assert torch.allclose(extras["episode"]["return"], torch.tensor(sums, dtype=torch.float32), rtol=1e-6)
                sums[:] = 0.0
                for r in refs:
                    r.reset()
            else:
                assert not trunc.any() and extras["episode"]["length"].numel() == 0


def test_clipping_nonfinite_passthrough_and_unbounded_actions():
    with make_env(ECHO, 2, seed=0, workers=0) as env:
        a = torch.tensor([[5.0, -5.0, 0.25], [float("nan"), 0.5, -0.5]])
        obs, rew, *_ = env.step(a)
        assert torch.equal(obs[0], torch.tensor([1.0, -1.0, 0.25]))
        assert torch.isnan(obs[1, 0]) and torch.isnan(rew[1])  # not hidden: the trainer checks
    with make_env(ECHO, 1, seed=0, workers=0, bounded=False) as env:
        assert env.action_low is None and env.action_high is None
        obs, rew, *_ = env.step(torch.tensor([[float("inf"), 1e30, 1 / 3]], dtype=torch.float64))
        assert obs[0, 0] == float("inf") and rew[0] == float("inf")
        assert obs[0, 1] == torch.tensor(1e30, dtype=torch.float64).float()
        assert obs[0, 2] == torch.tensor(1 / 3, dtype=torch.float64).float()  # one exact rounding


def test_env_kwargs_reach_the_constructor():
    act = torch.ones(1, 6)
    with make_env("HalfCheetah-v5", 1, seed=0, workers=0) as a:
        r_default = a.step(act)[1]
    with make_env("HalfCheetah-v5", 1, seed=0, workers=0, env_kwargs={"ctrl_cost_weight": 0.0}) as b:
        r_free = b.step(act)[1]
    assert torch.allclose(r_free - r_default, torch.tensor([0.6]), atol=1e-5)  # 0.1 * sum(1^2 over 6 joints)


# ------------------------------------------------------------------- workers


def test_workers_give_identical_trajectories():
    gen = torch.Generator().manual_seed(2)
    actions = [torch.rand(5, 6, generator=gen) * 2.4 - 1.2 for _ in range(15)]
    kw = {"seed": 3, "max_episode_steps": 6}
    with make_env("HalfCheetah-v5", 5, workers=0, **kw) as e0:
        reference = _rollout(e0, actions)
    # 2 processes (this one + 1 worker, blocks 3/2) and 3 worker processes (blocks 2/2/1).
    for options in ({"workers": 2}, {"workers": 3, "parent_steps": False}):
        with make_env("HalfCheetah-v5", 5, **kw, **options) as env:
            assert len(env.worker_pids) == options["workers"] - options.get("parent_steps", True)
            for x, y in zip(reference, _rollout(env, actions), strict=True):
                assert torch.equal(x, y)


def test_close_reaps_workers_and_is_idempotent():
    env = make_env("HalfCheetah-v5", 3, seed=0, workers=2, parent_steps=False)
    pids = env.worker_pids
    assert len(pids) == 2 and all(_alive(p) for p in pids)
    env.close()
    env.close()
    assert not any(_alive(p) for p in pids)
    with pytest.raises(RuntimeError, match="closed"):
        env.step(torch.zeros(3, 6))


def test_garbage_collection_stops_workers():
    env = make_env("HalfCheetah-v5", 2, seed=0, workers=2)
    pids = env.worker_pids
    del env
    gc.collect()
    assert not any(_alive(p) for p in pids)


def test_killed_worker_raises_runtime_error_and_shuts_down_the_rest():
    env = make_env("HalfCheetah-v5", 6, seed=0, workers=3)
    env.reset()
    pids = env.worker_pids
    os.kill(pids[1], signal.SIGKILL)
    with pytest.raises(RuntimeError, match=r"worker 1 .*killed by signal 9"):
        env.step(torch.zeros(6, 6))
    assert not any(_alive(p) for p in pids)
    with pytest.raises(RuntimeError, match="closed"):
        env.step(torch.zeros(6, 6))


@pytest.mark.parametrize("parent_steps", [False, True])
def test_env_exception_surfaces_and_stops_the_workers(parent_steps):
    env = make_env(ECHO, 2, seed=0, workers=2, parent_steps=parent_steps, crash_at=2)
    pids = env.worker_pids
    env.step(torch.zeros(2, 3))
    with pytest.raises(RuntimeError, match="echo env exploded"):
        env.step(torch.zeros(2, 3))
    assert not any(_alive(p) for p in pids)


def test_hung_worker_times_out():
    env = make_env(ECHO, 2, seed=0, workers=2, parent_steps=False, hang_at=1, timeout=1.0)
    pids = env.worker_pids
    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match="did not answer within 1 s"):
        env.step(torch.zeros(2, 3))
    assert time.monotonic() - t0 < 10
    assert not any(_alive(p) for p in pids)


def test_crash_while_building_envs_is_reported():
    with pytest.raises(RuntimeError, match=r"(?s)while starting.*refuses to start in a worker"):
        make_env(ECHO, 2, workers=2, only_in_pid=os.getpid())


def test_auto_workers_rule():
    assert auto_workers(16, cpus=1, load=0.0) == 0
    assert auto_workers(4, cpus=2, load=0.0) == 0  # < 4 envs per process
    assert auto_workers(8, cpus=2, load=0.2) == 2  # an idle 2-core machine
    assert auto_workers(64, cpus=2, load=0.4) == 2
    assert auto_workers(16, cpus=2, load=1.0) == 0  # a core is busy elsewhere: workers measured slower
    assert auto_workers(16, cpus=16, load=1.0) == 4
    assert auto_workers(256, cpus=16, load=5.2) == 11
    with make_env("InvertedPendulum-v5", 2, workers="auto") as env:
        assert env.workers == 0
    with make_env("InvertedPendulum-v5", 2, workers=5) as env:
        assert env.workers == 2  # capped at num_envs


# -------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("env_id", "pattern"),
    [
        ("HalfCheetah-v9", r"'HalfCheetah-v9'.*did you mean 'HalfCheetah-v5'"),
        ("gym:halfcheetah-v5", r"'halfcheetah-v5'.*did you mean 'HalfCheetah-v5'"),
        ("HalfCheetah", r"did you mean 'HalfCheetah-v5'"),
        ("gym:NoSuchTaskAtAll-v0", r"unknown Gymnasium environment 'NoSuchTaskAtAll-v0'"),
        ("HalfCheetah-v2", r"cannot create gym:HalfCheetah-v2"),
        ("gym:no_such_module_xyz:Thing-v0", "cannot import module 'no_such_module_xyz'"),
    ],
)
@pytest.mark.filterwarnings("ignore:.*out of date:DeprecationWarning")
def test_bad_ids_raise_value_error(env_id, pattern):
    with pytest.raises(ValueError, match=pattern):
        make_env(env_id, 1)


@pytest.mark.parametrize(
    ("env_id", "options", "pattern"),
    [
        ("CartPole-v1", {}, "continuous"),
        (ECHO, {"obs_shape": (2, 3)}, "flat"),
        (ECHO, {"dict_obs": True}, "flat Box observations"),
        ("HalfCheetah-v5", {"no_such_option": 1}, "no_such_option"),
        ("HalfCheetah-v5", {"workers": -1}, "workers"),
        ("HalfCheetah-v5", {"workers": "many"}, "workers"),
        ("HalfCheetah-v5", {"max_episode_steps": 0}, "max_episode_steps"),
        ("HalfCheetah-v5", {"seed": -1}, "seed"),
        ("HalfCheetah-v5", {"start_method": "teleport"}, "start_method"),
        ("HalfCheetah-v5", {"timeout": 0}, "timeout"),
    ],
)
def test_bad_spaces_and_options_raise_value_error(env_id, options, pattern):
    with pytest.raises(ValueError, match=pattern):
        make_env(env_id, 1, **options)


@pytest.mark.parametrize("num_envs", [0, -2, 2.0, True, "4"])
def test_bad_num_envs(num_envs):
    with pytest.raises(ValueError, match="num_envs"):
        make_env("HalfCheetah-v5", num_envs)
    with pytest.raises(ValueError, match="num_envs"):
        GymVecEnv("HalfCheetah-v5", num_envs)
