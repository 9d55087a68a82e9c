"""Every ``genpo train``, ``pretrain`` and ``ablate`` command in the docs still parses: its flags exist, their values
have the right types, and each field it names (``--set``, ``--vary``, ``--setting``) resolves. Nothing runs."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer

from genpo.cli.main import app
from genpo.training.config import TrainConfig, load_yaml
from genpo.training.fields import parse_assignment
from genpo.workbench.grid import build_grid

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
COMMANDS = ("train", "pretrain", "ablate")


def _shell_blocks(text: str) -> list[str]:
    """The fenced blocks of a markdown text whose language is a shell's (or none)."""
    blocks, current, lang = [], None, ""
    for line in text.splitlines():
        fence = re.match(r"^\s*```(\w*)", line)
        if fence and current is None:
            current, lang = [], fence.group(1)
        elif fence:
            if lang in ("bash", "sh", "console", "shell"):  # not a plain block: that is output
                blocks.append("\n".join(current))
            current = None
        elif current is not None:
            current.append(line)
    return blocks


def _commands() -> list[pytest.param]:
    out = []
    for doc in DOCS:
        for b, block in enumerate(_shell_blocks(doc.read_text())):
            text = re.sub(r"\\\n\s*", " ", block)  # continuation lines
            variables: dict[str, str] = {}
            for n, line in enumerate(text.splitlines()):
                for part in line.split(";"):
                    assigned = re.match(r"^\s*(?:export\s+)?(\w+)=(\S.*)$", part)
                    if assigned:  # PT="--dataset ... --seed 1": the words a later command puts in its place
                        variables[assigned.group(1)] = " ".join(shlex.split(assigned.group(2)))
                loop = re.search(r"\bfor (\w+) in (\S+)", line)
                if loop:
                    variables[loop.group(1)] = loop.group(2)
                line = re.sub(r"\$\{?(\w+)\}?", lambda v, known=variables: known.get(v.group(1), "X"), line)
                line = line.strip()
                if line.startswith("#"):
                    continue
                line = line.split(" #")[0]
                m = re.search(r"\bgenpo (train|pretrain|ablate)\b(.*)", line)
                if m is None:
                    continue
                args = re.sub(r"<[^>]*>", "X", m.group(2))  # placeholders (<pretrain run>): some path or name
                args = re.split(r"&&|;|\||\s\d?>|\bdone\b", args)[0]
                out.append(pytest.param(m.group(1), args, id=f"{doc.name}:{b}.{n}:{m.group(1)}"))
    return out


def _words(args: str) -> list[str]:
    # "--seed S ... # S = 1, 2, 3": a seed written as a letter stands for each of those numbers.
    words = [w for w in shlex.split(args) if w not in ("...", "…")]
    return ["1" if w == "S" and words[i - 1] == "--seed" else w for i, w in enumerate(words)]


@pytest.mark.parametrize(("command", "args"), _commands())
def test_documented_command_parses(command, args):
    words = _words(args)
    group = typer.main.get_command(app)
    cmd = group.commands[command]
    ctx = cmd.make_context(command, list(words), resilient_parsing=False)  # raises on an unknown flag or bad type
    params = ctx.params
    for text in params.get("set_") or []:
        if not text.startswith("pretrain."):
            parse_assignment(text)
    if command == "ablate":
        build_grid(params.get("setting") or [], params.get("vary") or [], [1])
    config = params.get("config")
    if config is not None and (ROOT / config).is_file():
        TrainConfig.from_dict(load_yaml(ROOT / config))


def test_the_docs_hold_commands_of_each_kind():
    kinds = {p.values[0] for p in _commands()}
    assert kinds == set(COMMANDS)
