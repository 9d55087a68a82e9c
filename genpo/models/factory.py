"""``make_policy``: the one entry point that assembles any member of the zoo from names."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from genpo.errors import PluginError
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


def accepted(fn: Callable[..., Any]) -> set[str]:
    """Keyword names a callable accepts (for routing ``**options`` to the right part)."""
    return {
        n
        for n, p in inspect.signature(fn).parameters.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and n != "self"
    }


def take(options: dict[str, Any], fn: Callable[..., Any], exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """The subset of ``options`` that ``fn`` accepts (``options`` is left untouched)."""
    names = accepted(fn) - set(exclude)
    return {k: v for k, v in options.items() if k in names}


def _reject_unknown(options: dict[str, Any], used: set[str], where: str, allowed: set[str]) -> None:
    unknown = sorted(set(options) - used)
    if unknown:
        names = ", ".join(sorted(allowed)) or "none"
        raise ValueError(f"unknown option(s) {', '.join(unknown)} for {where}; accepted options: {names}")


def _build_flow(
    obs_dim: int,
    action_dim: int,
    *,
    velocity: str,
    integrator: str,
    steps: int,
    likelihood: str,
    p: float,
    **options: Any,
) -> Policy:
    vel_cls, int_cls, est_cls = VELOCITIES.get(velocity), INTEGRATORS.get(integrator), LIKELIHOODS.get(likelihood)
    vel_kw = take(options, vel_cls, exclude=("latent_dim", "obs_dim"))
    int_kw = take(options, int_cls, exclude=("steps", "p"))
    est_kw = take(options, est_cls)
    allowed = (accepted(vel_cls) | accepted(int_cls) | accepted(est_cls)) - {"latent_dim", "obs_dim", "steps", "p"}
    _reject_unknown(
        options, set(vel_kw) | set(int_kw) | set(est_kw), f"flow/{velocity}/{integrator}/{likelihood}", allowed
    )
    if "p" in accepted(int_cls):
        int_kw["p"] = p
    integ = int_cls(steps=steps, **int_kw)
    estimator = est_cls(**est_kw)
    estimator.check(integ)  # before building a network
    return flow_policy(vel_cls(action_dim, obs_dim, **vel_kw), integ, estimator)


def _simple_builder(cls: type[Policy]) -> Callable[..., Policy]:
    def build(obs_dim: int, action_dim: int, **options: Any) -> Policy:
        kw = take(options, cls, exclude=("obs_dim", "action_dim"))
        _reject_unknown(options, set(kw), cls.__name__, accepted(cls) - {"obs_dim", "action_dim"})
        return cls(obs_dim, action_dim, **kw)

    return build


MODELS.add("flow", _build_flow, "flow-matching policy: velocity network + integrator + likelihood estimator")
MODELS.add("gaussian", _simple_builder(GaussianPolicy), "diagonal Gaussian, state-independent log-std (PPO baseline)")


def make_policy(
    obs_dim: int,
    action_dim: int,
    *,
    model: str = "flow",
    velocity: str = "mlp",
    integrator: str = "edict",
    steps: int = 5,
    likelihood: str = "exact",
    p: float = 0.95,
    **options: Any,
) -> Policy:
    """Builds a policy of the zoo from the names users type.

    Args:
        obs_dim: Observation width.
        action_dim: Action width.
        model: Policy family (``genpo list`` shows them): ``flow``, ``gaussian``, ``nsf``, ``maf``, ...
        velocity: Velocity network of a flow policy.
        integrator: Integrator of a flow policy: ``edict``, ``euler`` or ``pf-ode``.
        steps: Integration steps K (>= 1).
        likelihood: Likelihood estimator of a flow policy: ``exact``, ``jacobian``, ``hutchinson``, ``trace``.
        p: EDICT mixing coefficient in (0, 1).
        **options: Passed to the part that accepts them (e.g. ``hidden``, ``activation``,
            ``method``, ``rtol``, ``probes``, ``init_log_std``); unknown names raise ``ValueError``.

    Returns:
        A :class:`~genpo.models.policy.Policy` (an ``nn.Module``) in float32 on the CPU.

    Raises:
        ValueError: Unknown names, incompatible integrator/estimator pairs, out-of-range values.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0.0 < float(p) < 1.0:
        raise ValueError(f"p must lie in the open interval (0, 1), got {p!r}")
    build = MODELS.get(model)
    if model == "flow":
        return build(
            obs_dim,
            action_dim,
            velocity=velocity,
            integrator=integrator,
            steps=steps,
            likelihood=likelihood,
            p=p,
            **options,
        )
    if inspect.isclass(build):  # a Policy subclass named by dotted path or entry point
        build = _simple_builder(build)
    policy = build(obs_dim, action_dim, **options)
    if not isinstance(policy, Policy):
        raise PluginError(f"model {model!r} returned a {type(policy).__name__}, not a genpo.models.Policy")
    return policy
