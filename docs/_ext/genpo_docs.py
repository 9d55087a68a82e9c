"""Sphinx extension of genpo's docs: the generated references.

* Pages under ``results/`` (written by ``genpo plot``) are orphans: linked from results.md, not in the
  navigation.
* A block that the documentation tests skip shows the reason on the page.
* ``docs/configuration.md`` is rendered from the configuration dataclasses by
  :func:`genpo.training.config_doc.render`; the build refuses a stale copy (regenerate it with
  ``python -m genpo.training.config_doc > docs/configuration.md``), so the page is never hand-edited.
"""

from __future__ import annotations

import re
from pathlib import Path

SKIP = re.compile(r'^% skip: next "(?P<reason>[^"]+)"$', re.M)


def _check_configuration(app_, config) -> None:
    from sphinx.errors import ConfigError

    from genpo.training.config_doc import render

    page = Path(app_.srcdir) / "configuration.md"
    if page.read_text() != render():
        raise ConfigError("docs/configuration.md is stale: python -m genpo.training.config_doc > docs/configuration.md")


def _results_are_orphans(app_, docname: str, source: list[str]) -> None:
    """The summaries under results/ are written by ``genpo plot`` (no title; linked from results.md, not
    in the navigation): mark them orphan instead of editing generated files."""
    if docname.startswith("results/"):
        source[0] = "---\norphan: true\n---\n" + source[0]


def _show_skips(app_, docname: str, source: list[str]) -> None:
    """A block the documentation tests skip (``% skip: next "reason"``, see docs/conftest.py) gets the
    reason printed above it, so a reader knows which examples were not run, and why."""
    source[0] = SKIP.sub(
        lambda m: f"{m.group(0)}\n:::{{note}}\nNot executed by the documentation tests: {m.group('reason')}.\n:::\n",
        source[0],
    )


def setup(app_):
    app_.connect("config-inited", _check_configuration)
    app_.connect("source-read", _results_are_orphans)
    app_.connect("source-read", _show_skips)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
