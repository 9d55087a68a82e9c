"""Reading demonstrations: a Minari dataset (by id or folder), an ``.npz`` file or an HDF5 file.

:func:`load_demonstrations` decides what ``source`` is:

* an existing folder: a Minari dataset folder (the one holding ``data/``, or ``data/`` itself);
* an existing file, or a name ending in ``.npz``, ``.h5`` or ``.hdf5``: a plain array file;
* anything else: a Minari dataset id (``namespace/name-v0``) in the local store, ``$MINARI_DATASETS_PATH`` or
  ``~/.minari/datasets`` (an id without ``-vN`` means its newest local version).

Plain files hold arrays named ``observations`` ``[N, obs_dim]`` and ``actions`` ``[N, action_dim]``, optionally
``rewards``, ``terminations`` and ``truncations`` ``[N]`` (D4RL's ``terminals`` and ``timeouts`` are read as these),
row i being the transition taken at observation i. The genpo environment id may be stored as a string array
(npz) or a root attribute (HDF5) named ``env_id``, its options as a JSON string ``env_options``.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from genpo.data.demonstrations import Demonstrations
from genpo.errors import ConfigError

ARRAY_SUFFIXES = (".npz", ".h5", ".hdf5")
GENPO_ENV_KEY = "genpo_env_id"
GENPO_ENV_OPTIONS_KEY = "genpo_env_options"
_ALIASES = {"terminals": "terminations", "timeouts": "truncations"}


def minari_root() -> Path:
    """The local Minari store: ``$MINARI_DATASETS_PATH`` or ``~/.minari/datasets`` (nothing is created)."""
    env = os.environ.get("MINARI_DATASETS_PATH")
    return Path(env) if env else Path.home() / ".minari" / "datasets"


def _store_name() -> str:
    root = minari_root()
    how = "MINARI_DATASETS_PATH" if os.environ.get("MINARI_DATASETS_PATH") else "default; set MINARI_DATASETS_PATH"
    return f"{root} ({how})"


def local_dataset_ids(root: Path | None = None) -> list[str]:
    """Ids of the Minari datasets under ``root`` (default: :func:`minari_root`), sorted."""
    root = minari_root() if root is None else root
    if not root.is_dir():
        return []
    return sorted(str(p.parent.parent.relative_to(root)) for p in root.rglob("data/metadata.json"))


def import_minari() -> Any:
    """``minari``, or a ConfigError that says how to install it."""
    try:
        import minari
    except ImportError as exc:
        raise ConfigError(
            f"Minari datasets need the minari package ({exc}); install it with: pip install 'genpo[data]'"
        ) from None
    return minari


def load_demonstrations(source: str | Path) -> Demonstrations:
    """Loads demonstrations from a Minari dataset id or folder, an ``.npz`` or an ``.h5``/``.hdf5`` file.

    Args:
        source: Dataset id or path (see the module docstring for how it is told apart).

    Returns:
        Validated :class:`Demonstrations` (the observation each action was taken at, episode starts, rewards
        if recorded, the genpo environment id if recorded).

    Raises:
        ConfigError: A missing dataset (an unknown id names the store searched), an unreadable or truncated file,
            missing arrays, an empty dataset, or NaN/inf values (naming the first row). One line each.
    """
    if isinstance(source, Path):
        text = str(source)
    elif isinstance(source, str) and source.strip():
        text = source
    else:
        raise ConfigError(f"dataset must be a Minari dataset id or a path, got {source!r}", field="dataset")
    path = Path(text).expanduser()
    if path.is_dir():
        return _load_minari_folder(path, text)
    if path.exists():
        if not path.is_file():
            raise ConfigError(f"dataset {text!r} is not a regular file or a folder")
        return _load_array_file(path, text)
    if path.suffix.lower() in ARRAY_SUFFIXES or isinstance(source, Path) or text.startswith(("/", "./", "../", "~")):
        raise ConfigError(f"dataset {text!r}: no such file or folder")
    return _load_minari_id(text)


# -- plain array files -----------------------------------------------------------------------------------------------


def _load_array_file(path: Path, source: str) -> Demonstrations:
    suffix = path.suffix.lower()
    if suffix == ".npz":
        arrays, attrs = _read_npz(path, source)
    elif suffix in (".h5", ".hdf5"):
        arrays, attrs = _read_hdf5(path, source)
    else:
        raise ConfigError(
            f"dataset {source!r}: unknown file type {suffix or '(none)'!r}; genpo reads .npz, .h5, .hdf5 files and "
            "Minari dataset folders or ids"
        )
    for alias, name in _ALIASES.items():
        if name not in arrays and alias in arrays:
            arrays[name] = arrays[alias]
    missing = [k for k in ("observations", "actions") if k not in arrays]
    if missing:
        raise ConfigError(
            f"dataset {source!r} has no {' or '.join(missing)} array; found: {', '.join(sorted(arrays)) or 'nothing'}"
        )
    dones = None
    flags = [arrays[k] for k in ("terminations", "truncations") if k in arrays]
    if flags:
        n = len(arrays["actions"])
        for k in ("terminations", "truncations"):
            if k in arrays and len(arrays[k]) != n:
                raise ConfigError(f"dataset {source!r}: {n} actions but {len(arrays[k])} {k}")
        dones = np.zeros(n, dtype=bool)
        for f in flags:
            dones |= np.asarray(f).reshape(-1).astype(bool)
    env_id = attrs.get("env_id")
    options = attrs.get("env_options")
    return Demonstrations.from_arrays(
        arrays["observations"],
        arrays["actions"],
        dones=dones,
        rewards=arrays.get("rewards"),
        env_id=str(env_id) if env_id else None,
        source=source,
        env_options=_parse_options(options, source) if options else None,
    )


def _parse_options(text: Any, source: str) -> dict[str, Any]:
    try:
        options = json.loads(str(text))
    except ValueError:
        raise ConfigError(f"dataset {source!r}: env_options is not a JSON object: {text!r}") from None
    if not isinstance(options, dict):
        raise ConfigError(f"dataset {source!r}: env_options is not a JSON object: {text!r}")
    return options


def _read_npz(path: Path, source: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    arrays: dict[str, np.ndarray] = {}
    attrs: dict[str, Any] = {}
    try:
        with np.load(path, allow_pickle=False) as data:
            for key in data.files:
                value = data[key]
                if key in ("env_id", "env_options"):
                    attrs[key] = value.item() if value.ndim == 0 else value.reshape(-1)[0]
                else:
                    arrays[key] = value
    except PermissionError:
        raise ConfigError(f"cannot read dataset {source!r}: permission denied for this user") from None
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise ConfigError(
            f"cannot read dataset {source!r} as .npz (a truncated or damaged file?): {_one_line(exc)}"
        ) from None
    return arrays, attrs


def _read_hdf5(path: Path, source: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    try:
        import h5py
    except ImportError as exc:
        raise ConfigError(f"HDF5 datasets need h5py ({exc}); install it with: pip install 'genpo[data]'") from None
    arrays: dict[str, np.ndarray] = {}
    attrs: dict[str, Any] = {}
    try:
        with h5py.File(path, "r") as f:
            if "episode_0" in f and "observations" not in f:
                raise ConfigError(
                    f"dataset {source!r} is a Minari data file; give its dataset folder ({path.parent.parent}) or id"
                )
            for key, item in f.items():
                if isinstance(item, h5py.Dataset):
                    arrays[key] = item[()]
            for key in ("env_id", "env_options"):
                if key in f.attrs:
                    value = f.attrs[key]
                    attrs[key] = value.decode() if isinstance(value, bytes) else str(value)
    except ConfigError:
        raise
    except PermissionError:
        raise ConfigError(f"cannot read dataset {source!r}: permission denied for this user") from None
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(
            f"cannot read dataset {source!r} as HDF5 (a truncated or damaged file?): {_one_line(exc)}"
        ) from None
    return arrays, attrs


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


# -- Minari ----------------------------------------------------------------------------------------------------------

_VERSION = re.compile(r"-v(\d+)$")


def _load_minari_id(dataset_id: str) -> Demonstrations:
    root = minari_root()
    folder = root / dataset_id
    if not (folder / "data" / "metadata.json").is_file() and not _VERSION.search(dataset_id):
        versions = [
            (int(m.group(1)), i)
            for i in local_dataset_ids(root)
            if (m := _VERSION.search(i)) and i[: m.start()] == dataset_id
        ]
        if versions:
            folder = root / max(versions)[1]
    if not (folder / "data" / "metadata.json").is_file():
        have = local_dataset_ids(root)
        listing = f"; it has: {', '.join(have[:10])}{' ...' if len(have) > 10 else ''}" if have else "; it is empty"
        raise ConfigError(
            f"no Minari dataset {dataset_id!r} in the local store {_store_name()}{listing} "
            "(genpo does not download datasets; give a path for a dataset elsewhere)"
        )
    return _read_minari(folder / "data", dataset_id)


def _load_minari_folder(path: Path, source: str) -> Demonstrations:
    if (path / "data" / "metadata.json").is_file():
        return _read_minari(path / "data", source)
    if (path / "metadata.json").is_file():
        return _read_minari(path, source)
    raise ConfigError(f"dataset {source!r} is a folder but not a Minari dataset (no data/metadata.json in it)")


def _read_minari(data_path: Path, source: str) -> Demonstrations:
    minari = import_minari()
    try:
        dataset = minari.MinariDataset(str(data_path))
        metadata = dataset.storage.metadata
        env_spec = dataset.spec.env_spec
        obs_list, act_list, rew_list, starts = [], [], [], []
        for k, (obs, act, rewards) in enumerate(_episodes(dataset, data_path)):
            if not isinstance(obs, np.ndarray) or not isinstance(act, np.ndarray):
                raise ConfigError(
                    f"dataset {source!r}: episode {k} has structured (dict or tuple) observations or actions; "
                    "genpo reads flat Box spaces only"
                )
            steps = len(act)
            if len(obs) != steps + 1 or len(rewards) != steps:
                raise ConfigError(
                    f"dataset {source!r}: episode {k} has {len(obs)} observations, {steps} actions and "
                    f"{len(rewards)} rewards (expected actions + 1 observations): truncated or inconsistent"
                )
            if steps == 0:
                continue
            obs_list.append(obs[:-1].reshape(steps, -1))
            act_list.append(act.reshape(steps, -1))
            rew_list.append(np.asarray(rewards, dtype=np.float64).reshape(-1))
            start = np.zeros(steps, dtype=bool)
            start[0] = True
            starts.append(start)
    except ConfigError:
        raise
    except PermissionError:
        raise ConfigError(f"cannot read dataset {source!r}: permission denied for this user") from None
    except (OSError, ValueError, KeyError, AssertionError, EOFError) as exc:
        raise ConfigError(
            f"cannot read Minari dataset {source!r} (a truncated or damaged dataset?): {_one_line(exc)}"
        ) from None
    if not act_list:
        raise ConfigError(f"{source}: the dataset is empty (no transitions)")
    dims = {(o.shape[1], a.shape[1]) for o, a in zip(obs_list, act_list, strict=True)}
    if len(dims) > 1:
        raise ConfigError(f"dataset {source!r}: episodes of different observation/action widths {sorted(dims)}")
    env_id, options = _env_of(metadata, env_spec, source)
    return Demonstrations.from_arrays(
        np.concatenate(obs_list),
        np.concatenate(act_list),
        episode_starts=np.concatenate(starts),
        rewards=np.concatenate(rew_list),
        env_id=env_id,
        source=source,
        env_options=options,
    )


def _episodes(dataset: Any, data_path: Path) -> Iterator[tuple[Any, Any, Any]]:
    """``(observations, actions, rewards)`` of each episode in order.

    Minari's HDF5 files are read directly with h5py, only the three arrays genpo uses (2.6 s against 5.6 s
    through ``MinariDataset.iterate_episodes`` for the 2,000 episodes of docs/finetune.md's MultiGoal dataset,
    measured once on a loaded machine); other formats, and structured spaces, through Minari.
    """
    import h5py

    meta = dataset.storage.metadata
    file = data_path / "main_data.hdf5"
    if meta.get("data_format") == "hdf5" and file.is_file():
        with h5py.File(file, "r") as f:
            for i in range(int(meta["total_episodes"])):
                group = f[f"episode_{i}"]
                items = [group[k] for k in ("observations", "actions", "rewards")]
                if all(isinstance(x, h5py.Dataset) for x in items):
                    yield tuple(x[()] for x in items)  # type: ignore[misc]
                else:  # dict or tuple spaces are groups: Minari reads them (and the caller refuses them)
                    episode = next(iter(dataset.iterate_episodes([i])))
                    yield episode.observations, episode.actions, episode.rewards
        return
    for episode in dataset.iterate_episodes():
        yield episode.observations, episode.actions, episode.rewards


def _env_of(metadata: dict[str, Any], spec: Any, source: str) -> tuple[str | None, dict[str, Any]]:
    """The genpo env id and options a Minari dataset records: genpo's own keys, else its Gymnasium env spec."""
    if metadata.get(GENPO_ENV_KEY):
        raw = metadata.get(GENPO_ENV_OPTIONS_KEY)
        return str(metadata[GENPO_ENV_KEY]), _parse_options(raw, source) if raw else {}
    if spec is None:
        return None, {}
    try:
        import gymnasium as gym

        registered = gym.spec(spec.id)
    except Exception:  # a spec of a task not registered here: the dataset records no env genpo can build
        return None, {}
    options: dict[str, Any] = {}
    if spec.kwargs and spec.kwargs != registered.kwargs:
        options["env_kwargs"] = dict(spec.kwargs)
    if spec.max_episode_steps != registered.max_episode_steps and spec.max_episode_steps is not None:
        options["max_episode_steps"] = int(spec.max_episode_steps)
    return f"gym:{spec.id}", options
