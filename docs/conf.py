"""Sphinx configuration of genpo's documentation site.

Build (strict: every warning and every unresolved cross-reference fails it)::

    python -m sphinx -W --keep-going -n -b html docs docs/_build/html

The pages are Markdown (MyST); the references are generated at build time: the CLI from the Typer app
(sphinxcontrib-typer), the configuration from the dataclasses' own declarations (``docs/_ext/genpo_docs.py``),
the Python API by autodoc + napoleon from the Google-style docstrings.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(DOCS.parent))

import genpo  # noqa: E402

project = "genpo"
author = "the genpo developers"
copyright = "2026, the genpo developers"
release = version = genpo.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "sphinx_copybutton",
    "sphinxcontrib.typer",
    "genpo_docs",
]

# Intersphinx (links into the Python and PyTorch docs) needs their inventories from the network. CI and
# the development machines reach package registries only, and an unreachable inventory is a warning,
# which the strict build turns into a failure; so it is opt-in: GENPO_DOCS_INTERSPHINX=1 where the
# network is there. Without it, the external types listed in nitpick_ignore_regex stay plain text.
if os.environ.get("GENPO_DOCS_INTERSPHINX") == "1":
    extensions.append("sphinx.ext.intersphinx")
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "torch": ("https://docs.pytorch.org/docs/stable", None),
    }

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "_ext", "conftest.py", "**/README.md"]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
autodoc_default_options = {"members": True, "show-inheritance": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False

nitpicky = True
# Types that belong to other projects (no inventory without intersphinx, see above): shown as text.
# The standard library's (pathlib, abc, collections.abc, importlib, typing) and the other packages' types
# (torch, numpy, gymnasium, rich, ...) have their inventories on the network; genpo.registry.T is the
# registry's TypeVar, which has no page of its own.
nitpick_ignore_regex = [
    ("py:.*", r"(pathlib|abc|collections\.abc|importlib(\.metadata)?|typing|rich(\.console)?|contextlib)\..*"),
    ("py:.*", r"genpo\.registry\.T"),
    ("py:.*", r"(torch|nn|np|numpy|gymnasium|gym|typer|click|optuna|minari|h5py|onnx|onnxruntime)(\..*)?"),
    ("py:.*", r"(Tensor|Module|Parameter|Generator|Optimizer|ndarray|Env|VectorEnv|Path|Any|TypeVar)"),
]

html_theme = "furo"
html_title = f"genpo {release}"
html_static_path: list[str] = []
copybutton_prompt_text = r"\$ |>>> "
copybutton_prompt_is_regexp = True
