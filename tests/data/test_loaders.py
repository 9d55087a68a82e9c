"""Loading demonstrations: .npz and HDF5 files, Minari datasets by id and by folder, and what each refuses."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from genpo.data import load_demonstrations
from genpo.errors import ConfigError


@pytest.fixture(autouse=True)
def _store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own Minari store (never ~/.minari)."""
    store = tmp_path / "store"
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(store))
    return store


def _arrays(n: int = 7) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    terminations = np.zeros(n, bool)
    truncations = np.zeros(n, bool)
    terminations[2] = True
    truncations[4] = True
    return {
        "observations": rng.normal(size=(n, 3)).astype(np.float32),
        "actions": rng.uniform(-1, 1, size=(n, 2)).astype(np.float32),
        "rewards": rng.normal(size=n).astype(np.float32),
        "terminations": terminations,
        "truncations": truncations,
    }


def _check(d, a: dict[str, np.ndarray]) -> None:
    assert torch.equal(d.observations, torch.from_numpy(a["observations"]))
    assert torch.equal(d.actions, torch.from_numpy(a["actions"]))
    assert torch.equal(d.rewards, torch.from_numpy(a["rewards"]))
    assert d.episode_starts.tolist() == [True, False, False, True, False, True, False]
    assert d.num_episodes == 3


def test_npz_round_trip(tmp_path: Path) -> None:
    a = _arrays()
    np.savez(tmp_path / "d.npz", **a, env_id=np.array("builtin:MultiGoal"), env_options=np.array('{"num_goals": 3}'))
    d = load_demonstrations(tmp_path / "d.npz")
    _check(d, a)
    assert d.env_id == "builtin:MultiGoal" and d.env_options == {"num_goals": 3}
    assert d.source == str(tmp_path / "d.npz")


def test_npz_minimal_and_d4rl_names(tmp_path: Path) -> None:
    a = _arrays()
    np.savez(tmp_path / "min.npz", observations=a["observations"], actions=a["actions"])
    d = load_demonstrations(str(tmp_path / "min.npz"))
    assert d.num_episodes == 1 and d.rewards is None and d.env_id is None and d.env_options == {}
    np.savez(
        tmp_path / "d4rl.npz",
        observations=a["observations"],
        actions=a["actions"],
        rewards=a["rewards"],
        terminals=a["terminations"],
        timeouts=a["truncations"],
    )
    _check(load_demonstrations(tmp_path / "d4rl.npz"), a)


@pytest.mark.parametrize("suffix", [".h5", ".hdf5"])
def test_hdf5_round_trip(tmp_path: Path, suffix: str) -> None:
    a = _arrays()
    path = tmp_path / f"d{suffix}"
    with h5py.File(path, "w") as f:
        for k, v in a.items():
            f.create_dataset(k, data=v)
        f.create_group("infos").create_dataset("qpos", data=np.zeros((7, 2)))  # other groups are not read
        f.attrs["env_id"] = "gym:Pendulum-v1"
    d = load_demonstrations(path)
    _check(d, a)
    assert d.env_id == "gym:Pendulum-v1"


def test_missing_arrays_are_named(tmp_path: Path) -> None:
    np.savez(tmp_path / "d.npz", obs=np.zeros((3, 2)), actions=np.zeros((3, 1)))
    with pytest.raises(ConfigError, match="has no observations array; found: actions, obs"):
        load_demonstrations(tmp_path / "d.npz")


def test_flags_of_another_length_are_refused(tmp_path: Path) -> None:
    a = _arrays()
    a["terminations"] = a["terminations"][:-2]
    np.savez(tmp_path / "d.npz", **a)
    with pytest.raises(ConfigError, match="7 actions but 5 terminations"):
        load_demonstrations(tmp_path / "d.npz")


@pytest.mark.parametrize("suffix", [".npz", ".h5"])
def test_a_truncated_file_is_refused(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"d{suffix}"
    a = _arrays(500)
    if suffix == ".npz":
        np.savez(path, **a)
    else:
        with h5py.File(path, "w") as f:
            for k, v in a.items():
                f.create_dataset(k, data=v)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ConfigError, match="a truncated or damaged file"):
        load_demonstrations(path)


def test_empty_file_is_refused(tmp_path: Path) -> None:
    np.savez(tmp_path / "d.npz", observations=np.zeros((0, 3)), actions=np.zeros((0, 2)))
    with pytest.raises(ConfigError, match="the dataset is empty"):
        load_demonstrations(tmp_path / "d.npz")


def test_paths_that_are_not_datasets(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file or folder"):
        load_demonstrations(tmp_path / "missing.npz")
    with pytest.raises(ConfigError, match="no such file or folder"):
        load_demonstrations("./nowhere/at-all")
    (tmp_path / "d.csv").write_text("1,2\n")
    with pytest.raises(ConfigError, match=r"unknown file type '\.csv'"):
        load_demonstrations(tmp_path / "d.csv")
    (tmp_path / "folder").mkdir()
    with pytest.raises(ConfigError, match="is a folder but not a Minari dataset"):
        load_demonstrations(tmp_path / "folder")
    with pytest.raises(ConfigError, match="dataset must be"):
        load_demonstrations("  ")


def test_unknown_id_names_the_store_and_writes_nothing(_store: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_demonstrations("genpo/nothing-v0")
    assert f"no Minari dataset 'genpo/nothing-v0' in the local store {_store} (MINARI_DATASETS_PATH)" in str(info.value)
    assert "it is empty" in str(info.value)
    assert not _store.exists()  # looking a dataset up creates no store


def _minari_dataset(store: Path, dataset_id: str, episodes: list[int]) -> None:
    import gymnasium as gym
    import minari
    from minari.data_collector import EpisodeBuffer

    rng = np.random.default_rng(1)
    buffers = [
        EpisodeBuffer(
            id=i,
            observations=rng.normal(size=(t + 1, 3)).astype(np.float32),
            actions=rng.uniform(-2, 2, size=(t, 1)).astype(np.float32),
            rewards=list(rng.normal(size=t)),
            terminations=[False] * t,
            truncations=[False] * (t - 1) + [True],
        )
        for i, t in enumerate(episodes)
    ]
    with pytest.warns(UserWarning):  # Minari's reminders (author, ...)
        minari.create_dataset_from_buffers(dataset_id, buffers, env=gym.spec("Pendulum-v1"), algorithm_name="test")


def test_minari_by_id_by_folder_and_newest_version(_store: Path) -> None:
    _minari_dataset(_store, "test/pend-v0", [3, 2])
    _minari_dataset(_store, "test/pend-v1", [4, 4, 1])
    d = load_demonstrations("test/pend-v0")
    assert (d.num_episodes, len(d), d.obs_dim, d.action_dim) == (2, 5, 3, 1)
    assert d.env_id == "gym:Pendulum-v1" and d.env_options == {}  # from Minari's own env spec
    assert load_demonstrations("test/pend").num_episodes == 3  # no version: the newest
    assert load_demonstrations(_store / "test" / "pend-v1").num_episodes == 3
    assert load_demonstrations(_store / "test" / "pend-v1" / "data").num_episodes == 3
    with pytest.raises(ConfigError, match="it has: test/pend-v0, test/pend-v1"):
        load_demonstrations("test/pendulum-v0")


def test_minari_arrays_match_minaris_own_reading(_store: Path) -> None:
    import minari

    _minari_dataset(_store, "test/pend-v0", [3, 5, 2])
    d = load_demonstrations("test/pend-v0")
    episodes = list(minari.load_dataset("test/pend-v0").iterate_episodes())
    assert torch.equal(d.observations, torch.from_numpy(np.concatenate([e.observations[:-1] for e in episodes])))
    assert torch.equal(d.actions, torch.from_numpy(np.concatenate([e.actions for e in episodes])))
    assert torch.allclose(d.rewards.double(), torch.from_numpy(np.concatenate([e.rewards for e in episodes])))


def test_a_minari_data_file_points_to_its_folder(_store: Path) -> None:
    _minari_dataset(_store, "test/pend-v0", [3, 2])
    with pytest.raises(ConfigError, match="is a Minari data file; give its dataset folder"):
        load_demonstrations(_store / "test" / "pend-v0" / "data" / "main_data.hdf5")


def test_a_damaged_minari_dataset_is_refused(_store: Path) -> None:
    _minari_dataset(_store, "test/pend-v0", [3, 2])
    data = _store / "test" / "pend-v0" / "data" / "main_data.hdf5"
    data.write_bytes(data.read_bytes()[:200])
    with pytest.raises(ConfigError, match="a truncated or damaged dataset"):
        load_demonstrations("test/pend-v0")


def test_a_minari_episode_missing_its_last_observation_is_refused(_store: Path) -> None:
    _minari_dataset(_store, "test/pend-v0", [3, 4])
    with h5py.File(_store / "test" / "pend-v0" / "data" / "main_data.hdf5", "a") as f:
        obs = f["episode_1/observations"][()]
        del f["episode_1/observations"]
        f["episode_1"].create_dataset("observations", data=obs[:-1])
    with pytest.raises(ConfigError, match="episode 1 has 4 observations, 4 actions and 4 rewards"):
        load_demonstrations("test/pend-v0")


def test_an_empty_minari_dataset_is_refused(_store: Path) -> None:
    _minari_dataset(_store, "test/pend-v0", [])
    with pytest.raises(ConfigError, match="the dataset is empty"):
        load_demonstrations("test/pend-v0")


def test_minari_genpo_keys_win_over_the_env_spec(_store: Path) -> None:
    _minari_dataset(_store, "test/pend-v0", [3])
    meta = _store / "test" / "pend-v0" / "data" / "metadata.json"
    m = json.loads(meta.read_text())
    m.update(genpo_env_id="gym:Pendulum-v1", genpo_env_options='{"max_episode_steps": 50}')
    meta.write_text(json.dumps(m))
    d = load_demonstrations("test/pend-v0")
    assert d.env_id == "gym:Pendulum-v1" and d.env_options == {"max_episode_steps": 50}
