"""Summaries across seeds: interquartile mean and stratified-bootstrap confidence intervals.

The interquartile mean (IQM) and the stratified bootstrap follow Agarwal et al. 2021 ("Deep RL at
the edge of the statistical precipice", the ``rliable`` package): scores form a ``[runs, tasks]``
matrix, each bootstrap replicate resamples runs with replacement *within each task* (the strata),
and the interval is the percentile interval of the statistic over replicates. Written here in
NumPy because ``rliable`` 1.2 does not import with the pandas this environment resolves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


def iqm(scores: np.ndarray) -> float:
    """Interquartile mean of all entries: the mean after dropping the lowest and highest 25%.

    Trims ``floor(0.25 n)`` values from each end, like ``scipy.stats.trim_mean(x, 0.25)``.
    """
    x = np.sort(np.asarray(scores, dtype=np.float64).ravel())
    if x.size == 0:
        raise ValueError("iqm of no scores")
    k = int(0.25 * x.size)
    return float(x[k : x.size - k].mean())


@dataclass(frozen=True)
class Interval:
    """A point estimate with a confidence interval."""

    point: float
    low: float
    high: float


def stratified_bootstrap(
    scores: np.ndarray,
    statistic: Callable[[np.ndarray], float] = iqm,
    reps: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Percentile interval of ``statistic`` under a bootstrap that resamples runs within each task.

    Args:
        scores: ``[runs]`` (one task) or ``[runs, tasks]``.
        statistic: Maps a ``[runs, tasks]`` matrix to a number (default: :func:`iqm`).
        reps: Bootstrap replicates (>= 1).
        confidence: Coverage of the interval, in (0, 1).
        seed: Seed of the resampling (the interval is reproducible).

    Returns:
        The statistic on the data and the ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles
        of its bootstrap distribution.
    """
    x = np.asarray(scores, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"scores must be a non-empty [runs] or [runs, tasks] array, got shape {list(x.shape)}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    if reps < 1:
        raise ValueError(f"reps must be >= 1, got {reps!r}")
    rng = np.random.default_rng(seed)
    runs, tasks = x.shape
    cols = np.arange(tasks)
    stats = np.empty(reps)
    for i in range(reps):
        rows = rng.integers(0, runs, size=(runs, tasks))  # independent draws per task column: the strata
        stats[i] = statistic(x[rows, cols])
    alpha = (1 - confidence) / 2
    low, high = np.quantile(stats, [alpha, 1 - alpha])
    return Interval(float(statistic(x)), float(low), float(high))


def mean_std(values: np.ndarray) -> tuple[float, float | None]:
    """Mean and sample standard deviation across seeds (``ddof=1``); the std is None for one value (no spread).

    Raises:
        ValueError: No values (a caller's bug: there is nothing to summarize).
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0:
        raise ValueError("mean_std of no values")
    return float(v.mean()), (float(v.std(ddof=1)) if v.size > 1 else None)


SPREAD_NOTE = "std is the sample standard deviation across seeds (ddof = 1); with one seed there is no spread (—)"
"""How summaries state their spread (their footnotes say it)."""


def format_spread(mean: float, std: float | None, fmt: str | None = None) -> str:
    """``mean ± std``, or ``mean ± —`` with one seed (``fmt``: a format spec for both, e.g. ``.2f``)."""
    if fmt is None:
        return f"{mean} ± {'—' if std is None else std}"
    return f"{mean:{fmt}} ± {'—' if std is None else format(std, fmt)}"
