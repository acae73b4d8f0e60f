"""NumPy kernel of the fuzzy c-means iterations (paper eqs. 15, 17, 18), the reference the Julia
module's ``fcm_iterate`` mirrors.

Distances are Vincenty's (eq. 16) in vector form, computed from matrix products; memberships
follow eq. 18 in a form that never overflows; each iteration walks the objects in cache-sized
blocks over threads. :mod:`cosmocorr.clustering` owns the algorithm around it (initialisation,
validation, results); this module owns only the arithmetic.
"""
from __future__ import annotations

import numpy as np

from .._parallel import n_threads, thread_map
from ..sky.geometry import ARCMIN, _cross_factors, _distances_into

__all__ = ["fcm_iterate", "memberships", "RELAX_CAP"]


def memberships(d, fuzziness):
    """Fuzzy memberships from distances (paper eq. 18), in a numerically safe form.

    U_ik = 1 / sum_j (d_ik / d_jk)^(2/(m-1)), computed as (d_min/d_ik)^p / sum_j (d_min/d_jk)^p with
    p = 2/(m-1) and d_min the row minimum, so no ratio overflows. An object sitting exactly on one
    or more centres belongs to them in equal parts (the limit of eq. 18), never NaN.
    """
    p = 2.0 / (fuzziness - 1.0)
    dmin = d.min(axis=1, keepdims=True)
    if dmin.size and dmin.min() > 0:          # the usual case: no object on a centre
        return _memberships_into(d, p, np.empty_like(d))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(d > 0, (dmin / np.where(d > 0, d, 1.0)) ** p, 1.0)
    on_centre = (dmin[:, 0] == 0)
    if np.any(on_centre):
        ratio[on_centre] = (d[on_centre] == 0).astype(float)
    return ratio / ratio.sum(axis=1, keepdims=True)


RELAX_CAP = 5.0   # largest over-relaxation factor of the accelerated iterations


def fcm_iterate(xyz, cxyz, fuzziness, tol, max_iter, weights=None, block=None, relax=1.0, progress=None):
    """The fuzzy c-means iterations (the kernel both backends implement).

    From initial centre unit vectors ``cxyz`` (3, c): memberships (eq. 18), then repeat centres
    (eq. 17) and memberships until max ``|U_new - U|`` < tol or ``max_iter``.
    Returns (centres (3, c), U (N, c), n_iter, J_m history (arcmin^2), converged).
    ``relax`` > 1 starts the over-relaxed iterations of ``fuzzy_c_means(accelerate=True)``.
    ``progress``: an object with ``update(n)`` (a tqdm bar) advanced once per iteration.

    Each iteration splits the objects between threads; each thread walks its rows in blocks of
    ``block`` rows (default about 65,536 / c) and computes, per block, distances, memberships and
    its share of the next centre sums, of J_m and of the change in U, in work arrays it reuses:
    the (N, c) work stays in cache and only U itself is kept.
    """
    pts = np.ascontiguousarray(xyz.T)
    n, c = pts.shape[0], cxyz.shape[1]
    block = max(64, min(n, 65_536 // c)) if block is None else int(block)   # ~0.5 MB work arrays
    U = np.empty((n, c))
    p = 2.0 / (fuzziness - 1.0)
    # threads only pay off for large problems (a pool costs ~1 ms per iteration)
    workers = max(1, min(n_threads(), -(-n // block), (n * c) // 200_000))
    shares = np.array_split(np.arange(0, n, block), workers)

    def sweep(centres, out, ref=None):
        """Memberships for ``centres`` into ``out``; the change is measured against ``ref``."""
        factors = _cross_factors(centres)

        def run(starts):
            d, t, dot, um = (np.empty((block, c)) for _ in range(4))
            sums, jm, change = np.zeros((3, c)), 0.0, 0.0
            for s in starts:
                rows = slice(s, min(s + block, n))
                k = rows.stop - rows.start
                dk, tk, uk = d[:k], t[:k], um[:k]
                _distances_into(pts[rows], factors, dk, tk, dot[:k])
                u = memberships(dk, fuzziness) if dk.min() == 0 else _memberships_into(dk, p, dot[:k])
                if ref is not None:
                    np.subtract(u, ref[rows], out=tk)
                    change = max(change, float(np.abs(tk).max()))
                out[rows] = u
                np.power(u, fuzziness, out=uk) if fuzziness != 2.0 else np.square(u, out=uk)
                dk /= ARCMIN
                jm += float(np.einsum("ij,ij,ij->", uk, dk, dk))
                if weights is not None:
                    uk *= weights[rows, None]
                sums += pts[rows].T @ uk
            return sums, jm, change

        parts = thread_map(run, shares)
        return sum(q[0] for q in parts), sum(q[1] for q in parts), max(q[2] for q in parts)

    spare = None if relax == 1.0 else np.empty_like(U)   # second buffer for over-relaxed trials
    return iterate(sweep, cxyz, U, spare, relax, tol, max_iter, progress)


def renormalise(v, previous):
    """Unit vectors from centre sums (eq. 17); a centre without weight stays where it was."""
    norm = np.linalg.norm(v, axis=0)
    keep = norm == 0
    return np.where(keep, previous, v / np.where(keep, 1.0, norm))


def neighbour_csr(idx, U, n_clusters):
    """Sparse memberships (N, c) as a scipy.sparse.csr_matrix with sorted indices, from the
    0-based neighbour indices ``idx`` and memberships ``U`` (both (k, N): column i is object i's
    k stored entries) of the sparse fuzzy c-means (paper eq. 18 on the k nearest centres)."""
    from scipy import sparse

    k, n = idx.shape
    index_type = np.int64 if n * k > 2**31 - 1 else np.int32
    out = sparse.csr_matrix((U.T.ravel(), idx.T.ravel().astype(index_type),
                             np.arange(0, n * k + 1, k, dtype=index_type)), shape=(n, int(n_clusters)))
    out.sort_indices()
    return out


def iterate(sweep, cxyz, current, spare, relax, tol, max_iter, progress=None):
    """The fuzzy c-means outer loop (eqs. 17-18 until max ``|U_new - U|`` < tol), shared by the dense
    kernel and the sparse one (:mod:`cosmocorr.clustering.sparse_fcm`).

    ``sweep(centres, out, ref)`` computes the memberships for ``centres`` into the buffer ``out``
    and returns (centre sums, J_m, max change against ``ref``). ``spare`` is a second buffer for
    the over-relaxed trial steps (``relax`` > 1; None for the plain iteration); after a relaxed
    step whose change is below ``relax * tol`` the next step is a plain one, so that the test
    sees the plain step's change, as without acceleration. ``progress`` (an
    object with ``update(n)``, e.g. a tqdm bar) is advanced once per iteration. Returns (centres,
    the buffer holding the final memberships, n_iter, J_m history, converged).
    """
    sums, jm, _ = sweep(cxyz, current)
    history = [jm]
    converged = False
    it = 0
    plain = False
    for it in range(1, max_iter + 1):
        proposal = renormalise(sums, cxyz)     # eq. 17
        step = None
        if spare is not None and not plain:
            # over-relaxed step, kept only if J_m still decreases; the factor grows while steps
            # are kept and shrinks when one is refused (then the plain eq. 17 step is taken)
            trial = renormalise(cxyz + relax * (proposal - cxyz), proposal)
            t_sums, t_jm, t_change = sweep(trial, spare, current)
            if t_jm <= history[-1]:
                relax = min(relax * 1.1, RELAX_CAP)
                step = trial, t_sums, t_jm, t_change
            else:
                relax = max(1.0 + 0.5 * (relax - 1.0), 1.05)
        if step is None:
            target = current if spare is None else spare
            step = (proposal,) + sweep(proposal, target, current)
        # an over-relaxed step changes U by about ``relax`` times the plain step: once that is
        # within reach of tol, the next step is a plain one, whose change is the test's
        plain = step[0] is not proposal and step[3] < relax * tol
        cxyz, sums, jm, change = step
        if spare is not None:
            current, spare = spare, current
        history.append(jm)
        if progress is not None:
            progress.update(1)
        if change < tol:
            converged = True
            break
    return cxyz, current, it, np.array(history), converged


def _memberships_into(d, p, out):
    """eq. 18 for rows without a zero distance: (d_min / d)^p normalised, written to ``out``."""
    np.divide(d.min(axis=1, keepdims=True), d, out=out)
    np.square(out, out=out) if p == 2.0 else np.power(out, p, out=out)
    out /= out.sum(axis=1, keepdims=True)
    return out
