"""Sphinx configuration of the skend2 documentation.

Build with ``make -C docs html``, i.e.
``python -m sphinx -W --keep-going -b html docs docs/_build/html``. The build needs
no network: no intersphinx inventories are fetched and the gallery has no binder.
"""

import os
import re
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

HERE = Path(__file__).resolve().parent
# Import skend2 from this checkout even when it is not installed, and the
# gallery's image scraper from docs/sphinxext.
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE / "sphinxext"))

import skend2

# -- Project -----------------------------------------------------------------

project = "skend2"
author = "skend2 developers"
copyright = "skend2 developers, BSD-3-Clause"
release = skend2.__version__
version = ".".join(release.split(".")[:2])

# -- General -----------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "sphinxext",
    "Thumbs.db",
    ".DS_Store",
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
    "auto_examples/*.zip",
]
default_role = "literal"

# -- autodoc / autosummary / numpydoc -----------------------------------------

autosummary_generate = True
autodoc_typehints = "none"  # numpydoc's "name : type" lines document the types
autodoc_default_options = {"members": True}
autodoc_member_order = "groupwise"

numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

# -- myst (docs/benchmarks.md) -------------------------------------------------

myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3

# -- sphinx-gallery ----------------------------------------------------------

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    # bbox_inches="tight", so that no label at a figure's edge is clipped.
    "image_scrapers": ("skend2_gallery.tight_matplotlib_scraper",),
    "reset_modules": ("matplotlib",),
    "abort_on_example_error": True,
    "backreferences_dir": "gen_modules/backreferences",
    "doc_module": ("skend2",),
    "reference_url": {"skend2": None},
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "skend2_gallery.StoryOrder",
    "min_reported_time": 1,
    "show_memory": False,
}

# The examples run in this process; they must never open a window.
os.environ.setdefault("MPLBACKEND", "Agg")

# -- HTML --------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"skend2 {release}"
html_static_path = ["_static"]
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_show_sourcelink = False


# -- Members not worth documenting -----------------------------------------------

# scikit-learn's metadata-routing methods (set_fit_request, ...) are generated on
# every estimator subclass, so ``:inherited-members:`` cannot leave them out; their
# docstrings point into scikit-learn's own user guide.
_SKIPPED_MEMBERS = re.compile(r"^(set_\w+_request|get_metadata_routing)$")


def _skip_member(app, what, name, obj, skip, options):
    if _SKIPPED_MEMBERS.match(name):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_member)
