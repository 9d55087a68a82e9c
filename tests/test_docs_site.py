"""The documentation site builds strictly, and the built HTML has no broken internal link or missing image.

One build per test session (the command the README gives); the examples inside the pages are run by
``docs/conftest.py`` (Sybil), collected with ``pytest docs``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
BUILD = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-n", "-b", "html", "docs"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site") / "html"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("GENPO_DOCS_INTERSPHINX", None)  # the network is not there in CI
    done = subprocess.run([*BUILD, str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    return out


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.images: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])  # type: ignore[arg-type]
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])  # type: ignore[arg-type]
        if tag == "img" and a.get("src"):
            self.images.append(a["src"])  # type: ignore[arg-type]
        if tag in ("link", "script") and (a.get("href") or a.get("src")):
            self.links.append(a.get("href") or a.get("src"))  # type: ignore[arg-type]


def _parse(page: Path) -> _Refs:
    refs = _Refs()
    refs.feed(page.read_text(encoding="utf-8"))
    return refs


def test_strict_build_writes_every_page(site: Path) -> None:
    for page in ("index", "tutorials/first-run", "tutorials/likelihood", "tutorials/flow-model", "tutorials/finetune",
                 "finetune", "isaaclab", "architecture", "reference/cli", "reference/api", "configuration",
                 "reviewers", "results", "benchmarks"):
        assert (site / f"{page}.html").is_file(), page
    api = (site / "reference" / "api.html").read_text()
    for name in ("genpo.training.api.train", "genpo.training.api.load", "genpo.training.api.evaluate",
                 "genpo.models.factory.make_policy", "genpo.inversion.base.Integrator", "genpo.registry.Registry"):
        assert f'id="{name}"' in api, name
    cli = (site / "reference" / "cli.html").read_text()
    for command in ("train", "play", "export", "ablate", "plot", "pretrain", "collect", "bench"):
        assert f"genpo {command}" in cli, command
    assert "--max-iterations" in cli or "--max-iterations".replace("-", "&#8209;") in cli


def test_no_broken_internal_links_or_missing_images(site: Path) -> None:
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 20
    parsed = {p: _parse(p) for p in pages}
    broken = []
    for page, refs in parsed.items():
        for kind, target in [("link", u) for u in refs.links] + [("image", u) for u in refs.images]:
            url = urlsplit(target)
            if url.scheme or url.netloc or target.startswith("mailto:"):
                continue
            path = (page.parent / unquote(url.path)).resolve() if url.path else page
            if path.is_dir():
                path = path / "index.html"
            if not path.exists():
                broken.append(f"{page.relative_to(site)}: {kind} {target}")
            elif url.fragment and path.suffix == ".html":
                ids = parsed[path].ids if path in parsed else _parse(path).ids
                if unquote(url.fragment) not in ids:
                    broken.append(f"{page.relative_to(site)}: anchor {target}")
    assert not broken, "\n".join(broken[:50])


def test_every_skipped_example_says_why() -> None:
    """``% skip: next`` without a reason would skip silently (Sybil then neither runs nor reports it)."""
    for page in DOCS.rglob("*.md"):
        if "_build" in page.parts:
            continue
        for line in page.read_text().splitlines():
            if re.match(r"^\s*(%|<!--)\s*skip\s*:", line):
                assert re.match(r'^% skip: next "[^"]{10,}"$', line), f"{page}: {line!r}"
