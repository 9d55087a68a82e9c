"""Configuration fields by the names users type: the one place names are resolved.

Every way of setting a field goes through here: ``genpo train``'s named options and ``--set``, ``genpo ablate
--vary`` and ``--setting``, ``genpo tune``'s search space, the keyword overrides of the Python API
(:func:`genpo.training.api.train`), YAML files, presets and saved checkpoints. A name is ``section.field``, a
field name that exists in one section only (``compress-coef``, ``num_envs``), a short alias (:data:`ALIASES`:
``steps`` for the flow's K, ``lr``, ``env``), or a spelling of an older genpo (:data:`RENAMED`: ``policy.steps``
is ``policy.flow_steps``), so configurations and checkpoints written before a rename keep loading. Values given
as text are read as YAML (``5`` is an int, ``3e-4`` a float, ``[64, 64]`` a list).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import yaml

from genpo.errors import ConfigError

RENAMED: dict[str, str] = {"policy.steps": "policy.flow_steps", "policy.p": "policy.mix_p"}
"""Old dotted name -> today's, for configurations and checkpoints written before the rename (issue 16)."""

ALIASES: dict[str, str] = {
    "env": "env.id",
    "task": "env.id",
    "lr": "algo.learning_rate",
    "steps": "policy.flow_steps",
    "p": "policy.mix_p",
    "plugin": "run.plugins",
}
"""Short names that are not a field's own name (``--steps`` and ``steps=`` are the flow's K)."""


def label(dotted: str) -> str:
    """A field's short label in names made of values (ablation cells: ``steps=5``): the field name, or its old
    name for a renamed field, so cell folders keep the names they had before the rename."""
    old = next((o for o, new in RENAMED.items() if new == dotted), dotted)
    return old.split(".", 1)[1]


def _sections() -> dict[str, type]:
    from genpo.training.config import SECTIONS

    return SECTIONS


def command_sections() -> dict[str, type]:
    """Sections that one command reads beside the training configuration: ``pretrain``
    (:class:`~genpo.training.pretrain.PretrainConfig`, ``genpo pretrain``'s ``--config`` section, options and
    ``--set pretrain.FIELD=VALUE``). Their fields are declared and checked like the training fields, but no
    name :func:`resolve_field` reads reaches them (``genpo train --set pretrain.epochs=3`` is refused)."""
    from genpo.training.pretrain import SECTION, PretrainConfig

    return {SECTION: PretrainConfig}


def all_fields() -> list[str]:
    """Every configuration field as ``section.field``."""
    return [f"{s}.{f.name}" for s, cls in _sections().items() for f in dataclasses.fields(cls)]


def field_of(dotted: str) -> dataclasses.Field:
    """The dataclass field of a dotted name (today's spelling), of a training section or a command's own."""
    section, _, name = dotted.partition(".")
    cls = _sections().get(section) or command_sections()[section]
    return next(f for f in dataclasses.fields(cls) if f.name == name)


def mapping_fields() -> list[str]:
    """The fields that hold a mapping of options (``env.options``, ``policy.options``): ``FIELD.KEY`` names one
    key of it (``policy.options.rtol``), set on top of the keys the layers below set."""
    return [d for d in all_fields() if field_of(d).default_factory is dict]


def resolve_field(name: str, reserved: dict[str, str] | None = None) -> str:
    """Dotted name of a field given as ``section.field``, a unique field name, an alias or an old spelling, or of
    one key of a mapping field (``policy.options.rtol``, kept as written after the field's name).

    Args:
        name: What the user typed (``-`` and ``_`` are the same).
        reserved: Fields the caller sets itself, each with what sets it (refused with that reason).

    Raises:
        ConfigError: Unknown or ambiguous names (the message lists the fields), reserved fields.
    """
    if not isinstance(name, str):
        raise ConfigError(f"a field name must be text, got {name!r}")
    key = name.strip().replace("-", "_")
    fields = all_fields()
    key = RENAMED.get(key, key)
    within = next((m for m in mapping_fields() if key.startswith(f"{m}.")), None)
    if within is not None:
        option = name.strip()[len(within) + 1 :].strip()
        if not option:
            raise ConfigError(f"{name!r} names no key of {within}; write {within}.KEY")
        dotted = f"{within}.{option}"
    elif key in ALIASES:
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
    held = within or dotted
    if reserved and held in reserved:
        raise ConfigError(f"{held} is set by {reserved[held]}; it cannot be given here")
    return dotted


def canonical(data: Any) -> dict[str, Any]:
    """A nested ``{section: {field: value}}`` mapping with old spellings renamed (a copy; unknown keys kept for
    the caller to refuse).

    Raises:
        ConfigError: ``data`` or a section is not a mapping, or a field is given by both spellings.
    """
    sections = _sections()
    if not isinstance(data, dict):
        raise ConfigError(
            f"a configuration must be a mapping of sections {sorted(sections)}, not {type(data).__name__}"
        )
    out: dict[str, Any] = {}
    for section, values in data.items():
        if section in sections and values is not None and not isinstance(values, dict):
            raise ConfigError(f"config section {section!r} must be a mapping, got {type(values).__name__}")
        if not isinstance(values, dict):
            out[section] = values
            continue
        fixed: dict[str, Any] = {}
        for key, value in values.items():
            new = RENAMED.get(f"{section}.{key}", f"{section}.{key}").split(".", 1)[1]
            if new != key and new in values:
                raise ConfigError(
                    f"{section}.{key} and {section}.{new} are one field ({section}.{key} is its old name); give one"
                )
            fixed[new] = value
        out[section] = fixed
    return out


def nest(overrides: dict[str, Any], reserved: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """Turns flat overrides into ``{section: {field: value}}``.

    A key is a section holding a mapping (``policy={"hidden": [64]}``), or any name :func:`resolve_field`
    reads (``"policy.hidden"``, ``max_iterations``, ``steps``, ``env`` holding an id string). One key of a
    mapping field stays dotted within its section (``{"policy": {"options.rtol": 1e-3}}``):
    :func:`genpo.training.config.apply_overrides` sets it on top of the mapping it is applied to.

    Raises:
        ConfigError: An unknown, ambiguous or reserved name, or one field given twice.
    """
    sections = _sections()
    nested: dict[str, dict[str, Any]] = {}
    for key, value in overrides.items():
        if key in sections and isinstance(value, dict):
            for name, item in canonical({key: value})[key].items():
                nested.setdefault(key, {})[name] = item
            continue
        section, _, name = resolve_field(key, reserved).partition(".")
        if name in nested.get(section, {}):
            raise ConfigError(f"{section}.{name} is given twice (as {key!r} and another name)")
        nested.setdefault(section, {})[name] = value
    return nested


def parse_value(text: str) -> Any:
    """A YAML scalar or flow list/mapping (``5``, ``0.01``, ``true``, ``edict``, ``[64, 64]``)."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"cannot read value {text!r}: {exc}") from None
    if isinstance(value, str) and value.strip().lower() not in ("nan", "inf", "-inf", "infinity"):
        # YAML 1.1 reads 3e-4 (no dot) as a string; users mean the number
        try:
            return float(value)
        except ValueError:  # not a number: the text itself
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
