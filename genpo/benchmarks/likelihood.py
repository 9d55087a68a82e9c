"""``genpo bench likelihood``: cost and error of every likelihood estimator on one velocity network.

One velocity network (``mlp``, last layer scaled so that mean |v| = 1) is composed with each integrator
and estimator. For each combination the benchmark measures, for one log-prob evaluation of a batch
(``policy.log_prob`` under ``torch.no_grad``, i.e. the rollout-time cost):

* the median wall time over repeated evaluations (after a warm-up on a few rows);
* the number of velocity-network evaluations (calls of the bound field; backward passes through the
  network, which ``jacobian``, ``trace`` and ``hutchinson`` add, are not counted there);
* the absolute error against a float64 oracle on the first ``oracle_rows`` rows: the float64
  ``jacobian`` estimator of the same map for edict and euler, float64 ``trace`` with a tight dopri5
  tolerance (the exact continuous-time density) for every pf-ode row;
* for stochastic estimators, the standard deviation of the estimate across probe draws (per sample,
  averaged over the oracle rows).

A second table measures, for every deterministic integrator, how far its K-step map lands from the
velocity field's continuous flow: the distance of the action to the float64 torchdiffeq dopri5 solution
at a tight tolerance, from the same start (doubled latents start with both halves equal), at several K.
"""

from __future__ import annotations

import copy
import math
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from typing import Any

import torch
from rich import box
from rich.table import Table
from torch import Tensor

from genpo.errors import ConfigError
from genpo.inversion import INTEGRATORS, LIKELIHOODS, InversionError
from genpo.inversion.base import Integrator, VelocityField
from genpo.inversion.likelihood import LikelihoodEstimator
from genpo.models.flow import FlowPolicy
from genpo.models.velocity import MLPVelocity, VelocityNet, scale_output_


@dataclass(frozen=True)
class Spec:
    """One benchmarked combination.

    Attributes:
        key: Short name used by ``--only``.
        label: What the table shows.
        integrator: Integrator registry name.
        integrator_options: Extra integrator arguments (``steps`` and ``p`` come from the run).
        likelihood: Estimator registry name.
        likelihood_options: Estimator arguments.
    """

    key: str
    label: str
    integrator: str
    integrator_options: dict[str, Any] = field(default_factory=dict)
    likelihood: str = "exact"
    likelihood_options: dict[str, Any] = field(default_factory=dict)

    @property
    def family(self) -> str:
        """Rows of one family share latents and an oracle: the same map (pf-ode rows: the same ODE)."""
        if self.integrator == "pf-ode":
            return self.integrator
        return self.integrator + "".join(f"[{k}={v}]" for k, v in sorted(self.integrator_options.items()))


def default_specs(pf_tol: float = 1e-5, probes: int = 1) -> list[Spec]:
    """The benchmarked combinations, in table order."""
    dopri = {"method": "dopri5", "rtol": pf_tol, "atol": pf_tol}
    rk4 = {"method": "rk4"}
    return [
        Spec("edict-exact", "edict exact", "edict", {}, "exact"),
        Spec("edict-jacobian", "edict jacobian", "edict", {}, "jacobian"),
        Spec("euler-exact", "euler exact", "euler", {}, "exact"),
        Spec("euler-jacobian", "euler jacobian", "euler", {}, "jacobian"),
        Spec("heun-exact", "reversible-heun exact", "reversible-heun", {}, "exact"),
        Spec("heun-jacobian", "reversible-heun jacobian", "reversible-heun", {}, "jacobian"),
        Spec("rrk4-exact", "reversible-rk rk4 exact", "reversible-rk", {"tableau": "rk4"}, "exact"),
        Spec("rrk4-jacobian", "reversible-rk rk4 jacobian", "reversible-rk", {"tableau": "rk4"}, "jacobian"),
        Spec("chain-exact", "gaussian-chain exact", "gaussian-chain", {}, "exact"),
        Spec("chain-jacobian", "gaussian-chain jacobian", "gaussian-chain", {}, "jacobian"),
        Spec("dopri5-trace", "dopri5 trace", "pf-ode", dopri, "trace"),
        Spec(
            "dopri5-hutch-gauss",
            "dopri5 hutch-gauss",
            "pf-ode",
            dopri,
            "hutchinson",
            {"probe": "gaussian", "probes": probes},
        ),
        Spec(
            "dopri5-hutch-rad",
            "dopri5 hutch-rad",
            "pf-ode",
            dopri,
            "hutchinson",
            {"probe": "rademacher", "probes": probes},
        ),
        Spec("rk4-trace", "rk4·K trace", "pf-ode", rk4, "trace"),
        Spec(
            "rk4-hutch-gauss",
            "rk4·K hutch-gauss",
            "pf-ode",
            rk4,
            "hutchinson",
            {"probe": "gaussian", "probes": probes},
        ),
        Spec(
            "rk4-hutch-rad",
            "rk4·K hutch-rad",
            "pf-ode",
            rk4,
            "hutchinson",
            {"probe": "rademacher", "probes": probes},
        ),
    ]


@dataclass
class Row:
    """The measurements of one combination (errors over the oracle rows; times in seconds)."""

    key: str
    label: str
    integrator: str
    likelihood: str
    median_s: float | None = None
    runs: int = 0
    nfe: int | None = None
    err_max: float | None = None
    err_median: float | None = None
    probe_std: float | None = None
    oracle: str = ""
    error: str | None = None


@dataclass
class DistanceRow:
    """Distance of a deterministic K-step map's action to the continuous flow (float64, over the oracle rows)."""

    label: str
    steps: int
    err_max: float
    err_median: float


@dataclass
class Result:
    """A whole benchmark run."""

    config: dict[str, Any]
    machine: dict[str, Any]
    mean_speed: float
    rows: list[Row]
    distances: list[DistanceRow] = field(default_factory=list)

    def ratio(self, slow: str = "edict-jacobian", fast: str = "edict-exact") -> float | None:
        """Median time of ``slow`` over that of ``fast`` (``None`` if either is missing)."""
        times = {r.key: r.median_s for r in self.rows}
        if times.get(slow) and times.get(fast):
            return times[slow] / times[fast]
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.config,
            "machine": self.machine,
            "mean_speed": self.mean_speed,
            "jacobian_over_exact": self.ratio(),
            "rows": [asdict(r) for r in self.rows],
            "distances": [asdict(r) for r in self.distances],
        }


# -- helpers ---------------------------------------------------------------------------------------


@contextmanager
def counting(velocity: VelocityNet) -> Iterator[list[int]]:
    """Counts calls of every field ``velocity.bind`` returns inside the block (one-element list)."""
    counter = [0]
    bind = velocity.bind

    def counting_bind(obs: Tensor) -> VelocityField:
        bound = bind(obs)

        def counted(x: Tensor, t: float | Tensor) -> Tensor:
            counter[0] += 1
            return bound(x, t)

        return counted

    velocity.bind = counting_bind  # type: ignore[method-assign]
    try:
        yield counter
    finally:
        del velocity.bind


def machine_info(threads: int) -> dict[str, Any]:
    """CPU model, core count, torch version and the thread count used."""
    model = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "threads": threads,
        "python": platform.python_version(),
    }


def make_velocity(
    dim: int, obs_dim: int, hidden: Sequence[int], seed: int, activation: str = "mish"
) -> tuple[MLPVelocity, float]:
    """The benchmarked network with its last layer scaled so that mean |v| over N(0, I) inputs and grid times is 1."""
    torch.manual_seed(seed)
    net = MLPVelocity(dim, obs_dim, hidden=tuple(hidden), activation=activation)
    gen = torch.Generator().manual_seed(seed + 1)
    x, obs = torch.randn(1024, dim, generator=gen), torch.randn(1024, obs_dim, generator=gen)
    with torch.no_grad():
        speed = torch.stack([net(x, t, obs).abs().mean() for t in (0.0, 0.2, 0.4, 0.6, 0.8)]).mean().item()
        scale_output_(net, 1.0 / speed)
        after = torch.stack([net(x, t, obs).abs().mean() for t in (0.0, 0.2, 0.4, 0.6, 0.8)]).mean().item()
    return net, after


def build_integrator(spec: Spec, steps: int, p: float) -> Integrator:
    cls = INTEGRATORS.get(spec.integrator)
    kwargs = dict(spec.integrator_options)
    if spec.integrator == "edict":
        kwargs["p"] = p
    return cls(steps=steps, **kwargs)


def build_estimator(spec: Spec, **extra: Any) -> LikelihoodEstimator:
    return LIKELIHOODS.get(spec.likelihood)(**{**spec.likelihood_options, **extra})


def _time(
    fn: Callable[[int], Tensor], velocity: VelocityNet, batch: int, repeats: int, budget_s: float
) -> tuple[list[float], int, Tensor]:
    """Times ``fn(batch)``: a warm-up on 8 rows (one-off costs), one counted run, then more within the budget.

    Args:
        fn: Evaluates the log-prob of the first ``n`` rows.
        velocity: The network whose field calls are counted during the first full run.
        batch: Rows of the timed runs.
        repeats: Timed runs after the first (fewer when ``budget_s`` would be exceeded).
        budget_s: Soft limit on the total time of the timed runs.

    Returns:
        The run times, the network evaluations of the first run, and its output.
    """
    fn(min(8, batch))
    start = time.perf_counter()
    with counting(velocity) as calls:
        out = fn(batch)
    times = [time.perf_counter() - start]
    while len(times) <= repeats and (time.perf_counter() - start) + times[-1] <= budget_s:
        t0 = time.perf_counter()
        fn(batch)
        times.append(time.perf_counter() - t0)
    return times, calls[0], out


# -- the benchmark ---------------------------------------------------------------------------------


@dataclass
class Settings:
    """What one ``genpo bench likelihood`` run measures (the fields before ``threads`` are recorded in its JSON)."""

    batch: int = 4096
    """Rows per log-prob evaluation."""
    dim: int = 8
    """Action width d (edict's latent is 2d)."""
    obs_dim: int | None = None
    """Observation width (default: ``dim``)."""
    steps: int = 5
    """K of edict, euler and the fixed-step pf-ode rows."""
    p: float = 0.95
    """EDICT mixing coefficient."""
    hidden: Sequence[int] = (400, 200, 100)
    """Hidden sizes of the velocity MLP."""
    activation: str = "mish"
    """Its activation (the authors': mish)."""
    repeats: int = 5
    """Timed evaluations per row after the first (fewer if ``budget_s`` runs out)."""
    pf_tol: float = 1e-5
    """rtol = atol of the benchmarked dopri5 rows."""
    probes: int = 1
    """Hutchinson probes per evaluation."""
    oracle_rows: int = 64
    """Rows on which errors and probe spreads are computed."""
    oracle_tol: float = 1e-7
    """rtol = atol of the float64 dopri5 trace oracle."""
    probe_draws: int = 8
    """Probe draws for the spread of stochastic estimators."""
    budget_s: float = 30.0
    """Soft time budget per row for the repeats."""
    distance_steps: Sequence[int] = (2, 5, 10)
    """The K of the flow-distance table (empty: no table)."""
    distance_tol: float = 1e-10
    """rtol = atol of its float64 dopri5 reference."""
    seed: int = 0
    """Seed of the network and the data."""
    threads: int = 1
    """``torch.set_num_threads``."""
    only: Sequence[str] | None = None
    """Keys of the rows to run (default: all of :func:`default_specs`)."""

    def check(self) -> None:
        """``ConfigError`` for sizes out of range."""
        s = self
        if s.batch < 1 or s.dim < 1 or s.steps < 1 or s.repeats < 0 or s.threads < 1 or s.oracle_rows < 1:
            raise ConfigError("batch, dim, steps, threads and oracle_rows must be >= 1 and repeats >= 0")

    def record(self) -> dict[str, Any]:
        """The settings as the result's JSON records them (resolved ``obs_dim``, oracle rows capped at the batch)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("threads", "only")}
        out.update(obs_dim=self.obs_dim or self.dim, oracle_rows=min(self.oracle_rows, self.batch))
        out.update(hidden=list(self.hidden), distance_steps=list(self.distance_steps))
        out["date"] = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        return out


@torch.no_grad()
def run(settings: Settings | None = None, log: Callable[[str], None] | None = None) -> Result:
    """Measures every combination of :func:`default_specs` (or those whose key is in ``settings.only``).

    Args:
        settings: What to measure (default: :class:`Settings`'s defaults).
        log: Called with a progress line per step.

    Raises:
        ConfigError: A size out of range or an unknown row key.
    """
    s = settings or Settings()
    say = log or (lambda _msg: None)
    s.check()
    specs = default_specs(s.pf_tol, s.probes)
    if s.only:
        known = {spec.key for spec in specs}
        unknown = [k for k in s.only if k not in known]
        if unknown:
            raise ConfigError(f"unknown row(s) {', '.join(unknown)}; choose from: {', '.join(sp.key for sp in specs)}")
        specs = [spec for spec in specs if spec.key in s.only]
    torch.set_num_threads(s.threads)
    config = s.record()
    batch, steps, p, seed, obs_dim, n_oracle = s.batch, s.steps, s.p, s.seed, config["obs_dim"], config["oracle_rows"]
    velocity, speed = make_velocity(s.dim, obs_dim, s.hidden, seed, s.activation)
    velocity64 = copy.deepcopy(velocity).double()
    gen = torch.Generator().manual_seed(seed + 2)
    obs = torch.randn(batch, obs_dim, generator=gen)
    result = Result(config, machine_info(s.threads), speed, [])

    latents: dict[str, Tensor] = {}
    oracles: dict[str, tuple[Tensor, str]] = {}
    for spec in specs:
        row = Row(spec.key, spec.label, "", spec.likelihood)
        result.rows.append(row)
        try:
            integ = build_integrator(spec, steps, p)
            row.integrator = integ.describe()
            if spec.family not in latents:
                say(f"{spec.family}: drawing latents")
                latents[spec.family] = _draw_latents(spec, velocity, obs, steps, p, seed)
            latent = latents[spec.family]
            if spec.family not in oracles:
                say(f"{spec.family}: float64 oracle on {n_oracle} rows")
                oracles[spec.family] = _oracle(
                    spec, velocity64, obs[:n_oracle], latent[:n_oracle], steps, p, s.oracle_tol
                )
            oracle, row.oracle = oracles[spec.family]

            policy = FlowPolicy(velocity, integ, build_estimator(spec))
            policy.validate_inputs = False
            say(f"{spec.label}: timing")
            times, row.nfe, logp = _time(
                lambda n, pol=policy, lat=latent: pol.log_prob(obs[:n], lat[:n]), velocity, batch, s.repeats, s.budget_s
            )
            row.median_s, row.runs = statistics.median(times), len(times)
            err = (logp[:n_oracle].double() - oracle).abs()
            row.err_max, row.err_median = err.max().item(), err.median().item()
            if not LIKELIHOODS.get(spec.likelihood).exact:
                row.probe_std = _probe_spread(spec, integ, velocity, obs[:n_oracle], latent[:n_oracle], s.probe_draws)
        except InversionError as exc:
            row.error = f"inversion failed: {exc}"
        say(f"{spec.label}: done")
    if s.distance_steps:
        say(f"flow distances at K = {', '.join(map(str, s.distance_steps))}")
        reference_obs = obs[:n_oracle].double()
        result.distances = flow_distances(velocity64, reference_obs, s.distance_steps, s.distance_tol, p, seed)
    return result


DISTANCE_SPECS = [
    Spec("", "edict", "edict"),
    Spec("", "euler", "euler"),
    Spec("", "pf-ode rk4 (not reversible)", "pf-ode", {"method": "rk4"}),
    Spec("", "reversible-heun", "reversible-heun"),
    Spec("", "reversible-rk midpoint", "reversible-rk", {"tableau": "midpoint"}),
    Spec("", "reversible-rk rk4", "reversible-rk", {"tableau": "rk4"}),
]
"""The deterministic maps whose distance to the continuous flow is measured (gaussian-chain is stochastic)."""


def flow_distances(
    velocity64: VelocityNet, obs: Tensor, steps: Sequence[int], tol: float, p: float, seed: int
) -> list[DistanceRow]:
    """``||action - flow(x_0)||`` per row: each map's action from ``x_0`` (doubled: ``(x_0, x_0)``) against
    torchdiffeq's dopri5 solution of ``dx/dt = v(x, t)`` from t = 0 to 1 at ``rtol = atol = tol``, in float64."""
    gen = torch.Generator().manual_seed(seed + 4)
    x0 = torch.randn(obs.shape[0], velocity64.latent_dim, generator=gen, dtype=torch.float64)
    field = velocity64.bind(obs)
    reference = INTEGRATORS.get("pf-ode")(method="dopri5", rtol=tol, atol=tol)
    target, _ = reference.forward(field, x0, log_det=False)
    rows = []
    for spec in DISTANCE_SPECS:
        for k in steps:
            integ = build_integrator(spec, k, p)
            start = x0.repeat(1, integ.latent_width(x0.shape[-1]) // x0.shape[-1])
            action = integ.to_action(integ.forward(field, start, log_det=False)[0])
            dist = torch.linalg.vector_norm(action - target, dim=-1)
            rows.append(DistanceRow(spec.label, k, dist.max().item(), dist.median().item()))
    return rows


def _draw_latents(spec: Spec, velocity: VelocityNet, obs: Tensor, steps: int, p: float, seed: int) -> Tensor:
    """Latents the policy would store: forward passes of the family's map from N(0, I) noise.

    pf-ode rows share latents drawn with rk4 in K steps (the density is evaluated wherever they land).
    """
    draw = Spec("", "", "pf-ode", {"method": "rk4"}) if spec.integrator == "pf-ode" else spec
    integ = build_integrator(draw, steps, p)
    gen = torch.Generator().manual_seed(seed + 3)
    noise = torch.randn(obs.shape[0], integ.latent_width(velocity.latent_dim), generator=gen)
    return integ.forward(velocity.bind(obs), noise, log_det=False)[0]


def _oracle(
    spec: Spec, velocity64: VelocityNet, obs: Tensor, latent: Tensor, steps: int, p: float, tol: float
) -> tuple[Tensor, str]:
    """float64 log-probs of the family's map: jacobian of the same map, or tight-tolerance trace for pf-ode."""
    if spec.integrator == "pf-ode":
        integ = INTEGRATORS.get("pf-ode")(method="dopri5", rtol=tol, atol=tol)
        estimator, name = LIKELIHOODS.get("trace")(), f"float64 pf-ode dopri5 (tol {tol:g}) + trace"
    else:
        integ = build_integrator(spec, steps, p)
        estimator, name = LIKELIHOODS.get("jacobian")(), f"float64 {integ.describe()} + jacobian"
    policy = FlowPolicy(velocity64, integ, estimator)
    return policy.log_prob(obs.double(), latent.double()), name


def _probe_spread(
    spec: Spec, integ: Integrator, velocity: VelocityNet, obs: Tensor, latent: Tensor, draws: int
) -> float:
    """Per-sample standard deviation of a stochastic estimate across ``draws`` probe draws, averaged."""
    estimates = []
    for draw in range(max(draws, 2)):
        policy = FlowPolicy(velocity, integ, build_estimator(spec, seed=1000 + draw))
        estimates.append(policy.log_prob(obs, latent).double())
    return torch.stack(estimates).std(dim=0).mean().item()


# -- output ----------------------------------------------------------------------------------------


def _fmt(x: float | None, spec: str = ".2e") -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def table(result: Result) -> Table:
    """The rich table of a run."""
    cfg = result.config
    title = (
        f"log-prob of a batch of {cfg['batch']}, d={cfg['dim']}, K={cfg['steps']}, mlp {cfg['hidden']} "
        f"{cfg['activation']} "
        f"(mean |v| = {result.mean_speed:.2f}), {result.machine['threads']} thread(s)"
    )
    t = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    t.add_column("estimator", style="bold cyan", no_wrap=True)
    t.add_column("s/eval", justify="right")
    t.add_column("runs", justify="right")
    t.add_column("net evals", justify="right")
    t.add_column("|err| max", justify="right")
    t.add_column("|err| med", justify="right")
    t.add_column("probe std", justify="right")
    for r in result.rows:
        if r.error:
            t.add_row(r.label, f"[red]{r.error[:80]}[/red]", "", "", "", "", "")
            continue
        t.add_row(
            r.label,
            _fmt(r.median_s, ".3g"),
            str(r.runs),
            str(r.nfe),
            _fmt(r.err_max),
            _fmt(r.err_median),
            _fmt(r.probe_std),
        )
    return t


def distance_table(result: Result) -> Table:
    """The rich table of the flow distances: one row per map, one column per K (max / median)."""
    cfg = result.config
    steps = cfg["distance_steps"]
    t = Table(
        title=f"distance of the K-step action to the continuous flow (float64 dopri5, tol {cfg['distance_tol']:g}), "
        f"max / median over {cfg['oracle_rows']} rows, halves started equal",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    t.add_column("map", style="bold cyan", no_wrap=True)
    for k in steps:
        t.add_column(f"K = {k}", justify="right")
    by_label: dict[str, dict[int, DistanceRow]] = {}
    for r in result.distances:
        by_label.setdefault(r.label, {})[r.steps] = r
    for label, cells in by_label.items():
        t.add_row(label, *(f"{cells[k].err_max:.2e} / {cells[k].err_median:.2e}" for k in steps))
    return t


def summary(result: Result) -> list[str]:
    """Lines printed under the table: the jacobian/exact ratio and the oracles."""
    cfg = result.config
    lines = [
        "s/eval: median seconds per log-prob evaluation of the batch (no grad); net evals: velocity-network "
        "calls per evaluation (backward passes not counted)",
        f"|err|: against a float64 oracle on the first {cfg['oracle_rows']} rows; probe std: per-sample std of "
        f"the estimate over {cfg['probe_draws']} probe draws, averaged over those rows",
        f"pf-ode rows: dopri5 at rtol = atol = {cfg['pf_tol']:g}; rk4 in K = {cfg['steps']} steps; "
        f"hutchinson with {cfg['probes']} probe(s) per evaluation",
    ]
    ratio = result.ratio()
    if ratio is not None:
        verdict = "meets" if ratio >= 25 else "falls short of"
        passes = 2 + 2 * cfg["dim"]
        lines.append(
            f"edict: jacobian / exact time = {ratio:.1f}x ({verdict} the 25x goal; cost model: an inverse pass, "
            f"a forward pass and 2d = {2 * cfg['dim']} input-VJPs of about one pass each = {passes} passes)"
        )
    for oracle in dict.fromkeys(r.oracle for r in result.rows if r.oracle):
        lines.append(f"oracle: {oracle}")
    m = result.machine
    lines.append(f"machine: {m['cpu']}, {m['cores']} cores, torch {m['torch']}, {m['threads']} thread(s)")
    return lines
