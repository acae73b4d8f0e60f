"""Three-dimensional intrinsic-alignment correlations (paper sec. 2.2, eqs. 9-11).

For galaxies at positions x_i with orientation axes e_i (unit vectors; e and -e are the same
axis, so only ``|e . v|^2`` enters), summed over ordered pairs (i, j), i != j, with separation
r_ij in the bin (r_k, r_k+1]:

* position-orientation, eq. 10:   omega(r) = sum w_i w_j ``|e_i . r_hat_ij|^2`` / sum w_i w_j - 1/3
* orientation-orientation, eq. 11: eta(r) = sum w_i w_j ``|e_i . e_j|^2`` / sum w_i w_j - 1/3
* position-position, eq. 9:       xi(r) = DD / RR - 1 in a periodic box (RR analytic), or the
  Landy-Szalay estimator with a random catalog otherwise.

These are the estimators of halotools' ``ed_3d`` and ``ee_3d`` (the IAEmu training set). Pairs at
zero separation are never counted. A bin without pairs gives NaN ("no pair measured the
correlation at this separation"), never an error. Pairs are found with
``scipy.spatial.cKDTree`` (periodic when ``period`` is given, using minimum-image separations)
and reduced in chunks with ``numpy.bincount``: memory is about 16 bytes per pair.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from .._parallel import thread_map

from .._validate import as_float_array, check_bool, check_same_length

__all__ = ["DEFAULT_RBINS", "IACorrelations", "ia_correlations", "ia_pair_sums", "xi", "omega", "eta"]

#: IAEmu's 20 logarithmic radial bins, 0.1 to 10**1.2 (about 15.8) Mpc/h.
DEFAULT_RBINS = np.logspace(-1.0, 1.2, 21)

_CHUNK = 1 << 16   # pairs per chunk of the pair loop


def _positions(x, name):
    x = as_float_array(x, name, ndim=2)
    if x.shape[1] != 3:
        raise ValueError(f"{name} must have shape (N, 3), got {x.shape}")
    return x


def _orientations(e, n, name):
    e = as_float_array(e, name, ndim=2)
    if e.shape != (n, 3):
        raise ValueError(f"{name} must have shape ({n}, 3) to match the positions, got {e.shape}")
    norm = np.linalg.norm(e, axis=1)
    if np.any(norm == 0):
        raise ValueError(f"{name} contains {int(np.sum(norm == 0))} zero-length vector(s); axes need a direction")
    return e / norm[:, None]


def _weights(w, n, name):
    if w is None:
        return None
    w = as_float_array(w, name)
    check_same_length(("positions", np.empty(n)), (name, w))
    if np.any(w < 0):
        raise ValueError(f"{name} must be non-negative")
    if not np.any(w > 0):
        raise ValueError(f"{name}: all weights are zero (sum of {name} == 0); at least one object needs a positive weight")
    return w


def _drop_zero_weight(x, e, w, keep_zero_weight):
    """TreeCorr's rule: objects with w == 0 are removed unless ``keep_zero_weight``."""
    if w is None or keep_zero_weight or np.all(w != 0):
        return x, e, w
    keep = w != 0
    return x[keep], None if e is None else e[keep], w[keep]


def _rbins(rbins, period):
    rbins = as_float_array(rbins, "rbins")
    if rbins.size < 2:
        raise ValueError("rbins must hold at least two bin edges")
    if rbins[0] < 0 or np.any(np.diff(rbins) <= 0):
        raise ValueError("rbins must be non-negative and strictly increasing")
    if period is not None and rbins[-1] >= 0.5 * period:
        raise ValueError(f"rbins: the largest edge {rbins[-1]:g} must be below half the period ({0.5 * period:g})")
    return rbins


def _period(period):
    if period is None:
        return None
    p = as_float_array(period, "period")
    if p.size == 3 and np.all(p == p[0]):
        p = p[:1]
    if p.size != 1 or p[0] <= 0:
        raise ValueError("period must be one positive box length (the same in x, y and z)")
    return float(p[0])


def _wrap(x, period):
    if period is None:
        return x
    x = np.mod(x, period)
    return np.where(x >= period, 0.0, x)   # np.mod can round a tiny negative up to the period


def _pairs(x1, x2, rmax, period):
    """Index pairs within rmax: (i, j, unordered) for an auto-correlation, ordered otherwise."""
    t1 = cKDTree(x1, boxsize=period)
    if x2 is None:
        p = t1.query_pairs(rmax, output_type="ndarray")
        return p[:, 0], p[:, 1], True
    t2 = cKDTree(x2, boxsize=period)
    m = t1.sparse_distance_matrix(t2, rmax, output_type="ndarray")
    return m["i"].astype(np.intp), m["j"].astype(np.intp), False


def ia_pair_sums(positions, rbins, orientations=None, period=None, weights=None, positions2=None,
                 orientations2=None, weights2=None, sums=("ed", "ee"), keep_zero_weight=False):
    """Weighted pair sums over ordered pairs, per bin.

    Returns a dict of (nbins,) arrays: ``npairs`` (count), ``weight`` (sum w_i w_j), ``rsum``
    (sum w_i w_j r), and, when orientations are given, ``ed`` (sum w_i w_j ``|e_i . r_hat|^2``) and
    ``ee`` (sum w_i w_j ``|e_i . e_j|^2``, needs ``orientations2`` for a cross-correlation).
    ``positions2`` turns the auto-correlation into a cross-correlation (sample 1 carries the
    orientation in ``ed``, as in halotools' ``ed_3d(sample1, orientations1, sample2, ...)``).
    ``sums`` limits the orientation sums computed (omega needs only ``ed``, eta only ``ee``).
    Objects with zero weight are dropped (they enter no ``npairs``) unless ``keep_zero_weight``,
    as ``treecorr.Catalog`` does; all weights zero is a ValueError.
    """
    keep_zero_weight = check_bool(keep_zero_weight, "keep_zero_weight")
    period = _period(period)
    rbins = _rbins(rbins, period)
    x1 = _wrap(_positions(positions, "positions"), period)
    n1 = x1.shape[0]
    e1 = None if orientations is None else _orientations(orientations, n1, "orientations")
    w1 = _weights(weights, n1, "weights")
    x1, e1, w1 = _drop_zero_weight(x1, e1, w1, keep_zero_weight)
    if positions2 is None:
        if orientations2 is not None or weights2 is not None:
            raise ValueError("orientations2 and weights2 need positions2")
        x2, e2, w2 = None, e1, w1
    else:
        x2 = _wrap(_positions(positions2, "positions2"), period)
        e2 = None if orientations2 is None else _orientations(orientations2, x2.shape[0], "orientations2")
        w2 = _weights(weights2, x2.shape[0], "weights2")
        x2, e2, w2 = _drop_zero_weight(x2, e2, w2, keep_zero_weight)
    i, j, unordered = _pairs(x1, x2, rbins[-1], period)
    y2 = x1 if x2 is None else x2
    nb = rbins.size - 1
    want_ed = e1 is not None and "ed" in sums
    want_ee = e1 is not None and e2 is not None and "ee" in sums
    keys = ["npairs", "weight", "rsum"] + (["ed"] if want_ed else []) + (["ee"] if want_ee else [])

    # per-axis contiguous copies: gathering 1-D arrays is cheaper than rows of (N, 3) arrays,
    # and chunks of 64k pairs keep every temporary in the CPU cache
    X1 = [np.ascontiguousarray(x1[:, c]) for c in range(3)]
    Y2 = X1 if x2 is None else [np.ascontiguousarray(y2[:, c]) for c in range(3)]
    EA = None if e1 is None else [np.ascontiguousarray(e1[:, c]) for c in range(3)]
    EB = EA if (unordered or e2 is e1) else (None if e2 is None else [np.ascontiguousarray(e2[:, c]) for c in range(3)])

    def chunk(s):
        a, b = i[s:s + _CHUNK], j[s:s + _CHUNK]
        d = []
        for c in range(3):
            dc = Y2[c][b]
            dc -= X1[c][a]
            if period is not None:
                dc -= period * np.round(dc / period)
            d.append(dc)
        r = d[0] * d[0]
        r += d[1] * d[1]
        r += d[2] * d[2]
        r2 = r.copy() if want_ed else None
        np.sqrt(r, out=r)
        # bins are (r_k, r_k+1]; r <= r_0 (and r = 0) goes to an overflow bin that is dropped
        k = np.searchsorted(rbins, r, side="left")
        k -= 1
        k[k < 0] = nb
        k[r == 0] = nb
        ww = None
        if w1 is not None or w2 is not None:
            ww = np.broadcast_to((1.0 if w1 is None else w1[a]) * (1.0 if w2 is None else w2[b]), a.shape)
        acc = np.zeros((len(keys), nb + 1))
        acc[0] = np.bincount(k, minlength=nb + 1)
        acc[1] = acc[0] if ww is None else np.bincount(k, ww, minlength=nb + 1)
        acc[2] = np.bincount(k, r if ww is None else ww * r, minlength=nb + 1)
        if want_ed or want_ee:
            ea = [EA[c][a] for c in range(3)]
            eb = None if EB is None else [EB[c][b] for c in range(3)]
        if want_ed:
            t = ea[0] * d[0]
            t += ea[1] * d[1]
            t += ea[2] * d[2]
            ed = t * t
            if unordered:
                t = eb[0] * d[0]
                t += eb[1] * d[1]
                t += eb[2] * d[2]
                t *= t
                ed += t
            with np.errstate(invalid="ignore", divide="ignore"):
                ed /= r2
            ed[k == nb] = 0.0
            if ww is not None:
                ed *= ww
            acc[3] = np.bincount(k, ed, minlength=nb + 1)
        if want_ee:
            t = ea[0] * eb[0]
            t += ea[1] * eb[1]
            t += ea[2] * eb[2]
            t *= t
            if ww is not None:
                t *= ww
            acc[-1] = np.bincount(k, t, minlength=nb + 1)
        return acc

    total = sum(thread_map(chunk, range(0, i.size, _CHUNK), limit_blas=False), np.zeros((len(keys), nb + 1)))
    # an unordered pair stands for two ordered ones; "ed" already summed both members' axes
    twice = 2.0 if unordered else 1.0
    return {key: (1.0 if key == "ed" else twice) * total[q, :nb] for q, key in enumerate(keys)}


def _ratio(num, den):
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


@dataclass
class IACorrelations:
    """xi, omega and eta per radial bin from one pass over the pairs.

    Attributes
    ----------
    rbins : (nbins + 1,) bin edges; ``rnom`` the geometric bin centres; ``meanr`` the weighted
    mean pair separation (NaN in an empty bin); ``npairs`` and ``weight`` per bin (ordered
    pairs); ``xi``, ``omega``, ``eta`` the correlations (NaN where a bin has no pairs).
    """

    rbins: np.ndarray
    meanr: np.ndarray
    npairs: np.ndarray
    weight: np.ndarray
    xi: np.ndarray
    omega: np.ndarray
    eta: np.ndarray

    @property
    def rnom(self):
        """Geometric bin centres, sqrt(r_k r_k+1) (Mpc/h)."""
        return np.sqrt(self.rbins[1:] * self.rbins[:-1])

    def stack(self):
        """(3, nbins) array of xi, omega, eta: the layout of IAEmu's outputs."""
        return np.stack([self.xi, self.omega, self.eta])


def _xi(dd, positions, rbins, period, w, randoms, keep_zero_weight=False):
    """eq. 9 from the DD weight sums: analytic randoms in a periodic box, RR = ((sum w)^2 - sum w^2)
    times shell volume / box volume; otherwise Landy-Szalay with ``randoms`` (DD, DR, RR normalised
    by (sum w)^2, sum w N_r and N_r^2 as TreeCorr does); NaN with neither."""
    n_w = float(positions.shape[0]) if w is None else float(np.sum(w))
    if period is not None:
        sum_w2 = n_w if w is None else float(np.sum(w * w))
        rr = (n_w**2 - sum_w2) * 4.0 / 3.0 * np.pi * np.diff(rbins**3) / period**3
        return _ratio(dd, rr) - 1.0
    if randoms is None:
        return np.full(rbins.size - 1, np.nan)
    randoms = _positions(randoms, "randoms")
    n_r = float(randoms.shape[0])
    dr = ia_pair_sums(positions, rbins, weights=w, positions2=randoms, sums=(),
                      keep_zero_weight=keep_zero_weight)["weight"]
    rr = ia_pair_sums(randoms, rbins, sums=())["weight"]
    dd_n, dr_n, rr_n = dd / n_w**2, dr / (n_w * n_r), rr / n_r**2
    return _ratio(dd_n - 2 * dr_n + rr_n, rr_n)


def ia_correlations(positions, orientations, rbins=DEFAULT_RBINS, period=None, weights=None, randoms=None,
                    keep_zero_weight=False):
    """xi (eq. 9), omega (eq. 10) and eta (eq. 11) of one catalog in one pass over the pairs.

    Parameters
    ----------
    positions : (N, 3) array, Mpc/h
    orientations : (N, 3) array
        Galaxy orientation axes (normalised here; sign irrelevant).
    rbins : array_like
        Bin edges in Mpc/h; default :data:`DEFAULT_RBINS` (IAEmu's 20 log bins).
    period : float, optional
        Periodic box length. Then xi uses analytic randoms, RR = (sum w)^2 - sum w^2 times the
        shell volume over the box volume.
    weights : (N,) array, optional
        Non-negative, not all zero.
    randoms : (Nr, 3) array, optional
        Random catalog for xi when there is no period: Landy-Szalay with DD, DR, RR normalised by
        (sum w)^2, sum w N_r and N_r^2 as TreeCorr does. Without either, xi is NaN.
    keep_zero_weight : bool
        Objects with zero weight are dropped (no ``npairs``) unless True, as in TreeCorr.
    """
    s = ia_pair_sums(positions, rbins, orientations, period=period, weights=weights,
                     keep_zero_weight=keep_zero_weight)
    w = None if weights is None else np.asarray(weights, dtype=float)
    xi_ = _xi(s["weight"], np.asarray(positions, dtype=float), np.asarray(rbins, dtype=float), _period(period), w,
              randoms, keep_zero_weight)
    rbins = np.asarray(rbins, dtype=float)
    return IACorrelations(rbins=rbins, meanr=_ratio(s["rsum"], s["weight"]), npairs=s["npairs"],
                          weight=s["weight"], xi=xi_, omega=_ratio(s["ed"], s["weight"]) - 1.0 / 3.0,
                          eta=_ratio(s["ee"], s["weight"]) - 1.0 / 3.0)


def omega(positions, orientations, rbins=DEFAULT_RBINS, period=None, weights=None, positions2=None, weights2=None,
          keep_zero_weight=False):
    """Position-orientation correlation omega(r), eq. 10 (halotools ``ed_3d``), per bin.

    With ``positions2`` the directions point to the second sample (a cross-correlation).
    Zero-weight objects are dropped unless ``keep_zero_weight`` (see :func:`ia_pair_sums`).
    """
    s = ia_pair_sums(positions, rbins, orientations, period=period, weights=weights, positions2=positions2,
                     weights2=weights2, sums=("ed",), keep_zero_weight=keep_zero_weight)
    return _ratio(s["ed"], s["weight"]) - 1.0 / 3.0


def eta(positions, orientations, rbins=DEFAULT_RBINS, period=None, weights=None, positions2=None,
        orientations2=None, weights2=None, keep_zero_weight=False):
    """Orientation-orientation correlation eta(r), eq. 11 (halotools ``ee_3d``), per bin.

    Zero-weight objects are dropped unless ``keep_zero_weight`` (see :func:`ia_pair_sums`)."""
    if positions2 is not None and orientations2 is None:
        raise ValueError("orientations2 is needed with positions2 for eta")
    s = ia_pair_sums(positions, rbins, orientations, period=period, weights=weights, positions2=positions2,
                     orientations2=orientations2, weights2=weights2, sums=("ee",), keep_zero_weight=keep_zero_weight)
    return _ratio(s["ee"], s["weight"]) - 1.0 / 3.0


def xi(positions, rbins=DEFAULT_RBINS, period=None, weights=None, randoms=None, keep_zero_weight=False):
    """Position-position correlation xi(r), eq. 9: analytic randoms in a periodic box,
    Landy-Szalay with ``randoms`` otherwise. Zero-weight objects are dropped unless
    ``keep_zero_weight`` (see :func:`ia_pair_sums`)."""
    period_f = _period(period)
    if period_f is None and randoms is None:
        raise ValueError("randoms: a random catalog is needed for xi when there is no period")
    s = ia_pair_sums(positions, rbins, period=period, weights=weights, sums=(), keep_zero_weight=keep_zero_weight)
    w = None if weights is None else np.asarray(weights, dtype=float)
    return _xi(s["weight"], np.asarray(positions, dtype=float), np.asarray(rbins, dtype=float), period_f, w, randoms,
               keep_zero_weight)
