"""The Julia backend: lazy juliacall bridge to the bundled ``CosmoCorr`` module (pair sums, fuzzy
c-means and the differentiable gravity path of paper secs. 4 and 6), its set-up, status and self-test.

Nothing here imports juliacall until the Julia backend is actually used. Three questions are
answered from files only (never starting Julia, never resolving, never downloading):

- :func:`julia_ready`: is Julia installed and resolved for this environment, with the current
  ``juliapkg.json`` files (:func:`_check_state`, the comparison juliapkg itself makes before
  deciding it can skip a resolve)? ``backend="julia"`` needs this.
- :func:`julia_verified`: has the self-test passed for exactly this environment? The stamp
  written by :func:`selftest` must exist next to juliapkg's state, match the cosmocorr version,
  the Julia version and executable, the resolved ``Manifest.toml`` and the ``CosmoCorr``
  sources, and record a pass of every checked function. ``backend="auto"`` chooses Julia only
  then (:func:`auto_ready`); :func:`status` says why not.

One-time set-up, on a machine with internet access::

    cosmocorr julia install      # resolve (installs Julia >= 1.10 if needed), then the self-test
    cosmocorr julia selftest     # again, e.g. after editing julia/src
    cosmocorr julia status       # what "auto" decides, and why

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

from .numpy_kernels import SHEAR_SUM_NAMES, SUM_NAMES

__all__ = ["JuliaNotAvailableError", "julia_ready", "reason", "require_julia", "julia_verified", "auto_ready",
           "auto_reason", "load", "kernels", "install", "selftest", "status", "stamp_path", "current_environment",
           "check_stamp", "SELFTEST_FUNCTIONS"]

INSTALL_HINT = (
    "To use the Julia backend, run once on a machine with internet access:\n"
    "    cosmocorr julia install\n"
    "which installs Julia >= 1.10 through juliapkg if needed, resolves the bundled CosmoCorr module and "
    "runs the self-test. To use a Julia you already have, set PYTHON_JULIAPKG_EXE=/path/to/julia first. "
    "Until then use backend='numpy' (the reference implementation)."
)
STAMP_NAME = "cosmocorr_selftest.json"
STAMP_VERSION = 1
#: every check a passing stamp must contain (the Julia functions, each run once against NumPy)
SELFTEST_FUNCTIONS = ("pair_sums_auto", "pair_sums_cross", "bin_index", "fcm_iterate",
                      "xi_plus_gradient_none_forward", "xi_plus_gradient_none_reverse",
                      "xi_plus_gradient_c_forward", "xi_plus_gradient_c_reverse")


class JuliaNotAvailableError(RuntimeError):
    """The Julia backend was requested but Julia is not installed/resolved here."""


_ready = None     # (bool, reason) from _check_state, cached
_verified = None  # (bool, reason) from the stamp, cached
_module = None    # the private Julia module holding `CosmoCorr`
_load_lock = threading.Lock()  # one start of Julia, even when kernels are first used from threads


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
    """Hash of a Julia project's Project.toml and src/**/*.jl (names and contents)."""
    folder = Path(folder)
    h = hashlib.sha256()
    files = [folder / "Project.toml"] + sorted((folder / "src").rglob("*.jl"))
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


def current_environment():
    """What a stamp must match, from files only: cosmocorr version, Julia version and executable
    recorded by juliapkg, hash of the resolved Manifest and of the CosmoCorr sources."""
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
        "manifest_sha256": None if manifest is None else _sha256(manifest),
        "cosmocorr_jl_sha256": None if source is None or not (source / "Project.toml").is_file()
        else _sources_sha256(source),
    }


def check_stamp(path, env):
    """(ok, reason) for the stamp at ``path`` against the environment ``env``
    (:func:`current_environment`): it must exist, be readable, match every entry of ``env`` and
    record a pass of every function in :data:`SELFTEST_FUNCTIONS`."""
    path = Path(path)
    if not path.is_file():
        return False, f"no self-test stamp at {path}; run `cosmocorr julia selftest`"
    try:
        stamp = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        return False, f"the self-test stamp {path} is unreadable ({exc}); run `cosmocorr julia selftest`"
    if not isinstance(stamp, dict) or stamp.get("stamp_version") != STAMP_VERSION:
        return False, f"the self-test stamp {path} has an unknown format; run `cosmocorr julia selftest`"
    for key, value in env.items():
        if value is None:
            return False, f"cannot tell the current {key.replace('_', ' ')}; run `cosmocorr julia install`"
        if stamp.get(key) != value:
            return False, (f"the self-test stamp is for {key.replace('_', ' ')} {stamp.get(key)!r}, the environment "
                           f"now has {value!r}; run `cosmocorr julia selftest`")
    functions = stamp.get("functions")
    if not isinstance(functions, dict):
        return False, f"the self-test stamp {path} lists no functions; run `cosmocorr julia selftest`"
    missing = [name for name in SELFTEST_FUNCTIONS if name not in functions]
    if missing:
        return False, f"the self-test stamp does not cover {', '.join(missing)}; run `cosmocorr julia selftest`"
    failed = [name for name in SELFTEST_FUNCTIONS if not (isinstance(functions[name], dict)
                                                          and functions[name].get("passed") is True)]
    if failed or stamp.get("passed") is not True:
        detail = "; ".join(f"{n}: {_describe(functions[n])}" for n in failed) or "overall result not passed"
        return False, f"the Julia self-test failed ({detail}); the NumPy backend is used"
    return True, f"self-test passed ({stamp.get('created', 'unknown time')})"


def _describe(result):
    if not isinstance(result, dict):
        return "no result"
    if "error" in result:
        return result["error"]
    return f"max |diff| {result.get('max_abs_diff')}"


def julia_verified():
    """True when the self-test stamp exists, matches this environment and passed (cached)."""
    global _verified
    if _verified is None:
        try:
            _verified = check_stamp(stamp_path(), current_environment())
        except ImportError as exc:  # pragma: no cover - juliapkg is a dependency
            _verified = (False, f"juliapkg is not importable ({exc})")
    return _verified[0]


def auto_ready():
    """What ``backend="auto"`` needs for Julia: resolved (:func:`julia_ready`) and verified
    (:func:`julia_verified`). Reads files only."""
    return julia_ready() and julia_verified()


def auto_reason():
    """Why ``"auto"`` does (not) choose Julia, in one line."""
    if not julia_ready():
        return f"Julia is not ready: {reason()}"
    julia_verified()
    return _verified[1]


# ------------------------------------------------------------------ loading Julia
def load():
    """Start Julia (once) and load ``CosmoCorr`` into a private module (juliacall's
    ``newmodule``, so nothing is added to ``Main``); returns that module."""
    global _module
    if _module is not None:
        return _module
    with _load_lock:
        if _module is None:
            require_julia()
            if "juliacall" not in sys.modules:
                # as PySR does: use all cores for the task-parallel pair sums, and let Julia handle
                # signals (PythonCall's advice with several threads); explicit user settings win
                os.environ.setdefault("PYTHON_JULIACALL_THREADS", "auto")
                os.environ.setdefault("PYTHON_JULIACALL_HANDLE_SIGNALS", "yes")
            from juliacall import newmodule  # noqa: PLC0415 - lazy by design

            module = newmodule("CosmoCorrBridge")
            module.seval("using CosmoCorr: CosmoCorr")
            _module = module
    return _module


def _complex_or_none(g):
    return None if g is None else np.ascontiguousarray(g, dtype=complex)


def kernels():
    """Kernel namespace with the same functions as :mod:`cosmocorr.backends.numpy_kernels`, on Julia."""
    module = load()
    cc = module.CosmoCorr

    def pair_sums(xyz1, w1, g1, xyz2, w2, g2, min_sep, max_sep, nbins, log, auto, chunk_pairs=None):
        out = cc.pair_sums(
            np.ascontiguousarray(xyz1, dtype=float), np.ascontiguousarray(w1, dtype=float), _complex_or_none(g1),
            np.ascontiguousarray(xyz2, dtype=float), np.ascontiguousarray(w2, dtype=float), _complex_or_none(g2),
            float(min_sep), float(max_sep), int(nbins), bool(log), bool(auto),
        )
        # PythonCall hands a Julia NamedTuple over as an AnyValue (no keys()/values()): read
        # its fields by their known names and copy each Vector{Float64} into NumPy
        names = SUM_NAMES + (SHEAR_SUM_NAMES if g1 is not None else ())
        return {name: np.array(getattr(out, name), dtype=float) for name in names}

    def bin_index(r, min_sep, max_sep, nbins, log):
        r = np.asarray(r, dtype=float)
        k = cc.bin_index(np.ascontiguousarray(r.ravel()), float(min_sep), float(max_sep), int(nbins), bool(log))
        return (np.array(k, dtype=np.intp) - 1).reshape(r.shape)

    def fcm_iterate(xyz, cxyz, fuzziness, tol, max_iter, weights=None, block=None, relax=1.0, progress=None):
        if relax != 1.0:
            raise NotImplementedError("accelerate=True (over-relaxed fuzzy c-means) runs on the numpy backend")
        out = cc.fcm_iterate(np.ascontiguousarray(xyz, dtype=float), np.ascontiguousarray(cxyz, dtype=float),
                             float(fuzziness), float(tol), int(max_iter),
                             None if weights is None else np.ascontiguousarray(weights, dtype=float))
        if progress is not None:
            progress.update(int(out.n_iter))     # the Julia loop reports once, at its end
        return (np.array(out.centers, dtype=float), np.array(out.membership, dtype=float), int(out.n_iter),
                np.array(out.objective, dtype=float), bool(out.converged))

    def xi_plus_gradient(G, x0, v0, g1, g2, edges, alpha, labels=None, ad="forward", t_max=None, softening=0.01,
                         rtol=1e-10, atol=1e-12, observer_distance=10.0):
        """(xi, dxi_dG) of the gravity forward model: Tsit5 with ForwardDiff (``ad="forward"``) or
        Zygote through SciMLSensitivity's adjoint (``"reverse"``); ``labels`` (0-based) select approach c.
        ``x0``, ``v0`` are (N, 3) as in :mod:`cosmocorr.differentiable.gravity`."""
        if ad not in ("forward", "reverse"):
            raise ValueError(f"ad must be 'forward' or 'reverse', got {ad!r}")
        out = cc.xi_plus_gradient(
            float(G), np.ascontiguousarray(np.asarray(x0, dtype=float).T),
            np.ascontiguousarray(np.asarray(v0, dtype=float).T),
            np.ascontiguousarray(g1, dtype=float), np.ascontiguousarray(g2, dtype=float),
            np.ascontiguousarray(edges, dtype=float), float(alpha),
            mode=ad, labels=None if labels is None else np.asarray(labels, dtype=np.int64) + 1,
            t_max=float(2 * np.pi if t_max is None else t_max), softening=float(softening), reltol=float(rtol),
            abstol=float(atol), observer_distance=float(observer_distance))
        return np.array(out.xi, dtype=float), np.array(out.dxi_dG, dtype=float)

    return SimpleNamespace(pair_sums=pair_sums, bin_index=bin_index, fcm_iterate=fcm_iterate,
                           xi_plus_gradient=xi_plus_gradient)


def install():
    """One-time set-up: let juliapkg resolve Julia and the CosmoCorr dependencies, then load
    (and so precompile) CosmoCorr. ``cosmocorr julia install`` follows this with the self-test."""
    import juliapkg

    print("Resolving the Julia environment (installs Julia >= 1.10 if needed; needs internet access)...")
    juliapkg.resolve()
    _reset_caches()
    load()
    print(f"Julia backend installed: {reason()}")


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

    return [("pair_sums_auto", pair_case(c1, c1, 0.0, 60.0, 7, False, True)),
            ("pair_sums_cross", pair_case(c1, c2, 0.5, 60.0, 7, True, False)),
            ("bin_index", bin_case), ("fcm_iterate", fcm_case)]


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
        except Exception as exc:  # noqa: BLE001 - any failure is a failed check, reported
            functions[name] = {"passed": False, "error": f"{type(exc).__name__}: {exc}"}
        if echo is not None:
            echo(f"  {'ok  ' if functions[name]['passed'] else 'FAIL'} {name}: {_describe(functions[name])}")
    env = current_environment()
    if env["julia_version"] != version:
        functions["julia_version"] = {"passed": False,
                                      "error": f"Julia reports {version}, juliapkg recorded {env['julia_version']}"}
    passed = all(f["passed"] for f in functions.values()) and all(n in functions for n in SELFTEST_FUNCTIONS)
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
    """What the backend decision sees, as a dict (reads files only; starts no Julia)."""
    from . import resolve_backend

    try:
        path = str(stamp_path())
    except ImportError:  # pragma: no cover - juliapkg is a dependency
        path = None
    return {"julia_ready": julia_ready(), "reason": reason(), "verified": julia_ready() and julia_verified(),
            "auto_resolves_to": resolve_backend("auto"), "auto_reason": auto_reason(), "stamp": path,
            "juliacall_imported": "juliacall" in sys.modules}
