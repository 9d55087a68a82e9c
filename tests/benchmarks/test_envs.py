"""Raw stepping throughput (``genpo bench env``): every combination timed, one-per-process backends included."""

from __future__ import annotations

import genpo.envs
from genpo.benchmarks.envs import measure_env_stepping
from genpo.envs.builtin import PointMassEnv


class _Singleton(PointMassEnv):
    """A PointMass that, like IsaacLab's simulation, refuses a second live instance in the process."""

    one_per_process = True
    live = 0

    def __init__(self, num_envs: int, **kwargs) -> None:
        if _Singleton.live:
            raise RuntimeError("one environment per process")
        _Singleton.live += 1
        super().__init__(num_envs, **kwargs)
        self.closed = False

    def close(self) -> None:
        if not self.closed:
            self.closed, _Singleton.live = True, _Singleton.live - 1


def test_a_one_per_process_backend_is_timed_one_environment_at_a_time(monkeypatch):
    made: list[_Singleton] = []

    def make(env_id, num_envs, *, seed=None, device="cpu", **options):
        made.append(_Singleton(num_envs))
        return made[-1]

    monkeypatch.setattr(genpo.envs, "make_env", make)
    rows = measure_env_stepping(["builtin:PointMass"], [2, 4], [0], seconds=0.02, repeats=2, warmup=2)
    assert [(r.env_id, r.num_envs) for r in rows] == [("builtin:PointMass", 2), ("builtin:PointMass", 4)]
    assert all(r.steps_per_s > 0 and r.quiet_steps_per_s > 0 and r.batch_steps >= 2 for r in rows)
    assert len(made) == 2 and all(env.closed for env in made) and _Singleton.live == 0


def test_other_backends_are_timed_round_robin_and_all_closed():
    rows = measure_env_stepping(["builtin:PointMass"], [2, 3], [0], seconds=0.02, repeats=2, warmup=2)
    assert [r.num_envs for r in rows] == [2, 3] and all(r.steps_per_s > 0 for r in rows)
