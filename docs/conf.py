"""Sphinx configuration: the pages are Markdown (MyST), the API reference comes from the reST docstrings."""

import sb3_softac

project = "sb3_softac"
author = "the sb3_softac developers"
release = version = sb3_softac.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
]
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build"]

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
# No intersphinx: CI has no network, and an unreachable inventory would fail the -W build.

html_theme = "sphinx_rtd_theme"
html_title = f"sb3_softac {release}"
