"""The backends layer: the one place where NumPy and Julia are told apart.

Owns the choice of backend (this module), the NumPy reference kernels (:mod:`.numpy_kernels`:
all-pairs bin sums and bin indices, paper eqs. 7-8 and 16; :mod:`.numpy_fcm`: the fuzzy c-means
iterations, eqs. 15-18) and the lazy juliacall bridge to the bundled Julia module
(:mod:`.julia_bridge`). Imports only :mod:`cosmocorr.sky` and the private helpers.

``"numpy"``
    The reference implementation, always available.
``"julia"``
    The bundled Julia module ``CosmoCorr`` through juliacall, loaded on first use; needs Julia
    installed and resolved (``cosmocorr julia install``), not the self-test.
``"auto"`` (default)
    Julia per family of functions (pair sums, bin indices, fuzzy c-means, sparse fuzzy c-means,
    forward-mode and reverse-mode gravity: ``julia_bridge.SELFTEST_FAMILIES``), for each family only when Julia
    is installed and resolved for this Python environment *and* that family's self-test checks
    passed for exactly this environment (the stamp written by ``cosmocorr julia selftest``
    matches the cosmocorr version, the Julia installation, the resolved Manifest, the CosmoCorr
    sources and the bridge), and only on the main Python thread; NumPy for every other family.
    ``cosmocorr julia status`` says which and why. Deciding this reads files only: it never
    imports juliacall, never starts Julia and never downloads.

The choice comes from, in order: a ``backend=`` argument of a compute function,
:func:`set_backend`, the ``COSMOCORR_BACKEND`` environment variable, then ``"auto"``.
Compute functions call :func:`get_kernels`, which returns an object with the same functions
(``pair_sums``, ...) for either backend; no other module tests the backend name.
"""
from __future__ import annotations

import os
from types import SimpleNamespace

from .._validate import check_choice
from .._warnings import CosmocorrWarning, emit_warning

__all__ = ["BACKENDS", "set_backend", "get_backend", "resolve_backend", "get_kernels", "numpy_only", "trusted_kernel"]

BACKENDS = ("numpy", "julia", "auto")
ENV_VAR = "COSMOCORR_BACKEND"
_chosen = None


def set_backend(name):
    """Set the default backend for this session: ``"numpy"``, ``"julia"`` or ``"auto"``.

    ``set_backend("julia")`` checks at once that Julia can be had and raises
    :class:`cosmocorr.backends.julia_bridge.JuliaNotAvailableError` (with installation instructions) if not.
    """
    global _chosen
    name = _normalise(name, "backend")
    if name == "julia":
        from . import julia_bridge as julia

        julia.require_julia()
    _chosen = name
    return name


def get_backend():
    """The configured backend name (before ``"auto"`` is resolved)."""
    if _chosen is not None:
        return _chosen
    env = os.environ.get(ENV_VAR)
    if env:
        return _normalise(env, ENV_VAR)
    return "auto"


def resolve_backend(backend=None, family=None):
    """Resolve ``backend`` (or the configured default) to ``"numpy"`` or ``"julia"``.

    ``"auto"`` resolves per ``family`` (a key of ``julia_bridge.SELFTEST_FAMILIES``): Julia
    when that family is trusted here; with ``family=None`` Julia only when every family is.
    """
    name = get_backend() if backend is None else _normalise(backend, "backend")
    if name == "auto":
        from . import julia_bridge as julia

        return "julia" if julia.auto_ready(family) else "numpy"
    return name


def get_kernels(backend=None):
    """The kernel namespace for ``backend``: :mod:`.numpy_kernels` or the Julia bridge's.

    For ``"auto"``: :mod:`.numpy_kernels` when no family is trusted, the Julia namespace when
    every kernel family is, else a namespace taking each kernel function from Julia when its
    family (``julia_bridge.KERNEL_FAMILIES``) is trusted and from NumPy otherwise (NumPy-only
    options such as ``pair_sums_fields`` are left out when their family runs on Julia).
    """
    from . import numpy_kernels

    name = get_backend() if backend is None else _normalise(backend, "backend")
    if name == "numpy":
        return numpy_kernels
    from . import julia_bridge as julia

    if name == "julia":
        return julia.kernels()
    trusted = julia.trusted_families()
    if not any(family in trusted for family in julia.KERNEL_FAMILIES.values()):
        return numpy_kernels
    jk = julia.kernels()
    names = set(numpy_kernels.__all__) | {key for key in julia.KERNEL_FAMILIES if hasattr(numpy_kernels, key)}
    mixed = {key: getattr(numpy_kernels, key) for key in names}
    for key, family in julia.KERNEL_FAMILIES.items():
        if family in trusted:
            mixed.pop(key, None)
            if hasattr(jk, key):
                mixed[key] = getattr(jk, key)
    return SimpleNamespace(**mixed)


def numpy_only(what, backend=None, stacklevel=4):
    """For a computation with no Julia kernel (none has passed the self-test): returns
    ``"numpy"``, and when ``backend`` (or the configured default) is ``"julia"`` says so with a
    :class:`~cosmocorr.CosmocorrWarning` (through ``warnings`` and the ``cosmocorr`` logger)
    instead of running NumPy silently. ``"auto"`` means "Julia where trusted": no warning."""
    name = get_backend() if backend is None else _normalise(backend, "backend")
    if name == "julia":
        emit_warning(f"{what} has no Julia kernel that passed the self-test yet: it runs on the NumPy "
                     f"backend although backend='julia' was asked for", CosmocorrWarning, stacklevel=stacklevel)
    return "numpy"


def trusted_kernel(family, name, what, backend=None):
    """The Julia kernel ``name`` of ``family`` when ``backend`` (or the configured default) is
    ``"julia"`` or ``"auto"`` and that family's self-test passed here (``julia_bridge.auto_ready``),
    else None, for the caller's NumPy reference. For a kernel that runs on Julia only once
    verified, even with ``backend="julia"``: then, while the family is not trusted, ``what``
    runs on NumPy with :func:`numpy_only`'s warning."""
    chosen = get_backend() if backend is None else _normalise(backend, "backend")
    if chosen != "numpy":
        from . import julia_bridge as julia

        if julia.auto_ready(family):
            return getattr(julia.kernels(), name)
    numpy_only(what, backend, stacklevel=5)
    return None


def _normalise(name, argname):
    if not isinstance(name, str):
        raise TypeError(f"{argname} must be a string, one of {BACKENDS}; got {type(name).__name__}")
    return check_choice(name.strip().lower(), argname, BACKENDS)
