"""builtin:MultiGoal: the reward has the separated optimal modes it claims, and a poor mean action."""

from __future__ import annotations

import math

import pytest
import torch

from genpo.envs import make_env
from genpo.envs.multigoal import MultiGoalEnv


def first_step_rewards(env: MultiGoalEnv, actions: torch.Tensor) -> torch.Tensor:
    """Reward of each action taken from the start observation (one sub-env per action)."""
    probe = MultiGoalEnv(actions.shape[0], num_goals=env.goals.shape[0], sigma=env.sigma)
    probe.goals = env.goals
    probe.reset()
    return probe.step(actions)[1]


def local_maxima(values: torch.Tensor) -> list[tuple[int, int]]:
    """Grid points strictly above all 8 neighbours (interior points only)."""
    peaks = []
    for i in range(1, values.shape[0] - 1):
        for j in range(1, values.shape[1] - 1):
            window = values[i - 1 : i + 2, j - 1 : j + 2].flatten()
            if values[i, j] == window.max() and (window == values[i, j]).sum() == 1:
                peaks.append((i, j))
    return peaks


def test_reward_on_a_grid_of_actions_has_the_claimed_modes_and_a_poor_mean():
    env = MultiGoalEnv(1)
    n = 81  # spacing 0.025: the goals (+-0.6, 0), (0, +-0.6) lie on the grid
    axis = torch.linspace(-1, 1, n)
    ax, ay = torch.meshgrid(axis, axis, indexing="ij")
    grid = torch.stack([ax.flatten(), ay.flatten()], dim=-1)
    rewards = first_step_rewards(env, grid).reshape(n, n)
    peaks = local_maxima(rewards)
    peak_actions = torch.stack([torch.stack([axis[i], axis[j]]) for i, j in peaks])
    optima = env.optimal_actions()
    assert len(peaks) == len(optima) == 4
    # Every local maximum is one of the claimed optima, each optimum is one maximum, reward 1 there.
    dist = torch.cdist(peak_actions, optima)
    assert torch.allclose(dist.min(1).values, torch.zeros(4), atol=1e-6)
    assert sorted(dist.argmin(1).tolist()) == [0, 1, 2, 3]
    assert torch.allclose(rewards[tuple(zip(*peaks, strict=True))], torch.ones(4), atol=1e-6)
    # Separated: the reward halfway between two neighbouring optima is small.
    between = (optima[0] + optima[1]) / 2
    assert first_step_rewards(env, between[None])[0] < 0.15
    # The mean of the optimal actions (the origin) is poor.
    assert torch.allclose(optima.mean(0), torch.zeros(2), atol=1e-6)
    mean_reward = first_step_rewards(env, torch.zeros(1, 2))[0]
    assert mean_reward == pytest.approx(math.exp(-0.36 / 0.08), rel=1e-5)
    assert mean_reward < 0.02


def test_an_optimal_policy_earns_about_episode_length_and_standing_still_earns_little():
    env = make_env("builtin:MultiGoal", 4)
    obs, _ = env.reset(seed=0)
    assert torch.equal(obs, torch.zeros(4, 3))
    total = torch.zeros(4)
    first = env.optimal_actions()  # one goal per sub-env
    for t in range(env.max_episode_length):
        action = first if t == 0 else torch.zeros(4, 2)
        obs, reward, terminated, truncated, extras = env.step(action)
        total += reward
    assert truncated.all() and not terminated.any()
    assert torch.allclose(extras["episode"]["return"], torch.full((4,), 5.0))
    assert torch.allclose(obs, torch.zeros(4, 3))  # auto-reset to the start
    assert torch.allclose(extras["final_observation"][:, 2], torch.ones(4))


def test_state_round_trip_continues_exactly():
    env = MultiGoalEnv(3)
    env.reset()
    env.step(torch.tensor([[0.3, 0.1], [-0.5, 0.2], [0.0, 0.9]]))
    state = env.state_dict()
    a = torch.tensor([[0.1, 0.1], [0.2, -0.2], [0.5, 0.5]])
    expected = env.step(a)[1]
    other = MultiGoalEnv(3)
    other.load_state_dict(state)
    assert torch.equal(other.step(a)[1], expected)


@pytest.mark.parametrize(
    ("options", "pattern"),
    [
        ({"num_goals": 1}, "num_goals"),
        ({"radius": 1.5}, "radius"),
        ({"sigma": 0.5}, "sigma"),
        ({"episode_length": 0}, "episode_length"),
        ({"goals": 3}, "accepted: episode_length, num_goals, radius, sigma"),
    ],
)
def test_bad_options_are_refused_with_the_allowed_values(options, pattern):
    with pytest.raises(ValueError, match=pattern):
        make_env("builtin:MultiGoal", 2, **options)


def test_unknown_builtin_task_names_both():
    with pytest.raises(ValueError, match="PointMass, MultiGoal"):
        make_env("builtin:Nope", 1)
