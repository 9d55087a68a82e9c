"""Tables of a set of runs: ``runs.csv`` (tidy curves), ``summary.csv`` and ``summary.md`` (per setting)."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from genpo.training.files import write_atomic
from genpo.workbench.runs import RunRecord
from genpo.workbench.stats import SPREAD_NOTE, Interval, mean_std, stratified_bootstrap

FINAL_FRACTION = 0.1


@dataclass
class GroupSummary:
    """One (env, setting) row of the summary."""

    env: str
    group: str
    seeds: list[int]
    env_steps: float
    train: list[float]
    evaluation: list[float] | None
    sps: float | None
    wall: float
    damaged: int = 0
    """Runs of this group with a file that could not be read fully (their numbers may miss iterations)."""

    @staticmethod
    def _stats(values: list[float] | None) -> tuple[float, float | None, Interval] | None:
        if not values:
            return None
        mean, std = mean_std(values)
        return mean, std, stratified_bootstrap(np.asarray(values))

    def row(self) -> dict[str, Any]:
        """The ``summary.csv`` row (numbers unrounded; empty where undefined)."""
        out: dict[str, Any] = {"env": self.env, "setting": self.group, "seeds": len(self.seeds)}
        for kind, values in (("train", self.train), ("eval", self.evaluation)):
            s = self._stats(values)
            out[f"{kind}_mean"], out[f"{kind}_std"] = (s[0], "" if s[1] is None else s[1]) if s else ("", "")
            out[f"{kind}_iqm"], out[f"{kind}_iqm_low"], out[f"{kind}_iqm_high"] = (
                (s[2].point, s[2].low, s[2].high) if s else ("", "", "")
            )
        out["env_steps"] = self.env_steps
        out["env_steps_per_s"] = "" if self.sps is None else self.sps
        out["wall_time_s"] = self.wall
        out["damaged_runs"] = self.damaged
        return out


def group_runs(runs: list[RunRecord]) -> list[GroupSummary]:
    """One summary per (env, group), in first-seen order; runs that finished no episode count for time only."""
    groups: dict[tuple[str, str], list[RunRecord]] = {}
    for r in runs:
        groups.setdefault((r.env, r.group), []).append(r)
    out = []
    for (env, group), members in groups.items():
        members.sort(key=lambda r: r.seed)
        train = [v for r in members if (v := r.final_return(FINAL_FRACTION)) is not None]
        evals = [float(np.mean(r.eval_returns)) for r in members if r.eval_returns]
        sps = [r.sps for r in members if r.sps is not None]
        out.append(
            GroupSummary(
                env=env,
                group=group,
                seeds=[r.seed for r in members],
                env_steps=float(np.mean([r.total_steps for r in members])),
                train=train,
                evaluation=evals if len(evals) == len(members) else None,
                sps=float(np.mean(sps)) if sps else None,
                wall=float(np.mean([r.total_wall for r in members])),
                damaged=sum(1 for r in members if r.problems),
            )
        )
    return out


RUNS_COLUMNS = ("env", "setting", "seed", "kind", "env_steps", "wall_time", "return", "run_dir")


def write_runs_csv(runs: list[RunRecord], path: Path) -> None:
    """Tidy returns: one ``train`` row per run and logged iteration with episodes (mean training-episode
    return), one ``eval`` row per run with a final evaluation (mean deterministic return); the varied
    fields of an ablation are columns between ``setting`` and ``seed``. Written atomically."""
    varied = sorted({k for r in runs for k in r.varied})
    cols = list(RUNS_COLUMNS)
    cols[2:2] = varied
    f = io.StringIO(newline="")
    w = csv.writer(f)
    w.writerow(cols)
    for r in runs:
        fixed = [r.env, r.group, *[r.varied.get(k, "") for k in varied], r.seed]
        for s, t, v in zip(r.steps, r.wall, r.returns, strict=True):
            w.writerow([*fixed, "train", int(s), f"{t:.3f}", f"{v:.6g}", str(r.run_dir)])
        if r.eval_returns:
            ev = float(np.mean(r.eval_returns))
            w.writerow([*fixed, "eval", r.total_steps, f"{r.total_wall:.3f}", f"{ev:.6g}", str(r.run_dir)])
    write_atomic(path, f.getvalue())


def write_summary_csv(summaries: list[GroupSummary], path: Path) -> None:
    """One row per setting (see :meth:`GroupSummary.row`), written atomically; empty without runs."""
    rows = [s.row() for s in summaries]
    f = io.StringIO(newline="")
    if rows:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    write_atomic(path, f.getvalue())


def _fmt(x: float) -> str:
    if x == 0 or not math.isfinite(x):
        return f"{x:g}"
    return f"{x:.1f}" if abs(x) >= 10 else f"{x:.3g}"


def markdown(summaries: list[GroupSummary], episodes: int | None = None) -> str:
    """The ``summary.md`` table, with a legend that says what each column measures."""
    buf = io.StringIO()
    buf.write("| env | setting | seeds | env steps | train return (mean ± std) | train IQM [95% CI] | ")
    buf.write("eval return (mean ± std) | eval IQM [95% CI] | env-steps/s | wall time (s) |\n")
    buf.write("|" + "---|" * 10 + "\n")
    for s in summaries:
        group = s.group + (f" (damaged: {s.damaged} of {len(s.seeds)} runs)" if s.damaged else "")
        cells = [s.env, group, str(len(s.seeds)), f"{s.env_steps:,.0f}"]
        for values in (s.train, s.evaluation):
            st = GroupSummary._stats(values)
            if st is None:
                cells += ["n/a", "n/a"]
            else:
                mean, std, ci = st
                cells += [
                    f"{_fmt(mean)} ± {'—' if std is None else _fmt(std)}",
                    f"{_fmt(ci.point)} [{_fmt(ci.low)}, {_fmt(ci.high)}]",
                ]
        cells += ["n/a" if s.sps is None else f"{s.sps:,.0f}", f"{s.wall:,.0f}"]
        buf.write("| " + " | ".join(cells) + " |\n")
    ev = f"{episodes} episodes" if episodes else "N episodes"
    buf.write(
        "\n*Train return*: mean return of the training episodes (stochastic policy) that finished in the last "
        f"{FINAL_FRACTION:.0%} of the logged iterations of each run. *Eval return*: deterministic evaluation at "
        f"the end of each run ({ev}, zero-noise actions, as `genpo play`); n/a where a run has none. "
        f"Mean ± std across seeds: {SPREAD_NOTE}; IQM with a 95% stratified-bootstrap percentile interval "
        "(2,000 replicates) across seeds. Env-steps/s and wall time (training only) are means across seeds."
    )
    if any(s.damaged for s in summaries):
        buf.write(
            " *Damaged*: a run with an events or metrics file that could not be read to its end (named in the "
            "warnings of `genpo plot`); its numbers stop at the last readable record."
        )
    buf.write("\n")
    return buf.getvalue()
