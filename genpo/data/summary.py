"""What ``genpo dataset`` prints: a dataset loaded and checked as imitation code reads it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from genpo.data.demonstrations import check_against_env
from genpo.data.loaders import load_demonstrations


def describe_dataset(
    source: str | Path, env_id: str | None = None, *, on_warning: Callable[[str], None] | None = None
) -> list[str]:
    """Loads ``source``, checks it against ``env_id`` (default: the environment it records), and describes it.

    Args:
        source: Dataset id or path (see :func:`genpo.data.load_demonstrations`).
        env_id: Environment to check against; ``None``: the recorded one, or no check when none is recorded.
        on_warning: Receives a warning (actions clipped to the bounds).

    Returns:
        Lines to print.

    Raises:
        ConfigError: What :func:`load_demonstrations` and :func:`check_against_env` refuse, or an unknown env.
    """
    from genpo.envs import make_env

    demos = load_demonstrations(source)
    target = env_id or demos.env_id
    checked = "not checked against an environment (none recorded; give --env)"
    if target is not None:
        options = demos.env_options if env_id is None or env_id == demos.env_id else {}
        env = make_env(target, 1, **options)
        try:
            demos = check_against_env(
                demos, env.observation_dim, env.action_dim, env.action_low, env.action_high, env_id=target,
                on_warning=on_warning,
            )  # fmt: skip
        finally:
            env.close()
        checked = f"fits {target} (obs/action dims {demos.obs_dim}/{demos.action_dim})"
    lengths = torch.bincount(demos.episode_index()).double()
    lines = [
        f"dataset: {demos.source}",
        f"environment recorded: {demos.env_id or 'none'}"
        + (f" with options {demos.env_options}" if demos.env_options else ""),
        f"check: {checked}",
        f"{demos.num_episodes} episodes, {len(demos)} transitions, episode length {lengths.mean():.1f} "
        f"(min {int(lengths.min())}, max {int(lengths.max())})",
        f"actions: min {_fmt(demos.actions.min(0).values)}, max {_fmt(demos.actions.max(0).values)}",
    ]
    returns = demos.episode_returns()
    if returns is not None:
        lines.append(
            f"episode return: {returns.mean():.2f} ± {returns.std(unbiased=False):.2f} "
            f"(min {returns.min():.2f}, max {returns.max():.2f})"
        )
    else:
        lines.append("episode return: no rewards recorded")
    return lines


def _fmt(x: torch.Tensor) -> str:
    return "[" + ", ".join(f"{v:.3g}" for v in x.tolist()) + "]"
