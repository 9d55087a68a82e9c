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


class ScalarReader:
    """Incremental reader of every event file in a run folder (new events are read on each :meth:`poll`)."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self._loaders: dict[Path, Any] = {}
        # tag -> step -> (file order, value): a later file wins for a step logged twice.
        self._data: dict[str, dict[int, tuple[int, float]]] = {}

    def poll(self) -> ScalarReader:
        """Reads whatever was appended since the last call."""
        from tensorboard.backend.event_processing.event_file_loader import LegacyEventFileLoader

        for order, path in enumerate(_event_files(self.run_dir)):
            loader = self._loaders.get(path)
            if loader is None:
                loader = self._loaders[path] = LegacyEventFileLoader(str(path))
            for event in loader.Load():
                if not event.HasField("summary"):
                    continue
                for v in event.summary.value:
                    if v.HasField("simple_value"):
                        self._data.setdefault(v.tag, {})[int(event.step)] = (order, float(v.simple_value))
        return self

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
    return f"flow {p.get('integrator')} K={p.get('steps')} {p.get('likelihood')}"


def read_cell(run_dir: Path) -> dict[str, Any] | None:
    """The ``cell.json`` of an ablation cell, or ``None``."""
    path = Path(run_dir) / CELL_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


EVALUATION_FILE = "evaluation.json"


def stored_evaluation(run_dir: Path, episodes: int | None = None) -> list[float] | None:
    """Returns of ``genpo plot --evaluate`` for the run's newest checkpoint (and ``episodes``, if given)."""
    from genpo.training.checkpoint import checkpoints_in

    path = Path(run_dir) / EVALUATION_FILE
    ckpts = checkpoints_in(Path(run_dir))
    if not path.is_file() or not ckpts:
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
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


def read_run(run_dir: Path, reader: ScalarReader | None = None) -> RunRecord:
    """Reads one run folder (``ValueError`` when it has no ``params/config.yaml``)."""
    run_dir = Path(run_dir)
    cfg_path = run_dir / "params" / "config.yaml"
    if not cfg_path.is_file():
        raise ValueError(f"{str(run_dir)!r} is not a run folder (no params/config.yaml)")
    cfg = yaml.safe_load(cfg_path.read_text()) or {}
    cell = read_cell(run_dir)
    seed = int(cfg.get("run", {}).get("seed", 0))
    if cell is not None:
        group, varied, seed = cell["group"], dict(cell.get("varied", {})), int(cell["seed"])
        env = cell.get("env", cfg.get("env", {}).get("id", "?"))
    else:
        name = str(cfg.get("run", {}).get("run_name") or "")
        group = _SEED_SUFFIX.sub("", name) if name else describe_policy(cfg)
        varied, env = {}, cfg.get("env", {}).get("id", "?")
    steps, rets, wall, sps, last, total_wall = curve_of((reader or ScalarReader(run_dir)).poll())
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
        eval_returns=(cell or {}).get("eval_returns") or stored_evaluation(run_dir),
        state=(cell or {}).get("state", "unknown"),
    )


def find_runs(paths: list[Path]) -> list[Path]:
    """Every run folder at or below the given paths (sorted, no duplicates)."""
    found: set[Path] = set()
    for p in paths:
        p = Path(p)
        if not p.exists():
            raise ValueError(f"{str(p)!r} does not exist")
        if (p / "params" / "config.yaml").is_file():
            found.add(p.resolve())
        found.update(c.parent.parent.resolve() for c in p.rglob("params/config.yaml"))
    return sorted(found)
