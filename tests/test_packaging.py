"""The wheel ships every package: ``pyproject.toml`` lists packages by hand, and a non-editable install of a
list that misses one (a module turned into a package) would fail at import on a user's machine only."""

from __future__ import annotations

from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_folder_is_listed_in_pyproject():
    setup = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(setup["packages"])
    on_disk = {".".join(init.parent.relative_to(ROOT).parts) for init in (ROOT / "genpo").rglob("__init__.py")} | {
        "genpo.cli"
    }
    on_disk = {name for name in on_disk if not name.startswith("genpo.cli.")}  # genpo/cli: a dev symlink at most
    assert on_disk - listed == set(), "add these to [tool.setuptools] packages"
    assert listed - on_disk == set(), "listed packages without a folder"
    assert setup["package-dir"]["genpo.cli"] == "cli" and (ROOT / "cli" / "__init__.py").exists()
