"""Sphinx configuration for the sgnn documentation."""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))

import sgnn

project = "sgnn"
author = "sgnn developers"
copyright = "2026, sgnn developers"
version = release = sgnn.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
]
# No intersphinx: the docs build offline, and fetching inventories would fail under -W.

autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_typehints = "description"
autodoc_typehints_format = "short"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False

templates_path: list[str] = []
exclude_patterns = ["_build"]
html_static_path = ["_static"]
html_theme = "furo"
html_title = f"sgnn {release}"


def _draw_figures(app: object) -> None:
    """Figures are drawn from the code at every build, never by hand."""
    import runpy
    from pathlib import Path

    here = Path(__file__).parent
    script = runpy.run_path(str(here / "scripts" / "plot_hierarchy.py"))
    script["main"](here / "_static" / "hierarchy.png")


def setup(app: object) -> None:
    app.connect("builder-inited", _draw_figures)
