"""Fuzzy c-means on the sky with Vincenty distances (paper sec. 4, eqs. 15-18; Algorithm 1 steps 1-2).

Fuzzy c-means (Bezdek, Ehrlich & Full 1984) minimises (paper eq. 15)

.. math:: J_m(U, v) = \\sum_{k=1}^N \\sum_{i=1}^c U_{ik}^m\\, d(y_k, v_i)^2

with d the great-circle (Vincenty, eq. 16) distance, alternating the centre update (eq. 17,
done on unit vectors and renormalised, so that it is correct across RA = 0/360 and near the
poles) and the membership update (eq. 18). Memberships are rows of ``U`` (N, c) that sum to 1;
each row is the categorical distribution of Algorithm 1's assignment (eq. 19).
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
    """

    centers: np.ndarray
    membership: np.ndarray
    n_iter: int
    objective: np.ndarray
    converged: bool
    fuzziness: float

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
                  num_threads=None, progress=False):
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
        Maximum number of iterations.
    seed : int or Generator, optional
        Seed for the k-means++ initialisation.
    init : array_like (c, 2), optional
        Initial centres (degrees) instead of k-means++.
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
        Show a tqdm bar counting the iterations (out of ``max_iter``; it stops early at
        convergence). The Julia backend reports its iterations once, when it returns.

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
    if init is None and neighbours is not None:
        init = kmeans_plus_plus_fast(ra, dec, n_clusters, seed=seed, weight_factor=weight_factor)
    elif init is None:
        init = kmeans_plus_plus(ra, dec, n_clusters, seed=seed, weight_factor=weight_factor)
    else:
        init = as_float_array(init, "init", ndim=2)
        if init.shape != (n_clusters, 2):
            raise ValueError(f"init must have shape ({n_clusters}, 2), got {init.shape}")
        check_sky_coords(init[:, 0], init[:, 1], ra_name="init ra", dec_name="init dec")
    xyz = unit_vectors(ra, dec)
    cxyz = unit_vectors(init[:, 0], init[:, 1])
    with progress_bar(max_iter, "fuzzy c-means iterations", progress) as bar:
        if neighbours is not None:
            # Julia only once its self-test passed (also for backend="julia"); accelerate: NumPy
            what = f"sparse fuzzy c-means (neighbours={neighbours}{', accelerate=True' if accelerate else ''})"
            if accelerate:
                numpy_only(what, backend)
                kernel = sparse_fcm_iterate
            else:
                kernel = trusted_kernel("fcm_sparse", "sparse_fcm_iterate", what, backend) or sparse_fcm_iterate
            cxyz, U, it, history, converged, _ = kernel(
                xyz, cxyz, fuzziness, float(tol), max_iter, neighbours, weights, relax=1.5 if accelerate else 1.0,
                num_threads=num_threads, progress=bar)
        else:
            with using_threads(num_threads):
                if accelerate:
                    requested = get_backend() if backend is None else str(backend).lower()
                    kernels = get_kernels("numpy" if requested == "auto" else backend)
                    cxyz, U, it, history, converged = kernels.fcm_iterate(
                        xyz, cxyz, fuzziness, float(tol), max_iter, weights, relax=1.5, progress=bar)
                else:
                    cxyz, U, it, history, converged = get_kernels(backend).fcm_iterate(
                        xyz, cxyz, fuzziness, float(tol), max_iter, weights, progress=bar)
    return _warn_unconverged(FuzzyCMeansResult(vectors_to_radec(cxyz), U, int(it), np.asarray(history),
                                               bool(converged), fuzziness), tol, max_iter)


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


