"""The search space of ``genpo tune``: configuration fields, each a float or int range or a list of choices.

A space is a YAML mapping from a field, named as ``--set`` / ``--vary`` name it (``algo.learning_rate``,
``learning_rate``, ``lr``, ``compress-coef``), to its distribution::

    learning_rate: {type: float, low: 1.0e-5, high: 1.0e-3, log: true}
    num_epochs: {type: int, low: 3, high: 10}
    schedule: {type: categorical, values: [adaptive, fixed]}
    hidden: {type: categorical, values: [[64, 64], [256, 256]]}

``float`` and ``int`` take ``low`` < ``high`` (both included) and an optional ``log: true`` (then ``low`` > 0);
``categorical`` takes a non-empty list of distinct ``values`` (any YAML value a field takes, lists included).
Every entry is checked before any trial runs: the field must exist and not be one the study sets itself,
the bounds must be numbers that make a range, and every bound and choice must give a valid configuration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from genpo.errors import ConfigError
from genpo.training import fields as config_fields
from genpo.training.config import TrainConfig
from genpo.workbench.grid import RESERVED

# Fields a study sets itself, each with the option that sets it.
TUNE_RESERVED = {
    **RESERVED,
    "run.seed": "genpo tune (--seeds)",
    "run.logdir": "genpo tune (--out)",
    "run.run_name": "genpo tune (the trial's folder)",
    "env.id": "genpo tune (--env)",
    "run.total_steps": "genpo tune (--total-steps)",
    "run.max_iterations": "genpo tune (--total-steps)",
}
TYPES = ("float", "int", "categorical")
_KEYS = {"float": ("type", "low", "high", "log"), "int": ("type", "low", "high", "log"),
         "categorical": ("type", "values")}  # fmt: skip


@dataclass(frozen=True)
class Param:
    """One searched field.

    Attributes:
        field: Dotted configuration field (``algo.learning_rate``), also the Optuna parameter name.
        kind: ``float``, ``int`` or ``categorical``.
        low: Lower bound (numeric kinds).
        high: Upper bound, included (numeric kinds).
        log: Sample on a log scale (numeric kinds).
        values: The choices (categorical).
    """

    field: str
    kind: str
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    values: tuple[Any, ...] = ()

    @property
    def labels(self) -> list[Any]:
        """The choices as Optuna stores them: scalars as they are, lists and mappings as YAML flow text."""
        return [v if _scalar(v) else _flow(v) for v in self.values]

    def value_of(self, label: Any) -> Any:
        """The configuration value of an Optuna parameter value."""
        if self.kind != "categorical":
            return label
        return self.values[self.labels.index(label)]

    def suggest(self, trial: Any) -> Any:
        """Draws this field's value for an Optuna trial (the configuration value, not the label)."""
        if self.kind == "float":
            return trial.suggest_float(self.field, self.low, self.high, log=self.log)
        if self.kind == "int":
            return trial.suggest_int(self.field, self.low, self.high, log=self.log)
        return self.value_of(trial.suggest_categorical(self.field, self.labels))

    def to_dict(self) -> dict[str, Any]:
        """The entry as written in a space file (canonical: what a study's identity is compared by)."""
        if self.kind == "categorical":
            return {"type": "categorical", "values": list(self.values)}
        return {"type": self.kind, "low": self.low, "high": self.high, "log": self.log}

    def corners(self) -> list[Any]:
        """The values checked before any trial: both bounds, or every choice."""
        return list(self.values) if self.kind == "categorical" else [self.low, self.high]


def _scalar(v: Any) -> bool:
    return v is None or isinstance(v, (bool, int, float, str))


def _flow(v: Any) -> str:
    return yaml.safe_dump(v, default_flow_style=True).strip().removesuffix("...").strip()


@dataclass(frozen=True)
class SearchSpace:
    """The validated space: parameters in file order."""

    params: tuple[Param, ...]

    def suggest(self, trial: Any) -> dict[str, Any]:
        """``{dotted field: value}`` for an Optuna trial."""
        return {p.field: p.suggest(trial) for p in self.params}

    def values_of(self, optuna_params: dict[str, Any]) -> dict[str, Any]:
        """``{dotted field: value}`` of a finished trial's Optuna parameters."""
        return {p.field: p.value_of(optuna_params[p.field]) for p in self.params if p.field in optuna_params}

    def to_dict(self) -> dict[str, Any]:
        """``{field: entry}``, canonical."""
        return {p.field: p.to_dict() for p in self.params}


def _number(name: str, key: str, value: Any, kind: str) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"search space: {name}: {key} must be a number, got {value!r}", field=name)
    if not math.isfinite(value):
        raise ConfigError(f"search space: {name}: {key} must be finite, got {value!r}", field=name)
    if kind == "int":
        if float(value) != int(value):
            raise ConfigError(f"search space: {name}: {key} of an int range must be an integer, got {value!r}")
        return int(value)
    return float(value)


def parse_param(name: str, spec: Any) -> Param:
    """One entry of a space file (see the module docstring).

    Raises:
        ConfigError: An unknown or reserved field, a missing or unknown key, a non-numeric bound, an empty
            range, a log range that reaches 0, a categorical without values or with repeated values.
    """
    dotted = config_fields.resolve_field(str(name), TUNE_RESERVED)
    if not isinstance(spec, dict):
        raise ConfigError(
            f"search space: {dotted} must be a mapping like {{type: float, low: 0.1, high: 0.3}}, got {spec!r}"
        )
    kind = spec.get("type")
    if kind not in TYPES:
        raise ConfigError(f"search space: {dotted}: type must be one of {', '.join(TYPES)}, got {kind!r}")
    unknown = sorted(set(spec) - set(_KEYS[kind]))
    if unknown:
        raise ConfigError(
            f"search space: {dotted}: unknown key(s) {', '.join(map(str, unknown))} for type {kind}; "
            f"allowed: {', '.join(_KEYS[kind])}"
        )
    if kind == "categorical":
        values = spec.get("values")
        if not isinstance(values, list) or not values:
            raise ConfigError(f"search space: {dotted}: a categorical needs a non-empty list of values, got {values!r}")
        if len({_flow(v) for v in values}) != len(values):
            raise ConfigError(f"search space: {dotted}: values repeat a choice: {values!r}")
        return Param(dotted, kind, values=tuple(values))
    for key in ("low", "high"):
        if key not in spec:
            raise ConfigError(f"search space: {dotted}: a {kind} range needs low and high (missing {key})")
    low, high = (_number(dotted, k, spec[k], kind) for k in ("low", "high"))
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise ConfigError(f"search space: {dotted}: log must be true or false, got {log!r}")
    if not low < high:
        raise ConfigError(f"search space: {dotted}: the range is empty: low ({low}) must be below high ({high})")
    if log and low <= 0:
        raise ConfigError(f"search space: {dotted}: a log range needs low > 0, got {low}")
    return Param(dotted, kind, low, high, log)


def parse_space(data: Any, base: TrainConfig, fixed: dict[str, Any] | None = None) -> SearchSpace:
    """A validated space from a parsed YAML mapping.

    Args:
        data: ``{field: entry}``.
        base: The configuration each trial starts from (its ``fixed`` fields applied on top).
        fixed: ``{dotted field: value}`` the study sets for every trial (the ``--setting``); searching one of
            them is refused.

    Raises:
        ConfigError: See :func:`parse_param`; an empty space, a field given twice or also fixed, or a bound or
            choice that the configuration refuses (the message names the field, the value and the rule).
    """
    fixed = fixed or {}
    if not isinstance(data, dict) or not data:
        raise ConfigError(
            "the search space must be a non-empty YAML mapping of fields, e.g. "
            "learning_rate: {type: float, low: 1.0e-5, high: 1.0e-3, log: true}"
        )
    params: list[Param] = []
    for name, spec in data.items():
        param = parse_param(name, spec)
        if any(p.field == param.field for p in params):
            raise ConfigError(f"search space: {param.field} is given twice")
        if param.field in fixed:
            raise ConfigError(f"search space: {param.field} is also set by --setting; search it or set it, not both")
        params.append(param)
    for param in params:
        for value in param.corners():
            try:
                TrainConfig.from_dict(config_fields.nest({**fixed, param.field: value}), base).validate()
            except ConfigError as exc:  # a corner of the range the field refuses (a bug stays a bug)
                raise ConfigError(
                    f"search space: {param.field} = {value!r} is not a valid value: {exc}", field=param.field
                ) from None
    return SearchSpace(tuple(params))


def load_space(path: Path, base: TrainConfig, fixed: dict[str, Any] | None = None) -> SearchSpace:
    """Reads and validates a space file (see :func:`parse_space`); a missing or malformed file is a ConfigError."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read the search space {str(path)!r}: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"the search space {str(path)!r} is not valid YAML: {exc}") from None
    return parse_space(data, base, fixed)
