"""Renders the configuration reference (docs/configuration.md) from the dataclasses' own declarations: each
field's name, annotated type, default and declared doc (``setting(doc=...)``, which states its allowed range),
for the training sections and then the sections one command reads (``pretrain``)."""

from __future__ import annotations

import dataclasses
import inspect

from genpo.training.config import SECTIONS
from genpo.training.fields import ALIASES, RENAMED, command_sections, mapping_fields
from genpo.training.spec import default_of, doc_of


def field_docs(cls: type) -> dict[str, str]:
    """The declared doc of each field of a configuration dataclass (fields without one are left out)."""
    return {f.name: doc_of(f) for f in dataclasses.fields(cls) if doc_of(f)}


def render() -> str:
    """The markdown reference of every section and field, with defaults."""
    lines = [
        "# Configuration reference",
        "",
        "Every field can be set in a YAML file passed with `genpo train --config FILE.yaml`, e.g.",
        "",
        "```yaml",
        "policy: {integrator: edict, flow_steps: 5, hidden: [400, 200, 100]}",
        "algo: {learning_rate: 5.0e-4, compress_coef: 0.01}",
        "run: {total_steps: 1000000, seed: 3}",
        "```",
        "",
        "or one at a time on the command line with `--set FIELD=VALUE` (dotted `policy.hidden` or a short name",
        "found in one section only, `hidden`; the value is YAML): `genpo train --set hidden=[256,256] --set lr=3e-4`.",
        "`genpo ablate --vary` and `--setting`, presets and the Python API's keyword overrides name fields the same",
        "way (`genpo/training/fields.py`). Short aliases: "
        + ", ".join(f"`{k}` = `{v}`" for k, v in ALIASES.items())
        + ". Old spellings still load (configurations and checkpoints written before a rename): "
        + ", ".join(f"`{k}` = `{v}`" for k, v in RENAMED.items())
        + ".",
        "",
        "One key of a mapping field ("
        + ", ".join(f"`{m}`" for m in mapping_fields())
        + ") is named `FIELD.KEY` and set on top of the keys already there: "
        "`--set policy.options.rtol=1e-3` keeps the `method` a `--config` file gave, and `genpo ablate --vary "
        "policy.options.probes=1,4` or a `genpo tune` space entry can search one part option.",
        "",
        "Precedence: defaults < `--preset` < the resumed checkpoint's configuration < `--config` < explicit options",
        "(`--set` and the named flags; one field given by both is refused).",
        "The resolved configuration of a run is written to `<run folder>/params/config.yaml`.",
        "This page is generated from the fields declared in `genpo/training/config.py` and `pretrain.py` (each",
        "with its doc and allowed values) by `python -m genpo.training.config_doc`",
        "(the documentation build and `tests/training/test_config.py` refuse a stale copy).",
        "",
        "The `pretrain` section (last) is read by `genpo pretrain` only: in its `--config` file, as",
        "`--set pretrain.FIELD=VALUE` and by its options (`--epochs`, `--lr`, ...); `genpo train` refuses it.",
        "",
    ]
    for name, cls in {**SECTIONS, **command_sections()}.items():
        summary = " ".join(inspect.getdoc(cls).split("\n\n")[0].split())
        lines += [f"## `{name}` — {summary}", ""]
        lines += ["| field | type | default | meaning |", "|---|---|---|---|"]
        for f in dataclasses.fields(cls):
            kind = str(f.type).replace("|", "\\|")
            lines.append(f"| `{f.name}` | `{kind}` | `{default_of(f)!r}` | {doc_of(f)} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(), end="")
