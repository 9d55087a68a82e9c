"""A hyperparameter study end to end: Optuna asks for configurations, the workbench runs them, pruned runs stop.

Layout of ``out`` (``genpo tune --out``):

- ``study.journal``: the Optuna study (``JournalStorage`` on a ``JournalFileBackend``: a plain file, no
  database server), and ``study.json``: what the study is (env, setting, base configuration, space, seeds,
  objective, pruner, sampler seed). A rerun with the same command continues the study; an ``out`` folder that
  holds another study is refused before anything is written.
- ``genpo/<env>/t<NNNN>_s<seed>``: one ordinary run folder per trial and seed (what ``genpo train`` writes,
  plus the workbench's ``cell.json``), so ``genpo plot`` reads them.
- ``best.yaml`` (the best trial's configuration, for ``genpo train --config``), ``trials.csv``, ``trials.md``,
  ``figures/history.{png,svg}``, ``figures/importance.{png,svg}``, and the runs' own ``runs.csv``,
  ``summary.csv``, ``summary.md`` and return curves (as ``genpo ablate`` writes them;
  :mod:`genpo.workbench.tune_report`).
- ``.ablate.lock``: the driver lock of :func:`genpo.workbench.ablate.driver_lock` (two drivers are refused).

Trials are asked one at a time (``ask``/``tell``) whenever a run slot is free (``--jobs`` runs at a time;
a trial's seeds are its runs), each by a TPE sampler seeded with the sampler seed plus the trial's number
(:func:`make_sampler`), so a continued study draws what an uninterrupted one would. While a trial runs, the
driver reads each of its runs' TensorBoard scalars (:class:`genpo.workbench.runs.ScalarReader`; the trainer
flushes them once per iteration) every ``poll_s`` seconds and reports an intermediate value at fixed
fractions of the budget (:data:`REPORTS` points), once every seed has passed that point; the pruner decides
on those. A pruned
trial's runs are stopped (each saves a checkpoint) and marked ``pruned`` in their ``cell.json``.

On Ctrl-C (or SIGTERM) every running run stops with a checkpoint and the trials stay ``RUNNING`` in the
journal; a rerun **resumes** them: the same parameters, each run continued from its newest checkpoint, the
intermediate values already reported kept. A driver killed outright leaves local runs going (they are their
own sessions); a rerun waits for none of them and refuses to start while one is still alive.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from genpo.console import make_console
from genpo.errors import ConfigError, RunFolderError
from genpo.registry import Registry
from genpo.training.config import TrainConfig
from genpo.training.fields import nest
from genpo.training.files import ensure_folder, write_atomic
from genpo.workbench.ablate import check_launch, driver_lock, plain_json
from genpo.workbench.grid import parse_setting
from genpo.workbench.runner import CellRun, Launcher, sigterm_as_interrupt, stop_cells
from genpo.workbench.runs import RETURN_TAG, read_cell, write_json
from genpo.workbench.space import SearchSpace, load_space

STUDY_NAME = "genpo-tune"
JOURNAL_FILE = "study.journal"
STUDY_FILE = "study.json"
REPORTS = 20
"""Intermediate values per trial: at 5%, 10%, ..., 100% of the budget (env steps)."""
FINAL_FRACTION = 0.1
"""The training objective averages the returns logged in the last 10% of the budget's env steps."""


# --- objectives -------------------------------------------------------------------------------------------


def window_return(steps: np.ndarray, returns: np.ndarray, at: int, width: float) -> float | None:
    """Mean training return logged in ``(at - width, at]`` env steps; the last one before ``at`` if none
    was logged there; ``None`` if no episode finished by ``at``."""
    upto = steps <= at
    if not upto.any():
        return None
    inside = upto & (steps > at - width)
    return float(returns[inside].mean()) if inside.any() else float(returns[upto][-1])


def train_objective(cell: CellRun) -> float | None:
    """The run's mean training return over the last 10% of its budget (``None``: no episode finished)."""
    steps, returns = cell.reader.poll().series(RETURN_TAG) if cell.reader else (np.zeros(0), np.zeros(0))
    if steps.size == 0:
        return None
    end = max(int(steps[-1]), cell.target)
    return window_return(steps, returns, end, FINAL_FRACTION * cell.target)


def eval_objective(cell: CellRun) -> float | None:
    """The mean of the run's own deterministic evaluation (``--episodes`` episodes at its end)."""
    returns = (read_cell(cell.run_dir) or {}).get("eval_returns")
    return float(np.mean(returns)) if returns else None


@dataclass(frozen=True)
class Objective:
    """What a trial's value is: one number per run, averaged across the trial's seeds."""

    describe: str
    per_run: Callable[[CellRun], float | None]


OBJECTIVES: Registry[Objective] = Registry("objective")
OBJECTIVES.add(
    "train",
    Objective(
        "mean training return (stochastic policy) over the last 10% of each run's env steps, averaged across seeds",
        train_objective,
    ),
    "mean training return over the last 10% of env steps, averaged across seeds (default)",
)
OBJECTIVES.add(
    "eval",
    Objective(
        "mean return of each run's deterministic evaluation at its end (--episodes episodes, zero-noise "
        "actions, as genpo play), averaged across seeds",
        eval_objective,
    ),
    "deterministic evaluation episodes at the end of each run, averaged across seeds",
)


# --- pruners ----------------------------------------------------------------------------------------------


def _median(budget: int) -> Any:
    import optuna

    # Three finished trials before any pruning, and none in the first quarter of a run (returns start noisy).
    return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=int(0.25 * budget), interval_steps=1)


def _hyperband(budget: int) -> Any:
    import optuna

    # The resource is the env steps reported: the smallest bracket runs a quarter of the budget.
    return optuna.pruners.HyperbandPruner(min_resource=max(1, budget // 4), max_resource=budget, reduction_factor=3)


def _no_pruner(budget: int) -> Any:
    import optuna

    return optuna.pruners.NopPruner()


PRUNERS: Registry[Callable[[int], Any]] = Registry("pruner")
PRUNERS.add(
    "median",
    _median,
    "stop a trial below the median of earlier trials at the same env step, after 3 finished trials and a "
    "quarter of the budget (default)",
)
PRUNERS.add("hyperband", _hyperband, "Hyperband over the reported env steps (Optuna's HyperbandPruner)")
PRUNERS.add("none", _no_pruner, "run every trial to its budget")


def _registered(registry: Registry, name: str, option: str) -> Any:
    if name not in registry:
        raise ConfigError(f"unknown {option} {name!r}; choose one of: {', '.join(registry.names())}")
    return registry.get(name)


# --- the plan ---------------------------------------------------------------------------------------------


@dataclass
class TunePlan:
    """A validated study: everything a trial needs, and the identity ``out`` is checked against."""

    out: Path
    setting: str
    fixed: dict[str, Any]
    space: SearchSpace
    seeds: list[int]
    base: TrainConfig
    trials: int
    objective: str
    pruner: str
    episodes: int
    sampler_seed: int
    startup_trials: int
    identity: dict[str, Any] = field(default_factory=dict)

    @property
    def budget(self) -> int:
        """Env steps of every run."""
        return int(self.base.run.total_steps)

    def report_steps(self) -> list[int]:
        """The env steps at which a trial reports an intermediate value."""
        return [round(k * self.budget / REPORTS) for k in range(1, REPORTS + 1)]


def plan_study(
    out: Path,
    setting: list[str],
    space_file: Path,
    seeds: list[int],
    base: TrainConfig,
    trials: int,
    objective: str = "train",
    pruner: str = "median",
    episodes: int = 10,
    sampler_seed: int = 0,
    startup_trials: int | None = None,
) -> TunePlan:
    """Validates the whole study and checks ``out``; touches no file.

    Args:
        out: The study folder.
        setting: At most one ``NAME="field=value ..."`` recipe, fixed for every trial.
        space_file: The YAML search space (:mod:`genpo.workbench.space`).
        seeds: The seeds of every trial.
        base: The base configuration (``--env``, ``--total-steps``, ``--config``, ``--preset`` applied).
        trials: Trials in the whole study (a rerun continues up to this many).
        objective: A name of :data:`OBJECTIVES`.
        pruner: A name of :data:`PRUNERS`.
        episodes: Deterministic evaluation episodes at the end of each run.
        sampler_seed: Seed of the TPE sampler.
        startup_trials: Random trials before TPE models the results (default: a third of ``trials``, 1-10).

    Raises:
        ConfigError: Any bad option, space entry or configuration, or an ``out`` that holds another study.
    """
    try:
        import optuna  # noqa: F401
    except ImportError:
        raise ConfigError("genpo tune needs optuna: pip install 'genpo[workbench]' (or pip install optuna)") from None
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise ConfigError(f"--trials must be an integer >= 1, got {trials}")
    _registered(OBJECTIVES, objective, "--objective")
    _registered(PRUNERS, pruner, "--pruner")
    if episodes < 1:
        raise ConfigError(f"--episodes must be >= 1, got {episodes}")
    if startup_trials is None:
        startup_trials = min(10, max(1, math.ceil(trials / 3)))
    if startup_trials < 0:
        raise ConfigError(f"--startup-trials must be >= 0, got {startup_trials}")
    if not seeds:
        raise ConfigError("--seeds needs at least one seed")
    if any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        raise ConfigError(f"--seeds must be distinct integers >= 0, got {seeds}")
    if len(setting) > 1:
        raise ConfigError("genpo tune takes one --setting (the recipe every trial starts from)")
    name, fixed = parse_setting(setting[0]) if setting else ("default", {})
    if base.run.total_steps is None:
        raise ConfigError("genpo tune needs a budget in env steps: --total-steps N (or run.total_steps in --config)")
    try:
        TrainConfig.from_dict(nest(fixed), base).validate()
    except ConfigError as exc:  # the setting's own bad value, named (a bug below validate stays a bug)
        raise ConfigError(f"--setting {name}: {exc}", field=exc.field) from None
    space = load_space(space_file, base, fixed)
    identity = plain_json(
        {
            "env": base.env.id,
            "setting": {"name": name, "fields": fixed},
            "base": base.to_dict(),
            "space": space.to_dict(),
            "seeds": seeds,
            "objective": objective,
            "episodes": episodes,
            "pruner": pruner,
            "sampler_seed": sampler_seed,
        }
    )
    plan = TunePlan(out, name, fixed, space, seeds, base, trials, objective, pruner, episodes, sampler_seed,
                    startup_trials, identity)  # fmt: skip
    check_out(plan)
    return plan


def check_out(plan: TunePlan) -> None:
    """Refuses an ``out`` that holds another study (or a journal of unknown origin); reads only.

    Raises:
        ConfigError: ``out`` is a file, holds a journal without ``study.json``, or a study that differs.
    """
    out = plan.out
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {str(out)!r} is a file; give a folder for the study")
    info, journal = out / STUDY_FILE, out / JOURNAL_FILE
    if not info.exists():
        if journal.exists():
            raise ConfigError(
                f"{out} holds a study journal without its {STUDY_FILE}: not a genpo tune study; use another --out"
            )
        return
    try:
        old = json.loads(info.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read {info}: {exc}; use another --out") from None
    differs = sorted(k for k in set(old) | set(plan.identity) if old.get(k) != plan.identity.get(k))
    if differs:
        raise ConfigError(
            f"{out} holds another study (it differs in: {', '.join(differs)}); use another --out, or rerun that "
            f"study's own command to continue it"
        )


# --- running ----------------------------------------------------------------------------------------------


@dataclass
class TrialRun:
    """A trial the driver is running: its Optuna trial, its values and its runs."""

    trial: Any
    values: dict[str, Any]
    cells: list[CellRun]
    reported: set[int]
    last_step: int | None = None

    @property
    def number(self) -> int:
        return int(self.trial.number)


def trial_name(number: int) -> str:
    """The trial's group name (``t0007``); its runs are ``t0007_s<seed>``."""
    return f"t{number:04d}"


def trial_cells(plan: TunePlan, number: int, values: dict[str, Any], local: bool) -> list[CellRun]:
    """The runs of one trial, one per seed, as workbench cells (finished ones marked ``skipped``).

    Raises:
        ConfigError: The drawn values give an invalid configuration.
        RunFolderError: A run folder of this trial is still being trained by a process left by a killed driver.
    """
    from genpo.training.runner import env_folder_name

    out = []
    for seed in plan.seeds:
        name = f"{trial_name(number)}_s{seed}"
        cfg = TrainConfig.from_dict(nest({**plan.fixed, **values, "run.seed": seed}), plan.base)
        cfg.validate()
        cfg.run.logdir, cfg.run.run_name = str(plan.out), name
        run_dir = plan.out / "genpo" / env_folder_name(cfg.env.id) / name
        spec = {
            "name": name,
            "group": trial_name(number),
            "setting": plan.setting,
            "varied": plain_json(values),
            "seed": seed,
            "env": cfg.env.id,
            "config": plain_json(cfg.to_dict()),
            "episodes": plan.episodes,
            "run_dir": str(run_dir),
            "trial": number,
        }
        old = read_cell(run_dir) or {}
        if old.get("state") == "running" and local and _alive(old.get("pid")):
            raise RunFolderError(
                f"{run_dir} is still being trained by pid {old['pid']} (left by a driver that was killed); "
                f"wait for it or stop it (kill -INT {old['pid']}), then rerun this command"
            )
        state = "skipped" if old.get("state") == "done" else "pending"
        out.append(CellRun(name, run_dir, spec, state=state))
    return out


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A killed run whose parent died too stays a zombie until PID 1 reaps it, which a container's PID 1 may never
    # do: it trains nothing, so it does not hold its run folder (Linux: state Z in /proc/<pid>/stat).
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def _mark(cell: CellRun, state: str, **extra: Any) -> None:
    """Rewrites the state in a run's ``cell.json`` (``pruned``), keeping the rest of the record."""
    record = read_cell(cell.run_dir)
    if record is not None:
        write_json(cell.run_dir / "cell.json", {**record, "state": state, **extra})
    cell.state = state


class Driver:
    """Runs the study's trials on a launcher, ``jobs`` runs at a time (see the module docstring)."""

    def __init__(self, plan: TunePlan, study: Any, launcher: Launcher, jobs: int, console: Console,
                 local: bool, poll_s: float = 1.0) -> None:  # fmt: skip
        self.plan, self.study, self.launcher, self.jobs = plan, study, launcher, jobs
        self.console, self.local, self.poll_s = console, local, poll_s
        self.objective: Objective = OBJECTIVES.get(plan.objective)
        self.active: list[TrialRun] = []
        self.finished = 0

    def say(self, text: str) -> None:
        self.console.print(text, highlight=False, markup=False)

    # trials
    def resume_running(self) -> None:
        """Takes back the trials a stopped driver left ``RUNNING`` (same values; runs continue from checkpoints)."""
        import optuna

        trials = self.study.get_trials(deepcopy=False)
        self.finished = sum(t.state.is_finished() for t in trials)
        for frozen in trials:
            if frozen.state != optuna.trial.TrialState.RUNNING:
                continue
            # Optuna's Trial(study, trial_id) takes a running trial back; the id is only on FrozenTrial._trial_id.
            trial = optuna.trial.Trial(self.study, frozen._trial_id)
            values = self.plan.space.values_of(frozen.params)
            cells = trial_cells(self.plan, frozen.number, values, self.local)
            reported = {k for k, s in enumerate(self.plan.report_steps()) if s in frozen.intermediate_values}
            last = max(frozen.intermediate_values) if frozen.intermediate_values else None
            self.active.append(TrialRun(trial, values, cells, reported, last))
            self.say(f"{trial_name(frozen.number)}: resumed ({describe_values(values)})")

    def ask(self) -> None:
        """Asks Optuna for the next trial and queues its runs (an invalid draw fails that trial only)."""
        import optuna

        # A sampler seeded by the trial's number: draws depend on the seed, the number and the finished trials'
        # history only, so a study resumed after Ctrl-C or a crash draws what it would have drawn (one job).
        self.study.sampler = make_sampler(self.plan, len(self.study.get_trials(deepcopy=False)))
        trial = self.study.ask()
        values = self.plan.space.suggest(trial)
        try:
            cells = trial_cells(self.plan, trial.number, values, self.local)
        except ConfigError as exc:
            trial.set_user_attr("error", str(exc))
            self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
            self.finished += 1
            self.say(f"{trial_name(trial.number)}: failed before it ran: {exc}")
            return
        self.active.append(TrialRun(trial, values, cells, set()))
        self.say(f"{trial_name(trial.number)}: {describe_values(values)}")

    def wanted(self) -> bool:
        return self.finished + len(self.active) < self.plan.trials

    # runs
    def running_cells(self) -> list[CellRun]:
        return [c for t in self.active for c in t.cells if c.state == "running"]

    def fill(self) -> None:
        """Starts queued runs while slots are free, asking for new trials when the queue is empty."""
        while len(self.running_cells()) < self.jobs:
            queued = next((c for t in self.active for c in t.cells if c.state == "pending"), None)
            if queued is None:
                if not self.wanted():
                    return
                self.ask()
                continue
            queued.run_dir.mkdir(parents=True, exist_ok=True)
            spec_path = queued.run_dir / "cell_spec.json"
            write_atomic(spec_path, json.dumps(queued.spec, indent=2))
            queued.handle = self.launcher.start(spec_path, queued.run_dir / "cell.log")
            queued.state, queued.started = "running", time.time()

    def poll_runs(self, tr: TrialRun) -> None:
        for c in tr.cells:
            if c.state != "running":
                if c.reader is None and c.state == "skipped":
                    c.refresh()
                continue
            c.refresh()
            code = c.handle.poll() if c.handle else 0
            if code is None:
                continue
            c.state = (read_cell(c.run_dir) or {}).get("state", "failed" if code else "done")
            if code not in (0, 130) and c.state == "running":
                c.state = "failed"
            if c.state in ("interrupted", "running"):  # stopped from outside (a preempted job): continue it
                c.state = "pending"
            c.refresh()

    def report(self, tr: TrialRun) -> None:
        """Reports every intermediate value all of the trial's seeds have passed."""
        started = [c for c in tr.cells if c.reader is not None]
        if len(started) < len(tr.cells):
            return
        reached = min(max(c.steps, c.target if c.state in ("done", "skipped") else 0) for c in tr.cells)
        width = FINAL_FRACTION * self.plan.budget
        for k, at in enumerate(self.plan.report_steps()):
            if k in tr.reported or at > reached:
                continue
            values = [window_return(*c.reader.series(RETURN_TAG), at, width) for c in tr.cells]
            tr.reported.add(k)
            if any(v is None for v in values):
                continue  # no episode finished yet in some seed: nothing to compare at this point
            tr.trial.report(float(np.mean(values)), step=at)
            tr.last_step = at

    def settle(self, tr: TrialRun) -> bool:
        """Prunes or finishes the trial when it can; returns True when it left the active list."""
        import optuna

        states = {c.state for c in tr.cells}
        if states <= {"done", "skipped"}:
            per_run = [self.objective.per_run(c) for c in tr.cells]
            tr.trial.set_user_attr("runs", [str(c.run_dir) for c in tr.cells])
            tr.trial.set_user_attr("per_seed", per_run)
            if any(v is None for v in per_run):
                tr.trial.set_user_attr("error", "a run has no value for the objective (no episode finished)")
                self.study.tell(tr.trial, state=optuna.trial.TrialState.FAIL)
                self.say(f"{trial_name(tr.number)}: failed (a run finished no episode)")
            else:
                value = float(np.mean(per_run))
                self.study.tell(tr.trial, value)
                self.say(f"{trial_name(tr.number)}: done, objective {value:.2f}")
        elif "failed" in states:
            stop_cells([c for c in tr.cells if c.state == "running"])
            tr.trial.set_user_attr("runs", [str(c.run_dir) for c in tr.cells])
            tr.trial.set_user_attr("error", "a run failed (see cell.log in its folder)")
            self.study.tell(tr.trial, state=optuna.trial.TrialState.FAIL)
            self.say(f"{trial_name(tr.number)}: failed (see cell.log in {tr.cells[0].run_dir.parent})")
        elif tr.last_step is not None and tr.trial.should_prune():
            step = tr.last_step
            stop_cells([c for c in tr.cells if c.state == "running"])
            for c in tr.cells:
                _mark(c, "pruned", pruned_at_steps=step)
            tr.trial.set_user_attr("runs", [str(c.run_dir) for c in tr.cells if c.run_dir.exists()])
            self.study.tell(tr.trial, state=optuna.trial.TrialState.PRUNED)
            self.say(f"{trial_name(tr.number)}: pruned at {step:,} env steps")
        else:
            return False
        self.active.remove(tr)
        self.finished += 1
        return True

    def run(self) -> bool:
        """Runs until the study has ``trials`` finished trials; False if interrupted (Ctrl-C, SIGTERM)."""
        previous = sigterm_as_interrupt()
        try:
            while True:
                for tr in list(self.active):
                    self.poll_runs(tr)
                    self.report(tr)
                    self.settle(tr)
                self.fill()
                if not self.active:
                    return True
                time.sleep(self.poll_s)
        except KeyboardInterrupt:
            self.say("stopping: every running run saves a checkpoint; rerun the same command to resume ...")
            stop_cells(self.running_cells())
            return False
        except BaseException:
            stop_cells(self.running_cells())  # never leave orphaned runs behind when the driver itself fails
            raise
        finally:
            if previous is not None:
                import signal

                signal.signal(signal.SIGTERM, previous)


def describe_values(values: dict[str, Any]) -> str:
    return " ".join(f"{k.split('.', 1)[1]}={_short(v)}" for k, v in values.items())


def _short(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, dict)):
        return json.dumps(v, separators=(",", ":"))
    return str(v)


# --- the study --------------------------------------------------------------------------------------------


def make_sampler(plan: TunePlan, number: int) -> Any:
    """The TPE sampler that draws trial ``number``: seeded by the plan's sampler seed plus ``number``.

    Optuna keeps a sampler's random state in memory only (the journal holds trials, not the RNG); one sampler per
    trial, seeded by its number, makes a continued study draw as an uninterrupted one would.
    """
    import optuna

    return optuna.samplers.TPESampler(seed=plan.sampler_seed + number, n_startup_trials=plan.startup_trials)


def open_study(plan: TunePlan) -> Any:
    """The study in ``out/study.journal`` (created, or loaded to continue), with the plan's sampler and pruner."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = JournalStorage(JournalFileBackend(str(plan.out / JOURNAL_FILE)))
    sampler = make_sampler(plan, 0)
    return optuna.create_study(
        study_name=STUDY_NAME,
        storage=storage,
        direction="maximize",
        sampler=sampler,
        pruner=PRUNERS.get(plan.pruner)(plan.budget),
        load_if_exists=True,
    )


def tune(
    plan: TunePlan,
    jobs: int,
    launcher: str = "local",
    launcher_options: dict[str, Any] | None = None,
    console: Console | None = None,
    poll_s: float = 1.0,
) -> tuple[str, dict[str, Any]]:
    """Runs the study to ``plan.trials`` finished trials, then writes the report.

    Returns:
        ``done``, ``failed`` (a trial failed) or ``interrupted``, and
        :func:`genpo.workbench.tune_report.write_results`'s dict.

    Raises:
        ConfigError: A bad ``jobs`` or launcher (before any file is written).
        RunFolderError: Another driver runs this study, or a run is still alive from a killed driver.
    """
    console = console or make_console()
    start = check_launch(jobs, launcher)
    ensure_folder(plan.out, "study folder (--out)", create=False)
    runner = start(plan.out, dict(launcher_options or {}))
    with driver_lock(plan.out, "genpo tune"):
        if not (plan.out / STUDY_FILE).exists():
            write_json(plan.out / STUDY_FILE, plan.identity)
        study = open_study(plan)
        driver = Driver(plan, study, runner, jobs, console, local=launcher == "local", poll_s=poll_s)
        driver.resume_running()
        left = max(0, plan.trials - driver.finished)
        console.print(
            f"study {plan.out}: {driver.finished} trials finished, {left} to go "
            f"({len(driver.active)} resumed), {len(plan.seeds)} seed(s) each, {jobs} run(s) at a time, "
            f"launcher {launcher}",
            highlight=False,
        )
        console.print(f"objective: {OBJECTIVES.get(plan.objective).describe}", highlight=False, markup=False)
        t0 = time.perf_counter()
        finished = driver.run()
        console.print(f"ran for {time.perf_counter() - t0:,.0f} s (wall clock)", highlight=False)
        from genpo.workbench.tune_report import write_results

        results = write_results(plan, study)
    if not finished:
        return "interrupted", results
    import optuna

    if any(t.state == optuna.trial.TrialState.FAIL for t in study.get_trials(deepcopy=False)):
        return "failed", results
    return "done", results
