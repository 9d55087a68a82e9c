"""What a ``genpo tune`` study leaves in its folder: ``best.yaml``, ``trials.csv``, ``trials.md``, Optuna's
history and importance figures, and the runs' own summary (as ``genpo ablate`` writes it)."""

from __future__ import annotations

import csv
import io
import json
import warnings
from pathlib import Path
from typing import Any

import yaml

from genpo.training.config import TrainConfig
from genpo.training.fields import nest
from genpo.training.files import write_atomic
from genpo.workbench.tune import FINAL_FRACTION, OBJECTIVES, REPORTS, TunePlan, describe_values


def trial_rows(plan: TunePlan, study: Any) -> list[dict[str, Any]]:
    """One row per trial: number, state, value, each searched field, last report, per-seed values, seconds."""
    import optuna

    rows = []
    for t in study.get_trials(deepcopy=False):
        values = plan.space.values_of(t.params)
        seconds = (t.datetime_complete - t.datetime_start).total_seconds() if t.datetime_complete else None
        complete = t.state == optuna.trial.TrialState.COMPLETE
        # Optuna stores a pruned trial's last intermediate value as its value: that is not the objective.
        row: dict[str, Any] = {"trial": t.number, "state": t.state.name.lower(), "value": t.value if complete else None}
        row.update({p.field: values.get(p.field) for p in plan.space.params})
        steps = t.intermediate_values
        row["last_report_steps"] = max(steps) if steps else None
        row["last_report_value"] = steps[max(steps)] if steps else None
        row["per_seed"] = t.user_attrs.get("per_seed")
        row["seconds"] = seconds
        row["error"] = t.user_attrs.get("error")
        rows.append(row)
    return rows


def best_trial(study: Any) -> Any | None:
    """The best complete trial, or ``None``."""
    import optuna

    done = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE]
    return max(done, key=lambda t: t.value) if done else None


def best_config(plan: TunePlan, values: dict[str, Any]) -> TrainConfig:
    """The configuration of a trial for ``genpo train --config`` (the first seed; default log folder and name)."""
    cfg = TrainConfig.from_dict(nest({**plan.fixed, **values, "run.seed": plan.seeds[0]}), plan.base)
    defaults = TrainConfig().run
    cfg.run.logdir, cfg.run.run_name = defaults.logdir, defaults.run_name
    return cfg


def _cell_text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (list, dict)):
        return json.dumps(v, separators=(",", ":"))
    return str(v)


def _markdown(plan: TunePlan, rows: list[dict[str, Any]], best: Any, notes: list[str]) -> str:
    fields = [p.field for p in plan.space.params]
    buf = io.StringIO()
    buf.write(f"# genpo tune: {plan.base.env.id}, setting {plan.setting}\n\n")
    buf.write(f"Objective (maximized): {OBJECTIVES.get(plan.objective).describe}. ")
    buf.write(f"{len(plan.seeds)} seed(s) per trial ({', '.join(map(str, plan.seeds))}), ")
    buf.write(f"{plan.budget:,} env steps per run, pruner {plan.pruner}, TPE sampler seed {plan.sampler_seed} ")
    buf.write(f"({plan.startup_trials} random startup trials).\n\n")
    if best is not None:
        drawn = describe_values(plan.space.values_of(best.params))
        buf.write(f"Best: trial {best.number}, objective {best.value:.2f}: {drawn}")
        buf.write(" (`best.yaml`).\n\n")
    buf.write("| trial | state | objective | " + " | ".join(f.split(".", 1)[1] for f in fields))
    buf.write(" | last report: env steps | last report: return | seconds |\n")
    buf.write("|" + "---|" * (len(fields) + 6) + "\n")
    for r in rows:
        cells = [str(r["trial"]), r["state"], "" if r["value"] is None else f"{r['value']:.2f}"]
        cells += [_cell_text(r[f]) for f in fields]
        last = r["last_report_value"]
        cells += [_cell_text(r["last_report_steps"]), "" if last is None else f"{last:.2f}"]
        cells += ["" if r["seconds"] is None else f"{r['seconds']:,.0f}"]
        buf.write("| " + " | ".join(cells) + " |\n")
    buf.write(
        "\nObjective: complete trials only. A pruned trial's runs were stopped at its last report. Reports "
        f"(what the pruner sees, every {1 / REPORTS:.0%} of the budget) are the mean training return over the "
        f"previous {FINAL_FRACTION:.0%} of the budget's env steps, averaged across seeds. Seconds: wall clock from "
        "the trial's start to its end (including time waiting for a run slot).\n"
    )
    for note in notes:
        buf.write(f"\nNote: {note}\n")
    return buf.getvalue()


def study_figures(study: Any, out: Path) -> tuple[list[Path], list[str]]:
    """Optuna's optimization history and parameter importances as PNG and SVG; notes for what was not drawn."""
    import matplotlib
    import optuna
    from optuna.visualization import matplotlib as ovm

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from genpo.workbench.plots import save

    paths: list[Path] = []
    notes: list[str] = []
    complete = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if complete:
            ax = ovm.plot_optimization_history(study)
            ax.figure.tight_layout()
            paths += save(ax.figure, out, "history")
            plt.close(ax.figure)
        else:
            notes.append("no trial completed: no history figure")
        varied = {k for t in complete for k in t.params if len({str(u.params.get(k)) for u in complete}) > 1}
        if len(complete) < 2 or not varied:
            notes.append(
                f"parameter importances need at least 2 completed trials with different values "
                f"({len(complete)} completed): no importance figure"
            )
        else:
            ax = ovm.plot_param_importances(study)
            ax.figure.tight_layout()
            paths += save(ax.figure, out, "importance")
            plt.close(ax.figure)
    return paths, notes


def write_results(plan: TunePlan, study: Any) -> dict[str, Any]:
    """``best.yaml``, ``trials.csv``, ``trials.md``, the study's figures and the runs' summary, into ``out``."""
    from genpo.workbench.ablate import write_report
    from genpo.workbench.runs import find_runs

    out = plan.out
    rows = trial_rows(plan, study)
    best = best_trial(study)
    figures, notes = study_figures(study, out / "figures")
    result: dict[str, Any] = {"rows": rows, "best": None, "figures": figures, "notes": notes}
    if best is not None:
        cfg = best_config(plan, plan.space.values_of(best.params))
        header = (
            f"# genpo tune {out}: trial {best.number}, objective {best.value:.4g} "
            f"({plan.objective}); genpo train --config best.yaml\n"
        )
        write_atomic(out / "best.yaml", header + yaml.safe_dump(cfg.to_dict(), sort_keys=False))
        result["best"] = {"trial": best.number, "value": best.value, "values": plan.space.values_of(best.params)}
    fields = [p.field for p in plan.space.params]
    f = io.StringIO(newline="")
    w = csv.writer(f)
    cols = [
        "trial",
        "state",
        "value",
        *fields,
        "last_report_steps",
        "last_report_value",
        "per_seed",
        "seconds",
        "error",
    ]
    w.writerow(cols)
    for r in rows:
        w.writerow([_cell_text(r[c]) for c in cols])
    write_atomic(out / "trials.csv", f.getvalue())
    write_atomic(out / "trials.md", _markdown(plan, rows, best, notes))
    run_root = out / "genpo"
    dirs = find_runs([run_root]) if run_root.exists() else []
    if dirs:
        write_report(dirs, out, episodes=plan.episodes)
    return result
