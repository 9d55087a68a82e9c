"""Demonstrations: validation, episode bookkeeping, the split by episodes, and the check against an environment."""

from __future__ import annotations

import warnings

import pytest
import torch

from genpo.data import Demonstrations, DemonstrationWarning, check_against_env
from genpo.errors import ConfigError


def _demos(episode_lengths: list[int], obs_dim: int = 3, action_dim: int = 2) -> Demonstrations:
    n = sum(episode_lengths)
    dones = torch.zeros(n, dtype=torch.bool)
    dones[torch.tensor(episode_lengths).cumsum(0) - 1] = True
    obs = torch.arange(n * obs_dim, dtype=torch.float32).reshape(n, obs_dim)
    act = torch.linspace(-0.5, 0.5, n * action_dim).reshape(n, action_dim)
    return Demonstrations.from_arrays(obs, act, dones=dones, rewards=torch.ones(n), source="test")


def test_episode_starts_follow_the_done_flags() -> None:
    d = _demos([3, 1, 4])
    assert d.episode_starts.tolist() == [True, False, False, True, True, False, False, False]
    assert d.num_episodes == 3 and len(d) == 8 and (d.obs_dim, d.action_dim) == (3, 2)
    assert d.episode_index().tolist() == [0, 0, 0, 1, 2, 2, 2, 2]
    assert d.episode_returns().tolist() == [3.0, 1.0, 4.0]


def test_no_flags_means_one_episode_and_1d_arrays_are_one_feature() -> None:
    d = Demonstrations.from_arrays([1.0, 2.0, 3.0], [[0.1], [0.2], [0.3]])
    assert d.num_episodes == 1 and d.observations.shape == (3, 1) and d.rewards is None and d.env_id is None


@pytest.mark.parametrize(
    ("kwargs", "phrase"),
    [
        ({"observations": torch.zeros(0, 3), "actions": torch.zeros(0, 2)}, "the dataset is empty"),
        ({"observations": torch.zeros(5, 3), "actions": torch.zeros(4, 2)}, "5 observations but 4 actions"),
        ({"observations": torch.zeros(4, 3), "actions": torch.zeros(4, 2), "rewards": torch.zeros(3)}, "3 rewards"),
        ({"observations": torch.zeros(4, 3, 2), "actions": torch.zeros(4, 2)}, "[rows, features]"),
    ],
)
def test_inconsistent_arrays_are_refused(kwargs: dict, phrase: str) -> None:
    with pytest.raises(ConfigError, match=None) as info:
        Demonstrations.from_arrays(**kwargs, source="d.npz")
    assert phrase in str(info.value) and str(info.value).startswith("d.npz")


@pytest.mark.parametrize("name", ["observations", "actions", "rewards"])
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_values_name_the_first_row(name: str, bad: float) -> None:
    arrays = {"observations": torch.zeros(6, 3), "actions": torch.zeros(6, 2), "rewards": torch.zeros(6)}
    arrays[name][4] = bad
    arrays[name][5] = bad
    with pytest.raises(ConfigError, match=f"{name} contain NaN or inf, first at row 4"):
        Demonstrations.from_arrays(**arrays)


def test_split_keeps_whole_episodes_and_is_seeded() -> None:
    d = _demos([2, 3, 1, 4, 2, 5, 3, 2, 2, 1])
    train, val = d.split(0.3, torch.Generator().manual_seed(0))
    assert (train.num_episodes, val.num_episodes) == (7, 3)
    assert len(train) + len(val) == len(d)
    # every row lands in exactly one part, and each part's episodes are whole episodes of the dataset
    rows = torch.cat([train.observations[:, 0], val.observations[:, 0]]).sort().values
    assert torch.equal(rows, d.observations[:, 0])
    lengths = {int(x) for x in torch.bincount(d.episode_index())}
    for part in (train, val):
        assert {int(x) for x in torch.bincount(part.episode_index())} <= lengths
        assert part.episode_starts[0]
    again = d.split(0.3, torch.Generator().manual_seed(0))[1]
    assert torch.equal(again.observations, val.observations)
    other = d.split(0.3, torch.Generator().manual_seed(1))[1]
    assert not torch.equal(other.observations, val.observations) or other.num_episodes != val.num_episodes


def test_split_limits() -> None:
    d = _demos([2, 2])
    assert d.split(0.01, torch.Generator())[1].num_episodes == 1  # at least one held out
    assert d.split(0.99, torch.Generator())[0].num_episodes == 1  # at least one kept
    train, val = d.split(0.0, torch.Generator())
    assert train is d and len(val) == 0
    with pytest.raises(ConfigError, match=r"in \[0, 1\)"):
        d.split(1.0, torch.Generator())
    with pytest.raises(ConfigError, match="at least 2 episodes"):
        _demos([4]).split(0.2, torch.Generator())


def test_check_against_env_dims_name_both() -> None:
    d = _demos([3])
    with pytest.raises(ConfigError, match="test has obs/action dims 3/2, gym:Hopper-v5 11/3"):
        check_against_env(d, 11, 3, None, None, env_id="gym:Hopper-v5")


def test_check_against_env_in_bounds_is_unchanged() -> None:
    d = _demos([3])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_against_env(d, 3, 2, -torch.ones(2), torch.ones(2)) is d
        assert check_against_env(d, 3, 2, None, None) is d


def test_actions_slightly_outside_are_clipped_with_a_warning() -> None:
    d = Demonstrations.from_arrays(torch.zeros(4, 1), torch.tensor([[0.5], [1.2], [-1.7], [0.0]]), source="x")
    notes: list[str] = []
    out = check_against_env(d, 1, 1, -torch.ones(1), torch.ones(1), env_id="e", on_warning=notes.append)
    assert out.actions.flatten().tolist() == [0.5, 1.0, -1.0, 0.0]
    assert d.actions[1, 0] == pytest.approx(1.2)  # the input is not modified
    assert len(notes) == 1 and "2 of 4 actions lie outside e's action bounds" in notes[0] and "clipped" in notes[0]
    with pytest.warns(DemonstrationWarning, match="clipped"):
        check_against_env(d, 1, 1, -torch.ones(1), torch.ones(1))


def test_actions_far_outside_are_refused_naming_the_row() -> None:
    d = Demonstrations.from_arrays(torch.zeros(4, 1), torch.tensor([[0.5], [1.5], [3.5], [-9.0]]), source="x")
    with pytest.raises(ConfigError, match=r"action at row 2 \[3.5\] lies more than one bound range outside"):
        check_against_env(d, 1, 1, -torch.ones(1), torch.ones(1))
