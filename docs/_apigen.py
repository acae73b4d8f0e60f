"""Write the API reference pages (docs/api/*.rst) from the package itself, at every build.

Run by docs/conf.py before Sphinx reads the sources, so a module or sub-package that another
branch adds is documented without editing the docs. For every sub-package (one layer) it writes
one page: the sub-package's docstring, a table of the names it exports (``__all__``) with the
module each is defined in, then every module of the sub-package with each public name defined
there (top-level ``def``/``class`` without a leading underscore, plus any constant some
``__all__`` exports) documented by autodoc at that real location. Each object is documented once,
so a re-export never duplicates a description and a renamed name is a broken reference.

:func:`public_names` is also what ``tests/test_docs.py`` checks every ``__all__`` against.
"""
from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

PACKAGE = "cosmocorr"
#: the layers in the order of the README's "Layout" (top to bottom, then the top-level modules);
#: sub-packages not listed here (added later) are appended in alphabetical order
LAYERS = ["sky", "estimators", "clustering", "uncertainty", "differentiable", "surrogate", "ia", "io", "backends"]
#: top-level modules documented on the "cosmocorr" page (besides the package's own re-exports)
TOP_MODULES = ["api", "plotting", "jax"]
TITLES = {
    "sky": "Sky: geometry, bins, catalogs",
    "estimators": "Estimators: exact pair sums, xi+/xi-, Landy-Szalay, rho, covariances",
    "clustering": "Clustering: k-means++, fuzzy c-means, assignments",
    "uncertainty": "Uncertainty: Algorithm 1 and the clustering-uncertainty study",
    "differentiable": "Differentiable: dual numbers, soft bins, gradients",
    "surrogate": "Surrogate: IAEmu, MLP surrogate, HMC/NUTS, emcee, diagnostics",
    "ia": "Intrinsic alignment: 3-D estimators, HOD + IA model",
    "io": "I/O: result files and provenance",
    "backends": "Backends: NumPy kernels, Julia bridge, Dask",
}


def subpackages():
    """Names of cosmocorr's public sub-packages, in layer order."""
    pkg = importlib.import_module(PACKAGE)
    found = sorted(m.name for m in pkgutil.iter_modules(pkg.__path__) if m.ispkg and not m.name.startswith("_"))
    return [n for n in LAYERS if n in found] + [n for n in found if n not in LAYERS]


def modules_of(subpackage):
    """Dotted names of every public module below ``cosmocorr.<subpackage>`` (recursively)."""
    pkg = importlib.import_module(f"{PACKAGE}.{subpackage}")
    out = []
    for m in pkgutil.walk_packages(pkg.__path__, prefix=pkg.__name__ + "."):
        if not any(part.startswith("_") for part in m.name.split(".")):
            out.append(m.name)
    return sorted(out)


def _source_defs(modname):
    """Top-level public names defined in a module's source: (functions/classes, assigned names)."""
    mod = importlib.import_module(modname)
    try:
        tree = ast.parse(inspect.getsource(mod))
    except (OSError, TypeError):
        return [], []
    defs, assigned = [], []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if not node.name.startswith("_"):
                defs.append(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                for n in ast.walk(t):
                    if isinstance(n, ast.Name) and (not n.id.startswith("_") or n.id.startswith("__")):
                        assigned.append(n.id)
    return defs, assigned


def real_location(package, name):
    """The dotted module where ``package.name`` is defined (for a constant: the module that assigns
    it, searched among the package's modules); None when it cannot be found."""
    pkg = importlib.import_module(package)
    obj = getattr(pkg, name)
    if inspect.ismodule(obj):
        return obj.__name__
    mod = getattr(obj, "__module__", None)
    if (inspect.isclass(obj) or inspect.isroutine(obj)) and mod and mod.startswith(PACKAGE):
        return mod
    candidates = [package] + (modules_of(package.split(".", 1)[1]) if "." in package else
                              [f"{PACKAGE}.{m}" for m in TOP_MODULES])
    for modname in candidates:
        m = importlib.import_module(modname)
        if getattr(m, name, None) is obj and name in _source_defs(modname)[1]:
            return modname
    return None


def exported(package):
    """``{name: defining module}`` for a package's ``__all__``."""
    pkg = importlib.import_module(package)
    return {n: real_location(package, n) for n in getattr(pkg, "__all__", [])}


def public_names(modname, extra=()):
    """What the reference documents for one module: (functions and classes, constants)."""
    mod = importlib.import_module(modname)
    defs, assigned = _source_defs(modname)
    names = list(getattr(mod, "__all__", [])) + defs + list(extra)
    objs, data = [], []
    for n in dict.fromkeys(names):
        if not hasattr(mod, n):
            continue
        obj = getattr(mod, n)
        if inspect.ismodule(obj):
            continue
        if inspect.isclass(obj) or inspect.isroutine(obj):
            if getattr(obj, "__module__", None) == modname:
                objs.append(n)
        elif n in assigned:
            data.append(n)
    return objs, data


def _title(text, char):
    return f"{text}\n{char * len(text)}\n"


def _module_section(modname, extra=(), heading=True, only_extra=False):
    objs, data = public_names(modname, extra)
    if only_extra:  # a private module: only the names a public package exports from it
        objs, data = [n for n in objs if n in extra], [n for n in data if n in extra]
    lines = [_title(modname, "-")] if heading else []
    lines += [f".. automodule:: {modname}", "   :no-members:", "", f".. currentmodule:: {modname}", ""]
    mod = importlib.import_module(modname)
    for n in objs:
        obj = getattr(mod, n)
        if inspect.isclass(obj):
            kind = "exception" if issubclass(obj, BaseException) else "class"
            lines += [f".. auto{kind}:: {n}", "   :members:", "   :undoc-members:", "   :show-inheritance:", ""]
        else:
            lines += [f".. autofunction:: {n}", ""]
    for n in data:
        lines += [f".. autodata:: {n}", "   :no-value:", ""]
    return "\n".join(lines) + "\n"


def _own_section(package, extra):
    """Names the package's ``__init__`` itself defines (rare: constants such as ``__version__``)."""
    objs, data = public_names(package, extra)
    if not objs and not data:
        return ""
    text = _module_section(package, extra, heading=False)
    return text.replace(f".. automodule:: {package}\n   :no-members:\n", "")


def _exports_table(package, where):
    pkg = importlib.import_module(package)
    rows = [".. list-table::", "   :header-rows: 1", "   :widths: 30 70", "", "   * - name", "     - defined in"]
    for name, loc in where.items():
        if loc is None:
            raise RuntimeError(f"{package}.__all__ names {name!r}, which no module of {package} defines")
        if inspect.ismodule(getattr(pkg, name)):
            ref = f":py:mod:`{loc}`"
        else:
            ref = f":py:obj:`{loc}.{name}`"
        rows += [f"   * - ``{package}.{name}``", f"     - {ref}"]
    return "\n".join(rows) + "\n"


def _private_sections(extra):
    """Sections for private modules (``cosmocorr._warnings``, ...) that define exported names:
    those names are public and are documented where they really live."""
    return [_module_section(loc, names, only_extra=True) for loc, names in sorted(extra.items())
            if any(part.startswith("_") for part in loc.split("."))]


def _exports_by_module(where):
    extra = {}
    for name, loc in where.items():
        if loc is not None:
            extra.setdefault(loc, []).append(name)
    return extra


def subpackage_page(sub):
    package = f"{PACKAGE}.{sub}"
    where = exported(package)
    extra = _exports_by_module(where)
    parts = [_title(TITLES.get(sub, f"cosmocorr.{sub}"), "="),
             f".. automodule:: {package}\n   :no-members:\n",
             _title(f"Exported by {package}", "-"),
             f"``from {package} import NAME`` works for each of these; each is documented below at the module "
             "that defines it.\n",
             _exports_table(package, where)]
    parts.append(_own_section(package, extra.get(package, ())))
    for modname in modules_of(sub):
        parts.append(_module_section(modname, extra.get(modname, ())))
    parts += _private_sections(extra)
    return "\n".join(parts)


def top_page():
    where = exported(PACKAGE)
    extra = _exports_by_module(where)
    parts = [_title("cosmocorr: the package and its composed API", "="),
             f".. automodule:: {PACKAGE}\n   :no-members:\n",
             _title("Exported by cosmocorr", "-"),
             "``import cosmocorr as cc`` gives each of these as ``cc.NAME``; each is documented at the module "
             "that defines it (this page, or a layer's page).\n",
             _exports_table(PACKAGE, where)]
    parts.append(_own_section(PACKAGE, extra.get(PACKAGE, ())))
    for m in TOP_MODULES:
        parts.append(_module_section(f"{PACKAGE}.{m}", extra.get(f"{PACKAGE}.{m}", ())))
    parts += _private_sections(extra)
    return "\n".join(parts)


def cli_page():
    from cosmocorr import cli

    parser = cli.build_parser()
    parts = [_title("Command line: cosmocorr", "="),
             ".. automodule:: cosmocorr.cli\n   :no-members:\n",
             ".. autofunction:: cosmocorr.cli.main\n",
             ".. autofunction:: cosmocorr.cli.build_parser\n",
             "Every subcommand's ``--help``, generated from the parser at build time:\n"]
    for name, sub in parser._subparsers_by_name.items():
        text = sub.format_help().replace("\t", "    ")
        parts.append(_title(f"cosmocorr {name}", "-"))
        parts.append(".. code-block:: text\n\n" + "\n".join("   " + ln if ln.strip() else "" for ln in
                                                           text.splitlines()) + "\n")
    return "\n".join(parts)


def write_pages(outdir):
    """Write api/*.rst and api/index.rst into ``outdir``; returns the page names."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    pages = {"cosmocorr": top_page()}
    for sub in subpackages():
        pages[sub] = subpackage_page(sub)
    pages["cli"] = cli_page()
    for name, text in pages.items():
        path = outdir / f"{name}.rst"
        if not path.exists() or path.read_text() != text:  # unchanged pages keep Sphinx's cache
            path.write_text(text)
    for stale in outdir.glob("*.rst"):
        if stale.stem not in pages and stale.stem != "index":
            stale.unlink()
    index = [_title("API reference", "="),
             "One page per layer, top to bottom as data flows (catalog -> clustering -> pair sums on a "
             "backend -> result); every public name is documented at the module that defines it.\n",
             ".. toctree::", "   :maxdepth: 2", ""] + [f"   {name}" for name in pages]
    text = "\n".join(index) + "\n"
    if not (outdir / "index.rst").exists() or (outdir / "index.rst").read_text() != text:
        (outdir / "index.rst").write_text(text)
    return list(pages)
