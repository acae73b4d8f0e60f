"""The soft-binned shear estimator (paper eq. 8 with the soft bins of eqs. 22-23; Algorithm 2 step 5).

Every pair is weighted by W_k(d_ij) instead of a hard bin indicator, and the shears are
projected as TreeCorr does on the sphere, so xi+ is differentiable in the positions. Works on
arrays and on :class:`~cosmocorr.differentiable.dual.Dual` (value, tangent) pairs.

The pairs are taken in tiles (a block of rows against a block of columns, i < j), and the value
and the tangent of every per-pair quantity are written out by hand (forward mode, the exact
derivative rules that :class:`Dual` would apply) so that a tile needs no index arrays and few
temporaries; tiles are shared between threads. The separation is the chord form of eq. 16,
r = 2 asin(``|a - b|`` / 2), with dr = d``|a - b|^2`` / (2 ``|a - b|`` sqrt(1 - ``|a - b|^2`` / 4)); a tile
holding a pair farther apart than 90 degrees (where that form loses accuracy) is computed with the
Vincenty form on :class:`Dual` instead. The projection uses p = conj(u_a) u_b (see
:mod:`cosmocorr.backends.numpy_kernels`): e^{-2i(alpha_a - alpha_b)} = p / conj(p), whose tangent is
2i e Im(p' conj(p)) / ``|p|^2``.
"""
from __future__ import annotations

import numpy as np
from scipy.special import expit

from .._parallel import single_threaded_blas, thread_map
from ..sky.geometry import ARCMIN
from . import dual as dl
from .dual import Dual
from .soft_bin_weights import soft_bin_weights

__all__ = ["soft_xi_plus"]


def _pair_terms(a, b, g1a, g2a, g1b, g2b):
    """Separation (arcmin) and Re(z_a z_b^*) for pairs, on Duals (the Vincenty form of eq. 16)."""
    ax, ay, az = a[0], a[1], a[2]
    bx, by, bz = b[0], b[1], b[2]
    cx = ay * bz - az * by
    cy = az * bx - ax * bz
    cz = ax * by - ay * bx
    r = dl.arctan2(dl.sqrt(cx * cx + cy * cy + cz * cz), ax * bx + ay * by + az * bz) / ARCMIN
    dz = az - bz
    dsq = (ax - bx) * (ax - bx) + (ay - by) * (ay - by) + dz * dz
    s = -cz
    cb = dz + 0.5 * bz * dsq
    ca = 0.5 * az * dsq - dz
    ss = s * s
    nb = ss + cb * cb
    na = ss + ca * ca
    cos2b, sin2b = (ss - cb * cb) / nb, 2.0 * s * cb / nb
    cos2a, sin2a = (ss - ca * ca) / na, -2.0 * s * ca / na
    zar = g1a * cos2a - g2a * sin2a
    zai = g1a * sin2a + g2a * cos2a
    zbr = g1b * cos2b - g2b * sin2b
    zbi = g1b * sin2b + g2b * cos2b
    return r, zar * zbr + zai * zbi


def _vd(x, shape=None):
    """(value, tangent or None) of an array or Dual, as float arrays."""
    if isinstance(x, Dual):
        return np.ascontiguousarray(x.v, dtype=float), np.ascontiguousarray(x.d, dtype=float)
    v = np.asarray(x, dtype=float)
    return (np.ascontiguousarray(np.broadcast_to(v, shape)) if shape is not None else v), None


def _soft_weights(r, rd, edges, alpha, kind):
    """Soft bin weights W_k(r) (eqs. 22-23) and dW_k/dr * r' for every bin, per pair."""
    out = []
    for a, b in zip(edges[:-1], edges[1:]):
        if kind == "sigmoid":
            s1 = expit(alpha * (r - a))
            s2 = expit(alpha * (b - r))
            W = s1 * s2
            Wd = None if rd is None else alpha * W * (s2 - s1) * rd
        else:
            c = 0.5 * (a + b)
            x = r - c
            W = np.exp(-alpha * x * x)
            Wd = None if rd is None else -2.0 * alpha * x * W * rd
        out.append((W, Wd))
    return out


def soft_xi_plus(xyz, g1, g2, w, bins, alpha, kind="sigmoid", chunk=32_768):
    """Soft-binned xi+ (eq. 8 with W_k weights) over all unordered pairs of the objects.

    ``xyz`` (3, n) unit vectors, ``g1``/``g2``/``w`` (n,): arrays or Duals. Returns a Dual (nbins,)
    (tangent 0 when no input is a Dual). ``chunk``: pairs per tile (memory and speed only).
    A bin whose soft weights sum to zero (no pair at all, e.g. a single object, or weights that
    underflow) holds NaN in value and tangent, as empty bins do in the exact estimators.
    """
    soft_bin_weights(np.zeros(1), bins, alpha, kind)          # validates kind, bins and alpha
    xv, xd = _vd(xyz)
    n = xv.shape[1]
    nb = bins.nbins
    if n < 2:                                     # fewer than two objects: no pair
        return Dual(np.full(nb, np.nan), np.full(nb, np.nan))
    g1v, g1d = _vd(g1, (n,))
    g2v, g2d = _vd(g2, (n,))
    wv, wd = _vd(w, (n,))
    wv = np.broadcast_to(wv, (n,))
    if wd is not None:
        wd = np.broadcast_to(wd, (n,))
    tangent = any(d is not None for d in (xd, g1d, g2d, wd))
    z = np.zeros(n)
    if tangent:
        xd = np.zeros((3, n)) if xd is None else np.broadcast_to(xd, (3, n))
        g1d = z if g1d is None else np.broadcast_to(g1d, (n,))
        g2d = z if g2d is None else np.broadcast_to(g2d, (n,))
    # weighted fields H = w g and their tangents H' = w' g + w g'
    hr, hi = wv * g1v, wv * g2v
    if tangent:
        wdd = z if wd is None else wd
        hrd, hid = wdd * g1v + wv * g1d, wdd * g2v + wv * g2d
    edges = np.asarray(bins.edges, dtype=float)
    alpha = float(alpha)
    cols_n = int(min(n, max(256, 4 * int(np.sqrt(chunk)))))
    rows_n = int(max(1, min(n, int(chunk) // cols_n)))
    col_blocks = [(j0, min(n, j0 + cols_n)) for j0 in range(0, n, cols_n)]
    row_blocks = list(range(0, n, rows_n))

    def tile(i0, i1, j0, j1):
        R = lambda v: v[i0:i1, None]   # noqa: E731  (row block, column vector)
        C = lambda v: v[None, j0:j1]   # noqa: E731  (column block, row vector)
        ax, ay, az = R(xv[0]), R(xv[1]), R(xv[2])
        bx, by, bz = C(xv[0]), C(xv[1]), C(xv[2])
        mask = None
        if j0 <= i1 - 1:
            mask = np.arange(j0, j1)[None, :] > np.arange(i0, i1)[:, None]
        dx, dy, dz = ax - bx, ay - by, az - bz
        d2 = dx * dx
        d2 += dy * dy
        d2 += dz * dz
        if d2.max() > 2.0:
            return _tile_dual(i0, i1, j0, j1, mask)
        sq = np.sqrt(d2)
        r = np.arcsin(0.5 * sq)
        r *= 2.0 / ARCMIN
        s = ay * bx
        s -= ax * by                      # s = -(a x b)_z
        h = 0.5 * d2
        ca = az * h
        ca -= dz
        cb = bz * h
        cb += dz
        sm = ca + cb
        pr = ca * cb
        pr -= s * s                       # Re p
        pi = s * sm                       # Im p
        prsq, pisq = pr * pr, pi * pi
        inv = prsq + pisq
        np.maximum(inv, 1e-300, out=inv)  # coincident points: rotation 0
        np.reciprocal(inv, out=inv)
        epr = prsq - pisq
        epr *= inv                        # Re e+ = Re p^2 / |p|^2
        epi = pr * pi
        epi *= 2.0 * inv                  # Im e+
        # value of the pair term T = Re(H_a conj(H_b) e+) and the pair weight w_a w_b
        Har, Hai, Hbr, Hbi = R(hr), R(hi), C(hr), C(hi)
        xr = Har * Hbr
        xr += Hai * Hbi
        xi = Hai * Hbr
        xi -= Har * Hbi
        T = xr * epr
        T -= xi * epi
        ww = R(wv) * C(wv)
        rd = Td = wwd = None
        if tangent:
            adx, ady, adz = R(xd[0]), R(xd[1]), R(xd[2])
            bdx, bdy, bdz = C(xd[0]), C(xd[1]), C(xd[2])
            ddx, ddy, ddz = adx - bdx, ady - bdy, adz - bdz
            hd = dx * ddx
            hd += dy * ddy
            hd += dz * ddz                # h' = (a - b).(a' - b') = d2' / 2
            den = np.sqrt(np.maximum(1.0 - 0.5 * h, 0.0))
            den *= sq
            np.maximum(den, 1e-300, out=den)
            rd = hd / den
            rd *= 1.0 / ARCMIN            # r' = d2' / (2 |a-b| sqrt(1 - |a-b|^2/4))
            sd = ady * bx
            sd += ay * bdx
            sd -= adx * by
            sd -= ax * bdy
            cad = adz * h
            cad += az * hd
            cad -= ddz
            cbd = bdz * h
            cbd += bz * hd
            cbd += ddz
            prd = cad * cb
            prd += ca * cbd
            prd -= 2.0 * s * sd
            pid = sd * sm
            pid += s * (cad + cbd)
            q = pr * pid
            q -= pi * prd                 # Im(p' conj(p))
            q *= 2.0 * inv
            eprd = -epi * q               # e+' = 2i e+ Im(p' conj p) / |p|^2
            epid = epr * q
            Hard, Haid, Hbrd, Hbid = R(hrd), R(hid), C(hrd), C(hid)
            xrd = Hard * Hbr
            xrd += Har * Hbrd
            xrd += Haid * Hbi
            xrd += Hai * Hbid
            xid = Haid * Hbr
            xid += Hai * Hbrd
            xid -= Hard * Hbi
            xid -= Har * Hbid
            Td = xrd * epr
            Td -= xid * epi
            Td += xr * eprd
            Td -= xi * epid
            if wd is not None:
                wwd = R(wd) * C(wv)
                wwd += R(wv) * C(wd)
        if mask is not None:
            T *= mask
            ww = ww * mask
            if tangent:
                Td *= mask
                if wwd is not None:
                    wwd *= mask
        return _reduce(r, rd, T, Td, ww, wwd)

    def _reduce(r, rd, T, Td, ww, wwd):
        out = np.zeros((4, nb))
        T, ww = T.ravel(), ww.ravel()
        Td = None if Td is None else Td.ravel()
        wwd = None if wwd is None else wwd.ravel()
        for k, (W, Wd) in enumerate(_soft_weights(r, rd, edges, alpha, kind)):
            W = W.ravel()
            out[0, k] = W @ T
            out[2, k] = W @ ww
            if Wd is not None:
                Wd = Wd.ravel()
                out[1, k] = Wd @ T + W @ Td
                out[3, k] = Wd @ ww + (W @ wwd if wwd is not None else 0.0)
        return out

    def _tile_dual(i0, i1, j0, j1, mask):
        # separations beyond 90 degrees: the Vincenty form on Duals, pairs i < j gathered
        ii, jj = np.nonzero(np.ones((i1 - i0, j1 - j0), bool) if mask is None else mask)
        ii, jj = ii + i0, jj + j0
        X = Dual(xv, xd) if tangent else xv
        G1 = Dual(g1v, g1d) if tangent else g1v
        G2 = Dual(g2v, g2d) if tangent else g2v
        Wt = Dual(wv, wd) if wd is not None else wv
        take = lambda x, idx: x[..., idx]   # noqa: E731
        r, xp = _pair_terms(take(X, ii), take(X, jj), take(G1, ii), take(G2, ii), take(G1, jj), take(G2, jj))
        ww = take(Wt, ii) * take(Wt, jj)
        T = ww * xp
        return _reduce(dl.value(r), dl.tangent(r) if tangent else None, dl.value(T),
                       dl.tangent(T) if tangent else None, dl.value(ww),
                       dl.tangent(ww) if isinstance(ww, Dual) else None)

    def block(i0):
        i1 = min(n, i0 + rows_n)
        acc = np.zeros((4, nb))
        with np.errstate(invalid="ignore", divide="ignore", over="ignore", under="ignore"):
            for j0, j1 in col_blocks:
                if j1 - 1 > i0:          # some j > i
                    acc += tile(i0, i1, j0, j1)
        return acc

    # per row block, summed in a fixed order: the result does not depend on the thread count;
    # BLAS (the per-bin dot products) single-threaded inside the tiles
    with single_threaded_blas():
        parts = thread_map(block, row_blocks, limit_blas=False)
    tot = np.zeros((4, nb))
    for p in parts:
        tot += p
    num, den = Dual(tot[0], tot[1]), Dual(tot[2], tot[3])
    empty = den.v == 0
    out = num / Dual(np.where(empty, 1.0, den.v), den.d)
    return Dual(np.where(empty, np.nan, out.v), np.where(empty, np.nan, out.d))
