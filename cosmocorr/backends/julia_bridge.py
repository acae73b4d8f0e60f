"""The Julia backend: lazy juliacall loading of the bundled ``CosmoCorr`` module (PySR style).

Nothing here imports juliacall until the Julia backend is actually used. :func:`julia_ready`
answers "is Julia installed and resolved for this environment?" by reading juliapkg's saved
state only: it never starts Julia, never resolves and never downloads.

One-time set-up, on a machine with internet access::

    cosmocorr julia install        # or: python -m cosmocorr.backends.julia_bridge install

which lets juliapkg install Julia (>= 1.10) if needed and resolve OrdinaryDiffEq, ForwardDiff,
Zygote, SciMLSensitivity and CosmoCorr (declared in ``juliapkg.json``). To use an existing Julia instead, set
``PYTHON_JULIAPKG_EXE=/path/to/julia`` before installing.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from types import SimpleNamespace

import numpy as np

__all__ = ["JuliaNotAvailableError", "julia_ready", "require_julia", "load", "kernels", "install", "status"]

INSTALL_HINT = (
    "To use the Julia backend, run once on a machine with internet access:\n"
    "    cosmocorr julia install        (or: python -m cosmocorr.backends.julia_bridge install)\n"
    "which installs Julia >= 1.10 through juliapkg if needed and resolves the bundled CosmoCorr module. "
    "To use a Julia you already have, set PYTHON_JULIAPKG_EXE=/path/to/julia first. "
    "Until then use backend='numpy' (the reference implementation)."
)


class JuliaNotAvailableError(RuntimeError):
    """The Julia backend was requested but Julia is not installed/resolved here."""


_ready = None  # (bool, reason), cached
_jl = None


def _check_state():
    """(ready, reason) from juliapkg's saved state, without starting Julia."""
    try:
        from juliapkg import deps, state
    except ImportError as exc:  # pragma: no cover - juliapkg is a dependency
        return False, f"juliapkg is not importable ({exc})"
    meta = deps.load_meta()
    if meta is None:
        return False, f"juliapkg has not resolved a Julia environment for {sys.prefix}"
    exe = meta.get("executable")
    if not exe or not os.path.isfile(exe):
        return False, f"the Julia executable recorded by juliapkg ({exe}) does not exist"
    override = state.STATE.get("override_executable")
    if override != meta.get("override_executable"):
        return False, "PYTHON_JULIAPKG_EXE changed since the last resolve"
    files = meta.get("deps_files", {})
    if not any(os.path.basename(f) == "juliapkg.json" and "cosmocorr" in f for f in files):
        return False, "the resolved Julia environment does not include cosmocorr's juliapkg.json"
    for fn, info in files.items():
        if not os.path.isfile(fn):
            return False, f"dependency file {fn} has disappeared since the last resolve"
        if os.path.getmtime(fn) > info.get("timestamp", 0):
            with open(fn, "rb") as fh:
                if hashlib.sha256(fh.read()).hexdigest() != info.get("hash_sha256"):
                    return False, f"dependency file {fn} changed since the last resolve"
    return True, f"Julia {meta.get('version')} at {exe}"


def julia_ready():
    """True when Julia is installed and resolved for this environment (cached; no Julia started)."""
    global _ready
    if _ready is None:
        _ready = _check_state()
    return _ready[0]


def reason():
    """Why the Julia backend is (not) available, in one line."""
    julia_ready()
    return _ready[1]


def require_julia():
    """Raise :class:`JuliaNotAvailableError` with installation instructions unless Julia is ready."""
    if not julia_ready():
        raise JuliaNotAvailableError(f"Julia backend not available: {_ready[1]}.\n{INSTALL_HINT}")


def load():
    """Import juliacall and ``using CosmoCorr`` (once); returns the ``Main`` module."""
    global _jl
    if _jl is None:
        require_julia()
        from juliacall import Main as jl  # noqa: PLC0415 - lazy by design

        jl.seval("using CosmoCorr")
        _jl = jl
    return _jl


def _named_tuple_to_dict(nt):
    return {str(k): np.asarray(v, dtype=float) for k, v in zip(nt.keys(), nt.values())}


def _complex_or_nothing(g):
    return None if g is None else np.ascontiguousarray(g, dtype=complex)


def kernels():
    """Kernel namespace with the same functions as :mod:`cosmocorr.backends.numpy_kernels`, on Julia."""
    jl = load()
    cc = jl.CosmoCorr

    def pair_sums(xyz1, w1, g1, xyz2, w2, g2, min_sep, max_sep, nbins, log, auto, chunk_pairs=None):
        out = cc.pair_sums(
            np.ascontiguousarray(xyz1, dtype=float), np.asarray(w1, dtype=float), _complex_or_nothing(g1),
            np.ascontiguousarray(xyz2, dtype=float), np.asarray(w2, dtype=float), _complex_or_nothing(g2),
            float(min_sep), float(max_sep), int(nbins), bool(log), bool(auto),
        )
        return _named_tuple_to_dict(out)

    def bin_index(r, min_sep, max_sep, nbins, log):
        k = cc.bin_index(np.asarray(r, dtype=float).ravel(), float(min_sep), float(max_sep), int(nbins), bool(log))
        return (np.asarray(k, dtype=np.intp) - 1).reshape(np.shape(r))

    def fcm_iterate(xyz, cxyz, fuzziness, tol, max_iter, weights=None, relax=1.0):
        if relax != 1.0:
            raise NotImplementedError("accelerate=True (over-relaxed fuzzy c-means) runs on the numpy backend")
        out = cc.fcm_iterate(np.ascontiguousarray(xyz, dtype=float), np.ascontiguousarray(cxyz, dtype=float),
                             float(fuzziness), float(tol), int(max_iter),
                             None if weights is None else np.asarray(weights, dtype=float))
        return (np.asarray(out.centers, dtype=float), np.asarray(out.membership, dtype=float), int(out.n_iter),
                np.asarray(out.objective, dtype=float), bool(out.converged))

    def xi_plus_gradient(G, x0, v0, g1, g2, edges, alpha, labels=None, ad="forward", t_max=None, softening=0.01,
                         rtol=1e-10, atol=1e-12, observer_distance=10.0):
        """(xi, dxi_dG) of the gravity forward model: Tsit5 with ForwardDiff (``ad="forward"``) or
        Zygote through SciMLSensitivity (``"reverse"``); ``labels`` (0-based) select approach c."""
        out = cc.xi_plus_gradient(
            float(G), np.ascontiguousarray(np.asarray(x0, dtype=float).T), np.ascontiguousarray(np.asarray(v0, dtype=float).T),
            np.asarray(g1, dtype=float), np.asarray(g2, dtype=float), np.asarray(edges, dtype=float), float(alpha),
            mode=jl.Symbol(ad), labels=None if labels is None else np.asarray(labels, dtype=np.int64) + 1,
            t_max=float(2 * np.pi if t_max is None else t_max), softening=float(softening), reltol=float(rtol),
            abstol=float(atol), observer_distance=float(observer_distance))
        return np.asarray(out.xi, dtype=float), np.asarray(out.dxi_dG, dtype=float)

    return SimpleNamespace(pair_sums=pair_sums, bin_index=bin_index, fcm_iterate=fcm_iterate,
                           xi_plus_gradient=xi_plus_gradient)


def install():
    """One-time set-up: resolve Julia and the CosmoCorr dependencies, then load and precompile."""
    global _ready
    import juliapkg

    print("Resolving the Julia environment (installs Julia >= 1.10 if needed; needs internet access)...")
    juliapkg.resolve()
    _ready = None
    load()
    print(f"Julia backend ready: {reason()}")


def status():
    """What the backend decision sees, as a dict."""
    from . import resolve_backend

    return {"julia_ready": julia_ready(), "reason": reason(), "auto_resolves_to": resolve_backend("auto"),
            "juliacall_imported": "juliacall" in sys.modules}


def _main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["install"]:
        install()
    elif argv[:1] == ["status"]:
        print(json.dumps(status(), indent=1))
    else:
        print("usage: python -m cosmocorr.backends.julia_bridge install|status")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(_main())
