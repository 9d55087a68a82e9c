"""Reading finished (or running) run folders: configuration, TensorBoard scalars, the workbench's cell record.

A run folder is what ``genpo train`` writes: ``params/config.yaml``, TensorBoard event files and
``model_<it>.pt`` checkpoints. A folder written by ``genpo ablate`` also holds ``cell.json`` (the
cell's setting, varied fields and evaluation returns). A resumed run appends a new event file to the
same folder; iterations logged twice (after the last checkpoint of an interrupted run) keep the
newer file's value.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from genpo.errors import ConfigError

RETURN_TAG = "charts/episodic_return"
SPS_TAG = "perf/sps"
CELL_FILE = "cell.json"
_SEED_SUFFIX = re.compile(r"_s(\d+)$")


def _event_files(run_dir: Path) -> list[Path]:
    def order(p: Path) -> tuple[int, str]:
        parts = p.name.split(".")
        stamp = parts[3] if len(parts) > 3 and parts[3].isdigit() else "0"
        return int(stamp), p.name

    return sorted(run_dir.glob("events.out.tfevents.*"), key=order)


RECORD_OVERHEAD = 16
"""Bytes a TFRecord adds around each event: its length (8), the length's CRC (4) and the data's CRC (4)."""


class ScalarReader:
    """Incremental reader of every event file in a run folder (new events are read on each :meth:`poll`).

    Events are read with TensorBoard's public loader (``RawEventFileLoader``, then ``Event.FromString``), which
    stops quietly at a truncated or damaged record; the reader counts the bytes of the records it read, so
    :meth:`problems` names each file with bytes left after its last readable record (a run still writing
    may have one partial record; a finished run should have none).
    """

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self._loaders: dict[Path, Any] = {}
        self._read: dict[Path, int] = {}  # bytes of the whole records read from each file
        self._failed: dict[Path, str] = {}  # files that could not be read at all
        # tag -> step -> (file order, value): a later file wins for a step logged twice.
        self._data: dict[str, dict[int, tuple[int, float]]] = {}

    def poll(self) -> ScalarReader:
        """Reads whatever was appended since the last call."""
        from google.protobuf.message import DecodeError
        from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader
        from tensorboard.compat.proto.event_pb2 import Event

        for order, path in enumerate(_event_files(self.run_dir)):
            if path in self._failed:
                continue
            loader = self._loaders.get(path)
            if loader is None:
                loader = self._loaders[path] = RawEventFileLoader(str(path))
            try:
                for raw in loader.Load():
                    event = Event.FromString(raw)
                    self._read[path] = self._read.get(path, 0) + RECORD_OVERHEAD + len(raw)
                    if not event.HasField("summary"):
                        continue
                    for v in event.summary.value:
                        if v.HasField("simple_value"):
                            self._data.setdefault(v.tag, {})[int(event.step)] = (order, float(v.simple_value))
            except OSError as exc:
                from genpo.training.files import describe_os_error

                self._failed[path] = describe_os_error(exc, path, "read the events file")
            except DecodeError:
                self._failed[path] = f"{path.name}: a record that is not a TensorBoard event (a damaged file?)"
        return self

    def problems(self) -> list[str]:
        """One line per events file that could not be read to its end: unreadable, truncated or damaged."""
        out = list(self._failed.values())
        for path in _event_files(self.run_dir):
            if path in self._failed:
                continue
            try:
                size = path.stat().st_size
            except OSError:
                continue  # removed since: nothing left to read
            left = size - self._read.get(path, 0)
            if size == 0:
                out.append(f"{path.name}: empty (the run wrote no event to it)")
            elif left > 0:
                out.append(
                    f"{path.name}: {left:,} of {size:,} bytes after the last readable record "
                    "(a truncated or damaged events file; its later iterations are missing)"
                )
        return out

    def series(self, tag: str) -> tuple[np.ndarray, np.ndarray]:
        """``(steps, values)`` of a tag, sorted by step (empty arrays when never logged)."""
        rows = sorted((s, v) for s, (_, v) in self._data.get(tag, {}).items())
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        steps, values = zip(*rows, strict=True)
        return np.asarray(steps, dtype=np.int64), np.asarray(values, dtype=np.float64)


@dataclass
class RunRecord:
    """One run folder, as the summary and the figures see it.

    Attributes:
        run_dir: The folder.
        env: Environment id.
        group: What seeds are grouped by (the ablation cell's setting and varied values; otherwise the
            run name without its ``_s<seed>`` suffix, or the policy's description).
        seed: The run's seed.
        varied: ``{dotted field: value}`` of an ablation cell (empty otherwise).
        steps: Env steps of each logged iteration that finished an episode.
        returns: Mean training-episode return of those iterations (stochastic policy, during training).
        wall: Training seconds up to each of those iterations (sum of iteration times; pauses excluded).
        sps: Mean env-steps/s over all logged iterations.
        total_steps: Env steps of the last logged iteration.
        total_wall: Training seconds in all.
        eval_returns: Deterministic evaluation returns at the end (ablation cells), else ``None``.
        state: ``done``, ``running``, ``interrupted``, ``failed`` (ablation cells) or ``unknown``.
        problems: Files of the run that could not be read (fully): each names the file and what is wrong. The
            summary marks the run's setting and ``genpo plot`` warns.
    """

    run_dir: Path
    env: str
    group: str
    seed: int
    varied: dict[str, Any] = field(default_factory=dict)
    steps: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    returns: np.ndarray = field(default_factory=lambda: np.zeros(0))
    wall: np.ndarray = field(default_factory=lambda: np.zeros(0))
    sps: float | None = None
    total_steps: int = 0
    total_wall: float = 0.0
    eval_returns: list[float] | None = None
    state: str = "unknown"
    problems: list[str] = field(default_factory=list)

    def final_return(self, fraction: float = 0.1) -> float | None:
        """Mean training return over the last ``fraction`` of the logged iterations that had episodes."""
        if self.returns.size == 0:
            return None
        k = max(1, round(fraction * self.returns.size))
        return float(self.returns[-k:].mean())


def describe_policy(cfg: dict[str, Any]) -> str:
    """A short label of a configuration's policy (``flow edict K=5 exact``, ``gaussian``)."""
    p = cfg.get("policy", {})
    if p.get("model", "flow") != "flow":
        return str(p.get("model"))
    k = p.get("flow_steps", p.get("steps"))  # "steps" in runs written before issue 16
    return f"flow {p.get('integrator')} K={k} {p.get('likelihood')}"


def _read_json(path: Path, problems: list[str] | None) -> Any:
    """A JSON file's data, or None when absent; an unreadable one is named in ``problems`` (when given)."""
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        if problems is not None:
            problems.append(f"{path.name}: unreadable ({exc})")
        return None


def read_cell(run_dir: Path, problems: list[str] | None = None) -> dict[str, Any] | None:
    """The ``cell.json`` of an ablation cell, or ``None`` (an unreadable one is named in ``problems``)."""
    data = _read_json(Path(run_dir) / CELL_FILE, problems)
    return data if isinstance(data, dict) else None


EVALUATION_FILE = "evaluation.json"


def stored_evaluation(
    run_dir: Path, episodes: int | None = None, problems: list[str] | None = None
) -> list[float] | None:
    """Returns of ``genpo plot --evaluate`` for the run's newest checkpoint (and ``episodes``, if given)."""
    from genpo.training.checkpoint import checkpoints_in

    ckpts = checkpoints_in(Path(run_dir))
    if not ckpts:
        return None
    data = _read_json(Path(run_dir) / EVALUATION_FILE, problems)
    if not isinstance(data, dict):
        return None
    if data.get("checkpoint") != ckpts[-1].name or (episodes is not None and data.get("episodes") != episodes):
        return None  # stale: the run went on, or another length was asked for
    return data.get("returns")


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Writes JSON atomically (a temporary file in the same folder, then a rename; see ``genpo.training.files``)."""
    from genpo.training.files import write_atomic

    write_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def curve_of(reader: ScalarReader) -> tuple[np.ndarray, np.ndarray, np.ndarray, float | None, int, float]:
    """``(steps, returns, wall, mean sps, last step, total wall)`` from a run's scalars."""
    sps_steps, sps = reader.series(SPS_TAG)
    if sps_steps.size == 0:
        empty = np.zeros(0)
        return np.zeros(0, dtype=np.int64), empty, empty, None, 0, 0.0
    # Each logged iteration took (its env steps) / (its steps per second) seconds of training.
    deltas = np.diff(np.concatenate([[0], sps_steps]))
    wall_at = np.cumsum(deltas / np.maximum(sps, 1e-9))
    ret_steps, rets = reader.series(RETURN_TAG)
    wall = np.interp(ret_steps, sps_steps, wall_at) if ret_steps.size else np.zeros(0)
    return ret_steps, rets, wall, float(sps.mean()), int(sps_steps[-1]), float(wall_at[-1])


def is_run_folder(path: Path) -> bool:
    """Whether ``path`` holds ``params/config.yaml`` (what ``genpo train`` writes first)."""
    return (Path(path) / "params" / "config.yaml").is_file()


def read_run(run_dir: Path, reader: ScalarReader | None = None) -> RunRecord:
    """Reads one run folder; files that cannot be read (fully) are listed in the record's ``problems``.

    Raises:
        ConfigError: The folder is not a run folder (no ``params/config.yaml``).
    """
    run_dir = Path(run_dir)
    cfg_path = run_dir / "params" / "config.yaml"
    if not is_run_folder(run_dir):
        raise ConfigError(f"{str(run_dir)!r} is not a run folder (no params/config.yaml)")
    problems: list[str] = []
    try:
        cfg = yaml.safe_load(cfg_path.read_text()) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        problems.append(f"params/config.yaml: unreadable ({exc})")
        cfg = {}
    if not isinstance(cfg, dict):
        problems.append("params/config.yaml: not a mapping of sections")
        cfg = {}
    cell = read_cell(run_dir, problems)
    seed = int(cfg.get("run", {}).get("seed", 0))
    if cell is not None:
        group, varied, seed = cell["group"], dict(cell.get("varied", {})), int(cell["seed"])
        env = cell.get("env", cfg.get("env", {}).get("id", "?"))
    else:
        name = str(cfg.get("run", {}).get("run_name") or "")
        group = _SEED_SUFFIX.sub("", name) if name else describe_policy(cfg)
        varied, env = {}, cfg.get("env", {}).get("id", "?")
    reader = (reader or ScalarReader(run_dir)).poll()
    problems += reader.problems()
    steps, rets, wall, sps, last, total_wall = curve_of(reader)
    return RunRecord(
        run_dir=run_dir,
        env=env,
        group=group,
        seed=seed,
        varied=varied,
        steps=steps,
        returns=rets,
        wall=wall,
        sps=sps,
        total_steps=last,
        total_wall=total_wall,
        eval_returns=(cell or {}).get("eval_returns") or stored_evaluation(run_dir, problems=problems),
        state=(cell or {}).get("state", "unknown"),
        problems=problems,
    )


def find_runs(paths: list[Path]) -> list[Path]:
    """Every run folder at or below the given paths (sorted, no duplicates).

    Raises:
        ConfigError: A path that does not exist.
    """
    found: set[Path] = set()
    for p in paths:
        p = Path(p)
        if not p.exists():
            raise ConfigError(f"{str(p)!r} does not exist")
        if is_run_folder(p):
            found.add(p.resolve())
        found.update(c.parent.parent.resolve() for c in p.rglob("params/config.yaml"))
    return sorted(found)
