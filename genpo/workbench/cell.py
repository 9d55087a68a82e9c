"""One cell of an ablation: train (or continue) its run folder to the budget, then evaluate it.

Runs in its own process (``python -m genpo.workbench.cell SPEC.json``, or a submitit job). The cell's
state lives in its run folder: ``cell.json`` (``running`` / ``interrupted`` / ``failed`` / ``done``,
the evaluation returns) and the checkpoints. A cell that is ``done`` is skipped; one with
checkpoints continues from the newest of them with the budget that is left.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from genpo.console import make_console
from genpo.workbench.runs import read_cell, write_json

EVAL_SEED = 10_000  # genpo play's default: evaluation episodes differ from the training ones


def budget_steps(cfg: Any) -> int:
    """The cell's budget in env steps (``run.total_steps``, else ``max_iterations`` rollouts)."""
    if cfg.run.total_steps is not None:
        return int(cfg.run.total_steps)
    return int(cfg.run.max_iterations) * cfg.algo.steps_per_env * cfg.env.num_envs


def _record(spec: dict[str, Any], state: str, **extra: Any) -> None:
    data = {k: spec[k] for k in ("name", "group", "setting", "varied", "seed", "env", "config", "episodes")}
    write_json(Path(spec["run_dir"]) / "cell.json", {**data, "state": state, "time": time.time(), **extra})


def train_cell(spec: dict[str, Any]) -> int:
    """Trains the cell's run folder up to its budget; returns the env steps done before this call.

    The run is resolved and validated by :func:`genpo.training.api.prepare`, the same rules as
    ``genpo train --checkpoint``; only the folder is the cell's own, so a resumed cell stays one run folder.
    """
    import torch

    from genpo.training.api import prepare
    from genpo.training.checkpoint import checkpoints_in, load_checkpoint
    from genpo.training.config import TrainConfig
    from genpo.training.runner import Trainer

    torch.set_num_threads(1)
    run_dir = Path(spec["run_dir"])
    target = budget_steps(TrainConfig.from_dict(spec["config"]))
    ckpts = checkpoints_in(run_dir)
    done = int(load_checkpoint(ckpts[-1])["global_step"]) if ckpts else 0
    if done >= target:
        return done
    if ckpts:
        print(f"resuming {run_dir.name} from {ckpts[-1].name} at {done} env steps", flush=True)
    # This invocation's budget is what is left (run.total_steps counts the steps of one invocation).
    run = prepare(
        spec["config"],
        checkpoint=ckpts[-1] if ckpts else None,
        **{"run.total_steps": target - done, "run.max_iterations": None},
    )
    console = make_console()
    trainer = Trainer(run.config, checkpoint=run.checkpoint, console=console, checkpoint_path=run.checkpoint_path)
    try:
        trainer.train(run_dir)
    finally:
        trainer.env.close()
    return done


def evaluate_cell(run_dir: Path, episodes: int) -> list[float]:
    """Deterministic returns of ``episodes`` episodes of the newest checkpoint (as ``genpo play``)."""
    from genpo.training.api import evaluate

    return [float(x) for x in evaluate(run_dir, episodes=episodes, deterministic=True, seed=EVAL_SEED)]


def evaluate_missing(run_dirs: list[Path], episodes: int) -> Iterator[tuple[Path, list[float]]]:
    """Evaluates each run folder that has no evaluation of ``episodes`` episodes yet; yields (folder, returns).

    A cell's own end-of-run evaluation counts, and so does a stored one (``evaluation.json``) of the newest
    checkpoint; folders without a checkpoint are passed over. New results are stored for the summary.
    """
    from genpo.training.checkpoint import checkpoints_in
    from genpo.workbench.runs import EVALUATION_FILE, stored_evaluation

    for run_dir in run_dirs:
        ckpts = checkpoints_in(run_dir)
        own = (read_cell(run_dir) or {}).get("eval_returns") is not None
        if own or not ckpts or stored_evaluation(run_dir, episodes) is not None:
            continue
        returns = evaluate_cell(run_dir, episodes)
        record = {"checkpoint": ckpts[-1].name, "episodes": episodes, "seed": EVAL_SEED, "returns": returns}
        write_json(Path(run_dir) / EVALUATION_FILE, record)
        yield run_dir, returns


def run_cell(spec: dict[str, Any]) -> str:
    """Brings one cell to ``done`` (train what is left, evaluate); returns its final state.

    A SIGINT/SIGTERM (the trainer saves a checkpoint and raises ``Interrupted``) or a
    ``KeyboardInterrupt`` marks the cell ``interrupted`` (its checkpoints stay) and propagates.
    """
    from genpo.training.interrupt import Interrupted

    run_dir = Path(spec["run_dir"])
    cell = read_cell(run_dir)
    if cell is not None and cell.get("state") == "done":
        return "done"
    run_dir.mkdir(parents=True, exist_ok=True)
    _record(spec, "running", pid=os.getpid())
    t0 = time.time()
    try:
        resumed_at = train_cell(spec)
        returns = evaluate_cell(run_dir, int(spec["episodes"]))
    except (KeyboardInterrupt, Interrupted):
        _record(spec, "interrupted")
        raise
    except Exception as exc:
        _record(spec, "failed", error=f"{type(exc).__name__}: {exc}")
        raise
    _record(spec, "done", eval_returns=returns, resumed_at_steps=resumed_at, seconds=time.time() - t0)
    return "done"


def main(argv: list[str] | None = None) -> int:
    """``python -m genpo.workbench.cell SPEC.json``: exit 0 done, 1 failed, 130 interrupted."""
    args = sys.argv[1:] if argv is None else argv
    from genpo.errors import GenpoError
    from genpo.training.interrupt import Interrupted

    spec = json.loads(Path(args[0]).read_text())
    # The driver stops a cell with SIGINT. A shell that starts the driver in the background (`&`, nohup)
    # sets SIGINT to ignored and children inherit that; a cell has its own session, so it takes SIGINT back.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        run_cell(spec)
    except (KeyboardInterrupt, Interrupted):
        print("interrupted: the cell's checkpoints are kept; rerun the ablation to continue", flush=True)
        return 130
    except GenpoError as exc:  # a failure genpo explains (a full disk, a failed env): the message, no traceback
        print(f"error: {exc}", flush=True)
        return 1
    except Exception as exc:
        import traceback

        traceback.print_exc()  # into the cell's log file, for whoever debugs it
        print(f"error: {type(exc).__name__}: {exc}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
