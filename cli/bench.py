"""``genpo bench ...``: benchmark commands (each a thin wrapper over a module of ``genpo.benchmarks``)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from genpo.console import make_console

bench_app = typer.Typer(
    help="Benchmarks: likelihood estimators, env stepping, action latency, training throughput, learning curves.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _ints(text: str, option: str, minimum: int = 1) -> list[int]:
    try:
        values = [int(v) for v in text.replace(" ", "").split(",") if v]
    except ValueError:
        values = []
    if not values or min(values) < minimum:
        kind = "positive integers" if minimum == 1 else f"integers >= {minimum}"
        raise typer.BadParameter(f"expected comma-separated {kind}, got {text!r}", param_hint=option)
    return values


@bench_app.command("likelihood")
def likelihood(
    batch: int = typer.Option(4096, "--batch", min=1, help="Rows per log-prob evaluation."),
    dim: int = typer.Option(8, "--dim", min=1, help="Action width d (edict's latent is 2d)."),
    steps: int = typer.Option(5, "--steps", min=1, help="K of edict, euler and the fixed-step pf-ode rows."),
    repeats: int = typer.Option(5, "--repeats", min=0, help="Timed evaluations per row after the first."),
    threads: int = typer.Option(1, "--threads", min=1, help="torch threads."),
    hidden: str = typer.Option("400,200,100", "--hidden", help="Hidden sizes of the velocity MLP."),
    activation: str = typer.Option("mish", "--activation", help="Activation of the velocity MLP."),
    budget: float = typer.Option(30.0, "--budget", min=0.0, help="Soft seconds per row for the repeats."),
    pf_tol: float = typer.Option(1e-5, "--pf-tol", min=0.0, help="rtol = atol of the benchmarked dopri5 rows."),
    probes: int = typer.Option(1, "--probes", min=1, help="Hutchinson probes per evaluation."),
    oracle_rows: int = typer.Option(64, "--oracle-rows", min=1, help="Rows on which errors are measured."),
    oracle_tol: float = typer.Option(1e-7, "--oracle-tol", min=0.0, help="dopri5 tolerance of the pf-ode oracle."),
    only: str = typer.Option("", "--only", help="Comma-separated row keys (e.g. edict-exact,edict-jacobian)."),
    distance_steps: str = typer.Option(
        "2,5,10", "--distance-steps", help="K of the flow-distance table ('none': no table)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the network and the data."),
    json_path: Path | None = typer.Option(None, "--json", help="Also write the results to this JSON file."),
) -> None:
    """Time and error of every likelihood estimator on one velocity network (CPU, float32, no grad)."""
    from genpo.benchmarks import likelihood as bench

    console = make_console()
    keys = [k for k in only.replace(" ", "").split(",") if k]
    settings = bench.Settings(
        batch=batch,
        dim=dim,
        steps=steps,
        repeats=repeats,
        threads=threads,
        hidden=_ints(hidden, "--hidden"),
        activation=activation,
        budget_s=budget,
        pf_tol=pf_tol,
        probes=probes,
        oracle_rows=oracle_rows,
        oracle_tol=oracle_tol,
        only=keys or None,
        distance_steps=() if distance_steps == "none" else _ints(distance_steps, "--distance-steps"),
        seed=seed,
    )
    result = bench.run(settings, log=lambda msg: console.print(msg, highlight=False))
    console.print(bench.table(result))
    if result.distances:
        console.print(bench.distance_table(result))
    for line in bench.summary(result):
        console.print(line, highlight=False)
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(result.to_dict(), indent=2))
        console.print(f"wrote {json_path}", highlight=False)


def _strs(text: str) -> list[str]:
    return [v for v in text.replace(" ", "").split(",") if v]


def _options(pairs: list[str]) -> dict:
    """``key=value`` pairs (values parsed as YAML scalars: true, 3, 0.5, text)."""
    import yaml

    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"expected key=value, got {pair!r}", param_hint="--option")
        out[key] = yaml.safe_load(value)
    return out


@bench_app.command("env")
def env(
    envs: str = typer.Option("HalfCheetah-v5,Ant-v5", "--env", help="Comma-separated env ids (any backend)."),
    num_envs: str = typer.Option("8,16", "--num-envs", help="Comma-separated batch sizes."),
    workers: str = typer.Option("0,2", "--workers", help="Gymnasium worker counts to compare (0: in-process)."),
    seconds: float = typer.Option(0.5, "--seconds", min=0.01, help="Wall time of one timed trial."),
    repeats: int = typer.Option(3, "--repeats", min=1, help="Trials per combination (interleaved)."),
    device: str = typer.Option("cpu", "--device", help="Device of the environments."),
    option: list[str] = typer.Option([], "--option", help="Backend option key=value (e.g. local_assets=true)."),
) -> None:
    """Env-steps/s of raw environment stepping with random actions (no policy)."""
    from genpo.benchmarks.envs import format_markdown, measure_env_stepping

    console = make_console()
    rows = measure_env_stepping(
        _strs(envs),
        _ints(num_envs, "--num-envs"),
        _ints(workers, "--workers", minimum=0),
        seconds=seconds,
        repeats=repeats,
        device=device,
        options=_options(option),
    )
    console.print(format_markdown(rows), highlight=False)


@bench_app.command("act")
def act(
    obs_dim: int = typer.Option(17, "--obs-dim", min=1, help="Observation width (17: HalfCheetah)."),
    action_dim: int = typer.Option(6, "--action-dim", min=1, help="Action width."),
    steps: int = typer.Option(5, "--steps", min=1, help="EDICT steps K."),
    batches: str = typer.Option("1,4096", "--batch", help="Comma-separated batch sizes."),
    repeats: int = typer.Option(20, "--repeats", min=1, help="Timed calls per row (at least 0.2 s)."),
    threads: int = typer.Option(1, "--threads", min=1, help="torch threads."),
) -> None:
    """Deterministic-action latency: EDICT flow (K steps) vs Gaussian, eager, TorchScript and ONNX (onnxruntime)."""
    from rich.table import Table

    from genpo.benchmarks import act as bench

    if not bench.onnxruntime_available():
        make_console().print("note: onnxruntime is not installed, no ONNX rows (pip install 'genpo[export]')")
    rows = bench.run(obs_dim, action_dim, steps, tuple(_ints(batches, "--batch")), repeats, threads)
    table = Table(title=f"action latency, obs {obs_dim}, action {action_dim}, K={steps}, {threads} thread(s)")
    for col in ("model", "mode", "batch", "median ms", "× gaussian"):
        table.add_column(col)
    base = {(r.mode, r.batch): r.median_ms for r in rows if r.model == "gaussian"}
    for r in rows:
        table.add_row(r.model, r.mode, str(r.batch), f"{r.median_ms:.3f}", f"{r.median_ms / base[r.mode, r.batch]:.1f}")
    make_console().print(table)


@bench_app.command("train")
def train(
    envs: str = typer.Option("gym:HalfCheetah-v5,gym:Ant-v5", "--env", help="Comma-separated env ids."),
    models: str = typer.Option(
        "gaussian,flow",
        "--model",
        help="Comma-separated models (flow = edict K=5) or zoo variants: edict, reversible-heun, reversible-rk, "
        "gaussian-chain, gaussian-chain-learned, cfm; NAME:FIELD=VALUE[:FIELD=VALUE] sets configuration fields "
        "for that one (edict:compress_fraction=0.25).",
    ),
    num_envs: int = typer.Option(16, "--num-envs", min=1, help="Parallel environments."),
    iterations: int = typer.Option(5, "--iterations", min=1, help="Timed iterations (after one warm-up)."),
    option: list[str] = typer.Option([], "--option", help="Backend option key=value."),
    device: str = typer.Option("cpu", "--device", help="Device of the trainer and environments (cpu, cuda, cuda:N)."),
) -> None:
    """Env-steps/s over whole training iterations (rollout + update), every model in the same trainer."""
    from rich.table import Table

    from genpo.benchmarks import train as bench

    rows = bench.run(
        tuple(_strs(envs)), tuple(_strs(models)), num_envs, iterations, options=_options(option), device=device
    )
    table = Table(title=f"training throughput, {num_envs} envs, {iterations} iterations after 1 warm-up")
    cols = (
        "env",
        "model",
        "env-steps/s",
        "rollout s/it",
        "update s/it",
        "vs first model",
        "env-steps/CPU-s",
        "vs first (CPU)",
    )
    for col in cols:
        table.add_column(col)
    first: dict[str, tuple[float, float]] = {}
    for r in rows:
        first.setdefault(r.env, (r.steps_per_s, r.steps_per_cpu_s))
        table.add_row(
            r.env,
            r.model,
            f"{r.steps_per_s:,.0f}",
            f"{r.rollout_s:.2f}",
            f"{r.update_s:.2f}",
            f"{r.steps_per_s / first[r.env][0]:.2f}",
            f"{r.steps_per_cpu_s:,.0f}",
            f"{r.steps_per_cpu_s / first[r.env][1]:.2f}",
        )
    make_console().print(table)


@bench_app.command("profile")
def profile(
    env_id: str = typer.Option("gym:HalfCheetah-v5", "--env", help="Env id."),
    models: str = typer.Option(
        "edict", "--model", help="Comma-separated models, as genpo bench train reads them (edict:compress_fraction=1)."
    ),
    num_envs: int = typer.Option(16, "--num-envs", min=1, help="Parallel environments."),
    iterations: int = typer.Option(3, "--iterations", min=1, help="Profiled iterations (after one warm-up)."),
    option: list[str] = typer.Option([], "--option", help="Backend option key=value."),
    device: str = typer.Option("cpu", "--device", help="Device of the trainer and environments (cpu, cuda, cuda:N)."),
    shared: bool = typer.Option(
        True,
        "--shared/--unshared",
        help="Time the log-prob and compression passes sharing the time embeddings, as the update does "
        "(--unshared: each computes its own, as before issue 15).",
    ),
) -> None:
    """Seconds per training iteration of each phase: rollout (sampling, critic, env), update (log-prob pass,
    compression, critic, optimizer)."""
    from genpo.benchmarks import profile as bench

    console = make_console()
    for model in _strs(models):
        result = bench.run(env_id, model, num_envs, iterations, options=_options(option), device=device, shared=shared)
        console.print(bench.format_markdown(result), highlight=False)


@bench_app.command("curves")
def curves(
    envs: str = typer.Option("gym:HalfCheetah-v5,gym:Hopper-v5,gym:Ant-v5", "--env", help="Comma-separated ids."),
    models: str = typer.Option("gaussian,flow", "--model", help="Comma-separated models."),
    seeds: str = typer.Option("1,2,3", "--seeds", help="Comma-separated seeds."),
    total_steps: int = typer.Option(20_000, "--total-steps", min=1, help="Env steps per run."),
    num_envs: int = typer.Option(16, "--num-envs", min=1, help="Parallel environments."),
    out: Path = typer.Option(Path("docs/curves"), "--out", help="Folder for curves.csv and curves.png."),
) -> None:
    """Learning curves (return vs env steps and vs wall time) for models × envs × seeds."""
    from genpo.benchmarks import curves as bench

    console = make_console()
    points = bench.run(
        tuple(_strs(envs)), tuple(_strs(models)), tuple(_ints(seeds, "--seeds")), total_steps, num_envs, console
    )
    bench.write_csv(points, out / "curves.csv")
    bench.plot(points, out / "curves.png")
    console.print(f"wrote {out / 'curves.csv'} and {out / 'curves.png'}", highlight=False)
