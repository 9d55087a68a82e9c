"""Renders the configuration reference (docs/configuration.md) from the dataclasses' own declarations: each
field's name, annotated type, default and attribute docstring (which states its allowed range)."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import itertools

from genpo.training.config import SECTIONS


def field_docs(cls: type) -> dict[str, str]:
    """Attribute docstrings (the string literal right after each field) of a dataclass."""
    tree = ast.parse(inspect.getsource(cls))
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs: dict[str, str] = {}
    for node, nxt in itertools.pairwise(body):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            if isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant) and isinstance(nxt.value.value, str):
                docs[node.target.id] = " ".join(nxt.value.value.split())
    return docs


def render() -> str:
    """The markdown reference of every section and field, with defaults."""
    lines = [
        "# Configuration reference",
        "",
        "Every field can be set in a YAML file passed with `genpo train --config FILE.yaml`, e.g.",
        "",
        "```yaml",
        "policy: {integrator: edict, steps: 5, hidden: [400, 200, 100]}",
        "algo: {learning_rate: 5.0e-4, compress_coef: 0.01}",
        "run: {total_steps: 1000000, seed: 3}",
        "```",
        "",
        "or one at a time on the command line with `--set FIELD=VALUE` (dotted `policy.hidden` or a short name",
        "found in one section only, `hidden`; the value is YAML): `genpo train --set hidden=[256,256] --set lr=3e-4`.",
        "`genpo ablate --vary` and `--setting` name fields the same way.",
        "",
        "Precedence: defaults < `--preset` < the resumed checkpoint's configuration < `--config` < explicit options",
        "(`--set` and the named flags; one field given by both is refused).",
        "The resolved configuration of a run is written to `<run folder>/params/config.yaml`.",
        "This page is generated from `genpo/training/config.py` by `python -m genpo.training.config_doc`",
        "(the documentation build and `tests/training/test_config.py` refuse a stale copy).",
        "",
    ]
    for name, cls in SECTIONS.items():
        docs = field_docs(cls)
        lines += [f"## `{name}` — {inspect.getdoc(cls)}", ""]
        lines += ["| field | type | default | meaning |", "|---|---|---|---|"]
        for f in dataclasses.fields(cls):
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
            kind = str(f.type).replace("|", "\\|")
            lines.append(f"| `{f.name}` | `{kind}` | `{default!r}` | {docs.get(f.name, '')} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(), end="")
