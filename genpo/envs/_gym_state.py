"""The complete state of one Gymnasium environment, saved and restored for exact resume.

A state is a dict of numpy arrays, ints, floats, strs, bools, ``None``, lists and dicts (picklable, and
weights_only-safe once :class:`~genpo.envs.gym.GymVecEnv` turns the arrays into tensors). It holds:

* ``"kind"``: ``"mujoco"`` or ``"classic"`` (what the unwrapped environment is);
* ``"np_random"`` / ``"np_random_seed"``: the environment's random generator (``bit_generator.state``,
  a dict of ints and strs) and the seed Gymnasium reports for it;
* ``"wrappers"``: the state of every wrapper :func:`gymnasium.make` put around it, outermost first
  (``TimeLimit``'s elapsed steps, ``OrderEnforcing``'s has-reset flag);
* for MuJoCo tasks, ``"physics"``: ``mj_getState(..., mjSTATE_INTEGRATION)`` (time, qpos, qvel, act,
  history, plugin state, controls, applied forces, mocap, userdata and the solver warm start: everything
  the next ``mj_step`` reads), and ``"derived"``: the fixed-size quantities MuJoCo computed during the last
  step (body poses, com inertias, velocities, forces, sensors). The next ``mj_step`` recomputes those, but
  Gymnasium tasks read some of them *before* stepping (Ant's torso ``xpos``, Humanoid's ``xipos``,
  Reacher's fingertip), and after a step they lag one substep behind the state: only copying them back
  makes the first reward after a restore bit-identical;
* for classic-control tasks, ``"attrs"``: the task's own state attributes (``state``; Pendulum's ``last_u``).

Other environments (Box2D, custom classes, unknown wrappers) are refused by :func:`unsupported_reason`: their
Python-level state is unknown, and a silently inexact resume would be worse than restarting episodes.

This module imports neither torch nor gymnasium at import time (worker processes use it).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from genpo.envs.base import StateUnsupported
from genpo.errors import ConfigError

# Fixed-size mjData arrays (allocated with the model, not in the per-step arena) that MuJoCo computes from
# the state: names of MJDATA_POINTERS in mjxmacro.h outside mjSTATE_INTEGRATION, less the plugin pointers.
# Names this MuJoCo version lacks are skipped (``qM`` was renamed ``M``).
_MJ_DERIVED = (
    "qacc",
    "act_dot",
    "sensordata",
    "tree_asleep",
    "xpos",
    "xquat",
    "xmat",
    "xipos",
    "ximat",
    "xanchor",
    "xaxis",
    "geom_xpos",
    "geom_xmat",
    "site_xpos",
    "site_xmat",
    "cam_xpos",
    "cam_xmat",
    "light_xpos",
    "light_xdir",
    "subtree_com",
    "cdof",
    "cinert",
    "flexvert_xpos",
    "flexelem_aabb",
    "flexedge_J",
    "flexedge_length",
    "flexvert_J",
    "flexvert_length",
    "bvh_aabb_dyn",
    "ten_wrapadr",
    "ten_wrapnum",
    "ten_J",
    "ten_length",
    "wrap_obj",
    "wrap_xpos",
    "actuator_length",
    "moment_rownnz",
    "moment_rowadr",
    "moment_colind",
    "actuator_moment",
    "crb",
    "qM",
    "M",
    "qLD",
    "qLDiagInv",
    "bvh_active",
    "tree_awake",
    "body_awake",
    "body_awake_ind",
    "parent_awake_ind",
    "dof_awake_ind",
    "flexedge_velocity",
    "ten_velocity",
    "actuator_velocity",
    "cvel",
    "cdof_dot",
    "qfrc_bias",
    "qfrc_spring",
    "qfrc_damper",
    "qfrc_gravcomp",
    "qfrc_fluid",
    "qfrc_adhesion",
    "qfrc_passive",
    "subtree_linvel",
    "subtree_angmom",
    "qH",
    "qHDiagInv",
    "qDeriv",
    "qLU",
    "actuator_force",
    "qfrc_actuator",
    "qfrc_smooth",
    "qacc_smooth",
    "qfrc_constraint",
    "qfrc_inverse",
    "cacc",
    "cfrc_int",
    "cfrc_ext",
    "energy",
)
# Flags saying which lazily computed quantities (energy, subtree velocities, rnePostConstraint) are current.
_MJ_FLAGS = ("flg_energypos", "flg_energyvel", "flg_subtreevel", "flg_rnepost")

# Classic-control tasks with continuous actions, and the attributes holding their state.
_CLASSIC = {
    "gymnasium.envs.classic_control.pendulum.PendulumEnv": ("state", "last_u"),
    "gymnasium.envs.classic_control.continuous_mountain_car.Continuous_MountainCarEnv": ("state",),
}

_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


def _qualname(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def _wrapper_attrs() -> dict[type, tuple[str, ...]]:
    from gymnasium import wrappers

    # The wrappers gymnasium.make adds by default, and the attributes that change while stepping.
    return {wrappers.TimeLimit: ("_elapsed_steps",), wrappers.OrderEnforcing: ("_has_reset",)}


def _wrappers(env: Any) -> list[Any]:
    """The wrapper chain of ``env``, outermost first (empty for an unwrapped env)."""
    chain = []
    while env is not getattr(env, "unwrapped", env):
        chain.append(env)
        env = env.env
    return chain


def _kind(unwrapped: Any) -> str | None:
    if _qualname(unwrapped) in _CLASSIC:
        return "classic"
    module = type(unwrapped).__module__
    if module.startswith("gymnasium.envs.mujoco.") and hasattr(unwrapped, "model") and hasattr(unwrapped, "data"):
        return "mujoco"
    return None


def unsupported_reason(env: Any) -> str | None:
    """Why the state of ``env`` cannot be saved exactly, or ``None`` when it can."""
    kind = _kind(env.unwrapped)
    if kind is None:
        return (
            f"its environment class {_qualname(env.unwrapped)} is not one whose complete state genpo knows "
            "(supported: Gymnasium's MuJoCo tasks, Pendulum and MountainCarContinuous)"
        )
    known = _wrapper_attrs()
    for w in _wrappers(env):
        if type(w) not in known:
            return f"it is wrapped in {_qualname(w)}, whose state genpo does not know"
    return None


def _encode(value: Any) -> Any:
    """An attribute value as state: numpy scalars become tagged 0-d arrays (their dtype matters)."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, np.generic):
        return {"numpy_scalar": np.asarray(value).copy()}
    if value is None or isinstance(value, (bool, int, float)):
        return value
    raise TypeError(f"cannot save a state attribute of type {type(value).__name__}")


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and "numpy_scalar" in value:
        return np.asarray(value["numpy_scalar"])[()]
    if isinstance(value, np.ndarray):
        return value.copy()
    return value


def _physics_spec() -> int:
    import mujoco

    return int(mujoco.mjtState.mjSTATE_INTEGRATION)


def signature(env: Any) -> dict[str, Any]:
    """What a state must look like to fit ``env`` (kind, wrappers, array sizes); see :func:`check_state`."""
    u = env.unwrapped
    kind = _kind(u)
    known = _wrapper_attrs()
    sig: dict[str, Any] = {
        "kind": kind,
        "wrappers": [type(w).__name__ for w in _wrappers(env)],
        "wrapper_attrs": [list(known.get(type(w), ())) for w in _wrappers(env)],
    }
    if kind == "mujoco":
        import mujoco

        spec = _physics_spec()
        sig["physics_spec"] = spec
        sig["physics_size"] = int(mujoco.mj_stateSize(u.model, spec))
        sig["derived"] = {
            name: (tuple(getattr(u.data, name).shape), getattr(u.data, name).dtype.str)
            for name in _MJ_DERIVED
            if isinstance(getattr(u.data, name, None), np.ndarray)
        }
        sig["model_signature"] = int(getattr(u.data, "signature", 0))
    elif kind == "classic":
        sig["attrs"] = list(_CLASSIC[_qualname(u)])
    return sig


def get_state(env: Any) -> dict[str, Any]:
    """The complete state of ``env`` (see the module docstring); ``env`` must pass :func:`unsupported_reason`."""
    u = env.unwrapped
    kind = _kind(u)
    rng = getattr(u, "_np_random", None)  # not `np_random`: that property would seed a fresh generator
    state: dict[str, Any] = {
        "kind": kind,
        "np_random": None if rng is None else rng.bit_generator.state,
        "np_random_seed": getattr(u, "_np_random_seed", None),
        "wrappers": [
            {"type": type(w).__name__, **{a: getattr(w, a) for a in _wrapper_attrs()[type(w)]}} for w in _wrappers(env)
        ],
    }
    if kind == "mujoco":
        import mujoco

        spec = _physics_spec()
        physics = np.empty(mujoco.mj_stateSize(u.model, spec), dtype=np.float64)
        mujoco.mj_getState(u.model, u.data, physics, spec)
        state["physics_spec"] = spec
        state["physics"] = physics
        state["derived"] = {
            name: np.array(getattr(u.data, name))
            for name in _MJ_DERIVED
            if isinstance(getattr(u.data, name, None), np.ndarray)
        }
        state["flags"] = {name: int(getattr(u.data, name)) for name in _MJ_FLAGS if hasattr(u.data, name)}
        state["model_signature"] = int(getattr(u.data, "signature", 0))
    elif kind == "classic":
        state["attrs"] = {name: _encode(getattr(u, name, None)) for name in _CLASSIC[_qualname(u)]}
    else:  # pragma: no cover - callers check unsupported_reason first
        raise StateUnsupported(unsupported_reason(env))
    return state


def check_state(sig: dict[str, Any], state: Any, where: str = "sub-environment") -> None:
    """Raises ``ConfigError`` (naming ``where``) unless ``state`` fits an environment of signature ``sig``: a saved
    state is a checkpoint's, user input like any other."""

    def bad(msg: str) -> ConfigError:
        return ConfigError(f"{where}: {msg}")

    if not isinstance(state, dict):
        raise bad(f"expected a state dict, got {type(state).__name__}")
    if state.get("kind") != sig["kind"]:
        raise bad(f"state of a {state.get('kind')!r} environment, this one is {sig['kind']!r}")
    wrappers = state.get("wrappers")
    if (
        not isinstance(wrappers, list)
        or not all(isinstance(w, dict) for w in wrappers)
        or [w.get("type") for w in wrappers] != sig["wrappers"]
    ):
        got = (
            [w.get("type") if isinstance(w, dict) else w for w in wrappers] if isinstance(wrappers, list) else wrappers
        )
        raise bad(f"saved with wrappers {got}, this environment has {sig['wrappers']}")
    for saved, attrs in zip(wrappers, sig["wrapper_attrs"], strict=True):
        missing = [a for a in attrs if a not in saved]
        if missing:
            raise bad(f"the {saved['type']} wrapper state lacks {missing}")
    if "np_random_seed" not in state:
        raise bad("no np_random_seed")
    rng = state.get("np_random")
    if rng is not None:
        try:
            if rng["bit_generator"] not in _BIT_GENERATORS:
                raise ValueError(f"unknown bit generator {rng['bit_generator']!r}")
            getattr(np.random, rng["bit_generator"])().state = rng  # a throwaway generator: only checks
        except Exception as e:  # malformed: KeyError, TypeError, ValueError, AttributeError
            raise bad(f"unusable random generator state ({type(e).__name__}: {e})") from None
    if sig["kind"] == "mujoco":
        if state.get("physics_spec") != sig["physics_spec"]:
            raise bad(
                f"MuJoCo state spec {state.get('physics_spec')!r} differs from this MuJoCo's {sig['physics_spec']} "
                "(saved with another MuJoCo version?)"
            )
        physics = state.get("physics")
        if not isinstance(physics, np.ndarray) or physics.shape != (sig["physics_size"],):
            got = getattr(physics, "shape", type(physics).__name__)
            raise bad(f"MuJoCo state of shape {got}, this model needs ({sig['physics_size']},) (another model?)")
        saved_sig = state.get("model_signature", 0)
        if saved_sig and sig["model_signature"] and saved_sig != sig["model_signature"]:
            raise bad("the state was saved from a different MuJoCo model (model signatures differ)")
        flags = state.get("flags")
        if not isinstance(flags, dict) or not all(isinstance(v, int) for v in flags.values()):
            raise bad(f"MuJoCo flags must be a dict of ints, got {flags!r}")
        derived = state.get("derived")
        if not isinstance(derived, dict) or set(derived) != set(sig["derived"]):
            raise bad("MuJoCo derived quantities do not match this MuJoCo version's")
        for name, (shape, dtype) in sig["derived"].items():
            arr = derived[name]
            if not isinstance(arr, np.ndarray) or arr.shape != shape or arr.dtype.str != dtype:
                raise bad(f"MuJoCo field {name} has shape {getattr(arr, 'shape', None)}, this model needs {shape}")
    elif sig["kind"] == "classic":
        attrs = state.get("attrs")
        if not isinstance(attrs, dict) or sorted(attrs) != sorted(sig["attrs"]):
            raise bad(f"expected the attributes {sig['attrs']}, got {attrs!r}")


def _set_rng(u: Any, rng: dict[str, Any] | None, seed: Any) -> None:
    if rng is None:
        u._np_random = None
    else:
        current = getattr(u, "_np_random", None)
        if current is None or type(current.bit_generator).__name__ != rng["bit_generator"]:
            current = np.random.Generator(getattr(np.random, rng["bit_generator"])())
        current.bit_generator.state = rng
        u._np_random = current
    if hasattr(u, "_np_random_seed"):
        u._np_random_seed = seed


def set_state(env: Any, state: dict[str, Any]) -> None:
    """Restores :func:`get_state` into ``env`` (already checked with :func:`check_state`)."""
    u = env.unwrapped
    _set_rng(u, state["np_random"], state["np_random_seed"])
    for w, saved in zip(_wrappers(env), state["wrappers"], strict=True):
        for attr in _wrapper_attrs()[type(w)]:
            setattr(w, attr, saved[attr])
    if state["kind"] == "mujoco":
        import mujoco

        data = u.data
        for name, value in state["derived"].items():
            np.copyto(getattr(data, name), value)
        for name, value in state["flags"].items():
            if hasattr(data, name):
                setattr(data, name, int(value))
        # Last: the integration state wins over anything the derived arrays share with it.
        mujoco.mj_setState(
            u.model, data, np.ascontiguousarray(state["physics"], dtype=np.float64), state["physics_spec"]
        )
    else:
        for name, value in state["attrs"].items():
            setattr(u, name, _decode(value))
