"""Imitation pretraining on demonstrations (``genpo pretrain``): an ordinary run folder a later run starts from.

The rules of the run (configuration precedence, validation, the run folder) are :mod:`genpo.training.api`'s;
what is learned from a demonstration is the policy family's own business
(:meth:`genpo.models.policy.Policy.imitation_loss`): nothing here knows which family it trains.

The run folder holds ``params/config.yaml`` (a :class:`~genpo.training.config.TrainConfig`, as for
``genpo train``), ``params/pretrain.yaml`` (these settings and the dataset), ``pretrain.json`` (the final
measurements), TensorBoard scalars per epoch and ``model_<epochs>.pt``, which ``genpo play``,
``genpo export`` and ``genpo train --init`` read.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from torch import Tensor

from genpo.console import make_console
from genpo.errors import ConfigError
from genpo.training.actor_critic import ActorCritic
from genpo.training.config import TrainConfig, build_actor
from genpo.training.spec import check_fields, integer, number, setting, text

SECTION = "pretrain"
MODE_RADIUS = 0.15  # as genpo plot actions counts modes
MODE_SAMPLES = 2000


def _one_or_two_names(objective: str) -> bool:
    """One objective name, or two separated by a comma."""
    return objective.count(",") <= 1 and all(s.strip() for s in objective.split(","))


@dataclass
class PretrainConfig:
    """Settings of imitation pretraining (the ``pretrain`` section of a ``--config`` file, ``--set pretrain.X=V``).

    Each field declares its doc and allowed values (:func:`~genpo.training.spec.setting`), as the training
    configuration's do: ``genpo pretrain --help`` and docs/configuration.md read them.
    """

    epochs: int = setting(100, "Passes over the training episodes, in [1, 10**6].", integer(1, 10**6))
    batch_size: int = setting(256, "Demonstrated steps per gradient step, >= 1.", integer(1))
    learning_rate: float = setting(1e-3, "Adam learning rate (finite, > 0).", number(lambda v: v > 0, "finite and > 0"))
    validation_fraction: float = setting(
        0.1,
        "Share of whole episodes held out for the validation loss and the action-distribution check, in [0, 1).",
        number(lambda v: 0 <= v < 1, "in [0, 1)"),
    )
    objective: str | None = setting(
        None,
        """Imitation objective (null: the family's default), one the family offers: flow-matching (flows),
        likelihood (densities; the doubled latent at (a, a) plus compression) or flow-matching+likelihood; or two
        separated by a comma (``flow-matching,likelihood``): the first for the first half of the epochs, then the
        second.""",
        text("an objective name, two separated by a comma, or null", _one_or_two_names, optional=True),
    )
    eval_samples: int = setting(
        2000,
        "Held-out steps (at most) on which policy actions are compared with the demonstrated ones, >= 1.",
        integer(1),
    )
    eval_episodes: int = setting(
        10,
        "Episodes of the pretrained policy run at the end (deterministic and stochastic returns; 0: none), "
        "in [0, 2**20].",
        integer(0, 2**20),
    )

    def phases(self, epochs: int) -> list[tuple[int, str | None]]:
        """``[(first epoch, objective), ...]`` (epochs count from 1)."""
        if self.objective is None or "," not in self.objective:
            return [(1, self.objective)]
        first, second = (s.strip() for s in self.objective.split(",", 1))
        return [(1, first), (epochs // 2 + 1, second)]

    def validate(self) -> None:
        """Checks each field against its declared constraint, then that a two-phase objective has two epochs.

        Raises:
            ConfigError: The first value not allowed, naming the ``pretrain.<field>``.
        """
        check_fields(self, SECTION)
        if self.epochs < 2 and self.objective is not None and "," in self.objective:
            raise ConfigError(
                "pretrain.objective with two phases needs pretrain.epochs >= 2", field=f"{SECTION}.objective"
            )


def pretrain_config(layer: dict[str, Any] | None, overrides: dict[str, Any] | None = None) -> PretrainConfig:
    """Defaults < a config file's ``pretrain`` section < ``overrides`` (field names without the section)."""
    cfg = PretrainConfig()
    allowed = {f.name for f in dataclasses.fields(PretrainConfig)}
    for where, data in (("the configuration's pretrain section", layer or {}), ("the overrides", overrides or {})):
        if not isinstance(data, dict):
            raise ConfigError(f"{where} must be a mapping, got {type(data).__name__}")
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ConfigError(
                f"unknown pretrain field(s) {', '.join(unknown)} in {where}; allowed: {', '.join(sorted(allowed))}"
            )
        cfg = dataclasses.replace(cfg, **data)
    cfg.validate()
    return cfg


@dataclass
class PretrainResult:
    """What a finished pretraining reports (also written to ``<run_dir>/pretrain.json``).

    Attributes:
        run_dir: The run folder.
        checkpoint: ``model_<epochs>.pt`` in it.
        metrics: Final measurements: ``train_loss``, ``val_loss``, ``action_sw2`` (sliced W2 between policy and
            demonstrated actions on held-out steps), ``modes_held``/``mode_shares`` (environments that name
            their optimal actions), ``return_deterministic``/``return_stochastic`` (means over the evaluation
            episodes), ``seconds``.
        history: Per-epoch rows of the same measurements.
    """

    run_dir: Path
    checkpoint: Path
    metrics: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)


class _Progress:
    """A rich progress bar on a terminal, a plain line every ~10 s elsewhere."""

    def __init__(self, console: Console, total: int) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self.console, self.total, self.t0 = console, total, time.perf_counter()
        self.last = self.t0
        self.bar = None
        if console.is_terminal and sys.stdout.isatty():
            self.bar = Progress(
                TextColumn("[bold]epoch {task.completed}/{task.total}"),
                BarColumn(),
                TextColumn("{task.fields[text]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=console,
            )
            self.task = self.bar.add_task("pretrain", total=total, text="")
            self.bar.start()

    def update(self, epoch: int, row: dict[str, Any]) -> None:
        text = "  ".join(f"{k} {v:.4g}" for k, v in row.items() if isinstance(v, float) and k != "epoch")
        if self.bar is not None:
            self.bar.update(self.task, completed=epoch, text=text)
        elif time.perf_counter() - self.last >= 10 or epoch in (1, self.total):
            self.last = time.perf_counter()
            self.console.print(
                f"epoch {epoch}/{self.total}  {text}  elapsed {self.last - self.t0:.0f}s", highlight=False
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _split_layer(config: Any) -> tuple[Any, dict[str, Any] | None]:
    """A config source without its ``pretrain`` section, and that section."""
    from genpo.training.api import config_layer

    if config is None or isinstance(config, TrainConfig):
        return config, None
    layer = dict(config_layer(config))
    return layer, layer.pop(SECTION, None)


def _env_id(env: str | None, config_env: str | None, recorded: str | None, source: str) -> str:
    """The run's environment: ``--env`` / the configuration's, else the dataset's; both set must agree."""
    from genpo.envs import parse_env_id

    given = env or config_env
    if given is not None and recorded is not None and parse_env_id(given) != parse_env_id(recorded):
        raise ConfigError(
            f"the dataset {source} was recorded on {recorded!r} but this run is on {given!r}; "
            "drop --env (the dataset names its environment) or use a dataset of that task",
            field="env.id",
        )
    if given is None and recorded is None:
        raise ConfigError(f"the dataset {source} records no environment: name it with --env", field="env.id")
    return given or recorded  # type: ignore[return-value]


def _mode_check(env: Any) -> tuple[Tensor, Tensor] | None:
    """``(start observation, optimal actions)`` where the environment names them (MultiGoal), else None."""
    if hasattr(env, "optimal_actions") and hasattr(env, "start_observation"):
        return env.start_observation().float().cpu(), env.optimal_actions().float().cpu()
    return None


@torch.no_grad()
def measure(
    ac: ActorCritic,
    obs: Tensor,
    actions: Tensor,
    low: Tensor | None,
    high: Tensor | None,
    modes: tuple[Tensor, Tensor] | None,
    seed: int,
) -> dict[str, Any]:
    """The action-distribution check: sliced W2 between policy and demonstrated actions at the same (raw)
    observations (both clipped to the action box, as the environment applies them), and on an environment
    that names its optimal actions, the share of samples at each (within 0.15) and the modes holding >= 10%."""
    from genpo.objectives.imitation import sliced_wasserstein
    from genpo.workbench.actions import mode_shares, modes_held

    gen = torch.Generator().manual_seed(seed)
    policy = ac.policy

    def draw(o: Tensor) -> Tensor:  # sampled actions without the log-densities (what sample() adds)
        noise = torch.randn(o.shape[0], policy.latent_dim, generator=gen, dtype=o.dtype)
        return policy.to_action(policy.generate_only(o, noise.to(o.device)))

    out: dict[str, Any] = {}
    with policy.static_parameters():
        if obs.shape[0]:
            act = draw(ac.obs_norm(obs))
            demo = actions
            if low is not None and high is not None:
                act, demo = act.clamp(low, high), demo.clamp(low, high)
            out["action_sw2"] = sliced_wasserstein(act, demo, generator=gen)
        if modes is not None:
            start, optima = modes
            o = ac.obs_norm(start.expand(MODE_SAMPLES, -1).contiguous())
            act = draw(o)
            if low is not None and high is not None:
                act = act.clamp(low, high)
            shares = mode_shares(act.numpy(), optima.numpy(), MODE_RADIUS)
            out["modes_held"] = modes_held(shares)
            out["mode_shares"] = [round(float(s), 4) for s in shares]
    return out


def pretrain(
    dataset: str | Path,
    config: Any = None,
    /,
    *,
    env: str | None = None,
    pretrain: PretrainConfig | dict[str, Any] | None = None,
    console: Console | None = None,
    **overrides: Any,
) -> PretrainResult:
    """Pretrains an actor by imitation exactly as ``genpo pretrain`` does.

    Args:
        dataset: A Minari dataset id or path, or an ``.npz`` / HDF5 file (:func:`genpo.data.load_demonstrations`).
        config: A YAML path, a nested dict or a :class:`TrainConfig` (a ``pretrain`` section sets
            :class:`PretrainConfig`).
        env: The environment id, where the dataset records none (must agree with it otherwise).
        pretrain: Pretraining settings (a mapping of :class:`PretrainConfig` fields overrides the config file's).
        console: Where progress goes.
        **overrides: Configuration overrides as for :func:`genpo.training.api.train` (``policy={...}``,
            ``**{"run.seed": 3}``).

    Raises:
        ConfigError: Bad input of any kind, before a folder is created.
        RunFailed: A non-finite loss.
    """
    from genpo.data import check_against_env, load_demonstrations
    from genpo.envs import make_env
    from genpo.training.api import create_run_dir, nest_overrides, resolve_config
    from genpo.training.checkpoint import save_checkpoint
    from genpo.training.config import save_yaml
    from genpo.training.files import ensure_folder
    from genpo.training.runner import make_run_dir, rng_state, seed_everything

    console = console or make_console()
    layer, section = _split_layer(config)
    if isinstance(pretrain, PretrainConfig):
        pretrain.validate()
        pcfg = pretrain
    else:
        pcfg = pretrain_config(section, pretrain)
    demos = load_demonstrations(dataset)
    config_env = (nest_overrides(overrides).get("env") or {}).get("id")
    if config_env is None and isinstance(layer, TrainConfig):
        config_env = layer.env.id
    elif config_env is None and isinstance(layer, dict) and isinstance(layer.get("env"), dict):
        config_env = layer["env"].get("id")
    env_id = _env_id(env, config_env, demos.env_id, demos.source)
    recorded = {}
    if env is None and config_env is None and demos.env_options and "env.options" not in overrides:
        recorded = {"env.options": dict(demos.env_options)}  # the options the dataset's environment was made with
    cfg = resolve_config(layer, {**overrides, **recorded, "env.id": env_id})
    cfg.validate()
    ensure_folder(make_run_dir(cfg).parent, "run folder under run.logdir", create=False)
    seed_everything(cfg.run.seed)
    venv = make_env(cfg.env.id, 1, seed=cfg.run.seed, **cfg.env.options)
    try:
        low, high = venv.action_low, venv.action_high
        low = None if low is None else low.float().cpu()
        high = None if high is None else high.float().cpu()
        demos = check_against_env(demos, venv.observation_dim, venv.action_dim, low, high)
        modes = _mode_check(venv)
        critic_dim = venv.critic_observation_dim
        obs_dim, action_dim = venv.observation_dim, venv.action_dim
    finally:
        venv.close()
    policy = build_actor(cfg.policy, obs_dim, action_dim)
    try:
        phases = [(start, policy.check_objective(obj)) for start, obj in pcfg.phases(pcfg.epochs)]
    except ConfigError as exc:  # name the option the objective came from
        raise ConfigError(f"pretrain.objective: {exc}", field=f"{SECTION}.objective") from None
    ac = ActorCritic(
        policy, critic_dim, list(cfg.policy.critic_hidden), cfg.policy.activation, cfg.policy.normalize_obs
    )

    gen = torch.Generator().manual_seed(cfg.run.seed)
    train_set, val_set = demos.split(pcfg.validation_fraction, gen)
    if train_set.observations.shape[0] == 0:
        raise ConfigError(f"the dataset {demos.source} leaves no training steps after the validation split")
    if cfg.policy.normalize_obs:
        ac.obs_norm.update(train_set.observations)
    obs_t, act_t = ac.obs_norm(train_set.observations).detach(), train_set.actions
    n_eval = min(pcfg.eval_samples, val_set.observations.shape[0])
    pick = torch.randperm(val_set.observations.shape[0], generator=gen)[:n_eval]
    val_obs, val_act = val_set.observations[pick], val_set.actions[pick]
    val_obs_n = ac.obs_norm(val_set.observations).detach()

    run_dir = create_run_dir(cfg)
    console.print(f"run folder: {run_dir}", highlight=False)
    console.print(
        f"pretraining {cfg.policy.model} on {demos.source}: {train_set.num_episodes} episodes / "
        f"{obs_t.shape[0]} steps for training, {val_set.num_episodes} / {val_set.observations.shape[0]} held out; "
        f"objective {' then '.join(o for _, o in phases)}",
        highlight=False,
    )
    save_yaml(cfg, run_dir / "params" / "config.yaml")
    record = {**dataclasses.asdict(pcfg), "dataset": demos.source, "objectives": [o for _, o in phases]}
    _write_text(run_dir / "params" / "pretrain.yaml", _yaml(record))

    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(log_dir=str(run_dir), flush_secs=10)
    optimizer = torch.optim.Adam(ac.policy.parameters(), lr=pcfg.learning_rate)
    torch.set_num_threads(cfg.run.threads or torch.get_num_threads())
    progress = _Progress(console, pcfg.epochs)
    history: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    try:
        for epoch in range(1, pcfg.epochs + 1):
            objective = [o for start, o in phases if start <= epoch][-1]
            row = _epoch(ac, optimizer, obs_t, act_t, objective, pcfg.batch_size, cfg.algo.max_grad_norm, gen, epoch)
            if val_obs_n.shape[0]:
                row["val_loss"] = _validation_loss(ac, val_obs_n, val_set.actions, objective, pcfg.batch_size, epoch)
            row.update(measure(ac, val_obs, val_act, low, high, modes, seed=epoch))
            row["epoch"] = epoch
            history.append(row)
            for key in ("train_loss", "val_loss", "action_sw2", "modes_held"):
                if key in row:
                    writer.add_scalar(f"pretrain/{key}", float(row[key]), epoch)
            progress.update(epoch, row)
    finally:
        progress.close()
        writer.flush()
        writer.close()
    metrics: dict[str, Any] = {k: v for k, v in history[-1].items() if k != "epoch"}
    metrics["seconds"] = time.perf_counter() - t0
    ac.eval()
    ckpt = run_dir / f"model_{pcfg.epochs}.pt"
    save_checkpoint(
        {
            "iteration": pcfg.epochs,
            "global_step": 0,
            "model_state": ac.state_dict(),
            "optimizer_state": optimizer.state_dict(),
            "learning_rate": pcfg.learning_rate,
            "rng": rng_state(),
            "config": cfg.to_dict(),
            "dims": {"obs": obs_dim, "action": action_dim, "latent": policy.latent_dim, "critic_obs": critic_dim},
            "pretrain": {**record, **{k: v for k, v in metrics.items() if k != "mode_shares"}},
        },
        ckpt,
    )
    if pcfg.eval_episodes:
        metrics.update(_evaluate(ac, cfg, pcfg.eval_episodes))
    _write_text(run_dir / "pretrain.json", json.dumps({"metrics": metrics, "history": history}, indent=1))
    shown = "  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items())
    console.print(f"done: {pcfg.epochs} epochs; {shown}; checkpoint {ckpt}", highlight=False)
    return PretrainResult(run_dir, ckpt, metrics, history)


def _yaml(data: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False)


def _write_text(path: Path, text: str) -> None:
    """Writes a text file of the run folder atomically."""
    from genpo.training.files import atomic_files, ensure_folder

    ensure_folder(path.parent, "folder")
    with atomic_files([path]) as (tmp,):
        tmp.write_text(text)


def _epoch(
    ac: ActorCritic,
    optimizer: torch.optim.Optimizer,
    obs: Tensor,
    actions: Tensor,
    objective: str,
    batch_size: int,
    max_grad_norm: float,
    gen: torch.Generator,
    epoch: int,
) -> dict[str, Any]:
    """One pass over the training steps in random minibatches; returns the mean training loss."""
    from genpo.training.ppo import NonFiniteError

    ac.train()
    order = torch.randperm(obs.shape[0], generator=gen)
    total, n = torch.zeros((), dtype=torch.float64), 0
    for idx in order.split(batch_size):
        loss = ac.policy.imitation_loss(obs[idx], actions[idx], objective, generator=gen)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad = torch.nn.utils.clip_grad_norm_(ac.policy.parameters(), max_grad_norm)
        if not (torch.isfinite(loss) and torch.isfinite(grad)):
            raise NonFiniteError(f"non-finite imitation loss or gradient in epoch {epoch} ({objective}); stopping")
        optimizer.step()
        total += loss.detach().double() * idx.numel()
        n += idx.numel()
    return {"train_loss": float(total / n)}


@torch.no_grad()
def _validation_loss(
    ac: ActorCritic, obs: Tensor, actions: Tensor, objective: str, batch_size: int, epoch: int
) -> float:
    """The objective on the held-out steps, with a fixed random stream (the same draws every epoch)."""
    gen = torch.Generator().manual_seed(12345)
    total, n = 0.0, 0
    for o, a in zip(obs.split(4 * batch_size), actions.split(4 * batch_size), strict=True):
        total += float(ac.policy.imitation_loss(o, a, objective, generator=gen)) * o.shape[0]
        n += o.shape[0]
    return total / n


def _evaluate(ac: ActorCritic, cfg: TrainConfig, episodes: int) -> dict[str, float]:
    """Mean returns of the pretrained policy (deterministic and stochastic), as ``genpo play`` runs them."""
    from genpo.training.api import evaluate

    out = {}
    for name, det in (("return_deterministic", True), ("return_stochastic", False)):
        out[name] = float(evaluate(ac, episodes=episodes, deterministic=det, config=cfg).mean())
    return out
