"""Sphinx configuration: the task pages (Markdown, via MyST) and the API reference (autodoc over
``snpmeasure.__all__``). CI builds with ``-W -n`` (warnings are errors, every reference must
resolve), so a docstring that names something missing fails the build."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import snpmeasure  # noqa: E402

project = "snpmeasure"
author = "the snpmeasure authors"
release = version = snpmeasure.__version__
extensions = ["sphinx.ext.autodoc", "myst_parser"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]
myst_heading_anchors = 3
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
nitpicky = True
# Types from outside the project: no intersphinx (CI reaches PyPI and Debian only), so these are
# named here instead of linked.
nitpick_ignore_regex = [
    ("py:class", r"(typing|collections\.abc|os|enum|datetime|pathlib|mmap|array|uuid|xml\.etree\.ElementTree)\..*"),
    ("py:class", r"(bytes|bytearray|memoryview|str|int|bool|float|object|dict|list|tuple|type|None|Buffer|PathLike)"),
    ("py:class", r"(cryptography|x509|ec)\..*"),
    ("py:(class|exc)", r"(ValueError|OSError|Exception|TypeError|KeyError)"),
    ("py:class", r"NoneType"),
    ("py:class", r"abc\.ABC"),
    # type aliases and type variables in signatures, spelled out in the docstrings
    (
        "py:class",
        r"(KeySource|BufferLike|PathOrImage|IgvmSource|Progress|Buffer|H|snpmeasure\.igvm\.H|snpmeasure\.pages\.T|T)",
    ),
    # snpmeasure.LaunchDigest is this class, documented under its public name
    ("py:class", r"snpmeasure\._core\.NativeLaunchDigest"),
]
html_theme = "alabaster"
