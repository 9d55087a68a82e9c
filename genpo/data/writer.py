"""Writing episodes as a Minari dataset, atomically, through ``minari.create_dataset_from_buffers`` (no jax).

``out`` is a Minari dataset id in the local store (``$MINARI_DATASETS_PATH`` or ``~/.minari/datasets``), or a
folder path when it starts with ``/``, ``.`` or ``~``. The dataset is written to a hidden temporary store next to
its destination and renamed into place, so a failure leaves no half dataset; an existing dataset is never
overwritten (Minari's rule too: a new one needs a new name or version).

Besides Minari's own metadata (the Gymnasium ``env_spec`` for gym tasks, so ``dataset.recover_environment()``
works), the dataset records genpo's environment id and options (``genpo_env_id``, ``genpo_env_options``), which is
what :func:`genpo.data.load_demonstrations` returns as ``env_id`` and ``env_options``.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from genpo.data.loaders import GENPO_ENV_KEY, GENPO_ENV_OPTIONS_KEY, import_minari, minari_root
from genpo.errors import ConfigError, RunFolderError
from genpo.training.files import describe_os_error, ensure_folder, exists


@dataclass(frozen=True)
class Episode:
    """One recorded episode (numpy, what Minari stores).

    Attributes:
        observations: ``[T + 1, obs_dim]``: the T observations actions were taken at, then the last one.
        actions: ``[T, action_dim]``.
        rewards: ``[T]``.
        terminations: ``[T]`` bool.
        truncations: ``[T]`` bool.
    """

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    terminations: np.ndarray
    truncations: np.ndarray

    def __len__(self) -> int:
        return len(self.actions)


@dataclass(frozen=True)
class DatasetTarget:
    """Where a dataset will be written.

    Attributes:
        folder: The dataset folder (it will hold ``data/``).
        dataset_id: The id recorded in its metadata.
        in_store: True for an id in the local store, False for a path.
    """

    folder: Path
    dataset_id: str
    in_store: bool


def _is_path(out: str) -> bool:
    return out.startswith(("/", ".", "~"))


def resolve_target(out: str | Path) -> DatasetTarget:
    """Checks an output id or path before any work: a valid Minari id, nothing there yet, a writable parent.

    Raises:
        ConfigError: An invalid id or a dataset already there.
        RunFolderError: A parent folder that cannot be created or written.
    """
    minari = import_minari()
    from minari.dataset.minari_dataset import parse_dataset_id

    text = str(out).strip() if isinstance(out, (str, Path)) else ""
    if not text:
        raise ConfigError(f"--out must be a Minari dataset id or a folder path, got {out!r}", field="out")
    if isinstance(out, Path) or _is_path(text):
        folder = Path(text).expanduser().absolute()
        dataset_id = folder.name
        in_store = False
    else:
        folder = minari_root() / text
        dataset_id = text
        in_store = True
    try:
        parse_dataset_id(dataset_id)
    except (ValueError, TypeError):  # minari's parser raises TypeError for a name without -vN
        raise ConfigError(
            f"{dataset_id!r} is not a valid Minari dataset id: use [namespace/]name-vN with letters, digits, - and _ "
            "(e.g. genpo/hopper-medium-v0)",
            field="out",
        ) from None
    del minari
    if exists(folder):
        raise ConfigError(
            f"a dataset (or file) {str(folder)!r} already exists; datasets are never overwritten: choose another name "
            "or version (e.g. -v1)",
            field="out",
        )
    anchor = folder.parent
    while not exists(anchor) and anchor != anchor.parent:
        anchor = anchor.parent
    ensure_folder(anchor, "dataset folder", create=False)
    return DatasetTarget(folder, dataset_id, in_store)


@contextlib.contextmanager
def _minari_store(root: Path) -> Iterator[None]:
    old = os.environ.get("MINARI_DATASETS_PATH")
    os.environ["MINARI_DATASETS_PATH"] = str(root)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("MINARI_DATASETS_PATH", None)
        else:
            os.environ["MINARI_DATASETS_PATH"] = old


def _box(dim: int, low: Any, high: Any) -> Any:
    import gymnasium as gym

    lo = np.full(dim, -np.inf, dtype=np.float32) if low is None else np.asarray(low, dtype=np.float32).reshape(dim)
    hi = np.full(dim, np.inf, dtype=np.float32) if high is None else np.asarray(high, dtype=np.float32).reshape(dim)
    return gym.spaces.Box(lo, hi, (dim,), np.float32)


def write_minari(
    episodes: list[Episode],
    target: DatasetTarget,
    *,
    env_id: str,
    env_options: dict[str, Any] | None = None,
    gym_spec: Any | None = None,
    action_low: Any | None = None,
    action_high: Any | None = None,
    algorithm_name: str = "genpo collect",
    description: str | None = None,
) -> Path:
    """Writes ``episodes`` as a Minari dataset at ``target`` (see :func:`resolve_target`); returns its folder.

    Args:
        episodes: The episodes, at least one, all of the same widths.
        target: Where (checked already).
        env_id: genpo environment id, recorded as ``genpo_env_id``.
        env_options: Its options, recorded as ``genpo_env_options`` (JSON).
        gym_spec: The Gymnasium ``EnvSpec`` of a gym task (recorded so ``recover_environment`` works), else ``None``.
        action_low: Action bounds for the recorded action space when there is no ``gym_spec``.
        action_high: Likewise.
        algorithm_name: Minari's ``algorithm_name``.
        description: Minari's ``description``.

    Raises:
        ConfigError: No episodes, or the target appeared meanwhile.
        RunFolderError: The folder cannot be written.
    """
    minari = import_minari()
    from minari.data_collector import EpisodeBuffer

    if not episodes:
        raise ConfigError("no episodes to write")
    if exists(target.folder):
        raise ConfigError(f"a dataset (or file) {str(target.folder)!r} already exists; datasets are never overwritten")
    obs_dim, act_dim = episodes[0].observations.shape[1], episodes[0].actions.shape[1]
    buffers = [
        EpisodeBuffer(
            id=i,
            observations=np.asarray(e.observations, dtype=np.float32),
            actions=np.asarray(e.actions, dtype=np.float32),
            rewards=[float(r) for r in e.rewards],
            terminations=[bool(t) for t in e.terminations],
            truncations=[bool(t) for t in e.truncations],
        )
        for i, e in enumerate(episodes)
    ]
    parent = target.folder.parent
    missing = [p for p in (parent, *parent.parents) if not exists(p)]
    tmp_root = None
    kwargs: dict[str, Any] = {}
    if gym_spec is not None:
        kwargs["env"] = gym_spec
    else:
        kwargs["observation_space"] = _box(obs_dim, None, None)
        kwargs["action_space"] = _box(act_dim, action_low, action_high)
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp_root = parent / f".genpo-dataset.{os.getpid()}-{secrets.token_hex(4)}.tmp"
        tmp_root.mkdir()
        # Inside the temporary store the dataset has its final id (namespace included), then moves as one folder.
        with _minari_store(tmp_root), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # Minari's reminders about author, e-mail, permalink
            dataset = minari.create_dataset_from_buffers(
                target.dataset_id, buffers, algorithm_name=algorithm_name, description=description, **kwargs
            )
            dataset.storage.update_metadata(
                {GENPO_ENV_KEY: env_id, GENPO_ENV_OPTIONS_KEY: json.dumps(env_options or {}, sort_keys=True)}
            )
        os.replace(tmp_root / target.dataset_id, target.folder)
    except BaseException as exc:
        if tmp_root is not None:
            shutil.rmtree(tmp_root, ignore_errors=True)
        for folder in missing:  # the folders this call created, innermost first
            with contextlib.suppress(OSError):
                folder.rmdir()
        if isinstance(exc, OSError):
            raise RunFolderError(describe_os_error(exc, target.folder, "write")) from None
        raise
    shutil.rmtree(tmp_root, ignore_errors=True)
    if target.in_store:
        _ensure_namespace(target.dataset_id)
    return target.folder


def _ensure_namespace(dataset_id: str) -> None:
    """Creates the dataset's Minari namespace in the local store when it is missing (as Minari itself does)."""
    from minari.dataset.minari_dataset import parse_dataset_id
    from minari.namespace import create_namespace, list_local_namespaces

    namespace = parse_dataset_id(dataset_id)[0]
    if namespace is None:
        return
    with _minari_store(minari_root()):
        if namespace not in list_local_namespaces():
            create_namespace(namespace)
