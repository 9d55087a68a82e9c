"""Configuration fields by the names users type: ``section.field``, a short name, or an alias.

One parser for every command that sets fields from text (``genpo train --set``, ``genpo ablate --vary`` and
``--setting``): a short name is a field name that exists in one section only (``steps``, ``compress-coef``),
and values are read as YAML (``5`` is an int, ``3e-4`` a float, ``[64, 64]`` a list).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import yaml

from genpo.errors import ConfigError
from genpo.training.config import SECTIONS

ALIASES = {"env": "env.id", "task": "env.id", "lr": "algo.learning_rate"}


def all_fields() -> list[str]:
    """Every configuration field as ``section.field``."""
    return [f"{s}.{f.name}" for s, cls in SECTIONS.items() for f in dataclasses.fields(cls)]


def resolve_field(name: str, reserved: dict[str, str] | None = None) -> str:
    """Dotted name of a field given as ``section.field``, a unique field name, or an alias.

    Args:
        name: What the user typed (``-`` and ``_`` are the same).
        reserved: Fields the caller sets itself, each with what sets it (refused with that reason).

    Raises:
        ConfigError: Unknown or ambiguous names (the message lists the fields), reserved fields.
    """
    key = name.strip().replace("-", "_")
    fields = all_fields()
    if key in ALIASES:
        dotted = ALIASES[key]
    elif key in fields:
        dotted = key
    else:
        matches = [f for f in fields if f.split(".", 1)[1] == key]
        if len(matches) > 1:
            raise ConfigError(f"field name {name!r} is ambiguous: use one of {', '.join(matches)}")
        if not matches:
            raise ConfigError(f"unknown configuration field {name!r}; allowed: {', '.join(fields)}")
        dotted = matches[0]
    if reserved and dotted in reserved:
        raise ConfigError(f"{dotted} is set by {reserved[dotted]}; it cannot be given here")
    return dotted


def parse_value(text: str) -> Any:
    """A YAML scalar or flow list/mapping (``5``, ``0.01``, ``true``, ``edict``, ``[64, 64]``)."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"cannot read value {text!r}: {exc}") from None
    if isinstance(value, str):  # YAML 1.1 reads 3e-4 (no dot) as a string; users mean the number
        try:
            return float(value) if value.strip().lower() not in ("nan", "inf", "-inf", "infinity") else value
        except ValueError:
            return value
    return value


def parse_assignment(text: str, reserved: dict[str, str] | None = None) -> tuple[str, Any]:
    """``FIELD=VALUE`` -> (dotted field, value).

    Raises:
        ConfigError: No ``=``, an empty field name, or what :func:`resolve_field` / :func:`parse_value` refuse.
    """
    key, eq, value = text.partition("=")
    if not eq or not key.strip():
        raise ConfigError(f"expected FIELD=VALUE (e.g. policy.hidden=[256,256]), got {text!r}")
    return resolve_field(key, reserved), parse_value(value)
