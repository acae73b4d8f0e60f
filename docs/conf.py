"""Sphinx configuration of cosmocorr's documentation (API reference + the docs/*.md pages).

Build: ``sphinx-build -W --keep-going -b html docs OUTDIR`` (as ``.ci/run`` does). The API pages
(docs/api/*.rst) are written by :mod:`_apigen` from the package at every build, so new modules
are documented without editing the docs.
"""
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))  # the checkout's cosmocorr, also without an install
os.environ.setdefault("MPLBACKEND", "Agg")

import cosmocorr  # noqa: E402
import _apigen  # noqa: E402

_apigen.write_pages(HERE / "api")

project = "cosmocorr"
author = "cosmocorr developers"
copyright = "2025, cosmocorr developers"
release = version = cosmocorr.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3

# numpydoc renders the docstrings (they are numpydoc already); class members are documented by
# autodoc (:members:), not by numpydoc's member tables (which would need autosummary stubs)
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
# a public function or class without a docstring is a warning, hence an error under -W
numpydoc_validation_checks = {"GL08"}
# private helpers and dunder methods are not public API
# ``FieldCorrelationResult.letters`` is a plain class constant documented by its ``#:`` comment
# (autodoc shows it); numpydoc's check sees only the str/None value's own __doc__
numpydoc_validation_exclude = {r"\._[^.]*$", r"\.__\w+__$", r"FieldCorrelationResult\.letters$"}

autodoc_member_order = "bysource"
autodoc_typehints = "none"
autodoc_mock_imports = ["juliacall", "juliapkg"]
autodoc_inherit_docstrings = True
nitpicky = True

html_theme = "alabaster"
html_title = f"cosmocorr {release}"
html_static_path = []

# Cross-references: docstrings and pages may name an object where users import it
# (``cosmocorr.fuzzy_c_means``, ``Catalog`` inside cosmocorr.sky); each is resolved to the one
# place it is documented, its real module. A reference to a cosmocorr name that does not exist
# (renamed, removed) stays unresolved, and nitpicky mode makes that a warning, an error under -W.
# Only names outside cosmocorr (numpy, astropy, the standard library) and cosmocorr's private
# helpers are exempt.
nitpick_ignore_regex = [
    (r"py:.*", r"(?!cosmocorr\b)[\w.]*"),  # other packages, and bare names that resolve to nothing public
    (r"py:.*", r"cosmocorr\.(\w+\.)*_\w+.*"),  # private helpers (cosmocorr._parallel, ...)
]

_MISSING = object()


def _lookup(dotted):
    import importlib

    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr, _MISSING)
            if obj is _MISSING:
                return _MISSING
        return obj
    return _MISSING


def _real_name(obj):
    import inspect

    if inspect.ismodule(obj):
        return obj.__name__
    if isinstance(obj, property):
        obj = obj.fget
    mod, qual = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if mod and qual and mod.startswith("cosmocorr") and "<" not in qual:
        return f"{mod}.{qual}"
    return None


def _resolve_alias(app, env, node, contnode):
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"].lstrip(".~")
    scopes = [node.get("py:module"), f"{node.get('py:module')}.{node.get('py:class')}" if node.get("py:class") else None]
    for scope in [s for s in reversed(scopes) if s] + [""]:
        dotted = f"{scope}.{target}" if scope else target
        if not dotted.startswith("cosmocorr"):
            continue
        obj = _lookup(dotted)
        if obj is _MISSING:
            continue
        real = _real_name(obj)
        if real is None or real == dotted:
            return None
        return env.get_domain("py").resolve_xref(env, node["refdoc"], app.builder, "obj", real, node, contnode)
    return None


def setup(app):
    app.connect("missing-reference", _resolve_alias)
