"""Training configuration: one documented dataclass per component, loadable from YAML.

Precedence (:func:`genpo.training.api.resolve_config`, used by ``genpo train`` too): dataclass defaults
< a preset < the resumed checkpoint's configuration < a YAML file or mapping < explicit overrides.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from genpo.errors import ConfigError, GenpoError

DEFAULT_ENV = "gym:InvertedPendulum-v5"
SCHEDULES = ("adaptive", "fixed", "linear")


@dataclass
class EnvConfig:
    """Which environment, and how many copies."""

    id: str = DEFAULT_ENV
    """Environment id with backend prefix (``gym:HalfCheetah-v5``, ``isaaclab:Isaac-Ant``); a bare id is Gymnasium;
    ``pkg.mod:make_env`` names a factory (docs/architecture.md)."""
    num_envs: int = 16
    """Parallel sub-environments per process, in [1, 2**20]."""
    options: dict[str, Any] = field(default_factory=dict)
    """Backend options passed to ``make_env`` (e.g. ``workers`` for Gymnasium)."""


@dataclass
class PolicyConfig:
    """The actor (any member of the zoo) and the critic."""

    model: str = "flow"
    """Policy family: ``flow``, ``gaussian``, ``nsf``, ``nsf-ar``, ``maf`` (``genpo list``), or ``pkg.mod:Class``."""
    velocity: str = "mlp"
    """Velocity network of a flow policy: ``mlp``, ``resmlp``, or ``pkg.mod:Class`` (any part: a dotted path or a
    ``genpo.plugins`` entry point, docs/architecture.md)."""
    integrator: str = "edict"
    """Integrator of a flow policy: ``edict``, ``euler``, ``pf-ode``, ``reversible-heun``, ``reversible-rk``,
    ``gaussian-chain`` (their options go in ``options``: ``genpo list``, docs/architecture.md)."""
    steps: int = 5
    """Integration steps K, in [1, 1000]."""
    likelihood: str = "exact"
    """Likelihood estimator: ``exact``, ``jacobian``, ``hutchinson``, ``trace``, or ``cfm`` (FPO's ratio
    surrogate, not a density)."""
    p: float = 0.95
    """EDICT mixing coefficient, in (0, 1)."""
    hidden: list[int] | None = None
    """Hidden widths of the actor network, each in [1, 65536], given to the part that takes ``hidden`` (a flow's
    velocity network or the model); None: that part's default (``[400, 200, 100]`` for ``mlp`` and ``gaussian``,
    3 blocks of 256 for ``resmlp``, ``128`` for normflows' conditioners, which take one width: ``[w]``)."""
    critic_hidden: list[int] = field(default_factory=lambda: [400, 200, 100])
    """Hidden widths of the critic MLP."""
    activation: str = "mish"
    """Activation of the critic and of every actor part that takes ``activation``."""
    normalize_obs: bool = True
    """Running mean/std observation normalization, saved with the policy."""
    options: dict[str, Any] = field(default_factory=dict)
    """Keyword options of the chosen parts (e.g. ``method``, ``rtol``, ``probes``, ``init_log_std``); each must be
    taken by one of them (an option none takes is refused, naming each part's options)."""


@dataclass
class AlgoConfig:
    """PPO with GenPO's extra terms (authors' Ant defaults)."""

    name: str = "ppo"
    """The on-policy algorithm: a name ``genpo list`` shows (``ppo``), a dotted path ``pkg.mod:Class`` or an
    installed ``genpo.plugins`` entry point ``algorithm.<name>`` (docs/architecture.md: add an algorithm)."""
    learning_rate: float = 5e-4
    """Initial Adam learning rate (finite, > 0)."""
    schedule: str = "adaptive"
    """``adaptive`` (KL-driven, rsl_rl's rule), ``fixed``, or ``linear`` (CleanRL's: from ``learning_rate`` to 0
    at the end of the invocation's budget)."""
    desired_kl: float = 0.01
    """Target KL of the adaptive schedule (> 0)."""
    num_epochs: int = 5
    """Passes over each rollout, in [1, 10000]."""
    num_minibatches: int = 4
    """Minibatches per epoch (>= 1, at most the rollout size)."""
    steps_per_env: int = 32
    """Rollout length per sub-environment and iteration, in [1, 65536]; ``steps_per_env * num_envs`` <= 2**24."""
    gamma: float = 0.99
    """Discount factor in [0, 1]."""
    lam: float = 0.95
    """GAE lambda in [0, 1]."""
    clip_param: float = 0.2
    """PPO ratio clip range (> 0)."""
    trust_region: str = "clip"
    """``clip`` (PPO's clipped ratio) or ``aspo`` (FPO++: PPO's clip for positive advantages, SPO's
    quadratic penalty ``|A| (r - 1)^2 / (2 clip_param)`` for negative ones)."""
    value_coef: float = 1.0
    """Value-loss coefficient (>= 0)."""
    value_clip: bool = True
    """Clip the value loss around rollout-time values (by ``clip_param``)."""
    entropy_coef: float = 0.0
    """Coefficient of the entropy estimate -mean(log pi) (>= 0)."""
    compress_coef: float = 0.01
    """Compression loss coefficient (>= 0); doubled latents only (edict, reversible-*): others refuse other values."""
    compress_fraction: float = 0.25
    """Share of each minibatch the compression loss is computed on, in (0, 1]: its first ``ceil(fraction * size)``
    samples, a uniform random subset because minibatches are random permutations of the rollout (an unbiased estimate
    of the full term at a fraction of its cost); 1 is the full minibatch (the update before issue 15, and that of
    checkpoints written without this field). 0.25 trained Hopper-v5 within the intervals of 1 (docs/results.md,
    section 5a). Doubled latents with ``compress_coef > 0`` only: elsewhere other values are refused."""
    max_grad_norm: float = 1.0
    """Gradient-norm clip (> 0)."""
    normalize_advantage: bool = True
    """Normalize advantages per minibatch."""
    critic_warmup_iterations: int = 0
    """Iterations at the start of a run that train the critic only, the actor frozen (DPPO's critic warm-up for
    a run started from pretrained weights with ``run.init``); >= 0."""
    normalize_reward: bool = False
    """Scale rewards by the running std of the discounted return, clipped to [-10, 10] (CleanRL's
    ``NormalizeReward``); its statistics are saved with the run and restored on resume."""


LEGACY_VALUES: dict[tuple[str, str], Any] = {("algo", "compress_fraction"): 1.0}
"""Fields added after runs were saved, with the value those runs trained with (not today's default)."""


def with_legacy_values(saved: dict[str, Any]) -> dict[str, Any]:
    """A saved run's configuration with :data:`LEGACY_VALUES` filled in where it predates a field.

    A resumed run continues with the settings it was trained with, whatever the defaults are now.
    """
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in saved.items()}
    for (section, name), value in LEGACY_VALUES.items():
        if isinstance(out.get(section), dict) and name not in out[section]:
            out[section][name] = value
    return out


@dataclass
class RunConfig:
    """Budget, seeding, device, logging and checkpoints."""

    max_iterations: int | None = 150
    """Iterations (rollout + update) to run in this invocation; ``None`` when ``total_steps`` sets the budget."""
    total_steps: int | None = None
    """Env steps (all envs, all processes) to run in this invocation; overrides ``max_iterations``."""
    seed: int = 1
    """Seed of torch, numpy and the environments, in [0, 2**32 - 1] (rank r uses seed + r)."""
    device: str = "cpu"
    """``cpu`` or ``cuda`` (``cuda:N``); distributed ranks use ``cuda:LOCAL_RANK``."""
    logdir: str = "logs"
    """Root of run folders: ``<logdir>/genpo/<env>/<timestamp>[_<run_name>]``."""
    run_name: str = ""
    """Suffix of the run folder: up to 200 letters, digits and ``. _ + = -`` (no ``/``)."""
    save_interval: int = 50
    """Write ``model_<it>.pt`` every this many iterations (and at the end; >= 1)."""
    log_interval: int = 1
    """Write TensorBoard scalars every this many iterations (>= 1)."""
    threads: int = 1
    """torch threads of the PPO update (0: torch's default, one per core); rollouts always use one.

    One is the safe default on small CPUs: with another busy process on the cores, two OpenMP threads
    made the update 7x slower here (docs/benchmarks.md)."""
    init: str | None = None
    """Start from the actor (and observation normalizer) of this checkpoint file or run folder (``genpo pretrain``'s
    or ``genpo train``'s; ``--init``) with a fresh critic and optimizer; the velocity network must fit (integrator,
    steps and estimator may differ)."""
    plugins: list[str] = field(default_factory=list)
    """Modules to import before anything is built (``--plugin``): their import registers parts by name.

    A checkpoint that lists modules here is rebuilt only where they are named again (``--plugin``) or
    installed as ``genpo.plugins`` entry points."""


@dataclass
class TrainConfig:
    """Everything a training run needs."""

    env: EnvConfig = field(default_factory=EnvConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    algo: AlgoConfig = field(default_factory=AlgoConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def to_dict(self) -> dict[str, Any]:
        """A plain nested dict (what ``params/config.yaml`` and checkpoints hold)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], base: TrainConfig | None = None) -> TrainConfig:
        """Applies a nested dict onto ``base`` (defaults if None); unknown keys raise ``ConfigError``."""
        cfg = dataclasses.replace(base) if base is not None else cls()
        cfg = apply_overrides(cfg, data)
        return cfg

    def validate(self) -> None:
        """Checks every value before any work starts; ``ConfigError`` names the field and what is allowed."""
        validate(self)


SECTIONS = {"env": EnvConfig, "policy": PolicyConfig, "algo": AlgoConfig, "run": RunConfig}


def apply_overrides(cfg: TrainConfig, data: dict[str, Any]) -> TrainConfig:
    """Returns a copy of ``cfg`` with ``{section: {field: value}}`` applied (inputs are not mutated)."""
    if not isinstance(data, dict):
        raise ConfigError(
            f"a configuration must be a mapping of sections {sorted(SECTIONS)}, not {type(data).__name__}"
        )
    out = {}
    for name, cls in SECTIONS.items():
        section = getattr(cfg, name)
        updates = data.get(name) or {}
        if not isinstance(updates, dict):
            raise ConfigError(f"config section {name!r} must be a mapping, got {type(updates).__name__}")
        allowed = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(updates) - allowed)
        if unknown:
            names = ", ".join(sorted(allowed))
            raise ConfigError(f"unknown field(s) {', '.join(unknown)} in section {name!r}; allowed: {names}")
        out[name] = dataclasses.replace(section, **updates)
    unknown_sections = sorted(set(data) - set(SECTIONS))
    if unknown_sections:
        raise ConfigError(f"unknown config section(s) {', '.join(unknown_sections)}; allowed: {', '.join(SECTIONS)}")
    return TrainConfig(**out)


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Reads a YAML config file into a nested dict; clear errors for missing or malformed files."""
    from genpo.training.files import describe_os_error

    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"config file {str(path)!r} is a folder; pass a YAML file")
    if not path.exists():
        raise ConfigError(f"config file {str(path)!r} does not exist")
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} is not a regular file; pass a YAML file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(describe_os_error(exc, path, "read the config file")) from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {str(path)!r} is not a text (UTF-8) YAML file") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {str(path)!r} must hold a mapping of sections {sorted(SECTIONS)}")
    return data


def save_yaml(cfg: TrainConfig, path: str | Path) -> None:
    """Writes the resolved configuration (atomically; ``RunFolderError`` names a folder that cannot be written)."""
    from genpo.training.files import atomic_files, ensure_folder

    path = Path(path)
    ensure_folder(path.parent, "folder")
    with atomic_files([path]) as (tmp,):
        tmp.write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))


def build_actor(p: PolicyConfig, obs_dim: int, action_dim: int) -> Any:
    """The actor ``make_policy`` builds from a policy section, with strict options.

    The flow fields (``velocity``, ``integrator``, ``steps``, ``likelihood``, ``p``) are for ``model: flow``:
    another model with any of them off its default is refused. ``hidden``, ``activation`` and ``p`` go to
    every chosen part that takes them; a value off its default that no chosen part takes is refused, as is
    a ``policy.options`` key no part takes or one that is a field of this section.

    Raises:
        ConfigError: Naming the field, the chosen parts and the options each takes.
    """
    from genpo.models import make_policy
    from genpo.models.factory import FLOW_ARGS, describe_options, parts_of

    defaults = PolicyConfig()
    misplaced = sorted(set(p.options) & {f.name for f in dataclasses.fields(PolicyConfig)})
    if misplaced:
        raise ConfigError(f"policy.options.{misplaced[0]}: set policy.{misplaced[0]} itself, not inside policy.options")
    flow = p.model == "flow"
    kwargs: dict[str, Any] = {}
    if flow:
        kwargs.update(velocity=p.velocity, integrator=p.integrator, steps=p.steps, likelihood=p.likelihood)
        parts = parts_of("flow", p.velocity, p.integrator, p.likelihood)
    else:
        parts = parts_of(p.model)
        off = [f"policy.{f}={getattr(p, f)!r}" for f in FLOW_ARGS if getattr(p, f) != getattr(defaults, f)]
        if off:
            raise ConfigError(f"{', '.join(off)}: only model 'flow' takes it; {describe_options(parts)}")
    takes = [names for _, names in parts.values()]
    shared = {"activation": p.activation, "hidden": None if p.hidden is None else list(p.hidden)}
    if flow:
        shared["p"] = p.p
    for name, value in shared.items():
        if value is None:
            continue
        if any(names is None or name in names for names in takes):
            kwargs[name] = tuple(value) if name == "hidden" else value
        elif value != getattr(defaults, name):
            raise ConfigError(
                f"policy.{name}={value!r} is taken by none of the chosen parts ({describe_options(parts)})"
            )
    kwargs.update(p.options)
    try:
        return make_policy(obs_dim, action_dim, model=p.model, **kwargs)
    except GenpoError:
        raise
    except ValueError as exc:  # a part's own range check: still bad input
        raise ConfigError(str(exc)) from None


def _check(cond: bool, what: str, value: Any, allowed: str) -> None:
    if not cond:
        raise ConfigError(f"{what} must be {allowed}, got {value!r}", field=what)


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _is_finite(x: Any) -> bool:
    return _is_num(x) and math.isfinite(x)


def _int_in(x: Any, lo: int, hi: int) -> bool:
    return _is_int(x) and lo <= x <= hi


# Upper bounds: far above any sensible run, low enough that a typo fails here instead of hanging or
# exhausting memory after work has started.
MAX_NUM_ENVS = 2**20
MAX_STEPS = 1000
MAX_WIDTH = 2**16
MAX_ITERATIONS = 10**9
MAX_TOTAL_STEPS = 10**13
MAX_SEED = 2**32 - 1
MAX_ROLLOUT = 2**24  # samples per rollout (steps_per_env * num_envs): ~17 M, already ~10 GB of storage
# A folder-name suffix (no separators, cannot be '..'); '=' for the workbench's cell names (lr=3e-4_s1).
RUN_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+=-]{0,199}$")


def check_seed(seed: Any, what: str = "run.seed") -> int:
    """``seed`` if it is an integer in ``[0, 2**32 - 1]`` (what every RNG genpo seeds accepts), else ConfigError."""
    _check(_int_in(seed, 0, MAX_SEED), what, seed, f"an integer in [0, {MAX_SEED}]")
    return seed


def check_device(device: Any, what: str = "run.device") -> str:
    """``device`` if it is ``cpu``, ``cuda`` or ``cuda:N`` and exists on this machine, else ConfigError."""
    ok = isinstance(device, str) and (
        device in ("cpu", "cuda") or (device.startswith("cuda:") and device[5:].isdigit())
    )
    _check(ok, what, device, "cpu, cuda or cuda:N")
    if device != "cpu":
        import torch

        if not torch.cuda.is_available():
            why = "this torch is built without CUDA" if torch.version.cuda is None else "no CUDA device is visible"
            raise ConfigError(f"{what} is {device!r} but {why} (torch {torch.__version__}); use cpu", field=what)
        index = int(device[5:]) if ":" in device else 0
        if index >= torch.cuda.device_count():
            raise ConfigError(
                f"{what} is {device!r} but this machine has {torch.cuda.device_count()} CUDA device(s): "
                f"use cuda:0 to cuda:{torch.cuda.device_count() - 1}",
                field=what,
            )
    return device


def check_run_name(name: Any, what: str = "run.run_name") -> str:
    """A run-folder suffix: empty, or up to 200 letters, digits and ``. _ + = -`` (no path separators)."""
    _check(
        isinstance(name, str) and (name == "" or RUN_NAME_RE.match(name) is not None),
        what,
        name,
        "empty or 1-200 letters, digits and . _ + = - starting with a letter or digit (a folder name: no '/', "
        "spaces or '..')",
    )
    return name


def validate(cfg: TrainConfig) -> None:
    """See :meth:`TrainConfig.validate`."""
    from genpo.envs import DOTTED, load_env_factory, parse_env_id
    from genpo.models.velocity import ACTIVATIONS
    from genpo.plugins import import_plugins

    e, p, a, r = cfg.env, cfg.policy, cfg.algo, cfg.run
    _check(
        isinstance(r.plugins, (list, tuple)) and all(isinstance(m, str) for m in r.plugins),
        "run.plugins",
        r.plugins,
        "a list of module names",
    )
    import_plugins(r.plugins)
    backend, task = parse_env_id(e.id)
    if backend == DOTTED:
        load_env_factory(task)
    _check(_int_in(e.num_envs, 1, MAX_NUM_ENVS), "env.num_envs", e.num_envs, f"an integer in [1, {MAX_NUM_ENVS}]")
    _check(_int_in(p.steps, 1, MAX_STEPS), "policy.steps", p.steps, f"an integer in [1, {MAX_STEPS}]")
    _check(_is_num(p.p) and 0 < p.p < 1, "policy.p", p.p, "in the open interval (0, 1)")
    _check(p.activation in ACTIVATIONS, "policy.activation", p.activation, f"one of {', '.join(ACTIVATIONS)}")
    for name in ("hidden", "critic_hidden"):
        val = getattr(p, name)
        _check(
            (val is None and name == "hidden")
            or (isinstance(val, (list, tuple)) and len(val) > 0 and all(_int_in(h, 1, MAX_WIDTH) for h in val)),
            f"policy.{name}",
            val,
            f"a non-empty list of integers in [1, {MAX_WIDTH}]"
            + (" or null (the part's default)" if name == "hidden" else ""),
        )
    # Building a 1-dim policy checks names, pairs and options exactly as the real run will.
    actor = build_actor(p, obs_dim=1, action_dim=1)
    _check(_is_finite(a.learning_rate) and a.learning_rate > 0, "algo.learning_rate", a.learning_rate, "finite and > 0")
    for section, name in (("algo", "normalize_reward"), ("algo", "value_clip"), ("algo", "normalize_advantage")):
        val = getattr(a, name)
        _check(isinstance(val, bool), f"{section}.{name}", val, "true or false")
    _check(isinstance(p.normalize_obs, bool), "policy.normalize_obs", p.normalize_obs, "true or false")
    _check(isinstance(a.name, str) and a.name.strip() != "", "algo.name", a.name, "an algorithm name")
    from genpo.training.algorithm import ALGORITHMS

    ALGORITHMS.get(a.name)  # a ConfigError naming the registered algorithms
    _check(a.schedule in SCHEDULES, "algo.schedule", a.schedule, f"one of {', '.join(SCHEDULES)}")
    _check(a.trust_region in ("clip", "aspo"), "algo.trust_region", a.trust_region, "one of clip, aspo")
    _check(_is_finite(a.desired_kl) and a.desired_kl > 0, "algo.desired_kl", a.desired_kl, "finite and > 0")
    for name, hi in (("num_epochs", 10_000), ("num_minibatches", MAX_ROLLOUT), ("steps_per_env", 2**16)):
        val = getattr(a, name)
        _check(_int_in(val, 1, hi), f"algo.{name}", val, f"an integer in [1, {hi}]")
    _check(
        a.steps_per_env * e.num_envs <= MAX_ROLLOUT,
        "algo.steps_per_env",
        a.steps_per_env,
        f"such that the rollout steps_per_env * env.num_envs is at most {MAX_ROLLOUT} samples "
        f"(here {a.steps_per_env} * {e.num_envs})",
    )
    _check(
        a.num_minibatches <= a.steps_per_env * e.num_envs,
        "algo.num_minibatches",
        a.num_minibatches,
        f"at most the rollout size steps_per_env * num_envs = {a.steps_per_env * e.num_envs}",
    )
    for name in ("gamma", "lam"):
        val = getattr(a, name)
        _check(_is_num(val) and 0 <= val <= 1, f"algo.{name}", val, "in [0, 1]")
    _check(_is_finite(a.clip_param) and a.clip_param > 0, "algo.clip_param", a.clip_param, "finite and > 0")
    _check(
        _is_num(a.max_grad_norm) and a.max_grad_norm > 0, "algo.max_grad_norm", a.max_grad_norm, "> 0 (inf: no clip)"
    )
    for name, flag in (
        ("value_coef", ""),
        ("entropy_coef", ""),
        ("compress_coef", ""),
    ):
        val = getattr(a, name)
        _check(_is_finite(val) and val >= 0, f"algo.{name}{flag}", val, "a finite number >= 0")
    _check(
        _is_finite(a.compress_fraction) and 0 < a.compress_fraction <= 1,
        "algo.compress_fraction",
        a.compress_fraction,
        "a number in (0, 1]",
    )
    if not actor.is_density and a.entropy_coef > 0:
        raise ConfigError(
            f"algo.entropy_coef must be 0 with likelihood {p.likelihood!r}: a ratio surrogate has no log-density "
            f"to estimate an entropy from, got {a.entropy_coef!r}"
        )
    if r.max_iterations is None and r.total_steps is None:
        raise ConfigError("set a budget: run.max_iterations or run.total_steps")
    if r.max_iterations is not None:
        _check(
            _int_in(r.max_iterations, 1, MAX_ITERATIONS),
            "run.max_iterations",
            r.max_iterations,
            f"an integer in [1, {MAX_ITERATIONS}]",
        )
    if r.total_steps is not None:
        _check(
            _int_in(r.total_steps, 1, MAX_TOTAL_STEPS),
            "run.total_steps",
            r.total_steps,
            f"an integer in [1, {MAX_TOTAL_STEPS}]",
        )
    check_seed(r.seed)
    check_device(r.device)
    check_run_name(r.run_name)
    _check(isinstance(r.logdir, str) and r.logdir.strip() != "", "run.logdir", r.logdir, "a non-empty path")
    for name in ("save_interval", "log_interval"):
        val = getattr(r, name)
        _check(_is_int(val) and val >= 1, f"run.{name}", val, "an integer >= 1")
    _check(_int_in(r.threads, 0, 1024), "run.threads", r.threads, "an integer in [0, 1024]")
    _check(
        _int_in(a.critic_warmup_iterations, 0, MAX_ITERATIONS),
        "algo.critic_warmup_iterations",
        a.critic_warmup_iterations,
        f"an integer in [0, {MAX_ITERATIONS}]",
    )
    _check(r.init is None or (isinstance(r.init, str) and r.init.strip() != ""), "run.init", r.init, "a path or null")
