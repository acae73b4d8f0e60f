"""JAX interop: cosmocorr's soft estimators as JAX functions (paper sec. 3.2 and 6; optional extra
``cosmocorr[jax]``; ``import cosmocorr`` never imports this module or jax).

:func:`soft_shear_shear` is a :func:`jax.custom_jvp` function whose value and derivative rule call
the NumPy kernels (:mod:`cosmocorr.differentiable.object_derivatives`) through
:func:`jax.pure_callback`: the value is the soft xi+ and xi- (eq. 8 with the soft bins of eqs.
22-23); the JVP rule asks the kernels for the Jacobian J of (xi+, xi-) with respect to every
object's (ra, dec, g1, g2, w), (2, nbins, 5, N), by 2 nbins tiled reverse passes, and returns
J . t with :func:`jax.numpy.einsum`, which JAX can transpose. So the function works under
``jax.jit``, ``jax.grad``/``jax.vjp`` (the transpose J^T . v), ``jax.jacfwd``, ``jax.jacrev`` and
``jax.vmap`` (the callbacks run sequentially over a batch). Derivatives are first order only (the
Jacobian itself is not differentiable). Enable 64-bit floats
(``jax.config.update("jax_enable_x64", True)``) for derivatives to 1e-8; with 32-bit inputs the
results are cast to float32.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from .differentiable.object_derivatives import _shear_shear, _shear_shear_vjp
from .sky.bins import Bins
from .sky.catalog import Catalog

__all__ = ["soft_shear_shear", "bins_from_edges"]

_INPUTS = ("ra", "dec", "g1", "g2", "w")


def bins_from_edges(edges_arcmin):
    """The :class:`~cosmocorr.Bins` with these edges (arcmin), linear or logarithmic; ValueError
    otherwise (``edges_arcmin`` must be concrete, not a traced array)."""
    e = np.asarray(edges_arcmin, dtype=float)
    if e.ndim != 1 or e.size < 2 or not np.all(np.isfinite(e)) or np.any(np.diff(e) <= 0):
        raise ValueError(f"edges_arcmin must be at least two increasing finite values, got {e}")
    for spacing in ("linear", "log"):
        if spacing == "log" and e[0] <= 0:
            continue
        b = Bins(float(e[0]), float(e[-1]), e.size - 1, spacing)
        if np.allclose(b.edges, e, rtol=1e-12, atol=0):
            return b
    raise ValueError("edges_arcmin must be linearly or logarithmically spaced (cosmocorr.Bins)")


def _catalog(ra, dec, g1, g2, w):
    return Catalog(np.asarray(ra, float), np.asarray(dec, float), np.asarray(g1, float), np.asarray(g2, float),
                   np.asarray(w, float), keep_zero_weight=True)


@functools.lru_cache(maxsize=64)
def _make(edges, alpha, kind):
    """The custom_jvp function of (ra, dec, g1, g2, w) for fixed bins, alpha and kind."""
    bins = bins_from_edges(edges)
    nb = bins.nbins

    def value_np(ra, dec, g1, g2, w):
        r = _shear_shear(_catalog(ra, dec, g1, g2, w), bins, alpha, kind, None, ())
        return r.xip, r.xim

    def jacobian_np(ra, dec, g1, g2, w):
        """(2, nbins, 5, N): d(xi+, xi-)_k / d(ra, dec, g1, g2, w)_i, by 2 nbins reverse passes."""
        cat = _catalog(ra, dec, g1, g2, w)
        val = _shear_shear(cat, bins, alpha, kind, None, ())
        J = np.zeros((2, nb, 5, len(cat)))
        for a in range(2):
            for k in range(nb):
                c = np.zeros((2, nb))
                c[a, k] = 1.0
                if not np.isfinite((val.xip, val.xim)[a][k]):
                    J[a, k] = np.nan          # empty bin: NaN value, NaN derivative
                    continue
                g = _shear_shear_vjp(cat, bins, c[0], c[1], alpha, kind, value=val)
                J[a, k] = np.stack([g[q] for q in _INPUTS])
        return J

    def shapes(ra):
        dt = jnp.result_type(ra)
        return dt, jax.ShapeDtypeStruct((nb,), dt)

    def cast(dt):
        return lambda *out: tuple(np.asarray(o, dtype=dt) for o in out)

    @jax.custom_jvp
    def f(ra, dec, g1, g2, w):
        dt, s = shapes(ra)
        return jax.pure_callback(lambda *a: cast(dt)(*value_np(*a)), (s, s), ra, dec, g1, g2, w,
                                 vmap_method="sequential")

    @f.defjvp
    def f_jvp(primals, tangents):
        ra = primals[0]
        dt, s = shapes(ra)
        jshape = jax.ShapeDtypeStruct((2, nb, 5, ra.shape[0]), dt)
        xip, xim, J = jax.pure_callback(lambda *a: cast(dt)(*value_np(*a), jacobian_np(*a)), (s, s, jshape),
                                        *primals, vmap_method="sequential")
        t = jnp.stack([jnp.asarray(x, dtype=dt) for x in tangents])       # (5, N)
        d = jnp.einsum("abqn,qn->ab", J, t)
        return (xip, xim), (d[0], d[1])

    return f


def soft_shear_shear(ra, dec, g1, g2, w, edges_arcmin, alpha=1.0, kind="sigmoid"):
    """Soft-binned xi+ and xi- (eq. 8, soft bins eqs. 22-23) of JAX arrays, differentiable in JAX.

    Parameters
    ----------
    ra, dec : jax array (N,)
        Positions in degrees.
    g1, g2, w : jax array (N,)
        Shears and (non-negative) weights.
    edges_arcmin : array_like (nbins + 1,)
        Concrete (not traced) bin edges in arcmin, linearly or logarithmically spaced.
    alpha : float
        Soft-bin sharpness (1/arcmin for "sigmoid", 1/arcmin^2 for "gaussian"); concrete.
    kind : {"sigmoid", "gaussian"}

    Returns
    -------
    (xip, xim) : tuple of jax arrays (nbins,)
        The same values as :func:`cosmocorr.differentiable.soft_shear_shear`; empty bins NaN.
    """
    from ._validate import check_choice, check_real
    from .differentiable.soft_bin_weights import KINDS

    check_choice(kind, "kind", KINDS)
    alpha = float(check_real(alpha, "alpha", low=0.0, low_open=True))
    edges = tuple(float(x) for x in np.asarray(edges_arcmin, dtype=float))
    n = jnp.shape(ra)
    for name, x in (("dec", dec), ("g1", g1), ("g2", g2), ("w", w)):
        if jnp.shape(x) != n:
            raise ValueError(f"{name} has shape {jnp.shape(x)} but ra has {n}; they must match")
    if len(n) != 1:
        raise ValueError(f"ra must be one-dimensional, got shape {n}")
    return _make(edges, alpha, kind)(ra, dec, g1, g2, w)
