"""The grid of an ablation: named settings x varied fields x seeds, each cell a full configuration.

``--vary FIELD=v1,v2`` names any configuration field as every command does (:mod:`genpo.training.fields`): its
dotted name (``policy.flow_steps``), a field name that exists in one section only (``likelihood``,
``compress-coef``) or an alias (``steps`` for the flow's K, ``env`` for ``env.id``).
``--setting NAME="field=value field=value"`` names a whole recipe. Values are read as YAML scalars (``5`` is an
int, ``0.01`` a float, ``[64, 64]`` a list). Every cell is resolved and validated before anything runs, so a bad
field or value is refused with the allowed ones.
"""

from __future__ import annotations

import itertools
import re
import shlex
from dataclasses import dataclass, field
from typing import Any

import yaml

from genpo.errors import ConfigError
from genpo.training import fields as config_fields
from genpo.training.config import TrainConfig
from genpo.training.fields import parse_value

# The workbench owns these: one folder per cell, the seed from --seeds.
RESERVED = {"run.seed": "the workbench (--seeds)", "run.logdir": "the workbench (--out)",
            "run.run_name": "the workbench (the cell name)"}  # fmt: skip
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


def resolve_field(name: str) -> str:
    """:func:`genpo.training.fields.resolve_field` without the fields the workbench sets itself."""
    return config_fields.resolve_field(name, RESERVED)


def split_values(text: str) -> list[str]:
    """Splits ``v1,v2,[64, 64]`` on commas outside brackets."""
    out, depth, cur = [], 0, ""
    for ch in text:
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return [v.strip() for v in out]


def parse_vary(spec: str) -> tuple[str, list[Any]]:
    """``FIELD=v1,v2,...`` -> (dotted field, values)."""
    name, sep, rest = spec.partition("=")
    if not sep or not name.strip() or not rest.strip():
        raise ConfigError(f"--vary expects FIELD=v1,v2,... (e.g. policy.flow_steps=1,5,10), got {spec!r}")
    values = split_values(rest)
    if any(v == "" for v in values):
        raise ConfigError(f"--vary {spec!r} has an empty value")
    parsed = [parse_value(v) for v in values]
    if len({repr(v) for v in parsed}) != len(parsed):
        raise ConfigError(f"--vary {spec!r} repeats a value")
    return resolve_field(name), parsed


def parse_setting(spec: str) -> tuple[str, dict[str, Any]]:
    """``NAME="field=value field=value"`` -> (name, {dotted field: value})."""
    name, sep, rest = spec.partition("=")
    name = name.strip()
    if not sep or not _NAME_RE.match(name):
        raise ConfigError(
            f'--setting expects NAME="field=value ..." with NAME of letters, digits, _ . + - (e.g. '
            f'genpo="integrator=edict steps=5"), got {spec!r}'
        )
    try:
        tokens = shlex.split(rest)
    except ValueError as exc:  # shlex: an unclosed quote in the user's text
        raise ConfigError(f"--setting {name}: {exc}") from None
    out: dict[str, Any] = {}
    for tok in tokens:
        try:
            dotted, value = config_fields.parse_assignment(tok, RESERVED)
        except ConfigError as exc:
            raise ConfigError(f"--setting {name}: {exc}") from None
        out[dotted] = value
    return name, out


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else yaml.safe_dump(value, default_flow_style=True).strip()
    return text.removesuffix("\n...").strip()


@dataclass(frozen=True)
class Cell:
    """One run of the grid.

    Attributes:
        setting: Name of the ``--setting`` (``default`` when none was given).
        varied: ``{dotted field: value}`` of the ``--vary`` fields for this cell.
        seed: The run's seed.
        overrides: Everything this cell sets on top of the base configuration, as ``{dotted: value}``.
    """

    setting: str
    varied: dict[str, Any]
    seed: int
    overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def group(self) -> str:
        """What the summary groups seeds by: the setting and the varied values."""
        parts = [self.setting] + [f"{config_fields.label(k)}={_short(v)}" for k, v in self.varied.items()]
        return " ".join(parts)

    @property
    def name(self) -> str:
        """The cell's folder name: group and seed, safe for any file system."""
        raw = "_".join([self.group.replace(" ", "_"), f"s{self.seed}"])
        return re.sub(r"[^A-Za-z0-9_.=+-]+", "-", raw)


@dataclass
class Grid:
    """The resolved grid."""

    cells: list[Cell]
    settings: list[str]
    varied_fields: list[str]

    def configs(self, base: TrainConfig) -> dict[str, TrainConfig]:
        """Cell name -> resolved, validated configuration (``ConfigError`` names the cell and the fault)."""
        from genpo.training.api import find_init_checkpoint
        from genpo.training.init import check_init

        out = {}
        for cell in self.cells:
            try:
                cfg = TrainConfig.from_dict(config_fields.nest(cell.overrides), base)
                cfg.validate()
                init = find_init_checkpoint(cfg, {})
                if init is not None:  # a fine-tuning cell: its pretrained actor must fit, before anything runs
                    check_init(cfg, init[1], init[0])
                    cfg.run.init = str(init[0])  # absolute: cells do not depend on the driver's folder
            except ConfigError as exc:
                raise ConfigError(f"cell {cell.name}: {exc}", field=exc.field) from None
            out[cell.name] = cfg
        return out


def _flow_only_fields() -> set[str]:
    from genpo.training.config import FLOW_FIELDS

    return {f"policy.{name}" for name in FLOW_FIELDS.values()}


def build_grid(
    settings: list[str], varies: list[str], seeds: list[int], base: TrainConfig | None = None
) -> tuple[Grid, list[str]]:
    """The product of ``--setting`` recipes, ``--vary`` values and seeds (settings and fields in the given order).

    A varied flow-only field (``policy.flow_steps``, ``integrator``, ...) does not apply to a combination whose
    model is not ``flow``: that combination runs once (per seed) with the field left alone, so
    ``--setting ppo="model=gaussian" --vary steps=1,5,10`` gives one Gaussian baseline, not three copies.

    Returns:
        The grid, and one note per setting that a varied field does not apply to.
    """
    if not seeds:
        raise ConfigError("--seeds needs at least one seed")
    if any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds):
        raise ConfigError(f"--seeds must be integers >= 0, got {seeds}")
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"--seeds repeats a seed: {seeds}")
    recipes: dict[str, dict[str, Any]] = {}
    for spec in settings:
        name, fields = parse_setting(spec)
        if name in recipes:
            raise ConfigError(f"--setting {name!r} is given twice")
        recipes[name] = fields
    if not recipes:
        recipes["default"] = {}
    axes: dict[str, list[Any]] = {}
    for spec in varies:
        dotted, values = parse_vary(spec)
        if dotted in axes:
            raise ConfigError(f"--vary {dotted} is given twice")
        axes[dotted] = values
    base_model = (base or TrainConfig()).policy.model
    flow_only = _flow_only_fields()
    cells, notes = [], []
    for name, fields in recipes.items():
        combos: list[dict[str, Any]] = []
        dropped: set[str] = set()
        for combo in itertools.product(*axes.values()):
            varied = dict(zip(axes, combo, strict=True))
            model = varied.get("policy.model", fields.get("policy.model", base_model))
            if model != "flow":
                dropped |= flow_only & set(varied)
                varied = {k: v for k, v in varied.items() if k not in flow_only}
            if varied not in combos:
                combos.append(varied)
        if dropped:
            notes.append(f"setting {name}: {', '.join(sorted(dropped))} not varied where the model is not flow")
        for varied in combos:
            for seed in seeds:
                overrides = {**fields, **varied, "run.seed": seed}
                cells.append(Cell(name, varied, seed, overrides))
    names = [c.name for c in cells]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(
            f"two cells share the folder name {dupes[0]!r}: make the values differ in more than punctuation"
        )
    return Grid(cells, list(recipes), list(axes)), notes
