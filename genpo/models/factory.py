"""``make_policy``: the one entry point that assembles any member of the zoo from names."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from genpo.errors import ConfigError, PluginError
from genpo.inversion.base import INTEGRATORS
from genpo.inversion.likelihood import LIKELIHOODS
from genpo.models.flow import flow_policy
from genpo.models.gaussian import GaussianPolicy
from genpo.models.policy import Policy
from genpo.models.velocity import VELOCITIES
from genpo.registry import Registry


def _model_interface() -> Any:
    from genpo.plugins import Interface

    return Interface(Policy, factory_ok=True)


MODELS: Registry[Callable[..., Policy]] = Registry("model", "model", _model_interface)


# Constructor arguments make_policy fills itself (never user options).
_FILLED = {"self", "obs_dim", "action_dim", "latent_dim", "steps"}
FLOW_ARGS = ("velocity", "integrator", "steps", "likelihood", "p")
"""``make_policy`` arguments that only the ``flow`` model takes."""
FLOW_DEFAULTS: dict[str, Any] = {"velocity": "mlp", "integrator": "edict", "steps": 5, "likelihood": "exact"}


def accepted(fn: Callable[..., Any]) -> set[str]:
    """Keyword names a callable accepts (for routing ``**options`` to the right part)."""
    fn = getattr(fn, "policy_class", fn)
    return {
        n
        for n, p in inspect.signature(fn).parameters.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and n != "self"
    }


def _takes_any(fn: Callable[..., Any]) -> bool:
    fn = getattr(fn, "policy_class", fn)
    return any(p.kind is p.VAR_KEYWORD for p in inspect.signature(fn).parameters.values())


def take(options: dict[str, Any], fn: Callable[..., Any], exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """The subset of ``options`` that ``fn`` accepts (``options`` is left untouched)."""
    names = accepted(fn) - set(exclude)
    return {k: v for k, v in options.items() if k in names}


def parts_of(
    model: str = "flow", velocity: str = "mlp", integrator: str = "edict", likelihood: str = "exact"
) -> dict[str, tuple[Callable[..., Any], set[str] | None]]:
    """The parts ``make_policy`` builds for these names: ``label -> (constructor, its option names)``.

    Option names are the constructor's keyword parameters, less what ``make_policy`` fills itself
    (``obs_dim``, ``action_dim``, ``latent_dim``, ``steps``); None means it takes any (``**kwargs``).
    """
    if model == "flow":
        named = {
            f"velocity network {velocity!r}": VELOCITIES.get(velocity),
            f"integrator {integrator!r}": INTEGRATORS.get(integrator),
            f"likelihood estimator {likelihood!r}": LIKELIHOODS.get(likelihood),
        }
    else:
        named = {f"model {model!r}": MODELS.get(model)}
    return {label: (fn, None if _takes_any(fn) else accepted(fn) - _FILLED) for label, fn in named.items()}


def describe_options(parts: dict[str, tuple[Callable[..., Any], set[str] | None]]) -> str:
    """``velocity network 'mlp' takes activation, hidden; integrator 'edict' takes p; ...``."""
    return "; ".join(
        f"{label} takes {'any option' if names is None else ', '.join(sorted(names)) or 'none'}"
        for label, (_, names) in parts.items()
    )


def takers(parts: dict[str, tuple[Callable[..., Any], set[str] | None]], option: str) -> list[str]:
    """The labels of the parts that take ``option`` (a part with ``**kwargs`` takes any)."""
    return [label for label, (_, names) in parts.items() if names is None or option in names]


def route(
    options: dict[str, Any], parts: dict[str, tuple[Callable[..., Any], set[str] | None]], where: str
) -> list[dict[str, Any]]:
    """Splits ``options`` among ``parts`` (an option goes to every part that takes it); strict.

    Raises:
        ConfigError: An option no part takes, naming each part and the options it accepts.
    """
    out = [{k: v for k, v in options.items() if label in takers(parts, k)} for label in parts]
    used = set().union(*(set(kw) for kw in out))
    unknown = sorted(set(options) - used)
    if unknown:
        every = sorted(set().union(*(names or set() for _, names in parts.values())))
        raise ConfigError(
            f"unknown option(s) {', '.join(unknown)} for {where}; accepted options: {', '.join(every) or 'none'} "
            f"({describe_options(parts)})",
            field=unknown[0],
        )
    return out


def _build_flow(
    obs_dim: int,
    action_dim: int,
    *,
    velocity: str,
    integrator: str,
    steps: int,
    likelihood: str,
    **options: Any,
) -> Policy:
    parts = parts_of("flow", velocity, integrator, likelihood)
    (vel_cls, _), (int_cls, _), (est_cls, _) = parts.values()
    vel_kw, int_kw, est_kw = route(options, parts, f"flow/{velocity}/{integrator}/{likelihood}")
    integ = int_cls(steps=steps, **int_kw)
    estimator = est_cls(**est_kw)
    estimator.check(integ)  # before building a network
    return flow_policy(vel_cls(action_dim, obs_dim, **vel_kw), integ, estimator)


def _simple_builder(cls: type[Policy]) -> Callable[..., Policy]:
    def build(obs_dim: int, action_dim: int, **options: Any) -> Policy:
        (kw,) = route(options, {f"model {cls.__name__}": (cls, accepted(cls) - _FILLED)}, cls.__name__)
        return cls(obs_dim, action_dim, **kw)

    build.policy_class = cls  # type: ignore[attr-defined]  (option discovery reads the class signature)
    return build


MODELS.add("flow", _build_flow, "flow-matching policy: velocity network + integrator + likelihood estimator")
MODELS.add("gaussian", _simple_builder(GaussianPolicy), "diagonal Gaussian, state-independent log-std (PPO baseline)")


def make_policy(
    obs_dim: int,
    action_dim: int,
    *,
    model: str = "flow",
    velocity: str | None = None,
    integrator: str | None = None,
    steps: int | None = None,
    likelihood: str | None = None,
    p: float | None = None,
    **options: Any,
) -> Policy:
    """Builds a policy of the zoo from the names users type.

    Args:
        obs_dim: Observation width.
        action_dim: Action width.
        model: Policy family (``genpo list`` shows them), or a dotted path / entry point of a user model.
        velocity: Velocity network of a flow policy (default ``mlp``).
        integrator: Integrator of a flow policy (default ``edict``).
        steps: Integration steps K (>= 1; default 5).
        likelihood: Likelihood estimator of a flow policy (default ``exact``).
        p: EDICT mixing coefficient in (0, 1), for integrators that take ``p`` (default: the integrator's).
        **options: Passed to every part whose constructor takes them (e.g. ``hidden``, ``activation``,
            ``method``, ``rtol``, ``probes``, ``init_log_std``).

    Returns:
        A :class:`~genpo.models.policy.Policy` (an ``nn.Module``) in float32 on the CPU.

    Raises:
        ConfigError: Unknown names, an option no chosen part takes, flow arguments for another model,
            incompatible integrator/estimator pairs, out-of-range values (all ``ValueError``).
        PluginError: A user part that cannot be loaded or lacks its interface.
    """
    flow_args = {
        k: v
        for k, v in dict(velocity=velocity, integrator=integrator, steps=steps, likelihood=likelihood, p=p).items()
        if v is not None
    }
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 1):
        raise ConfigError(f"steps must be an integer >= 1, got {steps!r}", field="steps")
    if p is not None and (not isinstance(p, (int, float)) or isinstance(p, bool) or not 0.0 < float(p) < 1.0):
        raise ConfigError(f"p must lie in the open interval (0, 1), got {p!r}", field="p")
    build = MODELS.get(model)
    if model == "flow":
        return build(obs_dim, action_dim, **{**FLOW_DEFAULTS, **flow_args}, **options)
    if flow_args:
        raise ConfigError(
            f"{', '.join(flow_args)} only apply to model 'flow', not {model!r} ({describe_options(parts_of(model))})"
        )
    if inspect.isclass(build):  # a Policy subclass named by dotted path or entry point
        build = _simple_builder(build)
    policy = build(obs_dim, action_dim, **options)
    if not isinstance(policy, Policy):
        raise PluginError(f"model {model!r} returned a {type(policy).__name__}, not a genpo.models.Policy")
    return policy
