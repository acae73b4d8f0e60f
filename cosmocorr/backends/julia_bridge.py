"""The Julia backend: lazy juliacall bridge to the bundled ``CosmoCorr`` module (pair sums, NK/KK/NG/KG
sums, fuzzy c-means and the differentiable gravity path of paper secs. 4 and 6), its set-up, status
and self-test.

Nothing here imports juliacall until the Julia backend is actually used. Three questions are
answered from files only (never starting Julia, never resolving, never downloading):

- :func:`julia_ready`: is Julia installed and resolved for this environment, with the current
  ``juliapkg.json`` files (:func:`_check_state`, the comparison juliapkg itself makes before
  deciding it can skip a resolve)? ``backend="julia"`` needs this.
- :func:`julia_verified`: has the self-test passed for exactly this environment? The stamp
  written by :func:`selftest` must exist next to juliapkg's state, match the cosmocorr version,
  the Julia version, executable and installation, the resolved ``Manifest.toml``, the
  ``CosmoCorr`` sources and this bridge, and record a pass of the family's checks.
  ``backend="auto"`` chooses Julia for a family only then (:func:`auto_ready`);
  :func:`status` says why not.

One-time set-up, on a machine with internet access::

    cosmocorr julia install      # resolve the core (installs Julia >= 1.10 if needed), self-test
    cosmocorr julia install --reverse-mode   # also Zygote + SciMLSensitivity (ad="reverse")
    cosmocorr julia selftest     # again, e.g. after editing julia/src
    cosmocorr julia status       # what "auto" decides per family of functions, and why

"auto" trusts Julia per family of functions (:data:`SELFTEST_FAMILIES`): a family runs on
Julia only when its own self-test checks passed (see :func:`check_families`). Julia is called
from the main Python thread only. See docs/julia.md.

To use an existing Julia instead, set ``PYTHON_JULIAPKG_EXE=/path/to/julia`` before installing.
"""
from __future__ import annotations

import datetime
import hashlib
import json
import os
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from .numpy_fcm import neighbour_csr
from .numpy_kernels import SHEAR_SUM_NAMES, SUM_NAMES

__all__ = ["JuliaNotAvailableError", "julia_ready", "reason", "require_julia", "julia_verified", "auto_ready",
           "auto_reason", "trusted_families", "load", "load_reverse_mode", "kernels", "install", "selftest", "status",
           "status_lines", "stamp_path", "current_environment", "check_stamp", "check_families", "launch_settings",
           "reverse_mode_installed", "SELFTEST_FUNCTIONS", "SELFTEST_FAMILIES", "KERNEL_FAMILIES", "REVERSE_PACKAGES"]

INSTALL_HINT = (
    "To use the Julia backend, run once on a machine with internet access:\n"
    "    cosmocorr julia install\n"
    "which installs Julia >= 1.10 through juliapkg if needed, resolves the bundled CosmoCorr module and "
    "runs the self-test. To use a Julia you already have, set PYTHON_JULIAPKG_EXE=/path/to/julia first. "
    "Until then use backend='numpy' (the reference implementation)."
)
STAMP_NAME = "cosmocorr_selftest.json"
STAMP_VERSION = 2
#: the self-test checks of each family of Julia functions (each check runs one Julia function
#: once against NumPy); ``"auto"`` uses Julia for a family only when all its checks passed
SELFTEST_FAMILIES = {
    "pair_sums": ("pair_sums_auto", "pair_sums_cross"),
    "bin_index": ("bin_index",),
    "fcm": ("fcm_iterate",),
    "gravity_forward": ("xi_plus_gradient_none_forward", "xi_plus_gradient_c_forward"),
    "gravity_reverse": ("xi_plus_gradient_none_reverse", "xi_plus_gradient_c_reverse"),
    "field_pair_sums": ("field_pair_sums_scalar_auto", "field_pair_sums_scalar_cross",
                        "field_pair_sums_spin2_cross"),
    # sparse fuzzy c-means (neighbours=k): its case comes from the clustering layer that owns the
    # NumPy reference (``cosmocorr.clustering.sparse_fcm.julia_selftest_cases``)
    "fcm_sparse": ("sparse_fcm_iterate",),
}
#: every check a complete stamp contains
SELFTEST_FUNCTIONS = tuple(name for names in SELFTEST_FAMILIES.values() for name in names)
#: the family of each kernel attribute of the namespaces (:func:`kernels`, ``numpy_kernels``;
#: ``pair_sums_fields`` and ``PAIR_SUMS_LOGR`` are NumPy-only options of the pair sums)
KERNEL_FAMILIES = {"pair_sums": "pair_sums", "pair_sums_fields": "pair_sums", "PAIR_SUMS_LOGR": "pair_sums",
                   "bin_index": "bin_index", "fcm_iterate": "fcm", "field_pair_sums": "field_pair_sums",
                   "sparse_fcm_iterate": "fcm_sparse"}


#: the weak dependencies of CosmoCorr's reverse-mode extension ``CosmoCorrReverseExt``
#: (julia/Project.toml [weakdeps] and [compat]): added to juliapkg's environment by
#: ``cosmocorr julia install --reverse-mode`` only
REVERSE_PACKAGES = {
    "SciMLSensitivity": {"uuid": "1ed8b502-d754-442c-8d5d-10ac956f44a1", "version": "7"},
    "Zygote": {"uuid": "e88e6eb3-aa80-5325-afca-941959d7151f", "version": "0.7"},
}
REVERSE_HINT = ("reverse mode (ad='reverse') needs Zygote and SciMLSensitivity, which the core install "
                "leaves out: run `cosmocorr julia install --reverse-mode` once, or use ad='forward'")


class JuliaNotAvailableError(RuntimeError):
    """The Julia backend was requested but Julia is not installed/resolved here."""


_ready = None     # (bool, reason) from _check_state, cached
_verified = None  # {family: (bool, reason)} from the stamp, cached
_module = None    # the private Julia module holding `CosmoCorr`
_load_lock = threading.Lock()  # one start of Julia (load() itself runs on the main thread only)


def _reset_caches():
    global _ready, _verified
    _ready = None
    _verified = None


# ------------------------------------------------------------------ juliapkg's state (no Julia)
def _juliapkg():
    from juliapkg import deps, state

    return deps, state.STATE


def _sha256(path):
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def _manifest(project, julia_version=None):
    """The Manifest file Julia uses for ``project`` (versioned names first, as Julia looks)."""
    names = []
    if julia_version:
        mm = ".".join(str(julia_version).split(".")[:2])
        names += [f"JuliaManifest-v{mm}.toml", f"Manifest-v{mm}.toml"]
    names += ["JuliaManifest.toml", "Manifest.toml"]
    for name in names:
        path = Path(project) / name
        if path.is_file():
            return path
    return None


def _resolved_cosmocorr_path(meta):
    """The CosmoCorr source folder juliapkg developed at the last resolve (from its meta)."""
    for pkg in meta.get("pkgs", []):
        if pkg.get("name") == "CosmoCorr" and pkg.get("path"):
            return Path(pkg["path"])
    return None


def _sources_sha256(folder):
    """Hash of a Julia project's Project.toml, src/**/*.jl and ext/**/*.jl (names and contents)."""
    folder = Path(folder)
    h = hashlib.sha256()
    files = [folder / "Project.toml"] + sorted((folder / "src").rglob("*.jl")) + sorted((folder / "ext").rglob("*.jl"))
    for path in files:
        h.update(path.relative_to(folder).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()


def _check_state():
    """(ready, reason): Julia installed and resolved for the current juliapkg.json files.

    The test juliapkg makes before skipping a resolve (``juliapkg.deps.can_skip_resolve``), done
    from its saved meta only: same executable override, dev and offline settings, the same set of
    ``juliapkg.json`` files found now (:func:`juliapkg.deps.deps_files`) as at the resolve, each
    unchanged (its hash checked when its mtime is newer). Unlike juliapkg this does not run
    ``julia --version``; the stamp check compares the recorded Julia version instead. Then the
    resolved packages must include CosmoCorr with its sources present. Nothing depends on the
    name of the folder cosmocorr is in.
    """
    try:
        deps, state = _juliapkg()
    except ImportError as exc:  # pragma: no cover - juliapkg is a dependency
        return False, f"juliapkg is not importable ({exc})"
    meta = deps.load_meta()
    if meta is None:
        return False, f"juliapkg has not resolved a Julia environment here (no usable {state['meta']})"
    exe = meta.get("executable")
    if not exe or not os.path.isfile(exe):
        return False, f"the Julia executable recorded by juliapkg ({exe}) does not exist"
    if state.get("override_executable") != meta.get("override_executable"):
        return False, "PYTHON_JULIAPKG_EXE changed since the last resolve"
    if bool(state.get("dev")) != bool(meta.get("dev")):
        return False, "juliapkg's dev mode changed since the last resolve"
    if meta.get("offline") and not state.get("offline"):
        return False, "the last resolve was offline"
    resolved = meta.get("deps_files", {})
    current = set(deps.deps_files())
    added, removed = sorted(current - set(resolved)), sorted(set(resolved) - current)
    # juliapkg looks for juliapkg.json files along sys.path, which depends on how Python was
    # started (`python` in a checkout puts the working directory first; the `cosmocorr` script
    # does not): say how to resolve for exactly this way of running
    where = ("; juliapkg scans sys.path, so resolve the way you run Python here, e.g. "
             "`python -m cosmocorr julia install` from this directory")
    if added:
        return False, f"juliapkg.json files found since the last resolve: {', '.join(added)}{where}"
    if removed:
        return False, f"juliapkg.json files no longer found since the last resolve: {', '.join(removed)}{where}"
    for fn, info in resolved.items():
        if not os.path.isfile(fn):
            return False, f"dependency file {fn} has disappeared since the last resolve"
        if os.path.getmtime(fn) > info.get("timestamp", 0) and _sha256(fn) != info.get("hash_sha256"):
            return False, f"dependency file {fn} changed since the last resolve"
    source = _resolved_cosmocorr_path(meta)
    if source is None:
        return False, "the resolved Julia environment does not include CosmoCorr"
    if not (source / "src" / "CosmoCorr.jl").is_file():
        return False, f"the CosmoCorr sources resolved at {source} are missing"
    if _manifest(state["project"], meta.get("version")) is None:
        return False, f"no Manifest.toml in juliapkg's project {state['project']}"
    return True, f"Julia {meta.get('version')} at {exe}; CosmoCorr from {source}"


def reverse_mode_installed():
    """True when juliapkg's last resolve included the reverse-mode packages (files only)."""
    try:
        deps, _ = _juliapkg()
    except ImportError:  # pragma: no cover - juliapkg is a dependency
        return False
    names = {pkg.get("name") for pkg in (deps.load_meta() or {}).get("pkgs", [])}
    return set(REVERSE_PACKAGES) <= names


def julia_ready():
    """True when Julia is installed and resolved for this environment (cached; no Julia started)."""
    global _ready
    if _ready is None:
        _ready = _check_state()
    return _ready[0]


def reason():
    """Why the Julia backend is (not) ready, in one line."""
    julia_ready()
    return _ready[1]


def require_julia():
    """Raise :class:`JuliaNotAvailableError` with installation instructions unless Julia is ready."""
    if not julia_ready():
        raise JuliaNotAvailableError(f"Julia backend not available: {_ready[1]}.\n{INSTALL_HINT}")


# ------------------------------------------------------------------ the self-test stamp (no Julia)
def stamp_path():
    """Where the self-test stamp lives: next to juliapkg's meta.json (its state folder)."""
    _, state = _juliapkg()
    return Path(state["prefix"]) / STAMP_NAME


def _executable_identity(exe):
    """Hash of what identifies the Julia installation behind ``exe``, from files only: the
    executable's real path, size, mtime and content, and the name, size and mtime of every
    ``libjulia*`` library in its ``../lib`` and ``../lib/julia`` folders (where the launcher
    finds the runtime). An in-place upgrade or reinstall of Julia at the same path changes it
    (juliapkg's recorded version would not, until the next resolve)."""
    if not exe or not os.path.isfile(exe):
        return None
    real = Path(os.path.realpath(exe))
    h = hashlib.sha256()
    st = real.stat()
    h.update(f"{real}\0{st.st_size}\0{st.st_mtime_ns}\0{_sha256(real)}\0".encode())
    for folder in (real.parent.parent / "lib", real.parent.parent / "lib" / "julia"):
        if folder.is_dir():
            for lib in sorted(folder.glob("libjulia*")):
                ls = lib.stat()
                h.update(f"{lib.name}\0{ls.st_size}\0{ls.st_mtime_ns}\0".encode())
    return h.hexdigest()


def _bridge_sha256():
    """Hash of the Python half of the bridge (this file: the conversions, transposes and index
    shifts between NumPy and Julia), so that editing it invalidates the stamp too."""
    return _sha256(__file__)


def current_environment():
    """What a stamp must match, from files only: cosmocorr version, Julia version and executable
    recorded by juliapkg, the identity of that executable (:func:`_executable_identity`), hash of
    the resolved Manifest, of the CosmoCorr sources and of this bridge module."""
    # the version of the imported cosmocorr (already loaded: this module is part of it); read from
    # sys.modules so that the backends layer imports nothing from the layers above it
    version = sys.modules[__name__.split(".")[0]].__version__
    deps, state = _juliapkg()
    meta = deps.load_meta() or {}
    manifest = _manifest(state["project"], meta.get("version"))
    source = _resolved_cosmocorr_path(meta)
    return {
        "cosmocorr_version": version,
        "julia_version": meta.get("version"),
        "julia_executable": meta.get("executable"),
        "julia_executable_id": _executable_identity(meta.get("executable")),
        "manifest_sha256": None if manifest is None else _sha256(manifest),
        "cosmocorr_jl_sha256": None if source is None or not (source / "Project.toml").is_file()
        else _sources_sha256(source),
        "bridge_sha256": _bridge_sha256(),
    }


def _read_stamp(path, env):
    """(stamp, None) when the stamp at ``path`` exists, is readable, has this format and matches
    every entry of the environment ``env``; else (None, why)."""
    path = Path(path)
    if not path.is_file():
        return None, f"no self-test stamp at {path}; run `cosmocorr julia selftest`"
    try:
        stamp = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        return None, f"the self-test stamp {path} is unreadable ({exc}); run `cosmocorr julia selftest`"
    if not isinstance(stamp, dict) or stamp.get("stamp_version") != STAMP_VERSION:
        return None, f"the self-test stamp {path} has an unknown format; run `cosmocorr julia selftest`"
    for key, value in env.items():
        if value is None:
            return None, f"cannot tell the current {key.replace('_', ' ')}; run `cosmocorr julia install`"
        if stamp.get(key) != value:
            return None, (f"the self-test stamp is for {key.replace('_', ' ')} {stamp.get(key)!r}, the environment "
                          f"now has {value!r}; run `cosmocorr julia selftest`")
    if not isinstance(stamp.get("functions"), dict):
        return None, f"the self-test stamp {path} lists no functions; run `cosmocorr julia selftest`"
    return stamp, None


def _passed(result):
    return isinstance(result, dict) and result.get("passed") is True


def check_families(path, env):
    """{family: (ok, reason)} for every family of :data:`SELFTEST_FAMILIES`, from the stamp at
    ``path`` and the environment ``env`` (:func:`current_environment`).

    A family is trusted when the stamp matches the environment and records a pass of each of
    its checks. A failed check outside the families (e.g. the Julia version the running Julia
    reported differing from juliapkg's record), or a stamp whose overall result is not passed
    although every family's checks are, fails every family.
    """
    stamp, why = _read_stamp(path, env)
    if stamp is None:
        return {family: (False, why) for family in SELFTEST_FAMILIES}
    functions = stamp["functions"]
    failed_env = [name for name, res in functions.items() if name not in SELFTEST_FUNCTIONS and not _passed(res)]
    if failed_env:
        detail = "; ".join(f"{n}: {_describe(functions[n])}" for n in failed_env)
        return {family: (False, f"the Julia self-test failed ({detail}); the NumPy backend is used")
                for family in SELFTEST_FAMILIES}
    out = {}
    for family, names in SELFTEST_FAMILIES.items():
        missing = [n for n in names if n not in functions]
        failed = [n for n in names if n in functions and not _passed(functions[n])]
        if missing:
            out[family] = (False, f"the self-test stamp does not cover {', '.join(missing)}; "
                                  f"run `cosmocorr julia selftest`")
        elif failed:
            detail = "; ".join(f"{n}: {_describe(functions[n])}" for n in failed)
            verdict = "was not run" if all(functions[n].get("skipped") for n in failed) else "failed"
            out[family] = (False, f"the Julia self-test {verdict} ({detail}); NumPy is used for {family}")
        else:
            out[family] = (True, f"self-test passed ({stamp.get('created', 'unknown time')})")
    if stamp.get("passed") is not True and all(ok for ok, _ in out.values()):
        return {family: (False, "the self-test stamp's overall result is not passed; the NumPy backend is used")
                for family in SELFTEST_FAMILIES}
    return out


def _summary(results):
    """(all ok, reason) over {family: (ok, reason)}: the reasons of the failing families, once each."""
    bad = list(dict.fromkeys(why for ok, why in results.values() if not ok))
    if not bad:
        return True, next(iter(results.values()))[1]
    return False, "; ".join(bad)


def check_stamp(path, env):
    """(ok, reason) for the stamp at ``path`` against the environment ``env``: ok when every
    family of :func:`check_families` is trusted."""
    return _summary(check_families(path, env))


def _describe(result):
    if not isinstance(result, dict):
        return "no result"
    if "error" in result:
        return result["error"]
    return f"max |diff| {result.get('max_abs_diff')}"


def _check_family(family):
    if family not in SELFTEST_FAMILIES:
        raise ValueError(f"family must be one of {tuple(SELFTEST_FAMILIES)}, got {family!r}")
    return family


def _families():
    """{family: (ok, reason)} from the stamp for this environment (cached; files only)."""
    global _verified
    if _verified is None:
        try:
            _verified = check_families(stamp_path(), current_environment())
        except ImportError as exc:  # pragma: no cover - juliapkg is a dependency
            _verified = {family: (False, f"juliapkg is not importable ({exc})") for family in SELFTEST_FAMILIES}
    return _verified


def julia_verified(family=None):
    """True when the self-test stamp exists, matches this environment and passed: for ``family``
    (a key of :data:`SELFTEST_FAMILIES`), or for every family when None (cached)."""
    results = _families()
    if family is None:
        return all(ok for ok, _ in results.values())
    return results[_check_family(family)][0]


def _on_main_thread():
    return threading.current_thread() is threading.main_thread()


def auto_ready(family=None):
    """What ``backend="auto"`` needs to run ``family`` on Julia (every family when None):
    resolved (:func:`julia_ready`), verified for it (:func:`julia_verified`) and called from the
    main Python thread (elsewhere "auto" means NumPy). Reads files only."""
    return julia_ready() and _on_main_thread() and julia_verified(family)


def trusted_families():
    """The families ``"auto"`` runs on Julia here (a tuple, possibly empty). Reads files only."""
    if not julia_ready() or not _on_main_thread():
        return ()
    return tuple(family for family, (ok, _) in _families().items() if ok)


def auto_reason(family=None):
    """Why ``"auto"`` does (not) choose Julia for ``family`` (every family when None), in one line."""
    if not julia_ready():
        return f"Julia is not ready: {reason()}"
    if not _on_main_thread():
        return "called from a worker thread: the Julia backend runs on the main Python thread only"
    results = _families()
    if family is None:
        return _summary(results)[1]
    return results[_check_family(family)][1]


# ------------------------------------------------------------------ loading Julia
def _thread_count(value):
    """Julia's default-pool thread count from a ``--threads`` value ("4", "4,1", "auto")."""
    first = str(value).split(",")[0].strip()
    if first == "auto":
        return os.cpu_count() or 1
    try:
        return int(first)
    except ValueError:
        return 2    # unknown: assume several threads (the safe side for signal handling)


def launch_settings(environ=None, xoptions=None):
    """The juliacall settings cosmocorr adds before Julia starts, as environment variables.

    juliacall takes its thread count from ``-X juliacall-threads``, then
    ``PYTHON_JULIACALL_THREADS``, then ``JULIA_NUM_THREADS``, else 1. When none of these is
    set, cosmocorr asks for ``auto`` (all cores, for the task-parallel kernels); any of them
    set by the user is left alone. With more than one thread, PythonCall recommends letting
    Julia handle signals (``PYTHON_JULIACALL_HANDLE_SIGNALS=yes``: Julia's GC safepoints use
    deliberate segfaults that would otherwise kill the process); cosmocorr sets it then unless
    the user chose (``-X juliacall-handle-signals`` or the variable). Its cost: Ctrl-C no longer
    raises ``KeyboardInterrupt`` in Python (see docs/julia.md). With one thread nothing is set,
    and Ctrl-C keeps Python's behaviour.

    Returns a dict of the variables to set (empty when the user's settings cover both).
    """
    environ = os.environ if environ is None else environ
    xoptions = getattr(sys, "_xoptions", {}) if xoptions is None else xoptions
    settings = {}
    threads = xoptions.get("juliacall-threads") or environ.get("PYTHON_JULIACALL_THREADS") \
        or environ.get("JULIA_NUM_THREADS")
    if not threads:
        threads = settings["PYTHON_JULIACALL_THREADS"] = "auto"
    signals = xoptions.get("juliacall-handle-signals") or environ.get("PYTHON_JULIACALL_HANDLE_SIGNALS")
    if not signals and _thread_count(threads) > 1:
        settings["PYTHON_JULIACALL_HANDLE_SIGNALS"] = "yes"
    return settings


def _require_main_thread():
    """The Julia backend runs on the main Python thread only (RuntimeError elsewhere)."""
    if not _on_main_thread():
        raise RuntimeError(
            "the Julia backend can only be called from the main Python thread (this is "
            f"{threading.current_thread().name!r}): its kernels wait on Julia tasks, which yields to "
            "Julia's scheduler, and PythonCall documents that this can hang when done from another "
            "Python thread. Call it from the main thread, or use backend='numpy' in worker threads.")


def load():
    """Start Julia (once) and load ``CosmoCorr`` into a private module (juliacall's
    ``newmodule``, so nothing is added to ``Main``); returns that module. Main thread only."""
    global _module
    _require_main_thread()
    if _module is not None:
        return _module
    with _load_lock:
        if _module is None:
            require_julia()
            if "juliacall" not in sys.modules:
                os.environ.update(launch_settings())
            from juliacall import newmodule  # noqa: PLC0415 - lazy by design

            module = newmodule("CosmoCorrBridge")
            module.seval("using CosmoCorr: CosmoCorr")
            _module = module
    return _module


_reverse_loaded = False


def load_reverse_mode():
    """Load Zygote and SciMLSensitivity into the bridge's module, which makes Julia load
    CosmoCorr's package extension ``CosmoCorrReverseExt`` (the reverse-mode path); once.
    Raises :class:`JuliaNotAvailableError` when they were not installed
    (``cosmocorr julia install --reverse-mode``) or the extension did not load."""
    global _reverse_loaded
    module = load()
    if not _reverse_loaded:
        if not reverse_mode_installed():
            raise JuliaNotAvailableError(REVERSE_HINT)
        module.seval("import Zygote, SciMLSensitivity")
        if not bool(module.seval("CosmoCorr.reverse_mode_loaded()")):
            raise JuliaNotAvailableError("Zygote and SciMLSensitivity loaded but CosmoCorr's extension "
                                         "CosmoCorrReverseExt did not (Julia >= 1.9 and a Manifest written by "
                                         "it are needed): run `cosmocorr julia install --reverse-mode`")
        _reverse_loaded = True
    return module


def _complex_or_none(g):
    return None if g is None else np.ascontiguousarray(g, dtype=complex)


def kernels():
    """Kernel namespace with the same functions as :mod:`cosmocorr.backends.numpy_kernels`, on Julia."""
    module = load()
    cc = module.CosmoCorr

    def pair_sums(xyz1, w1, g1, xyz2, w2, g2, min_sep, max_sep, nbins, log, auto, chunk_pairs=None):
        _require_main_thread()
        out = cc.pair_sums(
            np.ascontiguousarray(xyz1, dtype=float), np.ascontiguousarray(w1, dtype=float), _complex_or_none(g1),
            np.ascontiguousarray(xyz2, dtype=float), np.ascontiguousarray(w2, dtype=float), _complex_or_none(g2),
            float(min_sep), float(max_sep), int(nbins), bool(log), bool(auto),
        )
        # PythonCall hands a Julia NamedTuple over as an AnyValue (no keys()/values()): read
        # its fields by their known names and copy each Vector{Float64} into NumPy
        names = SUM_NAMES + (SHEAR_SUM_NAMES if g1 is not None else ())
        return {name: np.array(getattr(out, name), dtype=float) for name in names}

    def field_pair_sums(xyz1, w1, f1, xyz2, w2, f2, kind, min_sep, max_sep, nbins, log, auto, chunk_pairs=None,
                        logr=False):
        """NK/KK/NG/KG sums as ``numpy_kernels.field_pair_sums`` (``wlogr`` with ``logr``)."""
        _require_main_thread()
        if kind not in ("scalar", "spin2"):
            raise ValueError(f"kind must be 'scalar' or 'spin2', got {kind!r}")
        out = cc.field_pair_sums(
            np.ascontiguousarray(xyz1, dtype=float), np.ascontiguousarray(w1, dtype=float),
            np.ascontiguousarray(f1, dtype=complex), np.ascontiguousarray(xyz2, dtype=float),
            np.ascontiguousarray(w2, dtype=float), np.ascontiguousarray(f2, dtype=complex), str(kind),
            float(min_sep), float(max_sep), int(nbins), bool(log), bool(auto), logr=bool(logr))
        names = SUM_NAMES + (("wlogr",) if logr else ()) + ("xi", "xi_im")
        return {name: np.array(getattr(out, name), dtype=float) for name in names}

    def bin_index(r, min_sep, max_sep, nbins, log):
        _require_main_thread()
        r = np.asarray(r, dtype=float)
        k = cc.bin_index(np.ascontiguousarray(r.ravel()), float(min_sep), float(max_sep), int(nbins), bool(log))
        return (np.array(k, dtype=np.intp) - 1).reshape(r.shape)

    def fcm_iterate(xyz, cxyz, fuzziness, tol, max_iter, weights=None, block=None, relax=1.0, progress=None):
        _require_main_thread()
        if relax != 1.0:
            raise NotImplementedError("accelerate=True (over-relaxed fuzzy c-means) runs on the numpy backend")
        out = cc.fcm_iterate(np.ascontiguousarray(xyz, dtype=float), np.ascontiguousarray(cxyz, dtype=float),
                             float(fuzziness), float(tol), int(max_iter),
                             None if weights is None else np.ascontiguousarray(weights, dtype=float))
        if progress is not None:
            progress.update(int(out.n_iter))     # the Julia loop reports once, at its end
        # the Julia kernel stores the memberships c x N (a column per object, contiguous in
        # Julia's column-major memory); NumPy's convention is (N, c)
        membership = np.ascontiguousarray(np.array(out.membership, dtype=float).T)
        return (np.array(out.centers, dtype=float), membership, int(out.n_iter),
                np.array(out.objective, dtype=float), bool(out.converged))

    def sparse_fcm_iterate(xyz, cxyz, fuzziness, tol, max_iter, neighbours, weights=None, block=None, relax=1.0,
                           num_threads=None, progress=None):
        """``cosmocorr.clustering.sparse_fcm.sparse_fcm_iterate`` on Julia (same arguments and
        results; Julia's own thread count, not ``num_threads``; ``relax`` = 1 only)."""
        _require_main_thread()
        if relax != 1.0:
            raise NotImplementedError("accelerate=True (over-relaxed sparse fuzzy c-means) runs on the numpy backend")
        cxyz = np.ascontiguousarray(cxyz, dtype=float)
        out = cc.sparse_fcm_iterate(np.ascontiguousarray(xyz, dtype=float), cxyz, float(fuzziness), float(tol),
                                    int(max_iter), int(neighbours),
                                    None if weights is None else np.ascontiguousarray(weights, dtype=float),
                                    block=None if block is None else int(block))
        if progress is not None:
            progress.update(int(out.n_iter))     # the Julia loop reports once, at its end
        # neighbours and memberships come k x N (a column per object), the indices 1-based
        idx = np.array(out.neighbours, dtype=np.int64) - 1
        U = neighbour_csr(idx, np.array(out.membership, dtype=float), cxyz.shape[1])
        return (np.array(out.centers, dtype=float), U, int(out.n_iter), np.array(out.objective, dtype=float),
                bool(out.converged), int(out.requeried))

    def xi_plus_gradient(G, x0, v0, g1, g2, edges, alpha, labels=None, ad="forward", t_max=None, softening=0.01,
                         rtol=1e-10, atol=1e-12, observer_distance=10.0):
        """(xi, dxi_dG) of the gravity forward model: Tsit5 with ForwardDiff (``ad="forward"``) or
        Zygote through SciMLSensitivity's adjoint (``"reverse"``); ``labels`` (0-based) select approach c.
        ``x0``, ``v0`` are (N, 3) as in :mod:`cosmocorr.differentiable.gravity`."""
        if ad not in ("forward", "reverse"):
            raise ValueError(f"ad must be 'forward' or 'reverse', got {ad!r}")
        _require_main_thread()
        if ad == "reverse":
            load_reverse_mode()
        out = cc.xi_plus_gradient(
            float(G), np.ascontiguousarray(np.asarray(x0, dtype=float).T),
            np.ascontiguousarray(np.asarray(v0, dtype=float).T),
            np.ascontiguousarray(g1, dtype=float), np.ascontiguousarray(g2, dtype=float),
            np.ascontiguousarray(edges, dtype=float), float(alpha),
            mode=ad, labels=None if labels is None else np.asarray(labels, dtype=np.int64) + 1,
            t_max=float(2 * np.pi if t_max is None else t_max), softening=float(softening), reltol=float(rtol),
            abstol=float(atol), observer_distance=float(observer_distance))
        return np.array(out.xi, dtype=float), np.array(out.dxi_dG, dtype=float)

    return SimpleNamespace(pair_sums=pair_sums, field_pair_sums=field_pair_sums, bin_index=bin_index,
                           fcm_iterate=fcm_iterate, sparse_fcm_iterate=sparse_fcm_iterate,
                           xi_plus_gradient=xi_plus_gradient)


def install(reverse_mode=False):
    """One-time set-up: let juliapkg resolve Julia and the CosmoCorr dependencies, then load
    (and so precompile) CosmoCorr. ``cosmocorr julia install`` follows this with the self-test.

    The core (pair sums, bin indices, fuzzy c-means, forward-mode gravity: OrdinaryDiffEq and
    ForwardDiff) is always resolved. ``reverse_mode=True`` first adds :data:`REVERSE_PACKAGES`
    (Zygote, SciMLSensitivity) to juliapkg's own ``juliapkg.json`` of this environment, so the
    resolve installs and precompiles them and CosmoCorr's reverse-mode extension; without it an
    earlier ``--reverse-mode`` install is kept as it is.
    """
    import juliapkg

    if reverse_mode:
        for name, spec in REVERSE_PACKAGES.items():
            juliapkg.add(name, spec["uuid"], version=spec["version"])
    print("Resolving the Julia environment (installs Julia >= 1.10 if needed; needs internet access)"
          + (", with the reverse-mode packages Zygote and SciMLSensitivity" if reverse_mode else "") + "...")
    # force: juliapkg skips a resolve when its juliapkg.json files are unchanged, which would
    # keep a Manifest without a dependency that a new CosmoCorr Project.toml added
    juliapkg.resolve(force=True)
    _reset_caches()
    load()
    if reverse_mode:
        load_reverse_mode()
    print(f"Julia backend installed: {reason()}; reverse mode "
          f"{'installed' if reverse_mode_installed() else 'not installed (add it with --reverse-mode)'}")


# ------------------------------------------------------------------ the self-test (needs Julia)
def _compare(reference, result, rtol, atol):
    """Max ``|difference|`` over the arrays of two dicts, and whether every entry is within
    atol + rtol ``|reference|`` (NaN where, and only where, the reference is NaN)."""
    worst, ok = 0.0, True
    for key, ref in reference.items():
        ref = np.asarray(ref, dtype=float)
        got = np.asarray(result[key], dtype=float)
        if got.shape != ref.shape:
            return {"passed": False, "error": f"{key}: shape {got.shape}, expected {ref.shape}"}
        nan_ref, nan_got = np.isnan(ref), np.isnan(got)
        if np.any(nan_ref != nan_got):
            return {"passed": False, "error": f"{key}: NaN where the NumPy reference has none (or the reverse)"}
        diff = np.abs(got - ref)[~nan_ref]
        if diff.size:
            worst = max(worst, float(diff.max()))
            ok = ok and bool(np.all(diff <= atol + rtol * np.abs(ref[~nan_ref])))
    return {"passed": ok, "max_abs_diff": worst, "rtol": rtol, "atol": atol}


def _kernel_cases():
    """(name, case) for the kernels: ``case(julia_kernels)`` returns (reference, result, rtol,
    atol), NumPy reference and Julia result as dicts of arrays, on small seeded inputs."""
    from ..sky.synthetic import synthetic_shear_catalog
    from . import numpy_kernels
    from .numpy_fcm import fcm_iterate as numpy_fcm_iterate

    c1 = synthetic_shear_catalog(300, seed=1, weighted=True)
    c2 = synthetic_shear_catalog(200, seed=2, weighted=True)

    def pair_case(a, b, lo, hi, nbins, log, auto):
        def case(jk):
            args = (a.xyz, a.w, a.g, b.xyz, b.w, b.g, lo, hi, nbins, log, auto)
            ref, got = numpy_kernels.pair_sums(*args), jk.pair_sums(*args)
            counts = (a.xyz, a.w, None, b.xyz, b.w, None, lo, hi, nbins, log, auto)
            ref.update({f"{k}_counts_only": v for k, v in numpy_kernels.pair_sums(*counts).items()})
            got.update({f"{k}_counts_only": v for k, v in jk.pair_sums(*counts).items()})
            return ref, got, 1e-10, 1e-12
        return case

    def bin_case(jk):
        rng = np.random.default_rng(3)
        r = np.concatenate([[0.0, 0.5, 60.0, 1e-300], rng.uniform(0.0, 70.0, 2000)])
        ref = {"linear": numpy_kernels.bin_index(r, 0.0, 60.0, 7, False),
               "log": numpy_kernels.bin_index(r, 0.5, 60.0, 7, True)}
        got = {"linear": jk.bin_index(r, 0.0, 60.0, 7, False), "log": jk.bin_index(r, 0.5, 60.0, 7, True)}
        return ref, got, 0.0, 0.0

    def fcm_case(jk):
        from ..sky.geometry import unit_vectors

        rng = np.random.default_rng(4)
        ra, dec = rng.uniform(149.0, 151.0, 300), rng.uniform(1.0, 3.0, 300)
        xyz = unit_vectors(ra, dec)
        init = xyz[:, :12].copy()   # 12 of the objects as starting centres
        # fuzzy_c_means' defaults: fuzziness 2, tol 1e-6, max_iter 300, no weights
        ref = numpy_fcm_iterate(xyz, init, 2.0, 1e-6, 300)
        got = jk.fcm_iterate(xyz, init, 2.0, 1e-6, 300)
        names = ("centers", "membership", "n_iter", "objective", "converged")
        return dict(zip(names, ref)), dict(zip(names, got)), 1e-8, 1e-10

    def field_case(kind, a, b, fa, fb, lo, log, auto):
        def case(jk):
            reference = getattr(numpy_kernels, "field_pair_sums", None)
            if reference is None:
                raise JuliaNotAvailableError("the NumPy reference field_pair_sums is not in this cosmocorr")
            args = (a.xyz, a.w, fa, b.xyz, b.w, fb, kind, lo, 60.0, 7, log, auto)
            return reference(*args, logr=True), jk.field_pair_sums(*args, logr=True), 1e-10, 1e-12
        return case

    kappa = np.random.default_rng(5).normal(size=c1.nobj) + 0j
    return [("pair_sums_auto", pair_case(c1, c1, 0.0, 60.0, 7, False, True)),
            ("pair_sums_cross", pair_case(c1, c2, 0.5, 60.0, 7, True, False)),
            ("bin_index", bin_case), ("fcm_iterate", fcm_case),
            ("field_pair_sums_scalar_auto", field_case("scalar", c1, c1, kappa, kappa, 0.0, False, True)),
            ("field_pair_sums_scalar_cross", field_case("scalar", c1, c2, np.ones(c1.nobj) + 0j, c2.g.real + 0j,
                                                        0.5, True, False)),
            ("field_pair_sums_spin2_cross", field_case("spin2", c1, c2, kappa, c2.g, 0.5, True, False))]


def selftest(extra_cases=(), path=None, echo=print):
    """Run every Julia function once against the NumPy reference and write the stamp.

    ``extra_cases`` are more (name, case) pairs (``cosmocorr julia selftest`` adds the gravity
    forward model, d xi+/d G in both AD modes, from the layer that owns it). A case that raises
    counts as failed. The stamp (JSON: cosmocorr version, Julia version and executable, hashes
    of the Manifest and of the CosmoCorr sources, per-function pass/fail and max ``|difference|``)
    goes to :func:`stamp_path` unless ``path`` is given. Returns the stamp.
    """
    require_julia()
    jk = kernels()
    version = str(load().seval("string(VERSION)"))
    functions = {}
    for name, case in list(_kernel_cases()) + list(extra_cases):
        try:
            reference, result, rtol, atol = case(jk)
            functions[name] = _compare(reference, result, rtol, atol)
        except JuliaNotAvailableError as exc:   # e.g. reverse mode not installed: not run, not trusted
            functions[name] = {"passed": False, "skipped": True, "error": str(exc)}
        except Exception as exc:  # noqa: BLE001 - any failure is a failed check, reported
            functions[name] = {"passed": False, "error": f"{type(exc).__name__}: {exc}"}
        if echo is not None:
            mark = "ok  " if functions[name]["passed"] else "skip" if functions[name].get("skipped") else "FAIL"
            echo(f"  {mark} {name}: {_describe(functions[name])}")
    env = current_environment()
    if env["julia_version"] != version:
        functions["julia_version"] = {"passed": False,
                                      "error": f"Julia reports {version}, juliapkg recorded {env['julia_version']}"}
    # the overall result: every check that ran passed (a skipped family is simply not trusted)
    passed = all(f["passed"] or f.get("skipped") for f in functions.values()) and \
        all(n in functions for n in SELFTEST_FUNCTIONS)
    stamp = {"stamp_version": STAMP_VERSION, **env, "julia_threads": int(load().seval("Threads.nthreads()")),
             "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
             "passed": passed, "functions": functions}
    path = stamp_path() if path is None else Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(stamp, indent=1) + "\n")
    os.replace(tmp, path)
    _reset_caches()
    return stamp


def status():
    """What the backend decision sees, as a dict (reads files only; starts no Julia).

    ``auto_families`` says, for each family of :data:`SELFTEST_FAMILIES`, which backend
    ``"auto"`` uses and why; ``auto_resolves_to`` is ``"julia"`` when that is every family,
    ``"numpy"`` when none and ``"mixed"`` otherwise.
    """
    try:
        path = str(stamp_path())
    except ImportError:  # pragma: no cover - juliapkg is a dependency
        path = None
    trusted = trusted_families()
    families = {family: {"backend": "julia" if family in trusted else "numpy", "reason": auto_reason(family)}
                for family in SELFTEST_FAMILIES}
    overall = "julia" if len(trusted) == len(SELFTEST_FAMILIES) else "mixed" if trusted else "numpy"
    return {"julia_ready": julia_ready(), "reason": reason(), "verified": julia_ready() and julia_verified(),
            "auto_resolves_to": overall, "auto_families": families, "auto_reason": auto_reason(), "stamp": path,
            "reverse_mode_installed": reverse_mode_installed(), "juliacall_imported": "juliacall" in sys.modules}


def status_lines(info=None):
    """:func:`status` as short human-readable lines (one per family), for ``cosmocorr julia status``."""
    info = status() if info is None else info
    lines = [f"Julia: {'ready' if info['julia_ready'] else 'not ready'} ({info['reason']})",
             f"reverse mode (Zygote, SciMLSensitivity): "
             f"{'installed' if info['reverse_mode_installed'] else 'not installed (cosmocorr julia install --reverse-mode)'}",
             f"backend='auto' uses: {info['auto_resolves_to']}"]
    width = max(len(f) for f in info["auto_families"])
    for family, entry in info["auto_families"].items():
        lines.append(f"  {family:<{width}}  {entry['backend']:<5}  {entry['reason']}")
    return lines
