"""Fuzzy c-means on the sky with Vincenty distances (paper sec. 4, eqs. 15-18; Algorithm 1 steps 1-2).

Fuzzy c-means (Bezdek, Ehrlich & Full 1984) minimises (paper eq. 15)

.. math:: J_m(U, v) = \\sum_{k=1}^N \\sum_{i=1}^c U_{ik}^m\\, d(y_k, v_i)^2

with d the great-circle (Vincenty, eq. 16) distance, alternating the centre update (eq. 17,
done on unit vectors and renormalised, so that it is correct across RA = 0/360 and near the
poles) and the membership update (eq. 18). Memberships are rows of ``U`` (N, c) that sum to 1;
each row is the categorical distribution of Algorithm 1's assignment (eq. 19).

Coarse to fine (``coarse_to_fine=``): eqs. 17-18 are first iterated to convergence on a seeded
random subsample, whose J_m (eq. 15 over its own objects) has its minima near those of the whole
catalog's; the centres found start the next, larger subsample and finally all N objects, so
most iterations are paid at a fraction of the full cost. The last stage is an ordinary fit of
all N objects with the usual stopping rule, so its result is a fixed point of eqs. 17-18.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validate import as_float_array, check_bool, check_positive_int, check_real, check_seed, check_sky_coords, check_weights
from .._parallel import using_threads
from .._progress import progress_bar
from .._warnings import ConvergenceWarning, emit_warning
from ..backends import get_backend, get_kernels, numpy_only, trusted_kernel
from ..backends.numpy_fcm import RELAX_CAP, memberships
from ..sky.geometry import ARCMIN, angular_distances, unit_vectors, vectors_to_radec
from .kmeans_pp import check_n_clusters, kmeans_plus_plus
from .sparse_fcm import check_neighbours, kmeans_plus_plus_fast, sparse_fcm_iterate

__all__ = ["FuzzyCMeansResult", "fuzzy_c_means", "memberships", "update_centers", "objective",
           "angular_distances", "RELAX_CAP"]


def update_centers(xyz, U, fuzziness, weights=None):
    """Centre update (paper eq. 17) on the sphere: the U^m-weighted mean of unit vectors, renormalised.

    Returns unit vectors (3, c). A centre whose members have no weight keeps a zero vector
    (callers keep the previous centre in that case).
    """
    um = U ** fuzziness
    if weights is not None:
        um = um * weights[:, None]
    v = xyz @ um                                   # (3, c)
    norm = np.linalg.norm(v, axis=0)
    return v / np.where(norm > 0, norm, 1.0)


def objective(d, U, fuzziness):
    """J_m (eq. 15) in arcmin^2."""
    return float(np.sum(U ** fuzziness * (d / ARCMIN) ** 2))


@dataclass
class FuzzyCMeansResult:
    """Result of :func:`fuzzy_c_means`.

    Attributes
    ----------
    centers : ndarray (c, 2)
        Cluster centres (ra, dec) in degrees.
    membership : ndarray (N, c) or scipy.sparse.csr_matrix (N, c)
        U, rows summing to 1 (eq. 18); sparse (k stored entries per row) with ``neighbours=k``.
    n_iter : int
        Iterations performed.
    objective : ndarray
        J_m (eq. 15, arcmin^2) after the initial membership and after each iteration.
    converged : bool
        Whether max ``|U_new - U_old|`` < tol was reached before ``max_iter``. When it was not, :func:`fuzzy_c_means`
        emits a :class:`cosmocorr.ConvergenceWarning`.
    fuzziness : float
    stages : tuple of (int, int, bool)
        (objects, iterations, converged) of each stage of a ``coarse_to_fine`` fit, smallest
        subsample first and the whole catalog last; ``n_iter``, ``objective`` and ``converged``
        are those of the last (full-size) stage. A one-stage fit has one entry.
    """

    centers: np.ndarray
    membership: np.ndarray
    n_iter: int
    objective: np.ndarray
    converged: bool
    fuzziness: float
    stages: tuple = ()

    @property
    def total_iterations(self):
        """Iterations over all stages (subsample iterations included)."""
        return int(sum(s[1] for s in self.stages)) if self.stages else self.n_iter

    @property
    def n_clusters(self):
        """Number of clusters c."""
        return self.centers.shape[0]

    @property
    def centers_xyz(self):
        """Unit vectors of the centres, shape (3, c)."""
        return unit_vectors(self.centers[:, 0], self.centers[:, 1])


def fuzzy_c_means(ra, dec, n_clusters, fuzziness=2.0, tol=1e-6, max_iter=300, seed=None, init=None,
                  weights=None, weight_factor=0.0, backend=None, accelerate=False, neighbours=None,
                  num_threads=None, progress=False, coarse_to_fine=None):
    """Fuzzy c-means on the sky (paper eqs. 15, 17, 18; Algorithm 1 steps 1-2).

    Parameters
    ----------
    ra, dec : array_like
        Positions in degrees.
    n_clusters : int
        Number of clusters c, 1 <= c <= N.
    fuzziness : float
        Weighting exponent m > 1 (m -> 1: hard k-means; larger: softer memberships).
    tol : float
        Stop when max ``|U_new - U_old|`` < tol.
    max_iter : int
        Maximum number of iterations (of each stage with ``coarse_to_fine``).
    seed : int or Generator, optional
        Seed for the k-means++ initialisation (and the subsamples of ``coarse_to_fine``).
    init : array_like (c, 2), optional
        Initial centres (degrees) instead of k-means++ (with ``coarse_to_fine``: the start of
        the smallest subsample's fit).
    weights : array_like, optional
        Object weights in the centre update: finite, non-negative, not all zero (ValueError).
    weight_factor : float
        k-means++ random-weight mixing (see :func:`kmeans_plus_plus`).
    backend : {"numpy", "julia", "auto"}, optional
        Where the iterations run (:func:`fcm_iterate` or its Julia counterpart).
    accelerate : bool
        Over-relaxed centre steps (NumPy backend): each step moves the centres further along
        the eq. 17 update by an adaptive factor (1.5 to start, growing while steps are kept, at
        most :data:`RELAX_CAP`), kept only when J_m decreases, so J_m stays monotone and the
        fixed points are those of eqs. 17-18. An over-relaxed step changes U about the factor
        times as much as the plain step would, so once it changes U by less than the factor
        times ``tol`` the next step is a plain one, whose max ``|U_new - U_old|`` is tested against
        ``tol`` as without acceleration (a relaxed step below ``tol`` ends the run as well).
        Typically 2-3x fewer iterations; on data without clear clusters it may settle in a
        different local minimum than the plain iteration.
    neighbours : int, optional
        Sparse fuzzy c-means (:mod:`cosmocorr.clustering.sparse_fcm`): each object's memberships
        are restricted to its ``neighbours`` nearest centres (k ~ 10-30; found with a k-d tree),
        eqs. 15-18 evaluated on those entries with rows renormalised; O(N k) time per iteration
        and memory instead of O(N c). ``membership`` is then a ``scipy.sparse.csr_matrix``
        (N, c). ``None`` (default): dense. k = c gives dense fuzzy c-means (to rounding). Runs
        on Julia (``"julia"`` or ``"auto"``) only once the Julia kernel's self-test (family
        ``fcm_sparse``) passed here, else in NumPy (with ``backend="julia"`` a
        :class:`~cosmocorr.CosmocorrWarning` says so); with ``accelerate=True`` always in NumPy.
        k-means++ uses the fast variant drawing the same centres.
    num_threads : int, optional
        Threads for the iterations (default: all cores; see :mod:`cosmocorr._parallel`).
    progress : bool
        Show a tqdm bar counting the iterations (out of ``max_iter`` per stage; it stops early at
        convergence), those of every ``coarse_to_fine`` stage included. The Julia backend reports
        its iterations once, when it returns.
    coarse_to_fine : bool or sequence of int, optional
        Start the fit from the centres of fits to random subsamples (a large catalog then needs
        fewer iterations at full size). ``None``/``False`` (default): one fit of all N objects.
        A sequence of increasing sizes n_1 < n_2 < ... < N (each >= ``n_clusters``): nested
        subsamples drawn without replacement with ``seed`` (the smaller is the first objects of
        the larger); k-means++ (or ``init``) starts the fit of eqs. 17-18 on n_1 objects, which
        runs to convergence (``tol``, ``max_iter``); each next subsample, and finally the whole
        catalog, is fitted starting from the previous centres. Every stage minimises J_m (eq. 15)
        of its own objects; only the last is the fit of the catalog, so the result is a fixed
        point of eqs. 17-18 on all N objects, judged by the same stopping rule as a cold start
        (a local minimum of J_m like any fuzzy c-means fit; on the same data it may be a
        different one). ``True``: sizes N / 10, N / 100, ... down to the smallest of them that
        is at least max(10,000, 20 c) (none when N < 10 max(10,000, 20 c)).
        ``stages`` on the result records the objects, iterations and convergence of each stage.

    Returns
    -------
    FuzzyCMeansResult
    """
    ra, dec = check_sky_coords(ra, dec)
    n = ra.size
    n_clusters = check_n_clusters(n_clusters, n)
    fuzziness = check_real(fuzziness, "fuzziness", low=1.0, low_open=True)
    tol = check_real(tol, "tol", low=0.0, low_open=True)
    max_iter = check_positive_int(max_iter, "max_iter")
    check_seed(seed)
    accelerate = check_bool(accelerate, "accelerate")
    progress = check_bool(progress, "progress")
    if weights is not None:
        # negative weights would pull the centres (eq. 17) away from the data
        weights = check_weights(weights, "weights", n)
    neighbours = check_neighbours(neighbours, n_clusters)
    sizes = coarse_sizes(coarse_to_fine, n, n_clusters)
    if init is not None:
        init = as_float_array(init, "init", ndim=2)
        if init.shape != (n_clusters, 2):
            raise ValueError(f"init must have shape ({n_clusters}, 2), got {init.shape}")
        check_sky_coords(init[:, 0], init[:, 1], ra_name="init ra", dec_name="init dec")
    # nested subsamples: the first n_j objects of one seeded random order (sorted, to keep the
    # catalog's own order); k-means++ draws from the same Generator afterwards
    rng = np.random.default_rng(seed) if sizes else seed
    order = rng.permutation(n)[:sizes[-1]] if sizes else None
    picks = [np.sort(order[:m]) for m in sizes] + [None]
    first = picks[0]
    if init is None:
        ra0, dec0 = (ra, dec) if first is None else (ra[first], dec[first])
        pp = kmeans_plus_plus_fast if neighbours is not None else kmeans_plus_plus
        init = pp(ra0, dec0, n_clusters, seed=rng, weight_factor=weight_factor)
    xyz = unit_vectors(ra, dec)
    cxyz = unit_vectors(init[:, 0], init[:, 1])
    stages = []
    desc = "fuzzy c-means iterations" + (f" ({len(picks)} stages)" if sizes else "")
    with progress_bar(max_iter * len(picks), desc, progress) as bar:
        for pick in picks:
            w = weights if pick is None or weights is None else weights[pick]
            if w is not None and not np.any(w > 0):
                raise ValueError(f"weights: the {pick.size} objects of a coarse_to_fine subsample all have zero "
                                 f"weight; give larger subsample sizes")
            cxyz, U, it, history, converged = _iterate(xyz if pick is None else xyz[:, pick], cxyz, fuzziness,
                                                       float(tol), max_iter, w, backend, accelerate, neighbours,
                                                       num_threads, bar)
            stages.append((n if pick is None else int(pick.size), int(it), bool(converged)))
    return _warn_unconverged(FuzzyCMeansResult(vectors_to_radec(cxyz), U, int(it), np.asarray(history),
                                               bool(converged), fuzziness, tuple(stages)), tol, max_iter)


def coarse_sizes(coarse_to_fine, n_objects, n_clusters):
    """The subsample sizes of ``coarse_to_fine`` (increasing, each in [c, N); empty: one fit),
    checked (see :func:`fuzzy_c_means`)."""
    if coarse_to_fine is None or coarse_to_fine is False or coarse_to_fine is np.False_:
        return []
    if coarse_to_fine is True or coarse_to_fine is np.True_:
        smallest = max(COARSE_MIN_OBJECTS, COARSE_MIN_PER_CLUSTER * n_clusters)
        sizes, m = [], n_objects // 10
        while m >= smallest:
            sizes.insert(0, m)
            m //= 10
        return sizes
    if isinstance(coarse_to_fine, (str, bytes)) or not np.iterable(coarse_to_fine):
        raise TypeError(f"coarse_to_fine must be True, False, None or a sequence of subsample sizes, "
                        f"got {type(coarse_to_fine).__name__}")
    sizes = [check_positive_int(m, "coarse_to_fine") for m in coarse_to_fine]
    if not sizes:
        raise ValueError("coarse_to_fine: give at least one subsample size (or None for one fit)")
    if any(b <= a for a, b in zip(sizes, sizes[1:])):
        raise ValueError(f"coarse_to_fine sizes must increase strictly, got {sizes}")
    if sizes[0] < n_clusters:
        raise ValueError(f"coarse_to_fine: a subsample of {sizes[0]} objects cannot hold {n_clusters} clusters "
                         f"(each size must be >= n_clusters)")
    if sizes[-1] >= n_objects:
        raise ValueError(f"coarse_to_fine: subsample sizes must be smaller than the {n_objects} objects, "
                         f"got {sizes[-1]}")
    return sizes


#: ``coarse_to_fine=True``: the smallest subsample has at least this many objects ...
COARSE_MIN_OBJECTS = 10_000
#: ... and at least this many per cluster
COARSE_MIN_PER_CLUSTER = 20


def _iterate(xyz, cxyz, fuzziness, tol, max_iter, weights, backend, accelerate, neighbours, num_threads, bar):
    """Eqs. 17-18 from the centres ``cxyz`` to convergence on the objects ``xyz`` (one stage):
    (centres (3, c), U, n_iter, J_m history, converged) from the dense or sparse kernel."""
    if neighbours is not None:
        # Julia only once its self-test passed (also for backend="julia"); accelerate: NumPy
        what = f"sparse fuzzy c-means (neighbours={neighbours}{', accelerate=True' if accelerate else ''})"
        if accelerate:
            numpy_only(what, backend)
            kernel = sparse_fcm_iterate
        else:
            kernel = trusted_kernel("fcm_sparse", "sparse_fcm_iterate", what, backend) or sparse_fcm_iterate
        return kernel(xyz, cxyz, fuzziness, tol, max_iter, neighbours, weights, relax=1.5 if accelerate else 1.0,
                      num_threads=num_threads, progress=bar)[:5]
    with using_threads(num_threads):
        if accelerate:
            requested = get_backend() if backend is None else str(backend).lower()
            kernels = get_kernels("numpy" if requested == "auto" else backend)
            return kernels.fcm_iterate(xyz, cxyz, fuzziness, tol, max_iter, weights, relax=1.5, progress=bar)
        return get_kernels(backend).fcm_iterate(xyz, cxyz, fuzziness, tol, max_iter, weights, progress=bar)


def _warn_unconverged(result, tol, max_iter):
    """A :class:`~cosmocorr.ConvergenceWarning` (through ``warnings`` and the ``cosmocorr`` logger)
    when the iterations stopped at ``max_iter`` before max ``|U_new - U_old|`` < ``tol``; the result
    records it (``converged=False``)."""
    if not result.converged:
        emit_warning(f"fuzzy c-means stopped at max_iter={max_iter} without converging (tol={tol:g}, "
                     f"{result.n_clusters} clusters, {result.membership.shape[0]} objects); the centres and "
                     f"memberships are not a fixed point of eqs. 17-18: raise max_iter, loosen tol, or use "
                     f"accelerate=True", ConvergenceWarning, stacklevel=4)
    return result


