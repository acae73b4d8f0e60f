"""Projected intrinsic-alignment correlations w_g+ (GI) and w_++ (II), with halotools' estimators.

The line of sight is z (distant observer); r_p is the separation in the x-y plane and Pi = |dz|.
Each galaxy of a shape sample has a projected orientation o (unit vector in x-y, from an (N, 2)
array, normalised here) and an ellipticity e. For a pair (i, j) with phi the angle between o_i
and the projected separation r_p,ij:

    e_+(i|j) = e_i cos(2 phi)

    w_g+(r_p) = 2 Pi_max (S+D - S+R) / (R_s R) (N_R1 N_R2) / (N_1 N_2)      (Landy-Szalay form)
    w_++(r_p) = 2 Pi_max (S+S+) / (R_s R) (N_R1 N_R2) / (N_1 N_2)            (natural form)

with S+D = sum_ij w_i w_j e_+(i|j) over shape sample 1 and density sample 2, S+S+ = sum_ij
w_i w_j e_+(i|j) e_+(j|i), S+R the first with randoms2, and R_s R the weighted random-random
pairs (randoms1 x randoms2). Pairs enter a bin when r_p,k < r_p <= r_p,k+1 and 0 < |dz| <= Pi_max
(halotools' cumulative counts differenced in both directions: a pair with dz exactly 0 is not
counted). In a periodic box without randoms, S+R = 0 and R_s R = N_1 N_2 pi (r_p,k+1^2 - r_p,k^2)
2 Pi_max / V. These are halotools' ``gi_plus_projected`` and ``ii_plus_projected`` (Campbell),
argument for argument; note that halotools subtracts S+R without rescaling it by N_2 / N_R2, and
so does this module.

Pairs are found with ``scipy.spatial.cKDTree`` (periodic: ``boxsize``, minimum-image separations)
within sqrt(r_max^2 + Pi_max^2) and reduced with ``numpy.bincount`` (no Python loop over pairs).
"""
from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from .._validate import as_float_array, check_real
from .estimators import _period, _positions, _wrap

__all__ = ["wgp", "wpp", "projected_pair_sums"]

_CHUNK_PAIRS = 400_000   # candidate pairs per chunk: arrays of a few MB, reused and cache-resident


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
    """Per-r_p-bin sums over all pairs (i in x1, j in x2) with 0 < |dz| <= pi_max.

    ``mark``: ``"count"`` (sum w_i w_j), ``"gplus"`` (sum w_i w_j cos(2 phi_i), phi_i the angle
    between o1_i and the separation) or ``"plusplus"`` (sum w_i w_j cos(2 phi_i) cos(2 phi_j)).
    ``w1``/``w2`` hold the per-object factors (weights times ellipticities for shape samples).

    The candidates are the pairs with |dx|, |dy| <= r_p,max and |dz| <= pi_max (a max-norm
    ``cKDTree`` search with z scaled by r_p,max / pi_max: the box holds the cylinder with 4/pi of
    its volume). With o = (cos theta, sin theta) and psi the position angle of the separation,
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
    rp_max = float(rp_bins[-1])
    cell = np.array([rp_max, rp_max, pi_max])
    # spatial order (cells of the search size): a chunk of sample 1 then meets a compact part of
    # sample 2, so the tree search prunes well and the per-pair gathers stay in cache
    x1, w1, o1 = _spatial_order(x1, cell, w1, o1)
    x2, w2, o2 = _spatial_order(x2, cell, w2, o2)
    f1 = _factors(w1, o1 if mark in ("gplus", "plusplus") else None)
    f2 = _factors(w2, o2 if mark == "plusplus" else None)
    scale = rp_max / pi_max
    box = None if period is None else np.array([period, period, period * scale])
    s1 = _scaled(x1, scale, box)
    s2 = s1 if auto else _scaled(x2, scale, box)
    X1 = [np.ascontiguousarray(x1[:, c]) for c in range(3)]   # 1-D gathers are cheaper than rows
    X2 = X1 if auto else [np.ascontiguousarray(x2[:, c]) for c in range(3)]
    reach = rp_max * (1 + 1e-9)     # the exact cuts below use the unscaled separations
    rp_edges2 = rp_bins * rp_bins
    pi2 = pi_max * pi_max
    half = None if period is None else period / 2.0
    total = np.zeros(nb + 2)
    # sample 1 in chunks: the pair arrays of one chunk stay small (memory ~ 100 bytes per pair)
    per_point = n2 * 8.0 * rp_max * rp_max * pi_max / _volume(x2, period)
    chunk = max(1, int(_CHUNK_PAIRS // max(1.0, per_point / (2.0 if auto else 1.0))))
    t2 = None if auto else cKDTree(s2, boxsize=box)
    for c0 in range(0, n1, chunk):
        ta = cKDTree(s1[c0:c0 + chunk], boxsize=box)
        if auto:
            # unordered pairs: j > i among the points from c0 on (the earlier ones met them before)
            m = ta.sparse_distance_matrix(cKDTree(s2[c0:], boxsize=box, balanced_tree=False), reach, p=np.inf,
                                          output_type="ndarray")
            keep = m["j"] > m["i"]
            i = m["i"][keep]
            j = m["j"][keep]
            j += c0
        else:
            m = ta.sparse_distance_matrix(t2, reach, p=np.inf, output_type="ndarray")
            i = np.array(m["i"])
            j = np.array(m["j"])
        del m
        i += c0
        d = []
        for c in range(3):
            dc = X2[c][j]
            dc -= X1[c][i]
            if half is not None:    # minimum image (|dc| < period: the points lie in the box)
                np.subtract(dc, period, out=dc, where=dc > half)
                np.add(dc, period, out=dc, where=dc < -half)
            d.append(dc)
        dx, dy, dz = d
        rp2 = dx * dx
        rp2 += dy * dy
        dz *= dz
        # halotools: pair in bin k when rp_k^2 < rp^2 <= rp_k+1^2 and 0 < dz^2 <= pi_max^2;
        # index 0 and nb + 1 collect the rest
        k = np.searchsorted(rp_edges2, rp2, side="left")
        k *= (dz > 0) & (dz <= pi2)
        if mark == "count":
            cs = None
        else:
            with np.errstate(invalid="ignore", divide="ignore"):    # rp = 0 pairs fall out of every bin
                cs = ((dx * dx - dy * dy) / rp2, 2.0 * dx * dy / rp2)    # cos 2psi, sin 2psi
        val = _pair_values(f1, f2, i, j, cs)
        if auto:
            val = val + _pair_values(f1, f2, j, i, cs)
        if np.ndim(val) == 0:
            total += val * np.bincount(k, minlength=nb + 2)
        else:
            total += np.bincount(k, weights=val, minlength=nb + 2)
    return total[1:nb + 1]


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


def _scaled(x, scale, box):
    """Positions with z times ``scale`` (the max-norm search box), inside the periodic ``box``."""
    s = x.copy()
    s[:, 2] *= scale
    if box is not None:
        s[s[:, 2] >= box[2], 2] = 0.0     # z * scale can round up to the period: the same point
    return s


def _spatial_order(x, cell, *arrays):
    """``x`` and the per-object ``arrays`` (None stays None) sorted by grid cell of size ``cell``."""
    c = np.floor((x - x.min(axis=0)) / cell).astype(np.int64)
    order = np.lexsort((c[:, 2], c[:, 1], c[:, 0]))
    return (x[order],) + tuple(None if a is None else a[order] for a in arrays)


def _volume(x, period):
    """The volume the points fill (the box, or their bounding box), for the chunk size."""
    if period is not None:
        return period**3
    return float(np.prod(np.maximum(np.ptp(x, axis=0), 1e-12))) if x.shape[0] else 1.0


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
