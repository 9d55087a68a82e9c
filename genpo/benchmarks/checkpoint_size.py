"""How close the pre-flight estimate of a checkpoint's size is to the file a run writes.

Usage::

    python -m genpo.benchmarks.checkpoint_size

For a few configurations (each one iteration, two environments, one epoch, in a temporary folder) prints
one Markdown table row: the estimate :meth:`genpo.training.runner.Trainer.checkpoint_bytes` gives before the
run, the bytes of the ``model_1.pt`` it writes, and their ratio.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

CASES: list[tuple[str, dict[str, Any]]] = [
    ("builtin:PointMass", {"policy.hidden": [16], "policy.critic_hidden": [16], "algo.steps_per_env": 4}),
    ("builtin:PointMass", {}),
    ("gym:HalfCheetah-v5", {}),
    ("gym:Hopper-v5", {"policy.model": "gaussian"}),
]


def measure(env: str, overrides: dict[str, Any]) -> tuple[int, int]:
    """``(estimated, written)`` bytes of one checkpoint of a one-iteration run."""
    from rich.console import Console

    from genpo.training.api import prepare
    from genpo.training.runner import Trainer

    run = prepare(None, env=env, max_iterations=1, **{"env.num_envs": 2, "algo.num_epochs": 1, **overrides})
    trainer = Trainer(run.config, console=Console(quiet=True))
    try:
        estimate = trainer.checkpoint_bytes()
        with tempfile.TemporaryDirectory() as folder:
            trainer.train(Path(folder))
            written = (Path(folder) / "model_1.pt").stat().st_size
    finally:
        trainer.env.close()
    return estimate, written


def main() -> None:
    """Prints the table."""
    print("| env | overrides | estimated bytes | written bytes | estimated / written |")
    print("|---|---|---|---|---|")
    for env, overrides in CASES:
        estimate, written = measure(env, overrides)
        shown = ", ".join(f"{k}={v}" for k, v in overrides.items()) or "defaults"
        print(f"| {env} | {shown} | {estimate:,} | {written:,} | {estimate / written:.3f} |")


if __name__ == "__main__":
    main()
