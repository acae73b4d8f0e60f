"""JAX interop: cosmocorr's soft estimators as JAX functions (paper sec. 3.2 and 6; optional extra
``cosmocorr[jax]``; ``import cosmocorr`` never imports this module or jax).

:func:`soft_shear_shear` (xi+ and xi-, eq. 8 with the soft bins of eqs. 22-23),
:func:`soft_landy_szalay` (omega, eq. 1 with soft pair counts; randoms fixed) and :func:`soft_rho`
(rho1..rho5, eqs. 2-6) are :func:`jax.custom_jvp` functions whose value and derivatives call the
NumPy kernels of :mod:`cosmocorr.differentiable.object_derivatives` through
:func:`jax.pure_callback`:

- the JVP rule returns the primal from a value pass and the tangent as a
  :func:`jax.custom_derivatives.linear_call` whose forward function is the NumPy **JVP** kernel
  (one tiled pass with the tangents as P columns) and whose transpose is the NumPy **VJP** kernel
  (one tiled reverse pass per cotangent). JAX transposes the linear_call for reverse mode, so
  ``jax.grad``/``jax.vjp``/``jax.jacrev`` run the reverse kernel and ``jax.jvp``/``jax.jacfwd`` the
  forward kernel; no (nbins, N) Jacobian and no (N, N) array is formed. Memory is
  O(N + tiles) for a gradient and O(N P) for P tangents.
- Inputs that are not differentiated are symbolic zeros in the rule and never sent to the kernels.
- ``jax.vmap`` (and so jacfwd/jacrev, which vmap the JVP/VJP over basis vectors): the callbacks use
  ``vmap_method="expand_dims"``; a batch of tangents at one primal point becomes the P columns
  of one JVP pass, a batch of cotangents one reverse pass each, a batch of primal points a loop.

Derivatives are first order only (the kernels are not themselves differentiable in JAX). Enable
64-bit floats (``jax.config.update("jax_enable_x64", True)``) for derivatives to 1e-8; with 32-bit
inputs the kernels run in float64 and the results are cast to float32. Empty bins are NaN in
the value and tangent and take no cotangent (as the NumPy entry points).
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.custom_derivatives import SymbolicZero, linear_call
from jax.extend.core import jaxpr_as_fun
from jax.interpreters import batching

from .differentiable import object_derivatives as od
from .differentiable.object_derivatives import RHO_FIELDS, RHO_INPUTS, SHEAR_INPUTS
from .sky.bins import Bins
from .sky.catalog import Catalog
from .sky.stars import StarCatalog

__all__ = ["soft_shear_shear", "soft_landy_szalay", "soft_rho", "bins_from_edges"]


def bins_from_edges(edges_arcmin):
    """The :class:`~cosmocorr.Bins` with these edges (arcmin), linear or logarithmic.

    Parameters
    ----------
    edges_arcmin : array_like (nbins + 1,)
        Concrete (not traced) increasing bin edges in arcmin.

    Returns
    -------
    Bins
        ValueError if the edges are neither linearly nor logarithmically spaced.
    """
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


# ---------------------------------------------------------------------- vmap of jax's linear_call
def _linear_call_batch(args, dims, *, callee, transpose_thunk, num_callee_consts, num_res):
    """Batching rule for ``linear_call`` (JAX has none; ``jax.jacfwd``/``jacrev``/``vmap`` need
    one): the batched call is again a linear_call, of the vmapped function and the vmapped
    transpose, with every linear argument batched on axis 0 (unbatched ones broadcast)."""
    size = next(a.shape[d] for a, d in zip(args, dims) if d is not None)
    k = num_callee_consts + num_res
    res = [a if d is None else jnp.moveaxis(a, d, 0) for a, d in zip(args[:k], dims[:k])]
    res_axes = [None if d is None else 0 for d in dims[:k]]
    lin = [jnp.broadcast_to(a, (size,) + a.shape) if d is None else jnp.moveaxis(a, d, 0)
           for a, d in zip(args[k:], dims[k:])]
    f = jaxpr_as_fun(callee)
    transpose, t_consts = transpose_thunk()
    t = jaxpr_as_fun(transpose)

    def fun(r, x):
        return jax.vmap(lambda r, x: f(*r, *x), in_axes=(res_axes, 0))(r, x)

    def fun_t(r, ct):
        return jax.vmap(lambda r, ct: t(*t_consts, *r[num_callee_consts:], *ct), in_axes=(res_axes, 0))(r, ct)

    out = linear_call(fun, fun_t, res, lin)
    return out, [0] * len(out)


def _register_linear_call_batching():
    try:
        from jax._src.custom_derivatives import linear_call_p  # the primitive behind linear_call
    except ImportError:                                         # pragma: no cover (another JAX layout)
        return
    known = [getattr(batching, "fancy_primitive_batchers", {}), batching.primitive_batchers]
    if not any(isinstance(t, dict) and linear_call_p in t for t in known):   # a future JAX may have one
        batching.primitive_batchers[linear_call_p] = _linear_call_batch


_register_linear_call_batching()


# --------------------------------------------------------------------------- generic primitive
class _Kernels:
    """One statistic: per-object ``inputs`` (each (N,)), ``n_out`` outputs of shape (nbins,), and
    the NumPy kernels, all on float64 arrays:

    - ``value(*x)`` -> the outputs followed by ``n_res`` residual arrays (nbins,) for ``vjp``;
    - ``jvp(x, tangents)`` with tangents a dict name -> (N, P) -> the outputs' tangents (nbins, P);
    - ``vjp(x, res, cts)`` with ``cts`` the outputs' cotangents -> dict name -> (N,).
    """

    def __init__(self, inputs, n_out, nbins, value, jvp, vjp, n_res=0):
        self.inputs, self.n_out, self.nbins, self.n_res = inputs, n_out, nbins, n_res
        self.value, self.jvp, self.vjp = value, jvp, vjp


def _broadcast(arrays, cores):
    """Leading batch shape of ``arrays`` (core ndims ``cores``) and the arrays broadcast to it."""
    batch = np.broadcast_shapes(*(a.shape[:a.ndim - c] for a, c in zip(arrays, cores)))
    return batch, [np.broadcast_to(a, batch + a.shape[a.ndim - c:]) for a, c in zip(arrays, cores)]


def _loop(fn, arrays, cores, out_shapes, dtype):
    """Call ``fn(*core_arrays)`` (-> tuple of arrays) for every index of the leading batch shape of
    ``arrays`` (added by ``vmap_method="expand_dims"``) and stack the results."""
    arrays = [np.asarray(a, dtype=float) for a in arrays]
    batch, arrays = _broadcast(arrays, cores)
    outs = [np.empty(batch + s, dtype=dtype) for s in out_shapes]
    for idx in np.ndindex(*batch):
        for o, r in zip(outs, fn(*(a[idx] for a in arrays))):
            o[idx] = r
    return tuple(outs)


def _primitive(k: _Kernels):
    """The custom_jvp function of the ``k.inputs`` arrays returning the ``k.n_out`` outputs."""
    nin, nb = len(k.inputs), k.nbins

    def spec(dt, shape=(nb,)):
        return jax.ShapeDtypeStruct(shape, dt)

    def value_all(*x):
        """Outputs and residuals by one value callback."""
        dt = jnp.result_type(x[0])
        shapes = [(nb,)] * (k.n_out + k.n_res)
        return jax.pure_callback(lambda *a: _loop(k.value, a, [1] * nin, shapes, dt), tuple(spec(dt) for _ in shapes),
                                 *x, vmap_method="expand_dims")

    @jax.custom_jvp
    def f(*x):
        return value_all(*x)[:k.n_out]

    def rule(primals, tangents):
        dt = jnp.result_type(primals[0])
        allout = value_all(*primals)
        out, res = allout[:k.n_out], allout[k.n_out:]
        live = tuple(i for i, t in enumerate(tangents) if not isinstance(t, SymbolicZero))
        if not live:
            return out, tuple(jnp.zeros_like(o) for o in out)
        names = [k.inputs[i] for i in live]
        n = primals[0].shape[-1]

        def jvp_host(*a):
            x, t = a[:nin], a[nin + k.n_res:]
            xb, xs = _broadcast([np.asarray(v, float) for v in x], [1] * nin)
            tb, ts = _broadcast([np.asarray(v, float) for v in t], [1] * len(t))
            batch = np.broadcast_shapes(xb, tb)
            if all(s == 1 for s in xb):            # one primal point: the batch of tangents is P columns
                xs = [v.reshape(-1) for v in xs]
                tan = {nm: np.broadcast_to(v, batch + (n,)).reshape(-1, n).T for nm, v in zip(names, ts)}
                d = k.jvp(xs, tan)                 # each (nbins, P)
                return tuple(np.asarray(di.T.reshape(batch + (nb,)), dtype=dt) for di in d)
            return _loop(lambda *b: tuple(di[:, 0] for di in k.jvp(b[:nin], {nm: v[:, None] for nm, v in
                                                                                zip(names, b[nin:])})),
                         list(x) + list(t), [1] * (nin + len(t)), [(nb,)] * k.n_out, dt)

        def vjp_host(*a):
            x, res, ct = a[:nin], a[nin:nin + k.n_res], a[nin + k.n_res:]

            def one(*b):
                g = k.vjp(b[:nin], b[nin:nin + k.n_res], b[nin + k.n_res:])
                return tuple(g[nm] for nm in names)
            return _loop(one, list(x) + list(res) + list(ct), [1] * nin + [1] * (k.n_res + k.n_out),
                         [(n,)] * len(names), dt)

        def lin(r, t):
            return jax.pure_callback(jvp_host, tuple(spec(dt) for _ in range(k.n_out)), *r, *t,
                                     vmap_method="expand_dims")

        def lin_t(r, ct):
            ct = tuple(jnp.zeros((nb,), dt) if isinstance(c, SymbolicZero) or c is None else jnp.asarray(c, dt)
                       for c in ct)
            return jax.pure_callback(vjp_host, tuple(spec(dt, (n,)) for _ in live), *r, *ct,
                                     vmap_method="expand_dims")

        t_live = tuple(jnp.asarray(tangents[i], dt) for i in live)
        dout = linear_call(lin, lin_t, tuple(primals) + tuple(res), t_live)
        return out, tuple(dout)

    f.defjvp(rule, symbolic_zeros=True)
    return f


def _check(arrays, names, edges_arcmin, alpha, kind):
    """Shared argument checks; returns (edges tuple, alpha float)."""
    from ._validate import check_choice, check_real
    from .differentiable.soft_bin_weights import KINDS

    check_choice(kind, "kind", KINDS)
    alpha = float(check_real(alpha, "alpha", low=0.0, low_open=True))
    edges = tuple(float(x) for x in np.asarray(edges_arcmin, dtype=float))
    n = jnp.shape(arrays[0])
    if len(n) != 1:
        raise ValueError(f"{names[0]} must be one-dimensional, got shape {n}")
    for name, x in zip(names[1:], arrays[1:]):
        if jnp.shape(x) != n:
            raise ValueError(f"{name} has shape {jnp.shape(x)} but {names[0]} has {n}; they must match")
    return edges, alpha


# ---------------------------------------------------------------------------------- shear-shear
def _catalog(ra, dec, g1, g2, w):
    return Catalog(ra, dec, g1, g2, w, keep_zero_weight=True)


@functools.lru_cache(maxsize=64)
def _shear_fn(edges, alpha, kind):
    bins = bins_from_edges(edges)

    def value(*x):
        r = od._shear_shear(_catalog(*x), bins, alpha, kind, None, ())
        return r.xip, r.xim, r.weight

    def jvp(x, tan):
        r = od._shear_shear(_catalog(*x), bins, alpha, kind, tan, SHEAR_INPUTS)
        return r.dxip, r.dxim

    def vjp(x, res, ct):
        val = od.SoftShearShearResult(bins, res[0], res[1], res[2], alpha=alpha, kind=kind)
        return od._shear_shear_vjp(_catalog(*x), bins, ct[0], ct[1], alpha, kind, value=val)

    def value_res(*x):
        xip, xim, wt = value(*x)
        return xip, xim, xip, xim, wt
    return _primitive(_Kernels(SHEAR_INPUTS, 2, bins.nbins, value_res, jvp, vjp, n_res=3))


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
    edges, alpha = _check((ra, dec, g1, g2, w), SHEAR_INPUTS, edges_arcmin, alpha, kind)
    return tuple(_shear_fn(edges, alpha, kind)(ra, dec, g1, g2, w))


# --------------------------------------------------------------------------------- Landy-Szalay
def soft_landy_szalay(ra, dec, w, randoms, edges_arcmin, alpha=1.0, kind="sigmoid", rr=None):
    """Soft Landy-Szalay omega(theta) (eq. 1 with soft pair counts, eqs. 22-23) of the data's JAX
    arrays, differentiable in JAX with respect to the data's positions and weights.

    Parameters
    ----------
    ra, dec : jax array (N,)
        Data positions in degrees.
    w : jax array (N,)
        Data weights (non-negative).
    randoms : Catalog
        The randoms, fixed (not differentiated): a concrete :class:`cosmocorr.Catalog`.
    edges_arcmin, alpha, kind :
        As :func:`soft_shear_shear`.
    rr : array_like (nbins,), optional
        The randoms' soft RR sums (``res.rr`` of a previous NumPy or JAX call); without it they
        are computed once per call (once per trace under ``jax.jit``).

    Returns
    -------
    jax array (nbins,)
        The same values as :func:`cosmocorr.differentiable.soft_landy_szalay`; empty bins NaN.
    """
    names = ("ra", "dec", "w")
    edges, alpha = _check((ra, dec, w), names, edges_arcmin, alpha, kind)
    if not isinstance(randoms, Catalog):
        raise TypeError(f"randoms must be a cosmocorr.Catalog, got {type(randoms).__name__}")
    bins = bins_from_edges(edges)
    rr = od._rr(randoms, bins, alpha, kind, rr)

    def data(ra, dec, w):
        return Catalog(ra, dec, w=w, keep_zero_weight=True)

    def value(*x):
        return (od.soft_landy_szalay(data(*x), randoms, bins, alpha, kind, rr=rr).xi,)

    def jvp(x, tan):
        return (od.soft_landy_szalay(data(*x), randoms, bins, alpha, kind, tangents=tan, rr=rr).dxi,)

    def vjp(x, res, ct):
        return od.soft_landy_szalay_vjp(data(*x), randoms, bins, ct[0], alpha, kind, rr=rr)

    return _primitive(_Kernels(names, 1, bins.nbins, value, jvp, vjp))(ra, dec, w)[0]


# --------------------------------------------------------------------------------- rho statistics
@functools.lru_cache(maxsize=64)
def _rho_fn(edges, alpha, kind):
    bins = bins_from_edges(edges)
    order = tuple(RHO_FIELDS)

    def stars(*x):
        a = dict(zip(RHO_INPUTS, x))
        return StarCatalog(a["ra"], a["dec"], a["g1_star"], a["g2_star"], a["T_star"], a["g1_model"],
                           a["g2_model"], a["T_model"], a["w"], keep_zero_weight=True)

    def value(*x):
        r = od.soft_rho(stars(*x), bins, alpha, kind)
        return tuple(v for nm in order for v in (r[nm].xip, r[nm].xim))

    def jvp(x, tan):
        r = od.soft_rho(stars(*x), bins, alpha, kind, tangents=tan)
        return tuple(v for nm in order for v in (r[nm].dxip, r[nm].dxim))

    def vjp(x, res, ct):
        cts = {nm: (ct[2 * i], ct[2 * i + 1]) for i, nm in enumerate(order) if np.any(ct[2 * i]) or np.any(ct[2 * i + 1])}
        if not cts:
            return {nm: np.zeros(len(x[0])) for nm in RHO_INPUTS}
        return od.soft_rho_vjp(stars(*x), bins, cts, alpha, kind)

    return _primitive(_Kernels(RHO_INPUTS, 2 * len(order), bins.nbins, value, jvp, vjp))


def soft_rho(ra, dec, w, g1_star, g2_star, T_star, g1_model, g2_model, T_model, edges_arcmin, alpha=1.0,
             kind="sigmoid"):
    """The soft rho statistics rho1..rho5 (eqs. 2-6 with soft bins, eqs. 22-23) of the stars' JAX
    arrays, differentiable in JAX with respect to all nine per-star inputs.

    Parameters
    ----------
    ra, dec : jax array (N,)
        Star positions in degrees.
    w : jax array (N,)
        Star weights.
    g1_star, g2_star, T_star, g1_model, g2_model, T_model : jax array (N,)
        Observed and modelled PSF ellipticities and sizes, as :class:`cosmocorr.StarCatalog`.
    edges_arcmin, alpha, kind :
        As :func:`soft_shear_shear`.

    Returns
    -------
    dict
        ``{"rho1": (xip, xim), ..., "rho5": (xip, xim)}``, jax arrays (nbins,), the same values as
        :func:`cosmocorr.differentiable.soft_rho`.
    """
    x = (ra, dec, w, g1_star, g2_star, T_star, g1_model, g2_model, T_model)
    edges, alpha = _check(x, RHO_INPUTS, edges_arcmin, alpha, kind)
    out = _rho_fn(edges, alpha, kind)(*x)
    return {nm: (out[2 * i], out[2 * i + 1]) for i, nm in enumerate(RHO_FIELDS)}
