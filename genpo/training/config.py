"""Training configuration: one documented dataclass per component, loadable from YAML.

Each field is declared with :func:`~genpo.training.spec.setting`: its default, its doc (for ``--help`` and
docs/configuration.md) and the values it allows, checked by :func:`~genpo.training.spec.check_fields`. Rules
that relate two fields are the short list :data:`RULES`; the part names and part options are checked by
building the actor once (:func:`check_parts`). Names users type (short names, old spellings) are resolved
in :mod:`genpo.training.fields`.

Precedence (:func:`genpo.training.api.resolve_config`, used by ``genpo train`` too): dataclass defaults
< a preset < the resumed checkpoint's configuration < a YAML file or mapping < explicit overrides.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from genpo.errors import ConfigError
from genpo.training.spec import (
    BOOLEAN,
    MAPPING,
    NAMES,
    Allowed,
    check_fields,
    integer,
    number,
    one_of,
    setting,
    text,
    widths,
)

DEFAULT_ENV = "gym:InvertedPendulum-v5"
SCHEDULES = ("adaptive", "fixed", "linear")
TRUST_REGIONS = ("clip", "aspo")

# Upper bounds: far above any sensible run, low enough that a typo fails here instead of hanging or
# exhausting memory after work has started.
MAX_NUM_ENVS = 2**20
MAX_FLOW_STEPS = 1000
MAX_ROLLOUT_LENGTH = 2**16
MAX_WIDTH = 2**16
MAX_ITERATIONS = 10**9
MAX_TOTAL_STEPS = 10**13
MAX_SEED = 2**32 - 1
MAX_ROLLOUT = 2**24  # samples per rollout (steps_per_env * num_envs): ~17 M, already ~10 GB of storage
# A folder-name suffix (no separators, cannot be '..'); '=' for the workbench's cell names (lr=3e-4_s1).
RUN_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+=-]{0,199}$")


def check_seed(seed: Any, what: str = "run.seed") -> int:
    """``seed`` if it is an integer in ``[0, 2**32 - 1]`` (what every RNG genpo seeds accepts), else ConfigError."""
    return integer(0, MAX_SEED)(seed, what)


def check_device(device: Any, what: str = "run.device") -> str:
    """``device`` if it is ``cpu``, ``cuda`` or ``cuda:N`` and exists on this machine, else ConfigError."""
    text(
        "cpu, cuda or cuda:N",
        lambda d: d in ("cpu", "cuda") or (d.startswith("cuda:") and d[5:].isdigit()),
    )(device, what)
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
    return text(
        "empty or 1-200 letters, digits and . _ + = - starting with a letter or digit (a folder name: no '/', "
        "spaces or '..')",
        lambda n: n == "" or RUN_NAME_RE.match(n) is not None,
    )(name, what)


def _activations() -> tuple[str, ...]:
    from genpo.models.velocity import ACTIVATIONS

    return tuple(ACTIVATIONS)


POSITIVE = number(lambda x: x > 0, "finite and > 0")
NON_NEGATIVE = number(lambda x: x >= 0, "a finite number >= 0")
UNIT = number(lambda x: 0 <= x <= 1, "in [0, 1]", finite=False)


@dataclass
class EnvConfig:
    """Which environment, and how many copies."""

    id: str = setting(
        DEFAULT_ENV,
        """Environment id with backend prefix (``gym:HalfCheetah-v5``, ``isaaclab:Isaac-Ant``); a bare id is
        Gymnasium; ``pkg.mod:make_env`` names a factory (docs/architecture.md).""",
        text("an environment id"),
    )
    num_envs: int = setting(16, "Parallel sub-environments per process, in [1, 2**20].", integer(1, MAX_NUM_ENVS))
    options: dict[str, Any] = setting(
        doc="Backend options passed to ``make_env`` (e.g. ``workers`` for Gymnasium). One key: ``env.options.KEY``.",
        check=MAPPING,
        factory=dict,
    )


@dataclass
class PolicyConfig:
    """The actor (any member of the zoo) and the critic."""

    model: str = setting(
        "flow",
        """Policy family: ``flow``, ``gaussian``, ``nsf``, ``nsf-ar``, ``maf`` (``genpo list``), or
        ``pkg.mod:Class``.""",
    )
    velocity: str = setting(
        "mlp",
        """Velocity network of a flow policy: ``mlp``, ``resmlp``, or ``pkg.mod:Class`` (any part: a dotted path or
        a ``genpo.plugins`` entry point, docs/architecture.md).""",
    )
    integrator: str = setting(
        "edict",
        """Integrator of a flow policy: ``edict``, ``euler``, ``pf-ode``, ``reversible-heun``, ``reversible-rk``,
        ``gaussian-chain`` (their options go in ``options``: ``genpo list``, docs/architecture.md).""",
    )
    flow_steps: int = setting(
        5,
        """Integration steps K of the flow (``--steps``; saved as ``policy.steps`` before issue 16), in
        [1, 1000].""",
        integer(1, MAX_FLOW_STEPS),
    )
    likelihood: str = setting(
        "exact",
        """Likelihood estimator: ``exact``, ``jacobian``, ``hutchinson``, ``trace``, or ``cfm`` (FPO's ratio
        surrogate, not a density).""",
    )
    mix_p: float = setting(
        0.95,
        "EDICT mixing coefficient p (``--p``; saved as ``policy.p`` before issue 16), in (0, 1).",
        number(lambda x: 0 < x < 1, "in the open interval (0, 1)", finite=False),
    )
    hidden: list[int] | None = setting(
        None,
        """Hidden widths of the actor network, each in [1, 65536], given to the part that takes ``hidden`` (a
        flow's velocity network or the model); None: that part's default (``[400, 200, 100]`` for ``mlp`` and
        ``gaussian``, 3 blocks of 256 for ``resmlp``, ``128`` for normflows' conditioners, which take one width:
        ``[w]``).""",
        widths(MAX_WIDTH, nullable=True),
    )
    critic_hidden: list[int] = setting(
        doc="Hidden widths of the critic MLP.", check=widths(MAX_WIDTH), factory=lambda: [400, 200, 100]
    )
    activation: str = setting(
        "mish", "Activation of the critic and of every actor part that takes ``activation``.", one_of(_activations)
    )
    normalize_obs: bool = setting(True, "Running mean/std observation normalization, saved with the policy.", BOOLEAN)
    options: dict[str, Any] = setting(
        doc="""Keyword options of the chosen parts (e.g. ``method``, ``rtol``, ``probes``, ``init_log_std``); each
        must be taken by one of them (an option none takes is refused, naming each part's options). One key:
        ``policy.options.KEY``.""",
        check=MAPPING,
        factory=dict,
    )


@dataclass
class AlgoConfig:
    """PPO with GenPO's extra terms (authors' Ant defaults)."""

    name: str = setting(
        "ppo",
        """The on-policy algorithm: a name ``genpo list`` shows (``ppo``), a dotted path ``pkg.mod:Class`` or an
        installed ``genpo.plugins`` entry point ``algorithm.<name>`` (docs/architecture.md: add an algorithm).""",
        text("an algorithm name (genpo list), a dotted path pkg.mod:Class or an entry point"),
    )
    learning_rate: float = setting(5e-4, "Initial Adam learning rate (finite, > 0).", POSITIVE)
    schedule: str = setting(
        "adaptive",
        """``adaptive`` (KL-driven, rsl_rl's rule), ``fixed``, or ``linear`` (CleanRL's: from ``learning_rate``
        to 0 at the end of the invocation's budget).""",
        one_of(SCHEDULES),
    )
    desired_kl: float = setting(0.01, "Target KL of the adaptive schedule (> 0).", POSITIVE)
    num_epochs: int = setting(5, "Passes over each rollout, in [1, 10000].", integer(1, 10_000))
    num_minibatches: int = setting(
        4, "Minibatches per epoch (>= 1, at most the rollout size).", integer(1, MAX_ROLLOUT)
    )
    steps_per_env: int = setting(
        32,
        """Rollout length: env steps per sub-environment and iteration, in [1, 65536];
        ``steps_per_env * num_envs`` <= 2**24.""",
        integer(1, MAX_ROLLOUT_LENGTH),
    )
    gamma: float = setting(0.99, "Discount factor in [0, 1].", UNIT)
    lam: float = setting(0.95, "GAE lambda in [0, 1].", UNIT)
    clip_param: float = setting(0.2, "PPO ratio clip range (> 0).", POSITIVE)
    trust_region: str = setting(
        "clip",
        """``clip`` (PPO's clipped ratio) or ``aspo`` (FPO++: PPO's clip for positive advantages, SPO's
        quadratic penalty ``|A| (r - 1)^2 / (2 clip_param)`` for negative ones).""",
        one_of(TRUST_REGIONS),
    )
    value_coef: float = setting(1.0, "Value-loss coefficient (>= 0).", NON_NEGATIVE)
    value_clip: bool = setting(True, "Clip the value loss around rollout-time values (by ``clip_param``).", BOOLEAN)
    entropy_coef: float = setting(0.0, "Coefficient of the entropy estimate -mean(log pi) (>= 0).", NON_NEGATIVE)
    compress_coef: float = setting(
        0.01,
        """Compression loss coefficient (>= 0); doubled latents only (edict, reversible-*): others refuse other
        values.""",
        NON_NEGATIVE,
    )
    compress_fraction: float = setting(
        0.25,
        """Share of each minibatch the compression loss is computed on, in (0, 1]: its first
        ``ceil(fraction * size)`` samples, a uniform random subset because minibatches are random permutations of
        the rollout (an unbiased estimate of the full term at a fraction of its cost); 1 is the full minibatch
        (the update before issue 15, and that of checkpoints written without this field). 0.25 trained Hopper-v5
        within the intervals of 1 (docs/results.md, section 5a). Doubled latents with ``compress_coef > 0`` only:
        elsewhere other values are refused.""",
        number(lambda x: 0 < x <= 1, "a number in (0, 1]"),
    )
    max_grad_norm: float = setting(
        1.0, "Gradient-norm clip (> 0).", number(lambda x: x > 0, "> 0 (inf: no clip)", finite=False)
    )
    normalize_advantage: bool = setting(True, "Normalize advantages per minibatch.", BOOLEAN)
    critic_warmup_iterations: int = setting(
        0,
        """Iterations at the start of a run that train the critic only, the actor frozen (DPPO's critic warm-up
        for a run started from pretrained weights with ``run.init``); >= 0.""",
        integer(0, MAX_ITERATIONS),
    )
    freeze_obs_normalizer: bool = setting(
        False,
        """Keep the observation normalizer's statistics as the run starts with them: from ``run.init``'s
        checkpoint (DPPO and ReinFlow keep the demonstrations' normalization while fine-tuning) or a resumed
        run's; a fresh run without ``run.init`` keeps mean 0, std 1. Needs ``policy.normalize_obs``.""",
        BOOLEAN,
    )
    normalize_reward: bool = setting(
        False,
        """Scale rewards by the running std of the discounted return, clipped to [-10, 10] (CleanRL's
        ``NormalizeReward``); its statistics are saved with the run and restored on resume.""",
        BOOLEAN,
    )


LEGACY_VALUES: dict[tuple[str, str], Any] = {("algo", "compress_fraction"): 1.0}
"""Fields added after runs were saved, with the value those runs trained with (not today's default)."""


def with_legacy_values(saved: dict[str, Any]) -> dict[str, Any]:
    """A saved run's configuration with :data:`LEGACY_VALUES` filled in where it predates a field.

    A resumed run continues with the settings it was trained with, whatever the defaults are now.
    """
    from genpo.training.fields import canonical

    out = canonical(saved)
    for (section, name), value in LEGACY_VALUES.items():
        if isinstance(out.get(section), dict) and name not in out[section]:
            out[section][name] = value
    return out


@dataclass
class RunConfig:
    """Budget, seeding, device, logging and checkpoints."""

    max_iterations: int | None = setting(
        150,
        """Iterations (rollout + update) to run in this invocation; ``None`` when ``total_steps`` sets the
        budget.""",
        integer(1, MAX_ITERATIONS, optional=True),
    )
    total_steps: int | None = setting(
        None,
        "Budget in env steps (all envs, all processes) of this invocation; overrides ``max_iterations``.",
        integer(1, MAX_TOTAL_STEPS, optional=True),
    )
    seed: int = setting(
        1, "Seed of torch, numpy and the environments, in [0, 2**32 - 1] (rank r uses seed + r).", check_seed
    )
    device: str = setting(
        "cpu", "``cpu`` or ``cuda`` (``cuda:N``); distributed ranks use ``cuda:LOCAL_RANK``.", check_device
    )
    logdir: str = setting(
        "logs",
        "Root of run folders: ``<logdir>/genpo/<env>/<timestamp>[_<run_name>]``.",
        text("a non-empty path", lambda s: s.strip() != ""),
    )
    run_name: str = setting(
        "", "Suffix of the run folder: up to 200 letters, digits and ``. _ + = -`` (no ``/``).", check_run_name
    )
    save_interval: int = setting(
        50, "Write ``model_<it>.pt`` every this many iterations (and at the end; >= 1).", integer(1)
    )
    log_interval: int = setting(1, "Write scalars to the loggers every this many iterations (>= 1).", integer(1))
    logger: list[str] = setting(
        doc="""Where scalars go (``--logger``): any of ``tensorboard``, ``wandb``, ``trackio`` or a user writer
        ``pkg.mod:Class``; several at once (a list, or names separated by commas; ``[]``: none). Rank 0 logs.
        ``wandb`` and ``trackio`` need their extra (``pip install 'genpo[wandb]'``); docs/loggers.md.""",
        check=None,
        factory=lambda: ["tensorboard"],
    )
    threads: int = setting(
        1,
        """torch threads of the PPO update (0: torch's default, one per core); rollouts always use one. One is the
        safe default on small CPUs: with another busy process on the cores, two OpenMP threads made the update 7x
        slower here (docs/benchmarks.md).""",
        integer(0, 1024),
    )
    init: str | None = setting(
        None,
        """Start from the actor (and observation normalizer) of this checkpoint file or run folder (``genpo
        pretrain``'s or ``genpo train``'s; ``--init``) with a fresh critic and optimizer; the velocity network must
        fit (integrator, flow steps and estimator may differ).""",
        text("a path or null", lambda s: s.strip() != "", optional=True),
    )
    plugins: list[str] = setting(
        doc="""Modules to import before anything is built (``--plugin``): their import registers parts by name. A
        checkpoint that lists modules here is rebuilt only where they are named again (``--plugin``) or installed
        as ``genpo.plugins`` entry points.""",
        check=NAMES,
        factory=list,
    )


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
        """Applies a nested dict onto ``base`` (defaults if None); old spellings are read, unknown keys refused.

        Raises:
            ConfigError: Unknown sections or fields (naming the allowed ones).
        """
        cfg = dataclasses.replace(base) if base is not None else cls()
        cfg = apply_overrides(cfg, data)
        return cfg

    def validate(self) -> None:
        """Checks every value before any work starts; ``ConfigError`` names the field and what is allowed."""
        validate(self)


SECTIONS = {"env": EnvConfig, "policy": PolicyConfig, "algo": AlgoConfig, "run": RunConfig}


def apply_overrides(cfg: TrainConfig, data: dict[str, Any]) -> TrainConfig:
    """Returns a copy of ``cfg`` with ``{section: {field: value}}`` applied (inputs are not mutated).

    Field names written before a rename (``policy.steps``) are read as today's
    (:func:`genpo.training.fields.canonical`).
    """
    from genpo.training.fields import canonical

    data = canonical(data)
    out = {}
    for name, cls in SECTIONS.items():
        section = getattr(cfg, name)
        updates = _with_mapping_keys(name, section, data.get(name) or {})
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


def _with_mapping_keys(name: str, section: Any, updates: dict[str, Any]) -> dict[str, Any]:
    """``updates`` with each ``FIELD.KEY`` of a mapping field (``options.rtol``) set in a copy of that mapping,
    after the whole mapping if one is given too; a dotted key of any other field is left for the caller to refuse.
    """
    from genpo.training.fields import mapping_fields

    mappings = {dotted.split(".", 1)[1] for dotted in mapping_fields() if dotted.startswith(f"{name}.")}
    out = {k: v for k, v in updates.items() if "." not in k}
    for key, value in updates.items():
        head, dot, option = key.partition(".")
        if not dot:
            continue
        if head not in mappings:
            out[key] = value
            continue
        current = out.get(head, getattr(section, head))
        if not isinstance(current, dict):
            raise ConfigError(f"{name}.{head} must be a mapping to set {name}.{key}, got {current!r}", f"{name}.{head}")
        out[head] = {**current, option: value}
    return out


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


# make_policy's argument -> the policy field that sets it (the flow's K is make_policy's ``steps``).
FLOW_FIELDS = {"velocity": "velocity", "integrator": "integrator", "steps": "flow_steps",
               "likelihood": "likelihood", "p": "mix_p"}  # fmt: skip


def build_actor(policy: PolicyConfig, obs_dim: int, action_dim: int) -> Any:
    """The actor ``make_policy`` builds from a policy section, with strict options.

    The flow fields (``velocity``, ``integrator``, ``flow_steps``, ``likelihood``, ``mix_p``) are for ``model:
    flow``: another model with any of them off its default is refused. ``hidden``, ``activation`` and ``mix_p``
    (make_policy's ``p``) go to every chosen part that takes them (:func:`genpo.models.factory.takers`, the one
    place that reads what a part takes); a value off its default that no chosen part takes is refused, as is a
    ``policy.options`` key no part takes or one that is a field of this section.

    Raises:
        ConfigError: Naming the field, the chosen parts and the options each takes; a part's own check of an
            option it was given is prefixed with the field that option came from (``policy.options.tol: ...``).
    """
    from genpo.models import make_policy
    from genpo.models.factory import describe_options, parts_of, takers

    defaults = PolicyConfig()
    misplaced = sorted(set(policy.options) & ({f.name for f in dataclasses.fields(PolicyConfig)} | set(FLOW_FIELDS)))
    if misplaced:
        name = FLOW_FIELDS.get(misplaced[0], misplaced[0])
        raise ConfigError(f"policy.options.{misplaced[0]}: set policy.{name} itself, not inside policy.options")
    flow = policy.model == "flow"
    kwargs: dict[str, Any] = {}
    if flow:
        kwargs.update({arg: getattr(policy, name) for arg, name in FLOW_FIELDS.items() if arg != "p"})
        parts = parts_of("flow", policy.velocity, policy.integrator, policy.likelihood)
    else:
        parts = parts_of(policy.model)
        off = [
            f"policy.{f}={getattr(policy, f)!r}"
            for f in FLOW_FIELDS.values()
            if getattr(policy, f) != getattr(defaults, f)
        ]
        if off:
            raise ConfigError(f"{', '.join(off)}: only model 'flow' takes it; {describe_options(parts)}")
    shared = {"activation": ("activation", policy.activation), "hidden": ("hidden", policy.hidden)}
    if flow:
        shared["p"] = ("mix_p", policy.mix_p)
    for arg, (name, value) in shared.items():
        if value is None:
            continue
        if takers(parts, arg):
            kwargs[arg] = tuple(value) if arg == "hidden" else value
        elif value != getattr(defaults, name):
            raise ConfigError(
                f"policy.{name}={value!r} is taken by none of the chosen parts ({describe_options(parts)})"
            )
    kwargs.update(policy.options)
    try:
        return make_policy(obs_dim, action_dim, model=policy.model, **kwargs)
    except ConfigError as exc:
        where = _option_origin(policy, exc.field)
        if where is None:
            raise
        raise ConfigError(f"{where}: {exc}", field=where) from None


def _option_origin(policy: PolicyConfig, option: str | None) -> str | None:
    """The policy field a part's option came from (``tol`` -> ``policy.options.tol``), None if not one."""
    if option in policy.options:
        return f"policy.options.{option}"
    name = {**FLOW_FIELDS, "hidden": "hidden", "activation": "activation"}.get(option or "")
    return None if name is None else f"policy.{name}"


def check_parts(cfg: TrainConfig) -> Any:
    """Builds the actor once, on 1-dim observations and actions: part names, pairs and options are checked
    exactly as the run will build them (the one place validation builds a policy).

    Returns:
        The throwaway actor (rules that depend on the chosen parts read it).

    Raises:
        ConfigError: A part's name, pairing or option is not allowed (each part raises it where it checks, with
            its own message; any other exception from a part is a bug and propagates as one).
    """
    return build_actor(cfg.policy, obs_dim=1, action_dim=1)


Rule = Callable[[TrainConfig], None]


def _rollout_fits(cfg: TrainConfig) -> None:
    a, e = cfg.algo, cfg.env
    Allowed(
        lambda v: v * e.num_envs <= MAX_ROLLOUT,
        f"such that the rollout steps_per_env * env.num_envs is at most {MAX_ROLLOUT} samples "
        f"(here {a.steps_per_env} * {e.num_envs})",
    )(a.steps_per_env, "algo.steps_per_env")


def _minibatches_fit(cfg: TrainConfig) -> None:
    size = cfg.algo.steps_per_env * cfg.env.num_envs
    Allowed(lambda v: v <= size, f"at most the rollout size steps_per_env * num_envs = {size}")(
        cfg.algo.num_minibatches, "algo.num_minibatches"
    )


def _budget_set(cfg: TrainConfig) -> None:
    if cfg.run.max_iterations is None and cfg.run.total_steps is None:
        raise ConfigError("set a budget: run.max_iterations or run.total_steps", field="run.max_iterations")


def _frozen_normalizer_exists(cfg: TrainConfig) -> None:
    if cfg.algo.freeze_obs_normalizer and not cfg.policy.normalize_obs:
        raise ConfigError(
            "algo.freeze_obs_normalizer=True needs policy.normalize_obs=True: without a normalizer there is "
            "nothing to freeze",
            field="algo.freeze_obs_normalizer",
        )


RULES: tuple[Rule, ...] = (_rollout_fits, _minibatches_fit, _budget_set, _frozen_normalizer_exists)
"""Rules that relate fields of different sections, checked after each field's own constraint."""


def _entropy_needs_density(cfg: TrainConfig, actor: Any) -> None:
    if not actor.is_density and cfg.algo.entropy_coef > 0:
        raise ConfigError(
            f"algo.entropy_coef must be 0 with likelihood {cfg.policy.likelihood!r}: a ratio surrogate has no "
            f"log-density to estimate an entropy from, got {cfg.algo.entropy_coef!r}",
            field="algo.entropy_coef",
        )


def _compression_needs_doubled_latent(cfg: TrainConfig, actor: Any) -> None:
    # The compression loss acts on a doubled latent only; an explicit value elsewhere would be silently unused.
    a = cfg.algo
    if not actor.doubled_latent and a.compress_coef not in (0.0, AlgoConfig.compress_coef):
        raise ConfigError(
            f"algo.compress_coef={a.compress_coef!r}: the compression loss applies to doubled-latent "
            f"integrators only (edict, reversible-heun, reversible-rk); this policy has none: use 0 or the default",
            field="algo.compress_coef",
        )
    if not (a.compress_coef > 0 and actor.doubled_latent) and a.compress_fraction != AlgoConfig.compress_fraction:
        why = "this policy has no doubled latent" if not actor.doubled_latent else "algo.compress_coef is 0"
        raise ConfigError(
            f"algo.compress_fraction={a.compress_fraction!r} applies to the compression loss, which is off here "
            f"({why}): use the default {AlgoConfig.compress_fraction!r}",
            field="algo.compress_fraction",
        )


PART_RULES: tuple[Callable[[TrainConfig, Any], None], ...] = (_entropy_needs_density, _compression_needs_doubled_latent)
"""Rules that depend on the chosen parts (given the actor :func:`check_parts` built)."""


def validate(cfg: TrainConfig) -> None:
    """See :meth:`TrainConfig.validate`: each field's constraint, the plug-ins and env factory it names, the
    cross-field :data:`RULES`, the parts (:func:`check_parts`) and the :data:`PART_RULES`."""
    from genpo.envs import DOTTED, load_env_factory, parse_env_id
    from genpo.loggers import check_loggers
    from genpo.plugins import import_plugins
    from genpo.training.algorithm import ALGORITHMS

    for name in SECTIONS:
        check_fields(getattr(cfg, name), name)
    import_plugins(cfg.run.plugins)
    check_loggers(cfg.run.logger)  # names, installed extras and user writers (after the plug-ins that register them)
    backend, task = parse_env_id(cfg.env.id)
    if backend == DOTTED:
        load_env_factory(task)
    try:
        ALGORITHMS.get(cfg.algo.name)  # after the plug-ins, which may register algorithms
    except ConfigError as exc:  # the registry's message (the allowed names), prefixed with the field
        raise type(exc)(f"algo.name: {exc}", field="algo.name") from None
    for rule in RULES:
        rule(cfg)
    actor = check_parts(cfg)
    for part_rule in PART_RULES:
        part_rule(cfg, actor)
