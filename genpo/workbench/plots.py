"""Figures: return vs env steps and vs wall clock (one figure per env), and a policy's action distribution."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from genpo.workbench.runs import RunRecord

FORMATS = ("png", "svg")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing moving average over ``window`` points (shorter at the start)."""
    if window <= 1 or values.size == 0:
        return values
    c = np.cumsum(np.insert(values, 0, 0.0))
    idx = np.arange(1, values.size + 1)
    lo = np.maximum(0, idx - window)
    return (c[idx] - c[lo]) / (idx - lo)


def seed_band(xs: list[np.ndarray], ys: list[np.ndarray], points: int = 200) -> tuple[np.ndarray, ...]:
    """Interpolates every seed onto a common grid (where all seeds have data): ``(x, mean, low, high)``."""
    lo, hi = max(x[0] for x in xs), min(x[-1] for x in xs)
    if hi <= lo:
        grid = np.array([lo])
    else:
        grid = np.linspace(lo, hi, points)
    vals = np.stack([np.interp(grid, x, y) for x, y in zip(xs, ys, strict=True)])
    return grid, vals.mean(0), vals.min(0), vals.max(0)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def save(fig, out: Path, stem: str) -> list[Path]:
    """Writes ``<out>/<stem>.png`` and ``.svg`` atomically; returns the paths.

    Raises:
        DiskError: The file system failed the write (the partial file is removed).
    """
    from genpo.training.files import atomic_files, ensure_folder

    ensure_folder(out, "figure folder")
    paths = []
    for ext in FORMATS:
        path = out / f"{stem}.{ext}"
        with atomic_files([path]) as (tmp,):
            fig.savefig(tmp, dpi=120, format=ext)
        paths.append(path)
    return paths


def return_curves(
    runs: list[RunRecord], out: Path, window: int = 5, baselines: dict[str, float] | None = None
) -> list[Path]:
    """One figure per env: return vs env steps (left) and vs training wall-clock (right).

    One line per setting: the mean across seeds of each seed's curve (a trailing moving average over
    ``window`` logged iterations), and a band from the lowest to the highest seed. ``baselines`` are drawn as
    dashed horizontal lines (``label -> return``: e.g. the pretrained policy a fine-tuning run starts from).
    """
    plt = _pyplot()
    written: list[Path] = []
    for env in sorted({r.env for r in runs}):
        members = [r for r in runs if r.env == env and r.returns.size > 0]
        if not members:
            continue
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
        for group in dict.fromkeys(r.group for r in members):
            seeds = [r for r in members if r.group == group]
            ys = [smooth(r.returns, window) for r in seeds]
            for ax, xs in ((axes[0], [r.steps.astype(float) for r in seeds]), (axes[1], [r.wall for r in seeds])):
                x, mean, low, high = seed_band(xs, ys)
                (line,) = ax.plot(x, mean, label=f"{group} ({len(seeds)} seeds)")
                ax.fill_between(x, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
        for i, (label, value) in enumerate((baselines or {}).items()):
            for ax in axes:
                ax.axhline(value, color=f"C{(i + 7) % 10}", linestyle="--", linewidth=1, label=label)
        axes[0].set_xlabel("env steps")
        axes[1].set_xlabel("training wall-clock (s)")
        axes[0].set_ylabel("training episode return")
        for ax, what in zip(axes, ("env steps", "wall-clock"), strict=True):
            ax.set_title(f"{env}: return vs {what}", fontsize=10)
            ax.grid(alpha=0.3)
        axes[0].legend(fontsize=8)
        fig.suptitle(
            f"mean across seeds (band: min-max), moving average over {window} iterations; "
            "curves end where the shortest seed ends",
            fontsize=8,
        )
        fig.tight_layout()
        written += save(fig, out, f"returns_{_safe(env)}")
        plt.close(fig)
    return written


def action_histogram(
    actions: np.ndarray,
    out: Path,
    stem: str,
    title: str,
    low: np.ndarray | None = None,
    high: np.ndarray | None = None,
    optima: np.ndarray | None = None,
    bins: int = 60,
) -> list[Path]:
    """A 2-D histogram of the first two action dimensions (a 1-D one for 1-D actions); optima as crosses."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.4, 4.8))
    draw_actions(fig, ax, actions, title, low, high, optima, bins)
    fig.tight_layout()
    paths = save(fig, out, stem)
    plt.close(fig)
    return paths


def action_grid(panels: list[tuple[str, int, dict]], out: Path, stem: str, title: str) -> list[Path]:
    """Several action histograms: one row per setting, one column per seed (``panels``: group, seed, kwargs)."""
    plt = _pyplot()
    groups = list(dict.fromkeys(g for g, _, _ in panels))
    cols = max(sum(g == grp for g, _, _ in panels) for grp in groups)
    fig, axes = plt.subplots(len(groups), cols, figsize=(2.6 * cols, 2.6 * len(groups)), squeeze=False)
    for ax in axes.flat:
        ax.set_visible(False)
    for r, grp in enumerate(groups):
        members = sorted(((s, kw) for g, s, kw in panels if g == grp), key=lambda m: m[0])
        for c, (seed, kw) in enumerate(members):
            ax = axes[r][c]
            ax.set_visible(True)
            draw_actions(fig, ax, title=f"{grp} s{seed}", colorbar=False, legend=False, **kw)
            ax.set_xlabel("")
            ax.set_ylabel("")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    paths = save(fig, out, stem)
    plt.close(fig)
    return paths


def draw_actions(
    fig,
    ax,
    actions: np.ndarray,
    title: str,
    low: np.ndarray | None = None,
    high: np.ndarray | None = None,
    optima: np.ndarray | None = None,
    bins: int = 60,
    colorbar: bool = True,
    legend: bool = True,
) -> None:
    """Draws one action histogram into ``ax``."""
    if actions.shape[1] == 1:
        ax.hist(actions[:, 0], bins=bins, color="tab:blue")
        ax.set_xlabel("action")
        ax.set_ylabel("samples")
        if optima is not None:
            for o in optima[:, 0]:
                ax.axvline(o, color="red", linestyle="--")
    else:
        rng = None
        if low is not None and high is not None:
            pad = 0.1 * (high[:2] - low[:2])
            rng = [[low[0] - pad[0], high[0] + pad[0]], [low[1] - pad[1], high[1] + pad[1]]]
        # Rasterized: as vector quads one SVG grid of histograms was 14 MB.
        h = ax.hist2d(actions[:, 0], actions[:, 1], bins=bins, range=rng, cmap="viridis", cmin=1, rasterized=True)
        if colorbar:
            fig.colorbar(h[3], ax=ax, label="samples")
        if optima is not None:
            ax.scatter(optima[:, 0], optima[:, 1], marker="x", color="red", s=60, label="optimal actions")
            if legend:
                ax.legend(fontsize=7, loc="upper right")
        ax.set_xlabel("action[0]")
        ax.set_ylabel("action[1]")
        ax.set_aspect("equal")
    ax.set_title(title, fontsize=8)
