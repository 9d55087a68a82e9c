"""The rules of a run and genpo's Python API: :func:`train`, :func:`load`, :func:`evaluate`.

The ``genpo`` CLI wraps these functions and only parses options and prints, so a script gets the
same configuration precedence, resume rules, checkpoint lookup and run folders as the command line:

    >>> import genpo
    >>> result = genpo.train("tiny.yaml", env="builtin:PointMass", max_iterations=3)  # doctest: +SKIP
    >>> ac, cfg = genpo.load(result.run_dir)  # doctest: +SKIP

Precedence: dataclass defaults < preset < the resumed checkpoint's configuration < ``config``
(a YAML path, a nested dict or a :class:`~genpo.training.config.TrainConfig`) < keyword overrides. Every fault
a user can cause raises a :class:`~genpo.errors.GenpoError` naming configuration fields, before any work starts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from torch import Tensor

from genpo.console import make_console
from genpo.errors import ConfigError, RunFolderError
from genpo.training.actor_critic import ActorCritic
from genpo.training.checkpoint import load_checkpoint, resolve_checkpoint
from genpo.training.config import DEFAULT_ENV, MAX_NUM_ENVS, TrainConfig, check_device, check_seed, load_yaml
from genpo.training.fields import canonical, nest
from genpo.training.files import describe_os_error, ensure_folder
from genpo.training.init import check_init, init_layer
from genpo.training.loading import check_checkpoint_imports, imports_of
from genpo.training.runner import Trainer, TrainResult, env_folder_name, make_run_dir

ConfigSource = TrainConfig | dict[str, Any] | str | Path | None

# Fields that define the network: a resumed run must keep them.
ARCH_FIELDS: tuple[tuple[str, str], ...] = tuple(
    ("policy", f)
    for f in ("model", "velocity", "integrator", "flow_steps", "mix_p", "hidden", "critic_hidden", "activation")
)


def nest_overrides(overrides: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Keyword overrides as ``{section: {field: value}}``: ``genpo.training.fields.nest``, the one place
    names are resolved (a section mapping, ``"section.field"``, a unique field name, an alias such as ``steps``
    or ``env``, or an old spelling).

    Raises:
        ConfigError: An unknown or ambiguous key.
    """
    return nest(overrides)


def config_layer(config: ConfigSource) -> dict[str, Any]:
    """The nested dict a config source sets (a path is read as YAML; a ``TrainConfig`` sets every field)."""
    if config is None:
        return {}
    if isinstance(config, TrainConfig):
        return config.to_dict()
    if isinstance(config, (str, Path)):
        return canonical(load_yaml(config))
    if isinstance(config, dict):
        return canonical(config)
    raise ConfigError(f"config must be a TrainConfig, a mapping or a YAML path, got {type(config).__name__}")


def _budget_rule(layer: dict[str, Any]) -> dict[str, Any]:
    """A layer that sets ``run.total_steps`` but not ``run.max_iterations`` makes the step count the budget."""
    run = layer.get("run")
    if isinstance(run, dict) and run.get("total_steps") is not None and "max_iterations" not in run:
        layer = {**layer, "run": {**run, "max_iterations": None}}
    return layer


def _same(new: Any, old: Any) -> bool:
    return new == old or (isinstance(new, (list, tuple)) and isinstance(old, (list, tuple)) and list(new) == list(old))


def _deciding(layers: dict[str, dict[str, Any]], section: str, name: str) -> tuple[str, Any] | None:
    """``(layer, value)`` of the highest layer (``layers`` lowest precedence first) that sets ``section.name`` to a
    value other than None; None when no layer does."""
    for where, data in reversed(list(layers.items())):
        value = (data.get(section) or {}).get(name)
        if value is not None:
            return where, value
    return None


def check_architecture_kept(layers: dict[str, dict[str, Any]], checkpoint_config: dict[str, Any]) -> None:
    """A resumed run keeps its architecture: the layer that decides an :data:`ARCH_FIELDS` field may not change it.

    Args:
        layers: What each layer (named in the message) sets, as nested dicts, lowest precedence first: the
            highest layer that sets a field decides it (a file's other ``hidden`` overridden back to the trained
            value by ``--set`` is fine).
        checkpoint_config: The resumed checkpoint's configuration.

    Raises:
        ConfigError: Naming the deciding layer, the field, the new and the trained value.
    """
    for section, name in ARCH_FIELDS:
        decided = _deciding(layers, section, name)
        if decided is None:
            continue
        where, new = decided
        old = checkpoint_config.get(section, {}).get(name)
        if not _same(new, old):
            raise ConfigError(
                f"{where} sets {section}.{name}={new!r} but the checkpoint was trained with {old!r}; "
                "a resumed run keeps its architecture"
            )


def check_task_kept(layers: dict[str, dict[str, Any]], checkpoint_config: dict[str, Any]) -> None:
    """A resumed run continues on the task it was trained on (``env.id``); ``env.num_envs`` may change.

    Same observation and action sizes are not enough: the normalizer statistics, the value function and
    the saved environment state belong to the task. (Evaluating on another task is ``genpo play --env``.)

    Args:
        layers: As for :func:`check_architecture_kept` (the highest layer that sets ``env.id`` decides).
        checkpoint_config: The resumed checkpoint's configuration.

    Raises:
        ConfigError: Naming the deciding layer, the new and the trained environment id.
    """
    from genpo.envs import parse_env_id

    old = (checkpoint_config.get("env") or {}).get("id")
    decided = _deciding(layers, "env", "id")
    if decided is not None and old is not None:
        where, new = decided
        if parse_env_id(new) == parse_env_id(old):
            return
        raise ConfigError(
            f"{where} sets env.id={new!r} but the checkpoint was trained on {old!r}; a resumed run continues on "
            f"its own task (its normalizer, value function and saved episodes belong to it). Start a new run "
            f"for {new!r}, or evaluate this policy there with genpo play --env {new}"
        )


def resolve_config(
    config: ConfigSource = None,
    overrides: dict[str, Any] | None = None,
    *,
    preset: str | None = None,
    checkpoint_config: dict[str, Any] | None = None,
    init_layer: dict[str, Any] | None = None,
) -> TrainConfig:
    """Defaults < preset < checkpoint configuration < ``config`` < ``overrides`` (not validated here).

    A run started from pretrained weights (``run.init``) reads the init checkpoint's task and actor network
    (``init_layer``, see :func:`genpo.training.init.init_layer`) where the preset would be.

    Args:
        config: A YAML path, a nested dict or a :class:`~genpo.training.config.TrainConfig`.
        overrides: Keyword overrides (see :func:`nest_overrides`).
        preset: A recipe of :mod:`genpo.training.presets` (``mujoco-ppo``, any task) or a task preset
            (``paper`` for the GenPO paper's IsaacLab tasks).
        checkpoint_config: The configuration of a checkpoint being resumed.

    Raises:
        ConfigError: Unknown fields, a preset without a task, an architecture change on resume.
    """
    file_data = _budget_rule(config_layer(config))
    over = _budget_rule(nest_overrides(overrides or {}))
    cfg = TrainConfig()
    recipe = None
    if preset is not None:
        from genpo.training.presets import recipe_overrides

        recipe = recipe_overrides(preset)
    if recipe is not None:
        cfg = TrainConfig.from_dict(recipe, cfg)
    elif preset is not None:
        from genpo.envs.isaaclab.presets import PRESET_KINDS, preset_overrides
        from genpo.training.presets import RECIPES

        if preset not in PRESET_KINDS:
            raise ConfigError(
                f"unknown preset {preset!r}; choose one of: {', '.join(RECIPES)} (any task), "
                f"{', '.join(PRESET_KINDS)} (IsaacLab tasks)"
            )
        task = (
            over.get("env", {}).get("id")
            or (file_data.get("env") or {}).get("id")
            or (checkpoint_config or {}).get("env", {}).get("id")
        )
        if not task:
            raise ConfigError(f"preset {preset!r} needs env.id (e.g. isaaclab:Isaac-Ant)")
        cfg = TrainConfig.from_dict(preset_overrides(task, preset), cfg)
    if init_layer is not None:
        cfg = TrainConfig.from_dict(init_layer, cfg)
    if checkpoint_config is not None:
        from genpo.training.config import with_legacy_values

        saved = with_legacy_values(checkpoint_config)  # today's field names, and values of fields added since
        cfg = TrainConfig.from_dict(saved, cfg)
        check_architecture_kept({"the configuration": file_data, "the overrides": over}, saved)
        check_task_kept({"the configuration": file_data, "the overrides": over}, saved)
    cfg = TrainConfig.from_dict(file_data, cfg)
    return TrainConfig.from_dict(over, cfg)


@dataclass
class PreparedRun:
    """A resolved, validated run that has not started.

    Attributes:
        config: The configuration the run will use.
        checkpoint: The loaded checkpoint to resume from, or None.
        checkpoint_path: Where that checkpoint was found.
    """

    config: TrainConfig
    checkpoint: dict[str, Any] | None = None
    checkpoint_path: Path | None = None


def locate_checkpoint(spec: str | Path, logdir: str | Path, env_id: str | None = None) -> Path:
    """A checkpoint file from a file, a run folder or ``latest`` (the newest run of ``env_id``, if given)."""
    return resolve_checkpoint(str(spec), logdir, env_folder_name(env_id) if env_id else None)


def find_resume_checkpoint(spec: str | Path, config: ConfigSource, overrides: dict[str, Any], resume: bool) -> Path:
    """The checkpoint a resumed run starts from.

    ``latest`` looks under ``run.logdir`` (as ``config`` and ``overrides`` set it) for the newest run of
    the ``env.id`` they set; ``resume=True`` without an ``env.id`` means the default environment.
    """
    file_data, over = config_layer(config), nest_overrides(overrides)
    pre = TrainConfig.from_dict(over, TrainConfig.from_dict(file_data))
    env_id = (over.get("env") or {}).get("id") or (file_data.get("env") or {}).get("id")
    return locate_checkpoint(spec, pre.run.logdir, env_id or (DEFAULT_ENV if resume else None))


def prepare(
    config: ConfigSource = None,
    *,
    preset: str | None = None,
    resume: bool = False,
    checkpoint: str | Path | None = None,
    **overrides: Any,
) -> PreparedRun:
    """Resolves and validates a run (and loads the checkpoint it resumes from); starts nothing.

    Args:
        config: A YAML path, a nested dict or a :class:`~genpo.training.config.TrainConfig`.
        preset: A task preset name.
        resume: Resume from the newest checkpoint of ``env.id`` under ``run.logdir``.
        checkpoint: Resume from this checkpoint file, run folder or ``latest``.
        **overrides: Configuration overrides (see :func:`nest_overrides`).

    Raises:
        ConfigError: Anything invalid, including a missing or mismatched checkpoint.
    """
    if resume and checkpoint is not None:
        raise ConfigError("resume=True and a checkpoint were both given; use one")
    ckpt, path = None, None
    if resume or checkpoint is not None:
        path = find_resume_checkpoint(checkpoint or "latest", config, overrides, resume)
        ckpt = load_checkpoint(path)
    init = find_init_checkpoint(config, overrides)
    if ckpt is not None and init is not None:
        started = (ckpt["config"].get("run") or {}).get("init")
        if started is None or Path(started) != init[0]:
            raise ConfigError(
                f"run.init ({init[0]}) starts a new run from pretrained weights, but this command resumes "
                f"{str(path)!r}{'' if started is None else f' (started from {started})'}: use one",
                field="run.init",
            )
        init = None  # a resumed run continues from its own checkpoint
    cfg = resolve_config(
        config,
        overrides,
        preset=preset,
        checkpoint_config=ckpt["config"] if ckpt else None,
        init_layer=None if init is None else init_layer(init[1]["config"]),
    )
    if ckpt is not None:  # what the checkpoint names is data: import only what the user names too
        if ckpt.get("pretrain") is not None:
            raise ConfigError(
                f"{str(path)!r} is a genpo pretrain checkpoint: start a run from it with --init (run.init), "
                "not --checkpoint (that resumes a training run)"
            )
        named = set(imports_of(config_layer(config))) | set(imports_of(nest_overrides(overrides)))
        check_checkpoint_imports(cfg.to_dict(), named, repr(str(path)))
    cfg.validate()
    if init is not None:
        check_init(cfg, init[1], init[0])
        cfg.run.init = str(init[0])  # the run records the file it started from
    # A logdir that is a file or not writable fails now, before an environment is built.
    ensure_folder(make_run_dir(cfg).parent, "run folder under run.logdir", create=False)
    return PreparedRun(cfg, ckpt, path)


def find_init_checkpoint(config: ConfigSource, overrides: dict[str, Any]) -> tuple[Path, dict[str, Any]] | None:
    """The checkpoint ``run.init`` names (in ``config`` or ``overrides``), loaded, with its absolute path; or None.

    Raises:
        ConfigError: A missing or unreadable checkpoint.
    """
    file_data, over = config_layer(config), nest_overrides(overrides)
    pre = TrainConfig.from_dict(over, TrainConfig.from_dict(file_data))
    if pre.run.init is None:
        return None
    if not isinstance(pre.run.init, str) or not pre.run.init.strip():
        raise ConfigError(f"run.init must be a checkpoint file or run folder, got {pre.run.init!r}", field="run.init")
    path = locate_checkpoint(pre.run.init, pre.run.logdir).resolve()
    return path, load_checkpoint(path)


def create_run_dir(cfg: TrainConfig) -> Path:
    """Creates ``<logdir>/genpo/<env>/<timestamp>[_<run_name>]`` and returns it.

    Raises:
        RunFolderError: The folder cannot be created.
    """
    path = make_run_dir(cfg)
    ensure_folder(path.parent, "run folder under run.logdir")
    try:
        path.mkdir()
    except OSError as exc:
        raise RunFolderError(describe_os_error(exc, path, "create the run folder (run.logdir)")) from None
    return path


def train(
    config: ConfigSource = None,
    /,
    *,
    preset: str | None = None,
    resume: bool = False,
    checkpoint: str | Path | None = None,
    distributed: bool = False,
    console: Console | None = None,
    **overrides: Any,
) -> TrainResult:
    """Trains a policy exactly as ``genpo train`` does.

    Args:
        config: A YAML path, a nested dict or a :class:`~genpo.training.config.TrainConfig` (None: defaults).
        preset: A task preset name (e.g. ``paper``).
        resume: Resume from the newest checkpoint of ``env.id`` under ``run.logdir``.
        checkpoint: Resume from this checkpoint file, run folder or ``latest``.
        distributed: Join a torchrun job (one call per rank).
        console: Where progress goes (default: stdout).
        **overrides: Configuration overrides: ``max_iterations=3``, ``env="gym:Hopper-v5"``,
            ``policy={"hidden": [64, 64]}``, ``**{"algo.gamma": 0.98}``.

    Returns:
        The :class:`~genpo.training.runner.TrainResult` (``run_dir`` is where ``params/config.yaml`` and
        checkpoints are).

    Raises:
        ConfigError: Invalid input, before any work or folder.
        RunFolderError: The run folder cannot be created.
        DiskError: The disk clearly cannot hold two checkpoints (refused before the run folder is made), or
            the file system failed a write during the run (the message names the newest intact checkpoint
            and the command that resumes it).
        RunFailed: The run started and failed (e.g. a non-finite loss).
    """
    from genpo.training.distributed import DistInfo, init_distributed, shutdown

    console = console or make_console()
    run = prepare(config, preset=preset, resume=resume, checkpoint=checkpoint, **overrides)
    cfg = run.config
    if run.checkpoint is not None:
        console.print(f"resuming from {run.checkpoint_path} (iteration {run.checkpoint['iteration']})", highlight=False)
    dist = DistInfo()
    if distributed:
        dist, device = init_distributed(cfg.run.device)
        cfg.run.device = device
    try:
        # Bad input was refused by prepare(); the environment's own checks raise ConfigError (genpo.envs.make_env).
        trainer = Trainer(
            cfg, checkpoint=run.checkpoint, dist=dist, console=console, checkpoint_path=run.checkpoint_path
        )
        try:
            if dist.is_main:  # before any folder: a disk that clearly cannot hold the checkpoints refuses now
                trainer.check_disk_space(make_run_dir(cfg).parent)
            run_dir = create_run_dir(cfg) if dist.is_main else None
            if run_dir is not None:
                console.print(f"run folder: {run_dir}", highlight=False)
            result = trainer.train(run_dir)
            if dist.enabled:
                result.parameter_checksum = trainer.parameter_checksum()
            result.config = cfg
            result.rank, result.world_size = dist.rank, dist.world_size
            return result
        finally:
            trainer.env.close()
    finally:
        shutdown()


def load(
    checkpoint: str | Path = "latest",
    *,
    device: str = "cpu",
    logdir: str | Path = "logs",
    env: str | None = None,
    plugins: Iterable[str] = (),
) -> tuple[ActorCritic, TrainConfig]:
    """Loads a trained actor-critic (eval mode) and its configuration.

    Args:
        checkpoint: A checkpoint file, a run folder (its newest checkpoint) or ``latest`` (under ``logdir``).
        device: Where the module goes.
        logdir: Where ``latest`` looks.
        env: With ``latest``, the newest run of this environment id (default: of any); the environment
            that will be used instead of the checkpoint's.
        plugins: Modules the checkpoint may import (see :func:`genpo.training.loading.check_checkpoint_imports`).

    Returns:
        ``(actor_critic, config)``; ``actor_critic.act_deterministic(raw_obs)`` acts on raw observations.

    Raises:
        ConfigError: A missing, unreadable or mismatched checkpoint.
    """
    from genpo.training.loading import actor_critic_from_checkpoint

    check_device(device, "device")  # before loading: a missing GPU is not a damaged checkpoint
    path = locate_checkpoint(checkpoint, logdir, env)
    cfg, ac, _ = actor_critic_from_checkpoint(path, device, plugins=plugins, env_id=env)
    return ac, cfg


def check_episodes(episodes: Any) -> int:
    """An evaluation's episode count: one parallel environment each, so the bound of ``env.num_envs``."""
    if isinstance(episodes, bool) or not isinstance(episodes, int) or not 1 <= episodes <= MAX_NUM_ENVS:
        raise ConfigError(f"episodes must be an integer in [1, {MAX_NUM_ENVS}], got {episodes!r}", field="episodes")
    return episodes


def evaluate(
    policy: ActorCritic | str | Path = "latest",
    env: str | None = None,
    *,
    episodes: int = 10,
    deterministic: bool = True,
    seed: int = 10_000,
    device: str = "cpu",
    logdir: str | Path = "logs",
    config: TrainConfig | None = None,
    plugins: Iterable[str] = (),
) -> Tensor:
    """Returns of ``episodes`` whole episodes (one per parallel environment), as ``genpo play`` reports them.

    Args:
        policy: A loaded actor-critic, or a checkpoint file, run folder or ``latest``.
        env: Environment id (default: the one the checkpoint was trained on).
        episodes: Episodes to run (>= 1).
        deterministic: Zero-noise actions, or sampled ones.
        seed: Seed of the evaluation environments.
        device: Device of the policy and environments.
        logdir: Where ``latest`` looks.
        config: The training configuration when ``policy`` is a module (for the env id and options).
        plugins: Modules a checkpoint may import (see :func:`load`).

    Raises:
        ConfigError: Bad episode count, unknown environment, or dimensions that do not fit.
    """
    from genpo.envs import make_env
    from genpo.training.evaluate import evaluate as run_episodes

    check_episodes(episodes)
    check_seed(seed, "seed")
    check_device(device, "device")
    if isinstance(policy, ActorCritic):
        ac, cfg = policy, config or TrainConfig()
    else:
        ac, cfg = load(policy, device=device, logdir=logdir, env=env, plugins=plugins)
    env_id = env or cfg.env.id
    venv = make_env(env_id, episodes, seed=seed, device=device, **cfg.env.options)  # ConfigError for bad input
    try:
        if venv.observation_dim != ac.policy.obs_dim or venv.action_dim != ac.policy.action_dim:
            raise ConfigError(
                f"{env_id} has obs/action dims {venv.observation_dim}/{venv.action_dim}, the policy "
                f"{ac.policy.obs_dim}/{ac.policy.action_dim}"
            )
        return run_episodes(ac, venv, deterministic=deterministic, seed=seed)
    finally:
        venv.close()
