"""A policy's action distribution at one observation, and how its samples split among known optima."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from genpo.errors import ConfigError

MODE_SHARE = 0.10  # a mode "holds" samples when at least this fraction lies within r of it


@dataclass
class ActionSample:
    """Samples of one policy at one observation.

    Attributes:
        obs: The raw observation ``[obs_dim]``.
        actions: ``[n, action_dim]``, clipped to the env's action box (what the env applies).
        low: Lower action bounds, or ``None``.
        high: Upper action bounds, or ``None``.
        optima: The env's optimal actions at ``obs`` ``[k, action_dim]`` where it names them, else ``None``.
    """

    obs: np.ndarray
    actions: np.ndarray
    low: np.ndarray | None
    high: np.ndarray | None
    optima: np.ndarray | None


def parse_obs(text: str, dim: int) -> torch.Tensor:
    """``"0,0,0"`` -> a ``[dim]`` tensor; ``ConfigError`` names the expected width."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:  # float() of text that is not a number
        raise ConfigError(f"--obs must be {dim} comma-separated numbers, got {text!r}") from None
    if len(values) != dim:
        raise ConfigError(f"--obs must have {dim} numbers (the checkpoint's observation width), got {len(values)}")
    return torch.tensor(values, dtype=torch.float32)


def sample_actions(checkpoint: str | Path, obs: str | None = None, n: int = 2000, seed: int = 0) -> ActionSample:
    """Draws ``n`` actions of a checkpoint's policy at ``obs`` (default: the env's start observation)."""
    from genpo.envs import make_env
    from genpo.training.loading import actor_critic_from_checkpoint

    cfg, ac, _ = actor_critic_from_checkpoint(checkpoint)
    env = make_env(cfg.env.id, 1, seed=seed, **cfg.env.options)
    try:
        if obs is not None:
            o = parse_obs(obs, ac.policy.obs_dim)
        elif hasattr(env, "start_observation"):
            o = env.start_observation().float()
        else:
            o = env.reset(seed=seed)[0][0].float()
        optima = env.optimal_actions().numpy() if obs is None and hasattr(env, "optimal_actions") else None
        low = None if env.action_low is None else env.action_low.cpu()
        high = None if env.action_high is None else env.action_high.cpu()
    finally:
        env.close()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad(), ac.policy.static_parameters():
        obs_n = ac.obs_norm(o.expand(n, -1).contiguous())
        actions = ac.policy.sample(obs_n, generator=gen)[0]
    if low is not None and high is not None:
        actions = actions.clamp(low, high)
    return ActionSample(
        o.numpy(),
        actions.numpy(),
        None if low is None else low.numpy(),
        None if high is None else high.numpy(),
        optima,
    )


def mode_shares(actions: np.ndarray, optima: np.ndarray, radius: float) -> np.ndarray:
    """Fraction of samples within ``radius`` (Euclidean) of each optimum ``[k]``."""
    d = np.linalg.norm(actions[:, None, :] - optima[None, :, :], axis=-1)
    return (d <= radius).mean(0)


def modes_held(shares: np.ndarray, threshold: float = MODE_SHARE) -> int:
    """Number of optima holding at least ``threshold`` of the samples."""
    return int((shares >= threshold).sum())


@dataclass
class ActionRow:
    """Mode statistics of one checkpoint (``shares`` is ``None`` where the env names no optima)."""

    checkpoint: Path
    group: str
    seed: int
    shares: np.ndarray | None

    @property
    def near_any(self) -> float | None:
        """Share of samples within the radius of some optimum (the balls are disjoint for MultiGoal's r)."""
        return None if self.shares is None else float(self.shares.sum())

    @property
    def held(self) -> int | None:
        return None if self.shares is None else modes_held(self.shares)


def row_for(checkpoint: Path, shares: np.ndarray | None) -> ActionRow:
    """Labels a checkpoint with its run's group and seed (as ``genpo plot`` groups runs)."""
    from genpo.workbench.runs import is_run_folder, read_run

    if is_run_folder(checkpoint.parent):
        rec = read_run(checkpoint.parent)
        group, seed = rec.group, rec.seed
    else:  # a checkpoint outside a run folder
        group, seed = checkpoint.parent.name, 0
    return ActionRow(checkpoint, group, seed, shares)


def write_table(rows: list[ActionRow], out: Path, radius: float) -> str:
    """``actions.csv`` (one row per checkpoint) and ``actions.md`` (per group); returns the markdown."""
    import csv
    import io

    from genpo.training.files import write_atomic
    from genpo.workbench.stats import SPREAD_NOTE, format_spread, mean_std

    rows = [r for r in rows if r.shares is not None]
    if not rows:
        return ""
    k = max(len(r.shares) for r in rows)
    f = io.StringIO(newline="")
    w = csv.writer(f)
    w.writerow(["setting", "seed", *[f"share_{i}" for i in range(k)], "near_any", "modes_held", "checkpoint"])
    for r in rows:
        w.writerow([r.group, r.seed, *[f"{s:.4f}" for s in r.shares], f"{r.near_any:.4f}", r.held, r.checkpoint])
    write_atomic(out / "actions.csv", f.getvalue())
    lines = [
        f"| setting | seeds | modes holding >= {MODE_SHARE:.0%} (per seed) | share within {radius:g} of an optimum "
        "(mean ± std) | largest mode's share (mean ± std) |",
        "|---|---|---|---|---|",
    ]
    for group in dict.fromkeys(r.group for r in rows):
        members = sorted((r for r in rows if r.group == group), key=lambda r: r.seed)
        near = mean_std([r.near_any for r in members])
        top = mean_std([float(r.shares.max()) for r in members])
        held = ", ".join(str(r.held) for r in members)
        lines.append(
            f"| {group} | {len(members)} | {held} | {format_spread(*near, '.2f')} | {format_spread(*top, '.2f')} |"
        )
    text = "\n".join(lines) + f"\n\n*Mean ± std*: {SPREAD_NOTE}.\n"
    write_atomic(out / "actions.md", text)
    return text
