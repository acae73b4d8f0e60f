"""Projected intrinsic-alignment correlations w_g+ (GI) and w_++ (II), with halotools' estimators.

The line of sight is z (distant observer); r_p is the separation in the x-y plane and Pi = ``|dz|``.
Each galaxy of a shape sample has a projected orientation o (unit vector in x-y, from an (N, 2)
array, normalised here) and an ellipticity e. For a pair (i, j) with phi the angle between o_i
and the projected separation r_p,ij:

    e_+(i|j) = e_i cos(2 phi)

    w_g+(r_p) = 2 Pi_max (S+D - S+R) / (R_s R) (N_R1 N_R2) / (N_1 N_2)      (Landy-Szalay form)
    w_++(r_p) = 2 Pi_max (S+S+) / (R_s R) (N_R1 N_R2) / (N_1 N_2)            (natural form)

with S+D = sum_ij w_i w_j e_+(i|j) over shape sample 1 and density sample 2, S+S+ = sum_ij
w_i w_j e_+(i|j) e_+(j|i), S+R the first with randoms2, and R_s R the weighted random-random
pairs (randoms1 x randoms2). Pairs enter a bin when r_p,k < r_p <= r_p,k+1 and ``0 < |dz| <= Pi_max``
(halotools' cumulative counts differenced in both directions: a pair with dz exactly 0 is not
counted). In a periodic box without randoms, S+R = 0 and R_s R = N_1 N_2 pi (r_p,k+1^2 - r_p,k^2)
2 Pi_max / V. These are halotools' ``gi_plus_projected`` and ``ii_plus_projected`` (Campbell),
argument for argument; note that halotools subtracts S+R without rescaling it by N_2 / N_R2, and
so does this module.

Pairs are found on a grid of x-y columns, each sorted in z, with ``numpy.searchsorted`` (periodic:
z images near the faces, minimum-image separations), and reduced with ``numpy.bincount`` in small
chunks (no Python loop over points or pairs; memory bounded by the chunk size).
"""
from __future__ import annotations

import numpy as np

from .._validate import as_float_array, check_real
from .estimators import _period, _positions, _wrap

__all__ = ["wgp", "wpp", "projected_pair_sums"]

_CHUNK_PAIRS = 25_000   # candidate pairs per chunk: arrays that stay in cache (measured at 5k-20k points)


def _rp_bins(rp_bins, pi_max, period):
    rp_bins = as_float_array(rp_bins, "rp_bins")
    if rp_bins.ndim != 1 or rp_bins.size < 2:
        raise ValueError("rp_bins must hold at least two bin edges")
    if rp_bins[0] < 0 or np.any(np.diff(rp_bins) <= 0):
        raise ValueError("rp_bins must be non-negative and strictly increasing")
    if period is not None and max(rp_bins[-1], pi_max) >= period / 3.0:
        # halotools' mesh requires search lengths below a third of the box
        raise ValueError(f"rp_bins/pi_max: the largest separation ({max(rp_bins[-1], pi_max):g}) must be below a third "
                         f"of the period ({period / 3.0:g}), as halotools requires")
    return rp_bins


def _projected(o, n, name):
    o = as_float_array(o, name, ndim=2)
    if o.shape != (n, 2):
        raise ValueError(f"{name} must have shape ({n}, 2) (projected orientations in the x-y plane), got {o.shape}")
    norm = np.sqrt(np.sum(o * o, axis=1))
    if np.any(norm == 0):
        raise ValueError(f"{name} contains {int(np.sum(norm == 0))} zero-length vector(s)")
    return o / norm[:, None]


def _vector(x, n, name, default=1.0):
    if x is None:
        return np.full(n, default)
    x = as_float_array(x, name)
    if x.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), got {x.shape}")
    return x


def _in_box(x, period, name):
    if period is not None and (np.any(x < 0) or np.any(x > period)):
        raise ValueError(f"{name}: positions must lie in the periodic box [0, {period:g}]")
    return _wrap(x, period)


def projected_pair_sums(x1, x2, rp_bins, pi_max, period=None, mark="count", w1=None, w2=None, o1=None, o2=None):
    """Per-r_p-bin sums over all pairs (i in x1, j in x2) with ``0 < |dz| <= pi_max``.

    ``mark``: ``"count"`` (sum w_i w_j), ``"gplus"`` (sum w_i w_j cos(2 phi_i), phi_i the angle
    between o1_i and the separation) or ``"plusplus"`` (sum w_i w_j cos(2 phi_i) cos(2 phi_j)).
    ``w1``/``w2`` hold the per-object factors (weights times ellipticities for shape samples).

    The candidates come from a grid of x-y columns (see :func:`_column_pairs`). With
    o = (cos theta, sin theta) and psi the position angle of the separation,
    cos(2 phi) = cos 2theta cos 2psi + sin 2theta sin 2psi, so the per-object factors are
    precomputed and a pair costs a few gathers. When ``x1`` and ``x2`` are the same points each
    unordered pair is found once and both of its ordered terms are added (cos 2psi and sin 2psi do
    not change with the sign of the separation).
    """
    n1, n2 = x1.shape[0], x2.shape[0]
    nb = rp_bins.size - 1
    if n1 == 0 or n2 == 0:
        return np.zeros(nb)
    auto = x1 is x2 or (x1.shape == x2.shape and np.array_equal(x1, x2))
    # spatial order: consecutive points of sample 1 meet the same part of sample 2 (cache)
    cell = np.array([rp_bins[-1] / 3.0, rp_bins[-1] / 3.0, pi_max])
    x1, w1, o1 = _spatial_order(x1, cell, w1, o1)
    x2, w2, o2 = _spatial_order(x2, cell, w2, o2)
    f1 = _factors(w1, o1 if mark in ("gplus", "plusplus") else None)
    f2 = _factors(w2, o2 if mark == "plusplus" else None)
    X1 = [np.ascontiguousarray(x1[:, c]) for c in range(3)]   # 1-D gathers are cheaper than rows
    X2 = X1 if auto else [np.ascontiguousarray(x2[:, c]) for c in range(3)]
    rp_edges2 = rp_bins * rp_bins
    lo2, hi2, pi2 = rp_edges2[0], rp_edges2[-1], pi_max * pi_max
    half = None if period is None else period / 2.0
    total = np.zeros(nb + 1)
    for i, j, positive in _column_pairs(x1, x2, float(rp_bins[-1]), pi_max, period, auto):
        d = []
        for c in (0, 1):
            d.append(_separation(X1[c], X2[c], i, j, period, half))
        dx, dy = d
        rp2 = dx * dx
        rp2 += dy * dy
        sel = np.flatnonzero((rp2 > lo2) & (rp2 <= hi2))
        i, j, dx, dy, rp2 = i[sel], j[sel], dx[sel], dy[sel], rp2[sel]
        dz = _separation(X1[2], X2[2], i, j, period, half)
        # halotools: pair in bin k when rp_k^2 < rp^2 <= rp_k+1^2 and 0 < dz^2 <= pi_max^2
        ok = dz > 0 if positive else dz != 0
        dz *= dz
        ok &= (dz > 0) & (dz <= pi2)
        k = np.searchsorted(rp_edges2, rp2, side="left")    # 1 ... nb (0 for pairs cut by dz)
        k *= ok
        if mark == "count":
            cs = None
        else:
            cs = ((dx * dx - dy * dy) / rp2, 2.0 * dx * dy / rp2)    # cos 2psi, sin 2psi (rp > 0)
        val = _pair_values(f1, f2, i, j, cs)
        if auto:
            val = val + _pair_values(f1, f2, j, i, cs)
        if np.ndim(val) == 0:
            total += val * np.bincount(k, minlength=nb + 1)
        else:
            total += np.bincount(k, weights=val, minlength=nb + 1)
    return total[1:]


def _separation(a1, a2, i, j, period, half):
    """a2[j] - a1[i], the minimum image in a periodic box (|a2 - a1| < period inside the box)."""
    d = a2[j]
    d -= a1[i]
    if half is not None:
        np.subtract(d, period, out=d, where=d > half)
        np.add(d, period, out=d, where=d < -half)
    return d


def _column_pairs(x1, x2, rp_max, pi_max, period, auto):
    """Candidate pairs (i, j, positive) in chunks of about ``_CHUNK_PAIRS``: every pair with
    r_p <= rp_max and |dz| <= pi_max is among them (once; for ``auto``, once per unordered pair).

    The x-y plane is cut into square columns of side >= rp_max / m; sample 2 is sorted by column
    and z (with periodic z images of the points within pi_max of the box faces), so the partners
    of a point in a neighbouring column are one contiguous run, found by ``searchsorted`` over
    every (point, column offset) at once and expanded with ``repeat`` (no loop over points). The
    candidates fill (2m + 1)^2 / m^2 / pi of the cylinder (1.7 for m = 3; a sphere around it: 1.9).
    ``positive`` marks the chunks of an auto-correlation's own-column half windows, where only
    dz > 0 is kept.
    """
    n2 = x2.shape[0]
    margin = 1e-9 * max(rp_max, pi_max, 1.0 if period is None else period)
    xy = np.concatenate([x1[:, :2], x2[:, :2]])
    if period is None:
        origin = xy.min(axis=0)
        extent = xy.max(axis=0) - origin
    else:
        origin, extent = np.zeros(2), np.full(2, period)
    # the density of sample 2 per column sets m: more, finer columns cost more searches
    area = float(np.prod(np.maximum(extent, rp_max)))
    per_column = n2 * (rp_max * rp_max / area) * (2.0 * pi_max / (period or max(np.ptp(x2[:, 2]), 2 * pi_max)))
    m = 1 if per_column < 8 else 2 if per_column < 40 else 3
    side = rp_max / m * (1 + 1e-9)
    nc = np.maximum(1, np.floor(extent / side)).astype(np.int64)
    width = extent / nc if period is not None else np.maximum(extent / nc, side)
    c1 = np.minimum((x1[:, :2] - origin) // width, nc - 1).astype(np.int64)
    c2 = np.minimum((x2[:, :2] - origin) // width, nc - 1).astype(np.int64)
    z2, idx2, col2 = x2[:, 2], np.arange(n2), c2[:, 0] + nc[0] * c2[:, 1]
    if period is not None:      # periodic images in z
        lo, hi = np.flatnonzero(z2 <= pi_max + margin), np.flatnonzero(z2 >= period - pi_max - margin)
        z2 = np.concatenate([z2, z2[lo] + period, z2[hi] - period])
        idx2 = np.concatenate([idx2, lo, hi])
        col2 = np.concatenate([col2, col2[lo], col2[hi]])
    order = np.lexsort((z2, col2))
    z2, idx2, col2 = z2[order], idx2[order], col2[order]
    zero = min(z2.min(), x1[:, 2].min()) - pi_max - 1.0
    span = max(z2.max(), x1[:, 2].max()) - zero + pi_max + 1.0
    key = col2 * span + (z2 - zero)     # sorted: column, then z (span exceeds every z window)
    eps = margin + 64 * np.spacing(float(nc[0] * nc[1]) * span)
    # column offsets that can hold a partner within rp_max (an auto-correlation takes half of them)
    o = np.arange(-m, m + 1)
    ox, oy = (a.ravel() for a in np.meshgrid(o, o))
    gap = np.maximum(np.abs(ox) - 1, 0) ** 2 * width[0] ** 2 + np.maximum(np.abs(oy) - 1, 0) ** 2 * width[1] ** 2
    near = gap <= rp_max * rp_max * (1 + 1e-6)
    own = (ox == 0) & (oy == 0)
    groups = [(ox[near & ~own], oy[near & ~own], False), (np.zeros(1, np.int64), np.zeros(1, np.int64), False)]
    if auto:
        fwd = near & ((oy > 0) | ((oy == 0) & (ox > 0)))
        groups = [(ox[fwd], oy[fwd], False), (np.zeros(1, np.int64), np.zeros(1, np.int64), True)]
    z1 = x1[:, 2] - zero
    per_point = n2 * (1.0 + 2.0 * m) ** 2 * width[0] * width[1] * 2.0 * pi_max / (
        max(area, 1e-300) * (period or max(np.ptp(x2[:, 2]), 2 * pi_max)))
    chunk = max(1, int(_CHUNK_PAIRS // max(1.0, per_point)))
    for a in range(0, x1.shape[0], chunk):
        b = min(a + chunk, x1.shape[0])
        for gx, gy, positive in groups:
            if gx.size == 0:
                continue
            cx = c1[a:b, 0, None] + gx
            cy = c1[a:b, 1, None] + gy
            if period is not None:
                cx %= nc[0]
                cy %= nc[1]
                valid = True
            else:
                valid = (cx >= 0) & (cx < nc[0]) & (cy >= 0) & (cy < nc[1])
            base = (cx + nc[0] * cy) * span + z1[a:b, None]
            start = np.searchsorted(key, (base - eps if positive else base - (pi_max + eps)).ravel(), "left")
            stop = np.searchsorted(key, (base + (pi_max + eps)).ravel(), "right")
            count = stop - start
            if valid is not True:
                count *= valid.ravel()
            end = np.cumsum(count)
            # clustered points can hold many more pairs than the mean: pieces of <= 2 chunks
            cuts = np.searchsorted(end, np.arange(2 * _CHUNK_PAIRS, end[-1], 2 * _CHUNK_PAIRS), "right")
            for r0, r1 in zip([0, *cuts], [*cuts, count.size]):
                n = int(end[r1 - 1] - (end[r0 - 1] if r0 else 0)) if r1 > r0 else 0
                if n == 0:
                    continue
                rows = slice(r0, r1)
                i = np.repeat(a + np.arange(r0, r1) // gx.size, count[rows])
                first = end[rows] - count[rows]
                first -= first[0]
                j = np.arange(n) + np.repeat(start[rows] - first, count[rows])
                yield i, idx2[j], positive


def _factors(w, o):
    """Per-object factors: (w,) or (w cos 2theta, w sin 2theta) for orientations o; None when 1."""
    if o is None:
        return (None if w is None or np.all(w == 1.0) else w,)
    c2 = o[:, 0] * o[:, 0] - o[:, 1] * o[:, 1]
    s2 = 2.0 * o[:, 0] * o[:, 1]
    return (c2, s2) if w is None else (w * c2, w * s2)


def _pair_values(f1, f2, i, j, cs):
    """The ordered term of each pair (i in sample 1, j in sample 2), a scalar when it is 1; ``cs``
    holds cos 2psi and sin 2psi of the separations (None for counts)."""
    a = 1.0 if f1[0] is None else f1[0][i]
    b = 1.0 if f2[0] is None else f2[0][j]
    if cs is None:
        return a * b
    g = a * cs[0]
    g += f1[1][i] * cs[1]
    if len(f2) == 1:
        return g * b if f2[0] is not None else g
    g2 = b * cs[0]
    g2 += f2[1][j] * cs[1]
    return g * g2


def _spatial_order(x, cell, *arrays):
    """``x`` and the per-object ``arrays`` (None stays None) sorted by grid cell of size ``cell``."""
    c = np.floor((x - x.min(axis=0)) / cell).astype(np.int64)
    order = np.lexsort((c[:, 2], c[:, 1], c[:, 0]))
    return (x[order],) + tuple(None if a is None else a[order] for a in arrays)


def _setup(positions, positions2, rp_bins, pi_max, period, randoms):
    period = _period(period)
    pi_max = check_real(pi_max, "pi_max", low=0.0, low_open=True)
    rp_bins = _rp_bins(rp_bins, pi_max, period)
    x1 = _in_box(_positions(positions, "positions"), period, "positions")
    x2 = _in_box(_positions(positions2, "positions2"), period, "positions2")
    if randoms is None:
        if period is None:
            raise ValueError("randoms: without a period (periodic box) give randoms, one (N, 3) array or a pair "
                             "(randoms1, randoms2)")
        r1 = r2 = None
    else:
        if isinstance(randoms, (tuple, list)) and len(randoms) == 2:
            r1, r2 = randoms
        else:
            r1 = r2 = randoms
        r1 = _in_box(_positions(r1, "randoms"), period, "randoms")
        r2 = r1 if r2 is r1 else _in_box(_positions(r2, "randoms"), period, "randoms")
    return x1, x2, rp_bins, pi_max, period, r1, r2


def _random_pairs(r1, r2, rw1, rw2, rp_bins, pi_max, period, n1, n2):
    if r1 is None:
        v = np.pi * np.diff(rp_bins**2) * 2.0 * pi_max
        return n1 * n2 / period**3 * v, float(n1), float(n2)
    rw1 = _vector(rw1, r1.shape[0], "ran_weights1")
    rw2 = _vector(rw2, r2.shape[0], "ran_weights2")
    rr = projected_pair_sums(r1, r2, rp_bins, pi_max, period, "count", rw1, rw2)
    return rr, float(r1.shape[0]), float(r2.shape[0])


def wgp(positions, orientations, ellipticities, positions2, rp_bins, pi_max, period=None, randoms=None, *,
        weights1=None, weights2=None, ran_weights1=None, ran_weights2=None):
    """Projected position-shape (GI) correlation w_g+(r_p) (halotools ``gi_plus_projected``).

    Parameters
    ----------
    positions : (N1, 3) array
        Shape sample (x, y in the plane of the sky, z along the line of sight; Mpc/h).
    orientations : (N1, 2) array
        Projected orientation vectors (normalised here; zero length is a ValueError).
    ellipticities : (N1,) array
    positions2 : (N2, 3) array
        Density sample (``positions`` again for the auto-correlation).
    rp_bins : array_like
        Bin edges of r_p (Mpc/h).
    pi_max : float
        Half-length of the line-of-sight integration (Mpc/h).
    period : float, optional
        Periodic box length: then randoms are analytic unless given.
    randoms : (NR, 3) array or (randoms1, randoms2), optional
        Random catalogs of the shape and density samples (one array: both). Needed without
        ``period``.
    weights1, weights2, ran_weights1, ran_weights2 : arrays, optional
        Per-object weights (default 1), as halotools.

    Returns
    -------
    ndarray (len(rp_bins) - 1,)
        w_g+ per bin (Mpc/h); NaN where R_s R is 0 (no random pair in the bin).
    """
    x1, x2, rp_bins, pi_max, period, r1, r2 = _setup(positions, positions2, rp_bins, pi_max, period, randoms)
    o1 = _projected(orientations, x1.shape[0], "orientations")
    e1 = _vector(ellipticities, x1.shape[0], "ellipticities")
    w1 = _vector(weights1, x1.shape[0], "weights1")
    w2 = _vector(weights2, x2.shape[0], "weights2")
    sd = projected_pair_sums(x1, x2, rp_bins, pi_max, period, "gplus", e1 * w1, w2, o1)
    sr = 0.0 if r1 is None else projected_pair_sums(
        x1, r2, rp_bins, pi_max, period, "gplus", e1 * w1, _vector(ran_weights2, r2.shape[0], "ran_weights2"), o1)
    rr, nr1, nr2 = _random_pairs(r1, r2, ran_weights1, ran_weights2, rp_bins, pi_max, period, x1.shape[0],
                                 x2.shape[0])
    factor = nr1 * nr2 / (x1.shape[0] * x2.shape[0])
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(rr != 0, factor * (sd - sr) / np.where(rr != 0, rr, 1.0), np.nan)
    return out * 2.0 * pi_max


def wpp(positions, orientations, ellipticities, positions2, orientations2, ellipticities2, rp_bins, pi_max,
        period=None, randoms=None, *, weights1=None, weights2=None, ran_weights1=None, ran_weights2=None):
    """Projected shape-shape (II) correlation w_++(r_p) (halotools ``ii_plus_projected``).

    Parameters as :func:`wgp`, with ``orientations2`` (N2, 2) and ``ellipticities2`` (N2,) of the
    second shape sample.

    Returns
    -------
    ndarray (len(rp_bins) - 1,)
        w_++ per bin (Mpc/h); NaN where R_s R is 0.
    """
    x1, x2, rp_bins, pi_max, period, r1, r2 = _setup(positions, positions2, rp_bins, pi_max, period, randoms)
    o1 = _projected(orientations, x1.shape[0], "orientations")
    o2 = _projected(orientations2, x2.shape[0], "orientations2")
    e1 = _vector(ellipticities, x1.shape[0], "ellipticities")
    e2 = _vector(ellipticities2, x2.shape[0], "ellipticities2")
    w1 = _vector(weights1, x1.shape[0], "weights1")
    w2 = _vector(weights2, x2.shape[0], "weights2")
    ss = projected_pair_sums(x1, x2, rp_bins, pi_max, period, "plusplus", e1 * w1, e2 * w2, o1, o2)
    rr, nr1, nr2 = _random_pairs(r1, r2, ran_weights1, ran_weights2, rp_bins, pi_max, period, x1.shape[0],
                                 x2.shape[0])
    factor = nr1 * nr2 / (x1.shape[0] * x2.shape[0])
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(rr != 0, factor * ss / np.where(rr != 0, rr, 1.0), np.nan)
    return out * 2.0 * pi_max
