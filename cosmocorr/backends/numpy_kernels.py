"""NumPy reference kernels: exact all-pairs sums per separation bin (paper eqs. 7-8 and 16).

These are the functions the backend switch (:mod:`cosmocorr.backends`) dispatches to; the Julia
module ``CosmoCorr`` (``julia/src``) implements :func:`pair_sums` and :func:`bin_index` with the
same arguments and outputs.

How the all-pairs sums are made fast without a compiled extension:

* **Spatial order and skipped tiles.** The objects are put in a k-d order (splits aligned with the
  tile blocks), so that every block of consecutive objects is a compact patch of sky. The pair matrix is cut into tiles
  (a block of rows against a block of columns); each block has a bounding cap (centre and
  radius), and a tile whose caps show that every pair lies outside [min_sep, max_sep) is
  skipped without looking at its pairs.
* **Few operations per pair, in place, in cache.** A tile is computed with in-place NumPy ufuncs
  on preallocated buffers of about 16,000 pairs (they stay in the CPU cache). The separation
  comes from the chord, r = 2 asin(``|a - b|`` / 2), the rotation of the shears from the products
  p = conj(u_a) u_b and q = conj(u_a) conj(u_b) of the two projection directions (one complex
  square each for xi+ and xi-), about 70 array operations per pair in all, against about 40
  operations *each with its own temporary* before.
* **Sums per row, not per pair.** Only the column object's field enters a pair's term
  (V = conj(g_b) e^{-2i(alpha_a - alpha_b)} for xi+, W = g_b e^{-2i(alpha_a + alpha_b)} for xi-):
  ``np.bincount`` sums them per (row, bin), and the row fields multiply those sums once per row
  block. Any number of fields on the same positions (the five rho statistics: three fields) share
  one pass over the pair geometry.
* **Other correlation types.** :func:`field_pair_sums` runs the count-shear, count-scalar,
  scalar-scalar and scalar-shear sums (TreeCorr's NG, NK, KK, KG) through the same tiles: only the
  column object's field is rotated (spin 2: into the frame of the pair at the column point) or
  taken as it is (spin 0), summed per (row, bin), and contracted with the row field (1 or k).
* **Threads.** Row blocks are shared between threads; NumPy releases the GIL inside its ufunc
  loops (``np.bincount`` does not: it is about a fifth of the work).

(numexpr, which fuses an expression into one pass, was measured for this and was slower: its
interpreter costs about 1.5 ns per operation and element, in-place NumPy ufuncs on cache-resident
tiles about 0.5 ns; so there is no extra dependency.)

Bin assignment is exactly that of :func:`bin_index` applied to the Vincenty separation
atan2(``|a x b|``, a . b) (the reference formula): the chord separation agrees with it to a few
1e-16 relative plus about 1e-15 rad absolute, so a pair whose fractional bin coordinate lies
farther than a safe margin (``_Binning.margin``, ~1e-9 bin) from every bin edge lands in the
same bin either way; the few pairs inside the margin, and every pair of a tile that may hold
separations beyond 90 degrees (where asin loses accuracy), are binned with the reference
formula itself. ``tests/test_kernel_bins.py`` checks this with pairs placed within a few ulp of
every edge.
"""
from __future__ import annotations

import numpy as np

from .._parallel import n_threads, thread_map
from .._progress import current_progress
from ..sky.geometry import ARCMIN
from .numpy_fcm import fcm_iterate

__all__ = ["pair_sums", "pair_sums_fields", "field_pair_sums", "bin_index", "fcm_iterate", "SUM_NAMES", "SHEAR_SUM_NAMES"]

#: pairs per tile: the ~11 buffers of a tile (16k pairs, 128 KiB each) stay in the L2 cache
DEFAULT_CHUNK_PAIRS = 16_384
SUM_NAMES = ("npairs", "weight", "wr")
#: ``pair_sums(..., logr=True)`` also returns ``wlogr`` from the same pass (NumPy backend only)
PAIR_SUMS_LOGR = True
SHEAR_SUM_NAMES = ("xip", "xip_im", "xim", "xim_im")
_LEAF = 8                # k-d order: leaves of at most this many objects
_THREADS_MIN_PAIRS = 200_000
_FAST_R_MAX = np.pi / 2  # chord formula used in tiles whose separations are all below this (rad)
#: error bounds of the two separation formulas (relative, and absolute in radians), with margin
_REL_ERR = 1e-13
_ABS_ERR = 1e-13


def bin_index(r, min_sep, max_sep, nbins, log):
    """TreeCorr-convention bin index of separations ``r`` (arcmin).

    -1 outside [min_sep, max_sep) and for r == 0: coincident positions (an object with itself,
    or duplicated entries) are never a pair.
    """
    r = np.asarray(r, dtype=float)
    inside = (r >= min_sep) & (r < max_sep) & (r > 0)
    rr = np.where(inside, r, min_sep)
    with np.errstate(divide="ignore", invalid="ignore"):
        if log:
            k = np.floor((np.log(rr) - np.log(min_sep)) / (np.log(max_sep / min_sep) / nbins))
        else:
            k = np.floor((rr - min_sep) / ((max_sep - min_sep) / nbins))
    k = np.clip(k, 0, nbins - 1).astype(np.intp)
    return np.where(inside, k, -1)


def reference_separation(a, b):
    """Vincenty separation (paper eq. 16, arcmin) of unit vectors ``a``, ``b`` (3, ...), broadcast.

    atan2(``|a x b|``, a . b): the reference formula whose bins :func:`pair_sums` reproduces.
    """
    ax, ay, az = a
    bx, by, bz = b
    cx = ay * bz - az * by
    cy = az * bx - ax * bz
    cz = ax * by - ay * bx
    cn = np.sqrt(cx * cx + cy * cy + cz * cz)
    return np.arctan2(cn, ax * bx + ay * by + az * bz) / ARCMIN


def chord_separation(a, b):
    """2 asin(``|a - b|`` / 2) in arcmin: the fast path's separation (accurate below 90 degrees)."""
    ax, ay, az = a
    bx, by, bz = b
    d2 = (ax - bx) ** 2 + (ay - by) ** 2 + (az - bz) ** 2
    return 2.0 * np.arcsin(np.minimum(0.5 * np.sqrt(d2), 1.0)) / ARCMIN


class _Binning:
    """The bins, the fractional bin coordinate t of a separation and the safe margin around edges."""

    def __init__(self, min_sep, max_sep, nbins, log):
        self.min_sep, self.max_sep, self.nbins, self.log = float(min_sep), float(max_sep), int(nbins), bool(log)
        abs_arcmin = _ABS_ERR / ARCMIN
        if self.log:
            self.lmin = np.log(self.min_sep)
            bs = np.log(self.max_sep / self.min_sep) / self.nbins
            # |dt| <= (dr/r + rounding of the logs) / bs, r >= min_sep near the lower edges
            err = (_REL_ERR + abs_arcmin / self.min_sep
                   + 1e-14 * (1.0 + abs(self.lmin) + abs(np.log(self.max_sep)))) / bs
        else:
            self.lmin = 0.0
            bs = (self.max_sep - self.min_sep) / self.nbins
            err = (_REL_ERR * self.max_sep + abs_arcmin) / bs + 1e-14 * (self.nbins + 1.0)
        self.scale = 1.0 / bs
        #: a pair whose t is within this of an integer is binned with the reference formula
        self.margin = 16.0 * err
        self.all_reference = self.margin >= 0.25

    def min_rad(self):
        return self.min_sep * ARCMIN

    def max_rad(self):
        return self.max_sep * ARCMIN


def _spatial_order(xyz, units=(), leaf=_LEAF):
    """A k-d order of the objects (splits on the widest axis): runs are compact patches.

    ``units``: decreasing block sizes, each a multiple of the next. A segment longer than a unit
    is split at a multiple of the largest such unit, so that every aligned block of each unit
    (the tiles' row and column blocks) is exactly one k-d node, i.e. one compact patch.
    """
    n = xyz.shape[1]
    order = np.arange(n)
    stack = [(0, n)]
    while stack:
        s, e = stack.pop()
        if e - s <= leaf:
            continue
        seg = order[s:e]
        pts = xyz[:, seg]
        axis = int(np.argmax(pts.max(axis=1) - pts.min(axis=1)))
        u = next((u for u in units if u < e - s), 1)
        m = (-(-(e - s) // u) // 2) * u
        order[s:e] = seg[np.argpartition(pts[axis], m)]
        stack.append((s, s + m))
        stack.append((s + m, e))
    return order


def _caps(xyz, size):
    """Bounding caps of consecutive blocks of ``size`` objects: unit centres (nb, 3), radii (rad)."""
    n = xyz.shape[1]
    starts = np.arange(0, n, size)
    c = np.add.reduceat(xyz, starts, axis=1).T                     # (nb, 3)
    norm = np.sqrt(np.sum(c * c, axis=1))
    first = xyz[:, starts].T
    centres = np.where(norm[:, None] > 0, c / np.where(norm > 0, norm, 1.0)[:, None], first)
    block = np.repeat(np.arange(starts.size), np.diff(np.append(starts, n)))
    chord2 = np.sum((xyz - centres[block].T) ** 2, axis=0)
    chord = np.sqrt(np.maximum.reduceat(chord2, starts))
    radii = 2.0 * np.arcsin(np.minimum(1.0, 0.5 * chord)) * (1 + 1e-12) + 1e-14
    return centres, radii


def _tile_plan(caps_r, caps_c, binning):
    """Per tile of one row block: 0 = skip (no pair can be in [min_sep, max_sep)), 1 = chord
    formula, 2 = reference formula (separations possibly beyond 90 degrees)."""
    (c1, r1), (c2, r2) = caps_r, caps_c
    cross = np.cross(c1[None, :], c2)
    dist = np.arctan2(np.sqrt(np.sum(cross * cross, axis=-1)), c2 @ c1)
    spread = r1 + r2
    lo, hi = dist - spread, dist + spread
    skip = lo > binning.max_rad() * (1 + 1e-9) + 1e-12
    skip |= hi < binning.min_rad() * (1 - 1e-9) - 1e-12
    plan = np.where(skip, 0, np.where(hi < _FAST_R_MAX, 1, 2)).astype(np.int8)
    return plan


class _Side:
    """One side (rows or columns) of the pair matrix: positions, weights and fields, in k-d order."""

    def __init__(self, xyz, w, fields, order):
        self.order = order
        self.xyz = np.ascontiguousarray(xyz[:, order])
        self.w = np.ascontiguousarray(w[order])
        # fields are weighted (w g) and split into real and imaginary parts
        self.fr = [np.ascontiguousarray((f.real * w)[order]) for f in fields]
        self.fi = [np.ascontiguousarray((f.imag * w)[order]) for f in fields]
        self.n = self.xyz.shape[1]
        self.unit_w = bool(np.all(self.w == 1.0))


def _tile_shape(n1, n2, chunk_pairs):
    """(rows, columns) of a tile: powers of two (so that blocks align with the k-d order),
    columns ~ 4 sqrt(chunk_pairs) but at least 256, rows ~ chunk_pairs / columns."""
    chunk_pairs = max(1, int(chunk_pairs))
    cols_n = 1 << max(8, int(round(np.log2(4.0 * np.sqrt(chunk_pairs)))))
    rows_n = 1 << int(np.log2(max(1, chunk_pairs // cols_n)))
    return int(min(n1, rows_n)), int(min(n2, cols_n))


def _run(rows, cols, binning, combos, auto, orient, tile_shape, logr=False, col_kind="xi2"):
    """Sums over pairs (row i, column j) per bin, with the row fields contracted per row block.

    ``combos``: list of (row field, column field). Returns (base, cv, cw): base (3, L) count,
    weight, weight * r (and weight * ln r with ``logr``: (4, L)); cv[c], cw[c] (L,) complex sums
    of A_i conj(B_j) e+ and A_i B_j e- (with the weights folded in). L = nbins + 2 (drop bin
    below, bins, drop bin above), twice that with ``orient`` (pairs whose original order is
    (j, i) go to the second half). ``tile_shape``: (rows, columns) per tile.

    ``col_kind`` says how a column field enters a pair: ``"xi2"`` (spin-2 pair products above),
    ``"k"`` (spin 0: cv[c] = sum A_i B_j, no rotation; cw unused) or ``"t"`` (spin 2 projected at
    the column point only: cv[c] = sum A_i B_j conj(u_b)^2 / |u_b|^2, B_j rotated into the frame of
    the great circle from i to j; the count-shear and scalar-shear correlations).
    """
    nbins = binning.nbins
    L0 = nbins + 2
    L = 2 * L0 if orient else L0
    n1, n2 = rows.n, cols.n
    rows_n, cols_n = tile_shape
    ncf = len(cols.fr)
    shear = ncf > 0
    nper = 4 if col_kind == "xi2" else 2         # column sums per field
    caps_r, caps_c = _caps(rows.xyz, rows_n), _caps(cols.xyz, cols_n)
    nrb = caps_r[0].shape[0]
    col_sl = [slice(j0, min(n2, j0 + cols_n)) for j0 in range(0, n2, cols_n)]
    cbx = [(cols.xyz[0, s][None, :], cols.xyz[1, s][None, :], cols.xyz[2, s][None, :]) for s in col_sl]
    cbw = [cols.w[s][None, :] for s in col_sl]
    cbf = [[(cols.fr[f][s][None, :], cols.fi[f][s][None, :]) for f in range(ncf)] for s in col_sl]
    cbo = [cols.order[s][None, :] for s in col_sl] if orient else None
    nbase = 4 if logr else 3
    nS = nbase + nper * ncf
    unit_w = rows.unit_w and cols.unit_w
    m_max = rows_n * cols_n
    two_over_arcmin = 2.0 / ARCMIN

    def row_block(ib, bufs, ibuf, bbuf, S, tot):
        i0 = ib * rows_n
        i1 = min(n1, i0 + rows_n)
        nr = i1 - i0
        ax, ay, az = (rows.xyz[k, i0:i1][:, None] for k in range(3))
        rowoff_i = (np.arange(nr) * L)[:, None]
        rowoff = rowoff_i + 1.0
        ro = rows.order[i0:i1][:, None] if orient else None
        S[:] = 0.0
        any_tile = False
        plan = _tile_plan((caps_r[0][ib], caps_r[1][ib]), caps_c, binning)
        for jb, mode in enumerate(plan):
            if mode == 0:
                continue
            s = col_sl[jb]
            j0, j1 = s.start, s.stop
            if auto and j1 <= i0 + 1:
                continue  # no pair with j > i
            any_tile = True
            nc = j1 - j0
            m = nr * nc
            b = [x[:m].reshape(nr, nc) for x in bufs]
            idx = ibuf[:m].reshape(nr, nc)
            bx, by, bz = cbx[jb]
            # --- separation (arcmin): chord formula, or the reference one in far tiles
            b0, b1, b2, b3, b4, b5 = b[0], b[1], b[2], b[3], b[4], b[5]
            np.subtract(ax, bx, out=b0)
            np.multiply(b0, b0, out=b1)
            np.subtract(ay, by, out=b0)
            np.multiply(b0, b0, out=b0)
            b1 += b0
            np.subtract(az, bz, out=b2)          # dz
            np.multiply(b2, b2, out=b0)
            b1 += b0                             # d2 = |a - b|^2
            tri = None
            if auto and j0 < i1:
                tri = np.arange(j0, j1)[None, :] <= np.arange(i0, i1)[:, None]
            if mode == 2 or binning.all_reference:
                # separations possibly beyond 90 degrees (or bins too fine for the margin):
                # the reference formula and bin_index for the whole tile
                b3[...] = reference_separation((ax, ay, az), (bx, by, bz))
                k = bin_index(b3, binning.min_sep, binning.max_sep, nbins, binning.log)
                np.copyto(idx, rowoff_i + np.where(k >= 0, k + 1, 0))
            else:
                np.sqrt(b1, out=b3)
                b3 *= 0.5
                np.minimum(b3, 1.0, out=b3)
                np.arcsin(b3, out=b3)
                b3 *= two_over_arcmin            # r = 2 asin(|a - b| / 2)
                # fractional bin coordinate t; bin k = floor(t)
                if binning.log:
                    np.log(b3, out=b4)
                    b4 -= binning.lmin
                else:
                    np.subtract(b3, binning.min_sep, out=b4)
                b4 *= binning.scale
                np.clip(b4, -0.5, nbins + 0.5, out=b4)
                np.floor(b4, out=b5)
                b4 -= b5                         # fractional part
                near = None
                if b4.min() < binning.margin or b4.max() > 1.0 - binning.margin:
                    near = (b4 < binning.margin) | (b4 > 1.0 - binning.margin)
                b5 += rowoff
                np.copyto(idx, b5, casting="unsafe")
                if near is not None:
                    # pairs within the margin of an edge: the reference separation decides
                    pi_, qi_ = np.nonzero(near)
                    r_ref = reference_separation(rows.xyz[:, pi_ + i0], cols.xyz[:, qi_ + j0])
                    k_ref = bin_index(r_ref, binning.min_sep, binning.max_sep, nbins, binning.log)
                    idx[pi_, qi_] = pi_ * L + np.where(k_ref >= 0, k_ref + 1, 0)
                    b3[pi_, qi_] = r_ref
            if tri is not None:
                np.copyto(idx, rowoff_i, where=tri)
            if orient:
                np.greater(ro, cbo[jb], out=bbuf[:m].reshape(nr, nc))
                np.multiply(bbuf[:m].reshape(nr, nc), L0, out=ibuf[m_max:m_max + m].reshape(nr, nc))
                idx += ibuf[m_max:m_max + m].reshape(nr, nc)
            fidx = idx.ravel()
            SL = nr * L
            S[0, :SL] += np.bincount(fidx, minlength=SL)
            if unit_w:
                S[1, :SL] = S[0, :SL]
            else:
                np.copyto(b4, cbw[jb])
                S[1, :SL] += np.bincount(fidx, b4.ravel(), minlength=SL)
            if logr:
                np.log(b3, out=b5)
                if not unit_w:
                    b5 *= cbw[jb]
                S[3, :SL] += np.bincount(fidx, b5.ravel(), minlength=SL)
            if not unit_w:
                b3 *= cbw[jb]
            S[2, :SL] += np.bincount(fidx, b3.ravel(), minlength=SL)
            if not shear:
                continue
            if col_kind != "xi2":
                _column_field_sums(col_kind, S, SL, fidx, cbf[jb], nbase, (ax, ay), (bx, by, bz), b)
                continue
            # --- rotation to the great circle: p = conj(u_a) u_b, q = conj(u_a) conj(u_b)
            b6, b7, b8 = b[6], b[7], b[8]
            np.multiply(ay, bx, out=b6)
            np.multiply(ax, by, out=b0)
            b6 -= b0                             # s = -(a x b)_z
            b1 *= 0.5                            # h = |a - b|^2 / 2
            np.multiply(az, b1, out=b7)
            b7 -= b2                             # ca: cos A at a, towards b
            np.multiply(bz, b1, out=b8)
            b8 += b2                             # cb: cos A at b, towards a
            np.multiply(b7, b8, out=b1)          # ca cb
            np.multiply(b6, b6, out=b2)          # s^2
            np.add(b7, b8, out=b0)
            b7 -= b8
            b0 *= b6                             # Im p = s (ca + cb)
            b7 *= b6                             # Im q = s (ca - cb)
            np.subtract(b1, b2, out=b6)          # Re p = ca cb - s^2
            b1 += b2                             # -Re q = ca cb + s^2
            np.multiply(b6, b6, out=b2)
            np.multiply(b0, b0, out=b8)
            np.add(b2, b8, out=b4)               # |p|^2 = |q|^2
            np.maximum(b4, 1e-300, out=b4)       # coincident points: rotation 0, as TreeCorr
            np.reciprocal(b4, out=b4)
            b2 -= b8
            b2 *= b4                             # Re e+ = Re p^2 / |p|^2
            np.multiply(b1, b1, out=b8)
            np.multiply(b7, b7, out=b3)
            b8 -= b3
            b8 *= b4                             # Re e- = Re q^2 / |q|^2
            b4 *= 2.0
            b6 *= b0
            b6 *= b4                             # Im e+
            b1 *= b7
            b1 *= b4                             # -Im e-
            epr, epi, emr, emin = b2, b6, b8, b1
            for f in range(ncf):
                br, bi = cbf[jb][f]
                q0 = nbase + 4 * f
                np.multiply(br, epr, out=b0)
                np.multiply(bi, epi, out=b3)
                b0 += b3                         # Re V = Re(conj(g_b) e+)
                S[q0, :SL] += np.bincount(fidx, b0.ravel(), minlength=SL)
                np.multiply(br, epi, out=b0)
                np.multiply(bi, epr, out=b3)
                b0 -= b3                         # Im V
                S[q0 + 1, :SL] += np.bincount(fidx, b0.ravel(), minlength=SL)
                np.multiply(br, emr, out=b0)
                np.multiply(bi, emin, out=b3)
                b0 += b3                         # Re W = Re(g_b e-)
                S[q0 + 2, :SL] += np.bincount(fidx, b0.ravel(), minlength=SL)
                np.multiply(bi, emr, out=b0)
                np.multiply(br, emin, out=b3)
                b0 -= b3                         # Im W
                S[q0 + 3, :SL] += np.bincount(fidx, b0.ravel(), minlength=SL)
        if not any_tile:
            return
        # --- contract with the row weights and fields
        Sr = S[:, :nr * L].reshape(nS, nr, L)
        tot["base"][0] += Sr[0].sum(axis=0)
        wr = rows.w[i0:i1]
        tot["base"][1] += wr @ Sr[1]
        tot["base"][2] += wr @ Sr[2]
        if logr:
            tot["base"][3] += wr @ Sr[3]
        for c, (fa, fb) in enumerate(combos):
            ar, ai = rows.fr[fa][i0:i1], rows.fi[fa][i0:i1]
            q0 = nbase + nper * fb
            vr, vi = Sr[q0], Sr[q0 + 1]
            tot["cv"][c] += (ar @ vr - ai @ vi) + 1j * (ar @ vi + ai @ vr)
            if nper == 4:
                wr_, wi = Sr[q0 + 2], Sr[q0 + 3]
                tot["cw"][c] += (ar @ wr_ - ai @ wi) + 1j * (ar @ wi + ai @ wr_)

    reporter = current_progress()  # read here: pool threads do not see the caller's context
    reporter.add_total(nrb)

    def worker(blocks):
        bufs = [np.empty(m_max) for _ in range(9)]
        ibuf = np.empty(2 * m_max, dtype=np.intp)
        bbuf = np.empty(m_max, dtype=bool)
        S = np.zeros((nS, rows_n * L))
        tot = {"base": np.zeros((nbase, L)), "cv": np.zeros((len(combos), L), complex),
               "cw": np.zeros((len(combos), L), complex)}
        with np.errstate(invalid="ignore", divide="ignore"):
            for ib in blocks:
                row_block(ib, bufs, ibuf, bbuf, S, tot)
                reporter.update(1)
        return tot

    # threads only when there is enough work to pay for them (small calls: patches, clusters)
    nthreads = max(1, min(n_threads(), nrb)) if n1 * n2 >= _THREADS_MIN_PAIRS else 1
    parts = thread_map(worker, [list(range(k, nrb, nthreads)) for k in range(nthreads)], limit_blas=False)
    out = parts[0]
    for p in parts[1:]:
        for key in out:
            out[key] += p[key]
    return out["base"], out["cv"], out["cw"]


def _column_field_sums(kind, S, SL, fidx, fields, nbase, a_xy, b_xyz, b):
    """Per (row, bin) sums of the column fields of one tile for ``col_kind`` "k" or "t".

    "k": Re/Im of w_j B_j (spin 0, the same for every row). "t": Re/Im of w_j B_j conj(u_b)^2 /
    |u_b|^2 with u_b = cb + i s the direction at b of the great circle towards a (cb = cos A at b,
    s = -(a x b)_z, as in the xi2 path): B_j in the frame of the pair. On entry b[1] holds
    |a - b|^2 and b[2] the z difference a_z - b_z (both overwritten).
    """
    ax, ay = a_xy
    bx, by, bz = b_xyz
    b0, b1, b2, b3, b4, b6, b8 = b[0], b[1], b[2], b[3], b[4], b[6], b[8]
    if kind == "k":
        for f, (br, bi) in enumerate(fields):
            q0 = nbase + 2 * f
            np.copyto(b0, br)
            S[q0, :SL] += np.bincount(fidx, b0.ravel(), minlength=SL)
            if bi.any():                         # a real scalar (TreeCorr's k) has no imaginary sums
                np.copyto(b0, bi)
                S[q0 + 1, :SL] += np.bincount(fidx, b0.ravel(), minlength=SL)
        return
    np.multiply(ay, bx, out=b6)
    np.multiply(ax, by, out=b0)
    b6 -= b0                                 # s = -(a x b)_z
    b1 *= 0.5                                # h = |a - b|^2 / 2
    np.multiply(bz, b1, out=b8)
    b8 += b2                                 # cb: cos A at b, towards a
    np.multiply(b8, b8, out=b1)
    np.multiply(b6, b6, out=b2)
    np.add(b1, b2, out=b4)                   # |u_b|^2
    np.maximum(b4, 1e-300, out=b4)           # coincident points: rotation 0, as TreeCorr
    np.reciprocal(b4, out=b4)
    b1 -= b2
    b1 *= b4                                 # Re conj(u_b)^2 / |u_b|^2
    b8 *= b6
    b8 *= b4
    b8 *= -2.0                               # Im conj(u_b)^2 / |u_b|^2
    for f, (br, bi) in enumerate(fields):
        q0 = nbase + 2 * f
        np.multiply(br, b1, out=b0)
        np.multiply(bi, b8, out=b3)
        b0 -= b3                             # Re(B e)
        S[q0, :SL] += np.bincount(fidx, b0.ravel(), minlength=SL)
        np.multiply(br, b8, out=b0)
        np.multiply(bi, b1, out=b3)
        b0 += b3                             # Im(B e)
        S[q0 + 1, :SL] += np.bincount(fidx, b0.ravel(), minlength=SL)


def _as_inputs(xyz, w, name):
    xyz = np.ascontiguousarray(xyz, dtype=float)
    w = np.ascontiguousarray(w, dtype=float)
    if xyz.ndim != 2 or xyz.shape[0] != 3:
        raise ValueError(f"{name}: unit vectors must have shape (3, N), got {xyz.shape}")
    return xyz, w


def pair_sums(xyz1, w1, g1, xyz2, w2, g2, min_sep, max_sep, nbins, log, auto,
              chunk_pairs=DEFAULT_CHUNK_PAIRS, logr=False):
    """Sums over all pairs (i in 1, j in 2) in each separation bin.

    Parameters
    ----------
    xyz1, xyz2 : ndarray (3, N1), (3, N2)
        Unit vectors of the two catalogs.
    w1, w2 : ndarray
        Weights.
    g1, g2 : complex ndarray or None
        Spin-2 fields (e = g1 + i g2). When given, each is projected onto the great circle
        joining the pair (TreeCorr's spherical convention) and the xi+/xi- sums are returned.
    min_sep, max_sep, nbins, log :
        The binning (arcmin), as :class:`cosmocorr.Bins`.
    auto : bool
        Catalog 1 is catalog 2: each unordered pair i < j once, no self pairs (g1 at i, g2 at j).
    chunk_pairs : int
        Pairs per tile (memory and speed only; the results do not depend on it).
    logr : bool
        Also return ``wlogr`` (sum w_i w_j ln(r / arcmin), for TreeCorr's ``meanlogr``) from the
        same pass. (A NumPy-backend extension: the Julia kernel has the same function without it.)

    Returns
    -------
    dict of ndarray (nbins,)
        ``npairs`` (count), ``weight`` (sum w_i w_j), ``wr`` (sum w_i w_j r, arcmin),
        ``wlogr`` with ``logr``, and, with fields, ``xip``, ``xip_im``, ``xim``, ``xim_im``: sums of w_i w_j Re/Im of
        g_i g_j^* and g_i g_j (projected, paper eq. 8), not yet divided by the weight.
    """
    xyz1, w1 = _as_inputs(xyz1, w1, "xyz1")
    xyz2, w2 = _as_inputs(xyz2, w2, "xyz2")
    shear = g1 is not None
    names = SUM_NAMES + (("wlogr",) if logr else ()) + (SHEAR_SUM_NAMES if shear else ())
    binning = _Binning(min_sep, max_sep, nbins, log)
    if xyz1.shape[1] == 0 or xyz2.shape[1] == 0:
        return {name: np.zeros(int(nbins)) for name in names}
    if shear:
        g1 = np.asarray(g1, dtype=complex)
        g2 = np.asarray(g2, dtype=complex)
    b = slice(1, binning.nbins + 1)
    if auto:
        shape = _tile_shape(xyz1.shape[1], xyz1.shape[1], chunk_pairs)
        order = _spatial_order(xyz1, sorted(set(shape), reverse=True))
        same = not shear or g2 is g1 or np.array_equal(g1, g2)
        fields = [] if not shear else ([g1] if same else [g1, g2])
        side = _Side(xyz1, w1, fields, order)
        combos = [] if not shear else ([(0, 0)] if same else [(0, 1), (1, 0)])
        base, cv, cw = _run(side, side, binning, combos, True, shear, shape, logr)
        if shear:
            L0 = binning.nbins + 2
            base = base[:, :L0] + base[:, L0:]
            # pairs stored as (j, i) of the original order: their term is the conjugate of the
            # column-swapped one (g2 at the row, g1 at the column) for xi+; xi- is symmetric
            sw = 1 if not same else 0
            xp = cv[0, :L0] + np.conj(cv[sw, L0:])
            xm = cw[0, :L0] + cw[sw, L0:]
    else:
        shape = _tile_shape(xyz1.shape[1], xyz2.shape[1], chunk_pairs)
        rows = _Side(xyz1, w1, [g1] if shear else [], _spatial_order(xyz1, shape[:1]))
        cols = _Side(xyz2, w2, [g2] if shear else [], _spatial_order(xyz2, shape[1:]))
        base, cv, cw = _run(rows, cols, binning, [(0, 0)] if shear else [], False, False, shape, logr)
        if shear:
            xp, xm = cv[0], cw[0]
    out = {"npairs": base[0, b].copy(), "weight": base[1, b].copy(), "wr": base[2, b].copy()}
    if logr:
        out["wlogr"] = base[3, b].copy()
    if shear:
        out.update(xip=xp.real[b].copy(), xip_im=xp.imag[b].copy(), xim=xm.real[b].copy(),
                   xim_im=xm.imag[b].copy())
    return out


def pair_sums_fields(xyz, w, fields, pairs, min_sep, max_sep, nbins, log, chunk_pairs=DEFAULT_CHUNK_PAIRS,
                     logr=False):
    """Auto-correlation bin sums of several spin-2 fields on the same positions, in one pass.

    The pair geometry (separations, bins, projection onto the great circle) is computed once and
    shared by every field; this is how the five rho statistics (paper eqs. 2-6) cost about one
    shear-shear correlation.

    Parameters
    ----------
    xyz : ndarray (3, N)
        Unit vectors.
    w : ndarray (N,)
        Weights.
    fields : sequence of complex ndarray (N,)
        The fields.
    pairs : sequence of (a, b)
        Indices into ``fields``; one sums dict is returned per entry.
    min_sep, max_sep, nbins, log :
        The binning (arcmin).
    logr : bool
        Also return ``wlogr`` (sum w_i w_j ln(r / arcmin)).

    Returns
    -------
    list of dict
        For ``a == b``: the sums of :func:`pair_sums` with ``auto=True`` (unordered pairs i < j),
        except ``xip_im``, which is 0 (Im g_i g_j^* is odd under exchanging the pair, so it is
        0 by symmetry). For ``a != b``: sums over all *ordered* pairs (i, j), i != j, of
        w_i w_j Re/Im of a_i b_j^* and a_i b_j (projected); ``npairs``, ``weight`` and ``wr``
        then count each unordered pair twice. This equals the sum of the two passes
        ``pair_sums(.., a, .., b, auto=True)`` and ``pair_sums(.., b, .., a, auto=True)`` with the
        ``xip_im`` of the second subtracted.
    """
    xyz, w = _as_inputs(xyz, w, "xyz")
    binning = _Binning(min_sep, max_sep, nbins, log)
    fields = [np.asarray(f, dtype=complex) for f in fields]
    pairs = [(int(a), int(b)) for a, b in pairs]
    for a, b in pairs:
        if not (0 <= a < len(fields) and 0 <= b < len(fields)):
            raise ValueError(f"pairs: field index out of range in {(a, b)} for {len(fields)} fields")
    names = SUM_NAMES + (("wlogr",) if logr else ()) + SHEAR_SUM_NAMES
    if xyz.shape[1] == 0:
        return [{name: np.zeros(int(nbins)) for name in names} for _ in pairs]
    combos = sorted({(a, b) for a, b in pairs} | {(b, a) for a, b in pairs})
    where = {c: k for k, c in enumerate(combos)}
    shape = _tile_shape(xyz.shape[1], xyz.shape[1], chunk_pairs)
    side = _Side(xyz, w, fields, _spatial_order(xyz, sorted(set(shape), reverse=True)))
    base, cv, cw = _run(side, side, binning, combos, True, False, shape, logr)
    sl = slice(1, binning.nbins + 1)
    out = []
    for a, b in pairs:
        if a == b:
            xp = cv[where[(a, a)]]
            xm = cw[where[(a, a)]]
            s = {"npairs": base[0, sl].copy(), "weight": base[1, sl].copy(), "wr": base[2, sl].copy(),
                 "xip": xp.real[sl].copy(), "xip_im": np.zeros(binning.nbins),
                 "xim": xm.real[sl].copy(), "xim_im": xm.imag[sl].copy()}
        else:
            # both orders of each unordered pair: a_i conj(b_j) e+ + conj(b_i conj(a_j) e+)
            xp = cv[where[(a, b)]] + np.conj(cv[where[(b, a)]])
            xm = cw[where[(a, b)]] + cw[where[(b, a)]]
            s = {"npairs": 2 * base[0, sl], "weight": 2 * base[1, sl], "wr": 2 * base[2, sl],
                 "xip": xp.real[sl].copy(), "xip_im": xp.imag[sl].copy(),
                 "xim": xm.real[sl].copy(), "xim_im": xm.imag[sl].copy()}
        if logr:
            s["wlogr"] = base[3, sl].copy() if a == b else 2 * base[3, sl]
        out.append(s)
    return out


FIELD_SUM_NAMES = ("xi", "xi_im")
#: how the second catalog's field enters a pair in :func:`field_pair_sums`
FIELD_KINDS = {"scalar": "k", "spin2": "t"}


def field_pair_sums(xyz1, w1, f1, xyz2, w2, f2, kind, min_sep, max_sep, nbins, log, auto,
                    chunk_pairs=DEFAULT_CHUNK_PAIRS, logr=False):
    """Sums of w_i w_j a_i b_j' over all pairs (i in 1, j in 2) in each separation bin.

    The count-scalar, scalar-scalar, count-shear and scalar-shear correlations (TreeCorr's NK,
    KK, NG, KG) in one tiled pass, sharing the tiles, bins and spatial order of :func:`pair_sums`.

    Parameters
    ----------
    xyz1, xyz2 : ndarray (3, N1), (3, N2)
        Unit vectors.
    w1, w2 : ndarray
        Weights.
    f1 : ndarray (N1,)
        The first catalog's field a_i (real or complex; ones for counts).
    f2 : ndarray (N2,)
        The second catalog's field b_j (complex; a real scalar as a complex array).
    kind : {"scalar", "spin2"}
        ``"scalar"``: b_j' = b_j. ``"spin2"``: ``b_j' = b_j conj(u_j)^2 / |u_j|^2``, b_j (g1 + i g2)
        rotated into the frame of the great circle joining i to j (u_j its direction at j,
        TreeCorr's spherical projection), so that Re b_j' = gamma_t and Im b_j' = gamma_x of
        source j around i with TreeCorr's signs (``NGCorrelation.xi``, ``xi_im``).
    min_sep, max_sep, nbins, log :
        The binning (arcmin).
    auto : bool
        Catalog 1 is catalog 2 (``kind="scalar"`` only): unordered pairs i < j.
    logr : bool
        Also return ``wlogr``.

    Returns
    -------
    dict of ndarray (nbins,)
        ``npairs``, ``weight``, ``wr`` (``wlogr``) as :func:`pair_sums`, and ``xi``, ``xi_im``:
        Re and Im of sum w_i w_j a_i b_j', not yet divided by the weight.
    """
    if kind not in FIELD_KINDS:
        raise ValueError(f"kind must be one of {tuple(FIELD_KINDS)}, got {kind!r}")
    if auto and kind != "scalar":
        raise ValueError("auto: only a scalar field has an auto-correlation in field_pair_sums")
    xyz1, w1 = _as_inputs(xyz1, w1, "xyz1")
    xyz2, w2 = _as_inputs(xyz2, w2, "xyz2")
    names = SUM_NAMES + (("wlogr",) if logr else ()) + FIELD_SUM_NAMES
    binning = _Binning(min_sep, max_sep, nbins, log)
    if xyz1.shape[1] == 0 or xyz2.shape[1] == 0:
        return {name: np.zeros(int(nbins)) for name in names}
    f1 = np.asarray(f1, dtype=complex)
    f2 = np.asarray(f2, dtype=complex)
    if auto:
        shape = _tile_shape(xyz1.shape[1], xyz1.shape[1], chunk_pairs)
        rows = cols = _Side(xyz1, w1, [f1], _spatial_order(xyz1, sorted(set(shape), reverse=True)))
    else:
        shape = _tile_shape(xyz1.shape[1], xyz2.shape[1], chunk_pairs)
        rows = _Side(xyz1, w1, [f1], _spatial_order(xyz1, shape[:1]))
        cols = _Side(xyz2, w2, [f2], _spatial_order(xyz2, shape[1:]))
    base, cv, _ = _run(rows, cols, binning, [(0, 0)], auto, False, shape, logr, col_kind=FIELD_KINDS[kind])
    b = slice(1, binning.nbins + 1)
    out = {"npairs": base[0, b].copy(), "weight": base[1, b].copy(), "wr": base[2, b].copy()}
    if logr:
        out["wlogr"] = base[3, b].copy()
    out.update(xi=cv[0].real[b].copy(), xi_im=cv[0].imag[b].copy())
    return out
