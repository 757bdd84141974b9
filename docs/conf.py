"""Sphinx configuration of the seqconv API reference (build: ``python3 -m sphinx -W -b html docs docs/_build``)."""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))  # the checkout's seqconv, not an installed copy

from seqconv import __version__  # noqa: E402

project = "seqconv"
author = "seqconv contributors"
copyright = "seqconv contributors"  # noqa: A001
version = release = __version__

extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.viewcode"]
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
napoleon_use_ivar = True  # "Attributes" as fields: dataclass attributes are not described twice
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_mock_imports = ["pyBigWig"]
nitpicky = False
exclude_patterns = ["_build"]
html_theme = "alabaster"
