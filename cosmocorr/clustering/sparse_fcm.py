"""Sparse fuzzy c-means: memberships restricted to each object's k nearest centres (paper eqs. 15-18).

Dense fuzzy c-means (:mod:`.fuzzy_c_means`) costs N x c Vincenty distances per iteration and
N x c memory, which rules out survey-size catalogs (N = 1e6 objects, c = 1,000 clusters). Here each
object keeps memberships only for its ``k`` nearest centres (k ~ 10-30), found with a
:class:`scipy.spatial.cKDTree` on the centres' unit vectors (the chord is monotonic in the
angle, so the tree's neighbours are the Vincenty neighbours). Eqs. 15, 17 and 18 are evaluated on
the stored entries only, each row renormalised to 1:

.. math:: U_{ik} = \\Big(\\sum_{j \\in S_k} (d_{ik}/d_{jk})^{2/(m-1)}\\Big)^{-1},\\ i \\in S_k;
          \\qquad v_i \\propto \\sum_{k: i \\in S_k} U_{ik}^m y_k,

with S_k the k nearest centres of object k, and J_m (eq. 15) summed over the stored entries.
An iteration costs O(N k) distances and memory O(N k); with k = c it is dense fuzzy c-means.

Neighbour sets are re-queried only when the centres have moved enough to change one: when an
object's neighbours were found, the distance to its (k+1)-th nearest centre is remembered; the
set is still exact while its farthest member is nearer than that distance minus the largest
distance any nearby centre has moved since (triangle inequality), checked for every object at
every checking sweep. An object failing the test first tries its reserve, the next
``RESERVE`` nearest centres found with its set (a Verlet list's skin): while nothing beyond the
reserve can have come as near as its farthest member, the k nearest centres are among the set
and the reserve, whose current distances decide, and the object is re-based on this sweep with
a lower bound on every other centre's distance; only objects failing that too are queried in
the tree again.

A sweep works on fixed blocks of objects (their size set by k alone); free threads take the
next group of blocks, and each block's eq. 17 sums and J_m are added in block order, so the
result is bit-identical for any number of threads. Within a block the squared angles come from
the series of 4 arcsin^2(s/2) in the squared chord s^2 (:func:`_gathered_sq_distances`) and the
eq. 17 sums from a compiled sparse product (:func:`_centre_sums`).

k-means++ initialisation (:func:`kmeans_plus_plus_fast`) draws the same centres as
:func:`cosmocorr.clustering.kmeans_plus_plus` for the same seed, but updates the nearest-centre
distances only in the cells of a k-d partition of the objects that a new centre can reach, so it
costs about O(N log c) distances instead of O(N c).
"""
from __future__ import annotations

import threading
from math import factorial

import numpy as np
from scipy import sparse
from scipy.spatial import cKDTree

from .._parallel import n_threads, thread_map
from ..backends.numpy_fcm import iterate, memberships, neighbour_csr
from ..sky.geometry import ARCMIN, angular_distances, unit_vectors

__all__ = ["sparse_fcm_iterate", "kmeans_plus_plus_fast", "sparse_objective", "check_neighbours",
           "julia_selftest_cases"]


LAZY_PERIOD = 4        # sweeps between neighbour-set refreshes while centres move a lot
LAZY_FRACTION = 0.05   # refresh share below which every sweep checks every set
RESERVE = 4            # next-nearest centres kept per object, to refill its set without a tree query


def check_neighbours(neighbours, n_clusters):
    """``neighbours`` as an int in [1, c] (``None`` stays ``None``: dense)."""
    if neighbours is None:
        return None
    if isinstance(neighbours, bool) or not isinstance(neighbours, (int, np.integer)):
        raise TypeError(f"neighbours must be a positive int or None, got {type(neighbours).__name__}")
    neighbours = int(neighbours)
    if neighbours < 1:
        raise ValueError(f"neighbours must be >= 1, got {neighbours}")
    if neighbours > n_clusters:
        raise ValueError(f"neighbours ({neighbours}) must not exceed n_clusters ({n_clusters})")
    return neighbours


def _chord_to_angle(chord):
    return 2.0 * np.arcsin(np.minimum(0.5 * np.asarray(chord, dtype=float), 1.0))


def _max_move(a, b):
    """Largest angle (radians) between corresponding columns of two (3, c) unit-vector arrays."""
    if a is b:
        return 0.0
    chord = np.sqrt(((a - b) ** 2).sum(axis=0)).max()
    return float(_chord_to_angle(chord))


def _gathered_chord2(p, idx, cx, cy, cz, out, t):
    """Squared chords ``|a - b|^2`` from objects p (3, b) to the centres idx (k, b), into ``out``."""
    np.take(cx, idx, out=t, mode="clip")
    t -= p[0]
    np.square(t, out=out)
    np.take(cy, idx, out=t, mode="clip")
    t -= p[1]
    out += np.square(t, out=t)
    np.take(cz, idx, out=t, mode="clip")
    t -= p[2]
    out += np.square(t, out=t)
    return out


#: theta^2 = 4 arcsin^2(s / 2) = sum_n SERIES[n - 1] y^n with y = s^2 / 4 (s the chord): the Taylor
#: coefficients 2^(2n+1) ((n-1)!)^2 / (2n)! of 4 arcsin^2(sqrt(y)), n = 1..7
SERIES = tuple(2.0 ** (2 * n + 1) * factorial(n - 1) ** 2 / factorial(2 * n) for n in range(1, 8))
#: largest y = s^2 / 4 summed with SERIES (theta <= 5.7 degrees): the omitted terms are below
#: 2.5e-3^7 relative, far under rounding
SERIES_MAX_Y = 2.5e-3


def _gathered_sq_distances(p, idx, cx, cy, cz, out, t):
    """Squared angles (radians^2) from objects p (3, b) to the centres idx (k, b), into ``out``.

    The square of :func:`_gathered_distances` to rounding (relative differences of a few 1e-16):
    when every chord s of the block is short (theta <= 5.7 degrees, nearest centres), the series
    of 4 arcsin^2(s / 2) in s^2 (:data:`SERIES`, no square root or arcsine); otherwise the square
    of :func:`_gathered_distances`.
    """
    _gathered_chord2(p, idx, cx, cy, cz, out, t)
    if out.size and out.max() > 4.0 * SERIES_MAX_Y:
        return np.square(_chord2_to_angle(p, idx, cx, cy, cz, out), out=out)
    np.multiply(out, 0.25, out=t)                   # y
    np.multiply(t, SERIES[-1], out=out)
    for coef in SERIES[-2::-1]:                     # Horner
        out += coef
        out *= t
    return out


def _gathered_distances(p, idx, cx, cy, cz, out, t):
    """Angles (radians) from objects p (3, b) to the centres idx (k, b), into ``out`` (k, b).

    2 arcsin(``|a - b|`` / 2): the Vincenty angle (eq. 16) from the chord, accurate to rounding for
    the separations of nearest centres; pairs beyond 90 degrees are recomputed with
    atan2(``|a x b|``, a . b), which is accurate there.
    """
    return _chord2_to_angle(p, idx, cx, cy, cz, _gathered_chord2(p, idx, cx, cy, cz, out, t))


def _chord2_to_angle(p, idx, cx, cy, cz, out):
    """Squared chords ``out`` (k, b) -> angles in place (see :func:`_gathered_distances`)."""
    far = out > 2.0
    np.sqrt(out, out=out)
    out *= 0.5
    np.minimum(out, 1.0, out=out)
    np.arcsin(out, out=out)
    out *= 2.0
    if far.any():
        k, r = np.nonzero(far)
        a = p[:, r].T
        j = idx[k, r]
        b = np.stack([cx[j], cy[j], cz[j]], axis=1)
        out[k, r] = np.arctan2(np.linalg.norm(np.cross(a, b), axis=1), (a * b).sum(axis=1))
    return out


def _memberships_cols(d2, p, fuzziness, out):
    """eq. 18 on the columns of the squared distances ``d2`` (k, b) (one column per object), into
    ``out``: (1/d^2)^(p/2) normalised (angles are >= ~1e-16 rad, so nothing overflows); an object on
    a centre shares itself among the coincident centres (:func:`memberships`)."""
    if d2.size and d2.min() == 0:
        out[...] = memberships(np.sqrt(d2).T, fuzziness).T
        return out
    np.reciprocal(d2, out=out) if p == 2.0 else np.power(d2, -0.5 * p, out=out)
    out *= 1.0 / out.sum(axis=0)
    return out


def _centre_sums(um, idx, rows, c, t):
    """The eq. 17 sums of a block: (3, c) array, sum over the stored entries (r, j) with
    ``idx[r, j] == i`` of ``um[r, j] * rows[j]``, ``rows`` the objects' unit vectors (b, 3).

    The entries are added in the same order (rank r, then object j) by SciPy's compiled CSC
    product, one column matrix per rank, for the three coordinates at once (about twice as fast as
    three ``np.bincount``), or by ``np.bincount`` when that routine is not available: both give
    the same bits. ``t`` is a (k, b) work array.
    """
    out = np.zeros((c, 3))
    if _csc_matvecs is not None and idx.dtype == np.intp:
        k, b = idx.shape
        ptr = np.arange(b + 1, dtype=np.intp)
        x = rows.ravel()
        for r in range(k):
            _csc_matvecs(c, b, 3, ptr, idx[r], um[r], x, out.ravel())
        return out.T
    flat = idx.ravel()
    for q in range(3):
        np.multiply(um, rows[:, q], out=t)
        out[:, q] = np.bincount(flat, weights=t.ravel(), minlength=c)
    return out.T


def _find_csc_matvecs():
    """SciPy's compiled ``csc_matvecs`` (y += A X for a CSC matrix A), if this SciPy has it and it
    adds as expected (checked on a small case against ``np.bincount``); else None."""
    try:
        from scipy.sparse._sparsetools import csc_matvecs
    except ImportError:
        return None
    try:
        rng = np.random.default_rng(0)
        idx, w, x = rng.integers(0, 5, (2, 7)), rng.random((2, 7)), rng.random((7, 3))
        y = np.zeros((5, 3))
        for r in range(2):
            csc_matvecs(5, 7, 3, np.arange(8, dtype=np.intp), idx[r].astype(np.intp), w[r], x.ravel(), y.ravel())
        ref = np.stack([np.bincount(idx.ravel(), weights=(w * x[:, q]).ravel(), minlength=5) for q in range(3)], axis=1)
        return csc_matvecs if np.array_equal(y, ref) else None
    except Exception:  # noqa: BLE001 (any failure: use np.bincount)
        return None


_csc_matvecs = _find_csc_matvecs()


def sparse_objective(xyz, centres_xyz, U, fuzziness):
    """J_m (eq. 15, arcmin^2) over the stored entries of a sparse membership ``U`` (N, c)."""
    U = sparse.csr_matrix(U)
    rows = np.repeat(np.arange(U.shape[0]), np.diff(U.indptr))
    a = np.asarray(xyz)[:, rows]
    b = np.asarray(centres_xyz)[:, U.indices]
    d = _chord_to_angle(np.sqrt(((a - b) ** 2).sum(axis=0))) / ARCMIN
    return float(np.sum(U.data ** fuzziness * d * d))


class _Layout:
    """One iterate: neighbour indices and memberships (k, N); per object, from the sweep (epoch)
    that found its set (tree query) or re-based it (refill from the reserve): a lower bound then
    on the distance to every centre outside the set (``limit``; from the tree, the (k+1)-th
    nearest's distance), the reserve ((r, N); from the tree, the (k+1)-th to (k+r)-th nearest
    centres) and a lower bound then on the distance to every centre outside set and reserve
    (``far``; from the tree, the (k+r+1)-th nearest's distance)."""

    def __init__(self, n, k, r=0):
        self.idx = np.empty((k, n), dtype=np.intp)   # intp: np.take converts other types
        self.U = np.empty((k, n))
        self.limit = np.empty(n)
        self.reserve = np.empty((r, n), dtype=np.intp)
        self.far = np.empty(n)
        self.epoch = np.zeros(n, dtype=np.int32)
        self.centres = None                         # (x, y, z) of the centres U was computed for


def sparse_fcm_iterate(xyz, cxyz, fuzziness, tol, max_iter, neighbours, weights=None, block=None, relax=1.0,
                       num_threads=None, progress=None):
    """Fuzzy c-means iterations with memberships on the ``neighbours`` nearest centres.

    The sparse counterpart of :func:`cosmocorr.backends.numpy_fcm.fcm_iterate` (same arguments,
    same over-relaxation with ``relax`` > 1, same stopping rule max ``|U_new - U|`` < tol, the
    difference taken over the union of old and new neighbour sets; ``progress``, an object with
    ``update(n)``, is advanced once per iteration).

    Returns
    -------
    (centres (3, c), U (N, c) scipy.sparse.csr_matrix with sorted indices, n_iter,
     J_m history (arcmin^2), converged, number of objects whose neighbours were re-queried)
    """
    pts = np.ascontiguousarray(np.asarray(xyz, dtype=float))          # (3, N)
    n, c = pts.shape[1], cxyz.shape[1]
    k = int(neighbours)
    p = 2.0 / (fuzziness - 1.0)
    block = max(64, min(n, 65_536 // k)) if block is None else int(block)
    threads = n_threads(num_threads)
    workers = max(1, min(threads, -(-n // block), (n * k) // 100_000))
    # groups of a few blocks, handed to whichever thread is free (several per thread, so that a
    # thread with many re-queries does not hold up the sweep); each block's sums are kept apart and
    # added in block order, so the result does not depend on the number of threads
    starts_all = np.arange(0, n, block)
    shares = np.array_split(starts_all, min(starts_all.size, 1 if workers == 1 else 8 * workers))
    exact_sets = k >= c                      # every centre stored: sets never change
    epochs = {}                              # sweep -> centres, their M nearest centres, radius
    n_near = min(c, 3 * k + 1)
    r_res = 0 if exact_sets else min(RESERVE, c - k - 1)
    state = {"requeried": 0, "sweeps": 0, "exact": exact_sets}
    pts_rows = np.ascontiguousarray(pts.T)                            # (N, 3)

    def sweep(centres, out, ref=None):
        """Memberships (eq. 18) for ``centres`` into layout ``out`` (checking/refreshing the
        neighbour sets of ``ref``, or querying them all when ``ref`` is None); returns the eq. 17
        sums, J_m and max ``|U_out - U_ref|``."""
        epoch = state["sweeps"]
        state["sweeps"] += 1
        test = None
        # While the centres still move a lot (many sets flagged), sets are refreshed only every
        # LAZY_PERIOD-th sweep; the sweeps between use the sets they have and cannot declare
        # convergence (a refreshing sweep can). Once a refresh touches <= LAZY_FRACTION of the
        # objects, every sweep checks.
        check = state["exact"] or epoch % LAZY_PERIOD == 0
        if ref is not None and not exact_sets and check:
            # For each sweep (epoch) whose neighbour sets are still in use: how far each centre
            # moved since (delta), the largest move among each centre's n_near nearest centres
            # then (local) and overall (top). A set found at epoch e with nearest centre a stays
            # exact while  R + local[a] < d_(k+1)  and  d(x, a) + delta[a] + R + top <= rho[a],
            # R being the current distance to its farthest member (triangle inequality).
            live = set(np.flatnonzero(np.bincount(ref.epoch, minlength=epoch)).tolist())
            if out is not ref:
                live |= set(np.flatnonzero(np.bincount(out.epoch, minlength=epoch)).tolist())
            for e in [e for e in epochs if e not in live]:
                del epochs[e]
            delta, local, top, rho = (np.zeros((epoch, c)), np.zeros((epoch, c)), np.zeros(epoch),
                                      np.zeros((epoch, c)))
            for e in live:
                then, near, radius = epochs[e]
                de = _chord_to_angle(np.sqrt(((centres - then) ** 2).sum(axis=0))) * (1 + 1e-9) + 1e-15
                delta[e], local[e], top[e], rho[e] = de, de[near].max(axis=1), de.max(), radius
            test = delta, local, top, rho
        cx, cy, cz = (np.ascontiguousarray(centres[q]) for q in range(3))
        tree_lock = threading.Lock()
        tree_box = []

        def this_epoch():
            """The k-d tree of ``centres``, registering them (with each centre's n_near nearest
            centres and their radius) as this sweep's epoch on first use."""
            with tree_lock:
                if not tree_box:
                    tree = cKDTree(centres.T)
                    tree_box.append(tree)
                    dd, near = tree.query(centres.T, k=n_near)
                    near = near.reshape(c, n_near)
                    radius = _chord_to_angle(dd.reshape(c, n_near)[:, -1]) * (1 - 1e-9) if n_near < c \
                        else np.full(c, np.inf)
                    epochs[epoch] = (centres, near, radius)
                return tree_box[0]

        def tree_query(cols):
            tree = this_epoch()
            q = pts_rows[cols]
            if exact_sets:
                _, ii = tree.query(q, k=k)
                inf = np.full(len(q), np.inf)
                return ii.reshape(len(q), k).T.astype(np.intp), inf, np.empty((0, len(q)), dtype=np.intp), inf
            dd, ii = tree.query(q, k=k + r_res + 1)
            ii = ii.T.astype(np.intp)
            return ii[:k], _chord_to_angle(dd[:, k]), ii[k:k + r_res], _chord_to_angle(dd[:, k + r_res])

        def run(starts):
            d, t, e = np.empty((k, block)), np.empty((k, block)), np.empty((k, block))
            sums, jm, change, requeried, flagged = [], [], 0.0, 0, 0
            for s in starts:
                rows = slice(s, min(s + block, n))
                b = rows.stop - rows.start
                P = pts[:, rows]
                dk, tk = d[:, :b], t[:, :b]
                redo, touched = None, False
                if ref is None:
                    I, lim, res, far = tree_query(np.arange(rows.start, rows.stop))
                    ep = np.full(b, epoch, dtype=np.int32)
                else:
                    I, lim, ep = ref.idx[:, rows], ref.limit[rows], ref.epoch[rows]
                    res, far = ref.reserve[:, rows], ref.far[rows]
                _gathered_sq_distances(P, I, cx, cy, cz, dk, tk)      # squared angles (eqs. 15, 18)
                if test is not None:
                    delta, local, top, rho = test
                    a, R, d0 = I[0], np.sqrt(dk.max(axis=0)), np.sqrt(dk[0])
                    # a centre outside the set in a's neighbourhood then is now at least its distance
                    # then - local; with ``near``, every centre outside that neighbourhood is beyond R
                    reach = R + local[ep, a]
                    near = d0 + delta[ep, a] + R + top[ep] <= rho[ep, a]
                    redo = np.flatnonzero(~((reach < lim) & near))
                    flagged += redo.size
                    if redo.size:
                        lim, far, ep, res = lim.copy(), far.copy(), ep.copy(), res.copy()   # ``ref`` keeps its own
                        touched = True
                        new_rows, new_sets = [], []
                        inner = redo[(reach[redo] < far[redo]) & near[redo]] if r_res else redo[:0]
                        if inner.size:
                            # nothing beyond the reserve can have come within R: the k nearest centres
                            # are among the set and its reserve, whose distances now decide; the row is
                            # re-based on this sweep, every other centre being now at least ``bound``
                            # away (in a's neighbourhood then: far - local; outside it: rho - d(x, a)
                            # then - top), without a tree query
                            this_epoch()
                            e_in, a_in = ep[inner], a[inner]
                            bound = np.minimum(far[inner] - local[e_in, a_in],
                                               rho[e_in, a_in] - d0[inner] - delta[e_in, a_in] - top[e_in])
                            res_in = res[:, inner]
                            d_res = _gathered_distances(P[:, inner], res_in, cx, cy, cz, np.empty(res_in.shape),
                                                        np.empty(res_in.shape))
                            nearest_res = d_res.min(axis=0)
                            far[inner] = bound
                            lim[inner] = np.minimum(nearest_res, bound)
                            ep[inner] = epoch
                            swap = R[inner] > nearest_res
                            if swap.any():
                                sw = inner[swap]
                                cand = np.concatenate([I[:, sw], res_in[:, swap]])
                                cand_d = np.concatenate([np.sqrt(dk[:, sw]), d_res[:, swap]])
                                order = np.argsort(cand_d, axis=0, kind="stable")
                                cand = np.take_along_axis(cand, order, axis=0)
                                new_rows.append(sw)
                                new_sets.append(cand[:k])
                                res[:, sw] = cand[k:]
                                lim[sw] = np.take_along_axis(cand_d, order[k:k + 1], axis=0)[0]   # <= R <= bound
                        queried = np.setdiff1d(redo, inner, assume_unique=True)
                        if queried.size:
                            requeried += queried.size
                            new_I, lim[queried], res[:, queried], far[queried] = tree_query(queried + rows.start)
                            ep[queried] = epoch
                            # most re-queried sets come back unchanged: they keep their order (the test
                            # holds for any member as ``a``), distances and plain change
                            moved = ~(np.sort(new_I, axis=0) == np.sort(I[:, queried], axis=0)).all(axis=0)
                            new_rows.append(queried[moved])
                            new_sets.append(new_I[:, moved])
                        redo = np.concatenate(new_rows) if new_rows else redo[:0]
                        new_I = np.concatenate(new_sets, axis=1) if new_sets else None
                    if redo.size:
                        old_I, old_U = I[:, redo].T.copy(), ref.U[:, rows][:, redo].T.copy()
                        I = I.copy()
                        I[:, redo] = new_I
                        dk[:, redo] = _gathered_sq_distances(P[:, redo], new_I, cx, cy, cz,
                                                             np.empty((k, redo.size)), np.empty((k, redo.size)))
                    else:
                        redo = None
                u = _memberships_cols(dk, p, fuzziness, tk)
                if ref is not None:
                    if redo is None:
                        ek = np.subtract(u, ref.U[:, rows], out=e[:, :b])
                        change = max(change, float(np.abs(ek, out=ek).max()))
                    else:
                        keep = np.ones(b, dtype=bool)
                        keep[redo] = False
                        if keep.any():
                            change = max(change, float(np.abs(u[:, keep] - ref.U[:, rows][:, keep]).max()))
                        change = max(change, _swap_change(P[:, redo], I[:, redo], old_I.T, (cx, cy, cz),
                                                          ref.centres, p, u[:, redo], old_U.T))
                out.U[:, rows] = u
                if ref is None or out is not ref or touched:
                    out.idx[:, rows] = I
                    out.limit[rows] = lim
                    out.epoch[rows] = ep
                    out.reserve[:, rows] = res
                    out.far[rows] = far
                um = np.square(u, out=u) if fuzziness == 2.0 else np.power(u, fuzziness, out=u)
                jm.append(float(np.einsum("ij,ij->", um, dk)) / ARCMIN**2)   # (not vdot: BLAS is slow here)
                if weights is not None:
                    um *= weights[rows]
                sums.append(_centre_sums(um, I, pts_rows[rows], c, dk))
            return sums, jm, change, requeried, flagged

        parts = thread_map(run, shares, limit_blas=False, num_threads=workers)
        out.centres = tuple(np.ascontiguousarray(centres[q]) for q in range(3))
        requeried = sum(q[3] for q in parts)
        flagged = sum(q[4] for q in parts)
        state["requeried"] += requeried
        change = max(q[2] for q in parts)
        if ref is not None and not exact_sets and not state["exact"]:
            if check and flagged <= LAZY_FRACTION * n:
                state["exact"] = True
            elif not check:
                change = np.inf          # sets not verified in this sweep: no convergence here
        total, jm = np.zeros((3, c)), 0.0
        for q in parts:                  # block order, whatever thread did the block
            for block_sums, block_jm in zip(q[0], q[1]):
                total += block_sums
                jm += block_jm
        return total, jm, change

    spare = None if relax == 1.0 else _Layout(n, k, r_res)
    cxyz, cur, it, history, converged = iterate(sweep, cxyz, _Layout(n, k, r_res), spare, relax, tol, max_iter,
                                                progress)
    del spare
    return cxyz, neighbour_csr(cur.idx, cur.U, c), it, np.array(history), converged, state["requeried"]


def _swap_change(P, new_I, old_I, new_c, old_c, p, new_U, old_U):
    """max ``|U_new - U_old|`` over the union of the old and new neighbour sets (k, r) of rows whose
    set changed, each membership being eq. 18 at its own sweep's centres with that sweep's row
    normaliser (the sum over its stored set): a centre dropped from a set is compared with the
    membership eq. 18 now gives it, a centre added with the one it would have had, so a swap of
    two nearly equidistant centres (the k-th and the (k+1)-th) changes nothing discontinuously.
    Only the old set at the new centres and the new set at the old centres are computed (a centre
    in both sets gets its stored value back); each normaliser comes from the row's largest stored
    entry, S = d^-p / U. With an object on a centre: the stored values (:func:`_union_change`)."""
    k, r = new_I.shape
    if r == 0:
        return 0.0
    cols = np.arange(r)
    j_new, j_old = new_U.argmax(axis=0), old_U.argmax(axis=0)
    at_new = np.concatenate([old_I, new_I[j_new, cols][None]])      # (k + 1, r) at the new centres
    at_old = np.concatenate([new_I, old_I[j_old, cols][None]])      # (k + 1, r) at the old centres
    dn = _gathered_distances(P, at_new, *new_c, np.empty(at_new.shape), np.empty(at_new.shape))
    do = _gathered_distances(P, at_old, *old_c, np.empty(at_old.shape), np.empty(at_old.shape))
    if dn.min() == 0 or do.min() == 0:
        return _union_change(new_I.T, new_U.T, old_I.T, old_U.T)
    np.power(dn, -p, out=dn)
    np.power(do, -p, out=do)
    dn[:k] *= new_U[j_new, cols] / dn[k]                 # eq. 18 of the old set's centres now
    do[:k] *= old_U[j_old, cols] / do[k]                 # eq. 18 of the new set's centres then
    dn[:k] -= old_U
    do[:k] -= new_U
    return float(max(np.abs(dn[:k]).max(), np.abs(do[:k]).max()))


def _union_change(new_I, new_U, old_I, old_U):
    """max ``|U_new - U_old|`` over the union of the old and new neighbour sets of some rows (r, k)."""
    match = new_I[:, :, None] == old_I[:, None, :]          # (r, k_new, k_old)
    old_at_new = (match * old_U[:, None, :]).sum(axis=2)
    change = float(np.abs(new_U - old_at_new).max()) if new_U.size else 0.0
    dropped = ~match.any(axis=1)
    if dropped.any():
        change = max(change, float(old_U[dropped].max()))
    return change


# ------------------------------------------------------------------------------------ k-means++
def kmeans_plus_plus_fast(ra, dec, n_clusters, seed=None, weight_factor=0.0, leaf_size=256):
    """k-means++ (paper sec. 4, Algorithm 1 step 1) for large N, drawing the same centres as
    :func:`cosmocorr.clustering.kmeans_plus_plus` with the same seed.

    The D^2 draws read the random stream exactly as ``kmeans_plus_plus`` does (one uniform per
    centre, searched in the cumulative D^2 in object order, through block sums); after each new
    centre, the nearest-centre distances are updated only in the cells of a k-d partition of the
    objects whose bounding cap is nearer to the new centre than the cell's largest distance
    (every other object keeps its distance, by the triangle inequality). With
    ``weight_factor`` > 0 it calls ``kmeans_plus_plus`` (the mixing needs N random numbers per
    centre anyway).

    Returns
    -------
    ndarray (c, 2)
        Centres (ra, dec) in degrees, each at an object.
    """
    from .kmeans_pp import check_n_clusters, kmeans_plus_plus
    from .._validate import check_sky_coords

    if float(weight_factor) != 0.0:
        return kmeans_plus_plus(ra, dec, n_clusters, seed=seed, weight_factor=weight_factor)
    ra, dec = check_sky_coords(ra, dec)
    n = ra.size
    n_clusters = check_n_clusters(n_clusters, n)
    rng = np.random.default_rng(seed)
    xyz = unit_vectors(ra, dec)
    # cells: contiguous runs of a k-d ordering of the objects, each with a bounding cap
    order = cKDTree(xyz.T, leafsize=max(16, leaf_size)).indices if n > leaf_size else np.arange(n)
    starts = np.arange(0, n, leaf_size)
    sizes = np.diff(np.append(starts, n))
    ncell = starts.size
    cell_of = np.repeat(np.arange(ncell), sizes)            # cell of each position in ``order``
    cxyz = np.add.reduceat(xyz[:, order], starts, axis=1)
    norm = np.linalg.norm(cxyz, axis=0)
    cxyz = cxyz / np.where(norm > 0, norm, 1.0)
    cxyz[:, norm == 0] = xyz[:, order[starts[norm == 0]]]
    member_d = np.einsum("ij,ij->j", xyz[:, order], cxyz[:, cell_of])
    cross = np.cross(xyz[:, order].T, cxyz[:, cell_of].T)
    member_d = np.arctan2(np.linalg.norm(cross, axis=1), member_d)
    radius = np.maximum.reduceat(member_d, starts) * (1 + 1e-9) + 1e-12

    chosen = np.zeros(n, dtype=bool)
    idx = np.empty(n_clusters, dtype=np.intp)
    idx[0] = rng.integers(n)
    chosen[idx[0]] = True
    dmin = angular_distances(xyz, xyz[:, idx[:1]])[:, 0]
    w = dmin ** 2
    w[chosen] = 0.0
    cellmax = np.maximum.reduceat(dmin[order], starts)
    bs = 4096
    nb = -(-n // bs)
    wpad = np.zeros(nb * bs)
    for i in range(1, n_clusters):
        wpad[:n] = w
        bsum = wpad.reshape(nb, bs).sum(axis=1)
        total = bsum.sum()
        if not total > 0:
            # every remaining object sits on a centre: uniform over the objects not chosen yet
            wpad[:n] = ~chosen
            bsum = wpad.reshape(nb, bs).sum(axis=1)
            total = bsum.sum()
        u = rng.random()
        target = u * total
        cb = np.cumsum(bsum)
        b = min(int(np.searchsorted(cb, target, side="right")), nb - 1)
        while bsum[b] == 0 and b > 0:
            b -= 1
        blk = wpad[b * bs:(b + 1) * bs]
        j = int(np.searchsorted(np.cumsum(blk), target - (cb[b - 1] if b > 0 else 0.0), side="right"))
        if j >= bs or blk[j] == 0:       # rounding at a block edge: the nearest object with weight
            pos = np.flatnonzero(blk > 0)
            after = pos[pos >= min(j, bs - 1)]
            j = int(after[0] if after.size else pos[-1])
        new = b * bs + j
        idx[i] = new
        chosen[new] = True
        # cells the new centre can reach: lower bound on its distance to the cell < cell's largest D
        z = xyz[:, new:new + 1]
        lb = angular_distances(cxyz, z)[:, 0] - radius
        cells = np.flatnonzero(lb < cellmax * (1 + 1e-9) + 1e-12)
        if cells.size == 0:
            w[new] = 0.0
            continue
        lens = sizes[cells]
        offsets = np.concatenate([[0], np.cumsum(lens)[:-1]])
        pos = np.repeat(starts[cells] - offsets, lens) + np.arange(lens.sum())
        sel = order[pos]
        dsel = np.minimum(dmin[sel], angular_distances(xyz[:, sel], z)[:, 0])
        dmin[sel] = dsel
        cellmax[cells] = np.maximum.reduceat(dsel, offsets)
        w[sel] = np.where(chosen[sel], 0.0, dsel ** 2)
        w[new] = 0.0
    return np.column_stack([ra[idx], dec[idx]])


# ------------------------------------------------------------------------------------ Julia self-test
def julia_selftest_cases():
    """The self-test check of the Julia sparse fuzzy c-means (family ``fcm_sparse`` of
    :data:`cosmocorr.backends.julia_bridge.SELFTEST_FAMILIES`), for ``cosmocorr julia selftest``:
    [(name, case)], ``case(julia_kernels)`` returning (NumPy reference, Julia result, rtol, atol).

    1,500 uniform objects (no clear clusters: the centres drift for hundreds of sweeps, so the
    lazy refresh, the reserve refills, swaps and re-queries all run), c = 40, k = 6, weights,
    k-means++ start, tol 1e-6. The Julia kernel mirrors this module step for step, so the
    iterates agree to rounding: a line-by-line NumPy port of it differed from
    :func:`sparse_fcm_iterate` by <= 3e-13 in the memberships, 3e-16 in the centres and 2e-14
    (relative) in J_m after 310 iterations, with the same n_iter and re-query count. rtol 1e-9,
    atol 1e-9 leave three orders of magnitude for rounding, and an integer (n_iter, re-queries)
    that differs by one fails.
    """
    def case(jk):
        rng = np.random.default_rng(2)
        ra, dec = 150 + rng.uniform(-0.4, 0.4, 1500), 2.2 + rng.uniform(-0.4, 0.4, 1500)
        xyz = unit_vectors(ra, dec)
        init = unit_vectors(*kmeans_plus_plus_fast(ra, dec, 40, seed=102).T)
        w = np.random.default_rng(9).uniform(0.5, 1.5, ra.size)
        args = (xyz, init, 2.0, 1e-6, 400, 6, w)
        names = ("centers", "membership", "n_iter", "objective", "converged", "requeried")
        out = []
        for res in (sparse_fcm_iterate(*args), jk.sparse_fcm_iterate(*args)):
            res = dict(zip(names, res))
            res["membership"] = sparse.csr_matrix(res["membership"]).toarray()
            out.append(res)
        return out[0], out[1], 1e-9, 1e-9

    return [("sparse_fcm_iterate", case)]
