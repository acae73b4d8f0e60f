"""NumPy reference kernels: exact all-pairs sums per separation bin.

These are the functions the backend switch (:mod:`cosmocorr.backends`) dispatches to; the Julia
module ``CosmoCorr`` (``julia/src``) implements the same functions with the same arguments.
Everything is vectorised, processed in row blocks so that memory stays bounded, and the blocks
are shared between threads (NumPy releases the GIL inside its array loops).
"""
from __future__ import annotations

import numpy as np

from .._parallel import n_threads, thread_map
from ..sky.geometry import ARCMIN
from .numpy_fcm import fcm_iterate

__all__ = ["pair_sums", "bin_index", "fcm_iterate", "SUM_NAMES", "SHEAR_SUM_NAMES"]

#: pairs per tile: small enough that the ~40 temporaries of a tile stay in the CPU cache
DEFAULT_CHUNK_PAIRS = 4_096
SUM_NAMES = ("npairs", "weight", "wr")
SHEAR_SUM_NAMES = ("xip", "xip_im", "xim", "xim_im")


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


def _pair_terms(a, b, dot, ga, gb, need_shear):
    """Separation (arcmin) and, optionally, projected shear products for pairs (a, b).

    ``a`` and ``b`` are unit vectors (3, ...) that broadcast against each other (gathered
    pairs, or a row block against a column block); ``dot`` is a . b for the same pairs.
    The separation is Vincenty's formula (paper eq. 16) written with unit vectors,
    atan2(|a x b|, a . b) (expand both in ra/dec to see it is the same expression).
    Each shear is rotated by exp(-2 i alpha), alpha the angle between east and the great
    circle joining the pair at that point (TreeCorr's spherical projection). Returns the
    real and imaginary parts of z_a z_b^* (xi+) and z_a z_b (xi-).
    """
    ax, ay, az = a
    bx, by, bz = b
    cx = ay * bz - az * by
    cy = az * bx - ax * bz
    cz = ax * by - ay * bx
    cn = cx * cx
    cn += cy * cy
    cn += cz * cz
    np.sqrt(cn, out=cn)
    r = np.arctan2(cn, dot, out=cn)
    r /= ARCMIN
    if not need_shear:
        return r, None
    dz = az - bz
    dsq = 2.0 - 2.0 * dot                     # |a - b|^2; only enters a second-order term
    s = -cz                                   # sin A (unnormalised) at b, towards a
    cb = 0.5 * bz * dsq
    cb += dz                                  # cos A at b
    ca = 0.5 * az * dsq
    ca -= dz                                  # cos A at a, towards b (its sin is -s)
    ss = s * s
    # exp(-2 i alpha) = conj(r)^2 / |r|^2 with r = sin A - i cos A; for coincident points
    # r = 0 and the rotation is 0, as in TreeCorr (its safe_norm only avoids 0/0).
    inv = ss + cb * cb
    np.maximum(inv, 1e-300, out=inv)
    np.divide(1.0, inv, out=inv)
    cos2b = (ss - cb * cb) * inv
    sin2b = (2.0 * s) * cb * inv
    inv = ss + ca * ca
    np.maximum(inv, 1e-300, out=inv)
    np.divide(1.0, inv, out=inv)
    cos2a = (ss - ca * ca) * inv
    sin2a = (-2.0 * s) * ca * inv
    # rotated (weighted) shears z = g e^{-2 i alpha}
    gar, gai, gbr, gbi = ga.real, ga.imag, gb.real, gb.imag
    zar = gar * cos2a - gai * sin2a
    zai = gar * sin2a + gai * cos2a
    zbr = gbr * cos2b - gbi * sin2b
    zbi = gbr * sin2b + gbi * cos2b
    rr_ = zar * zbr
    ii_ = zai * zbi
    ri_ = zar * zbi
    ir_ = zai * zbr
    # xi+: z_a z_b^*;  xi-: z_a z_b
    return r, (rr_ + ii_, ir_ - ri_, rr_ - ii_, ir_ + ri_)


def pair_sums(xyz1, w1, g1, xyz2, w2, g2, min_sep, max_sep, nbins, log, auto,
              chunk_pairs=DEFAULT_CHUNK_PAIRS):
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
        Catalog 1 is catalog 2: each unordered pair i < j once, no self pairs.

    Returns
    -------
    dict of ndarray (nbins,)
        ``npairs`` (count), ``weight`` (sum w_i w_j), ``wr`` (sum w_i w_j r, arcmin) and,
        with fields, ``xip``, ``xip_im``, ``xim``, ``xim_im``: sums of w_i w_j Re/Im of
        g_i g_j^* and g_i g_j (projected), not yet divided by the weight.
    """
    xyz1 = np.ascontiguousarray(xyz1, dtype=float)
    xyz2 = np.ascontiguousarray(xyz2, dtype=float)
    w1 = np.asarray(w1, dtype=float)
    w2 = np.asarray(w2, dtype=float)
    n1, n2 = xyz1.shape[1], xyz2.shape[1]
    shear = g1 is not None
    names = SUM_NAMES + (SHEAR_SUM_NAMES if shear else ())
    if shear:
        g1 = np.asarray(g1, dtype=complex) * w1   # fold the weights into the fields
        g2 = np.asarray(g2, dtype=complex) * w2
    # cheap pre-selection on the dot product, with a margin far above its rounding error;
    # the exact Vincenty separation then decides every candidate pair.
    cos_hi = np.cos(min(min_sep * ARCMIN, np.pi)) + 1e-9
    cos_lo = np.cos(min(max_sep * ARCMIN, np.pi)) - 1e-9
    # fixed-size tiles of the pair matrix: equal shapes let the allocator reuse the
    # temporaries' memory from tile to tile (variable shapes cost a page fault per page)
    cols = int(min(n2, max(256, 4 * int(np.sqrt(chunk_pairs)))))
    rows = max(1, int(chunk_pairs) // cols)
    tiles = [(i0, j0) for i0 in range(0, n1, rows) for j0 in range(0, n2, cols)
             if not auto or j0 + cols > i0 + 1]
    overflow = nbins  # an extra bin that collects pairs to be ignored

    def tile(ij):
        i0, j0 = ij
        i1, j1 = min(n1, i0 + rows), min(n2, j0 + cols)
        acc = np.zeros((len(names), nbins + 1))
        dot = xyz1[:, i0:i1].T @ xyz2[:, j0:j1]
        cand = (dot >= cos_lo) & (dot <= cos_hi)
        if auto and j0 <= i1:
            cand &= np.arange(j0, j1)[None, :] > np.arange(i0, i1)[:, None]
        ncand = np.count_nonzero(cand)
        if ncand == 0:
            return acc
        if ncand > 0.3 * cand.size:
            # dense: most pairs are in range, broadcast the row block against the columns
            a, b = xyz1[:, i0:i1, None], xyz2[:, None, j0:j1]
            ga = gb = None
            if shear:
                ga, gb = g1[i0:i1, None], g2[None, j0:j1]
            ww = w1[i0:i1, None] * w2[None, j0:j1]
            r, terms = _pair_terms(a, b, dot, ga, gb, shear)
            k = bin_index(r, min_sep, max_sep, nbins, log)
            k[~cand | (k < 0)] = overflow
        else:
            # sparse: gather the candidate pairs only
            ii, jj = np.nonzero(cand)
            dot = dot[ii, jj]
            ii += i0
            jj += j0
            ga = gb = None
            if shear:
                ga, gb = g1[ii], g2[jj]
            ww = w1[ii] * w2[jj]
            r, terms = _pair_terms(xyz1[:, ii], xyz2[:, jj], dot, ga, gb, shear)
            k = bin_index(r, min_sep, max_sep, nbins, log)
            k[k < 0] = overflow
        k = k.ravel()
        ww = ww.ravel()
        m = nbins + 1
        acc[0] = np.bincount(k, minlength=m)
        acc[1] = np.bincount(k, weights=ww, minlength=m)
        acc[2] = np.bincount(k, weights=ww * r.ravel(), minlength=m)
        if shear:
            for q, t in enumerate(terms):
                acc[3 + q] = np.bincount(k, weights=t.ravel(), minlength=m)
        return acc

    def worker(share):
        # each thread accumulates its own share of tiles: memory stays flat whatever N is
        acc = np.zeros((len(names), nbins + 1))
        with np.errstate(invalid="ignore", divide="ignore"):
            for ij in share:
                acc += tile(ij)
        return acc

    nthreads = max(1, min(n_threads(), len(tiles)))
    total = sum(thread_map(worker, [tiles[k::nthreads] for k in range(nthreads)], limit_blas=False))
    out = {name: total[q, :nbins].copy() for q, name in enumerate(names)}
    return out

