"""The clustering approaches of the differentiable estimator (paper sec. 6, Algorithm 2 steps 1-4).

- ``"none"``: no clustering, every object enters (the exact reference);
- ``"c"``: hard argmax assignment fitted at the base point and held fixed (straight-through);
- ``"b"``: weighted averages (eqs. 20-21) from the memberships, one step (``mode="one_step"``),
  through every fuzzy c-means iteration (``"full"``), or at the converged fixed point by the
  implicit function theorem (``"implicit"``, below); dense (N, c) memberships, or sparse ones
  (``neighbours=k``: each object's k nearest centres, see below);
- ``"a"``: Gumbel-softmax relaxation of eq. 19 with fixed noise.

:func:`fit_state` fits the clustering at the base point (seeded); :func:`cluster_objects_dual`
builds the objects (positions, shears, weights) as Duals so that tangents flow through them.

Implicit approach b (``mode="implicit"``): the converged centres V* are a fixed point of one fuzzy
c-means iteration, V* = Phi(V*, theta) with Phi eq. 18 then eq. 17. The centres are first driven to
that fixed point at the current catalog (Newton steps on V - Phi(V) = 0 from the state's centres,
:func:`fixed_point_centres`), then dV*/dtheta = (I - dPhi/dV)^(-1) dPhi/dtheta is solved by GMRES
(scipy.sparse.linalg) whose matrix-vector products are JVPs of one iteration (:class:`Dual` with a
tangent on V). The cluster objects are the centres V* with that tangent, and eqs. 20-21 from the
memberships U(V*) (eq. 18), whose tangent follows both the objects and the moving centres: the
derivative of the re-fitted clustering, as long as the fit stays in the same basin.

Sparse approach b (``fit_state(..., neighbours=k)``): the fit is sparse fuzzy c-means
(:mod:`cosmocorr.clustering.sparse_fcm`) and the state keeps its final neighbour sets S_n (the k
centres each object has memberships on, (N, k) integers). The sets are piecewise constant in the
parameters, so they are held fixed in the derivative (as the argmax labels of approach c are);
eqs. 16-18 and 20-21 are then evaluated on the stored entries only, on (N, k) Duals
(eq. 18 renormalised over S_n, eq. 17 and the column sums of eqs. 20-21 summed over the objects
whose set holds the centre), so memory is O(N k) and no (N, c) Dual is formed. ``mode="full"``
re-runs the iterations from the k-means++ start with the final sets (the fit itself re-queried
its sets while the centres moved, so this is the restricted iteration that has the fit's result
as its fixed point). ``mode="implicit"`` applies the implicit function theorem to the fixed point
of that restricted iteration, V* = Phi_S(V*) (eqs. 17-18 on the stored entries, the sets S fixed):
the same Newton polish and GMRES solve as the dense case on the (3, c_used) centres, with JVPs of
one restricted iteration; it is the derivative of re-fitting the sparse clustering as long as
the re-fit keeps the same neighbour sets (and labels). Centres in no object's set carry no
membership and are dropped (as empty clusters are in approach c). With k = c it is the dense
approach b.
"""
from __future__ import annotations

import numpy as np
from scipy.sparse.linalg import LinearOperator, gmres

from ..clustering import fuzzy_c_means, kmeans_plus_plus
from ..sky.geometry import unit_vectors
from . import dual as dl
from .dual import Dual

__all__ = ["APPROACHES", "MODES", "fit_state", "cluster_objects_dual", "fixed_point_centres", "implicit_centres"]

APPROACHES = ("none", "a", "b", "c")
MODES = ("one_step", "full", "implicit")


def _normalise_columns(m):
    """Unit vectors from (3, c) sums."""
    return m / dl.sqrt((m * m).sum(axis=0, keepdims=True))


def _distances(xyz, centres):
    """Vincenty distances (radians) between objects (3, N) and centres (3, c), Dual-aware: (N, c)."""
    a = xyz[:, :, None] if isinstance(xyz, Dual) else np.asarray(xyz)[:, :, None]
    b = centres[:, None, :] if isinstance(centres, Dual) else np.asarray(centres)[:, None, :]
    return _vincenty(a, b)


def _distances_at(xyz, centres, sets):
    """Vincenty distances (eq. 16, radians) from each object (3, N) to the centres (3, c) of its
    neighbour set ``sets`` (N, k) integers, Dual-aware: (N, k)."""
    a = xyz[:, :, None] if isinstance(xyz, Dual) else np.asarray(xyz)[:, :, None]
    b = centres[:, sets] if isinstance(centres, Dual) else np.asarray(centres)[:, sets]   # (3, N, k)
    return _vincenty(a, b)


def _vincenty(a, b):
    """Vincenty angle between broadcastable unit vectors a, b (3, ...)."""
    cx = a[1] * b[2] - a[2] * b[1]
    cy = a[2] * b[0] - a[0] * b[2]
    cz = a[0] * b[1] - a[1] * b[0]
    return dl.arctan2(dl.sqrt(cx * cx + cy * cy + cz * cz), a[0] * b[0] + a[1] * b[1] + a[2] * b[2])


def _memberships(d, m):
    """Eq. 18 on Duals, as (d / d_min)^(-p) normalised; rows with an object on a centre fall back
    to the exact limit (equal shares of the coincident centres, zero tangent)."""
    p = 2.0 / (m - 1.0)
    dv = dl.value(d)
    k = np.argmin(dv, axis=1)
    dmin = d[np.arange(dv.shape[0]), k][:, None]
    on = dv.min(axis=1) == 0
    safe_d = dl.where(on[:, None], 1.0, d)
    safe_min = dl.where(on[:, None], 1.0, dmin)
    ratio = (safe_d / safe_min) ** (-p)
    U = ratio / ratio.sum(axis=1, keepdims=True)
    if np.any(on):
        hard = (dv == 0).astype(float)
        hard[~on] = 1.0  # rows not on a centre keep the smooth formula below
        U = dl.where(on[:, None], hard / hard.sum(axis=1, keepdims=True), U)
    return U


def _centres_from(xyz, U, m):
    """Eq. 17 on the sphere: normalised U^m-weighted mean of unit vectors, (3, c)."""
    return _normalise_columns(xyz @ (U ** m))


def _scatter(x, sets, c):
    """Column sums of a sparse (N, c) matrix stored as ``x`` (..., N, k) at columns ``sets`` (N, k):
    sum over (n, j) with sets[n, j] = i of x[..., n, j], as (..., c); array or Dual."""
    flat = sets.ravel()

    def add(a):
        a = np.asarray(a, dtype=float)
        lead = a.shape[:-2]
        rows = np.broadcast_to(a, lead + sets.shape).reshape(-1, flat.size)
        return np.stack([np.bincount(flat, weights=r, minlength=c) for r in rows]).reshape(lead + (c,))

    return Dual(add(x.v), add(x.d)) if isinstance(x, Dual) else add(x)


def _centres_from_sparse(xyz, U, m, sets, c):
    """Eq. 17 on the stored entries: v_i proportional to the sum of U_ni^m y_n over the objects n
    whose set holds centre i, normalised on the sphere; U (N, k) on ``sets``; (3, c)."""
    y = xyz[:, :, None] if isinstance(xyz, Dual) else np.asarray(xyz)[:, :, None]
    return _normalise_columns(_scatter(y * (U ** m), sets, c))


def _cluster_from_sparse(g, U, sets, c):
    """Eqs. 20-21 on the stored entries: weights the column sums of U (N, k on ``sets``), quantities
    the column-normalised U-weighted means of g, (c,) each."""
    colsum = _scatter(U, sets, c)
    g1 = _scatter(U * np.asarray(g.real)[:, None], sets, c) / colsum
    g2 = _scatter(U * np.asarray(g.imag)[:, None], sets, c) / colsum
    return g1, g2, colsum


def _cluster_from_weights(xyz, g, A):
    """Objects from soft (or one-hot) weights A (N, c): positions, quantities (eq. 21), weights."""
    colsum = A.sum(axis=0)
    At = A / colsum                                         # eq. 20: column-normalised
    g1 = np.asarray(g.real) @ At if not isinstance(At, Dual) else At.__rmatmul__(g.real)
    g2 = np.asarray(g.imag) @ At if not isinstance(At, Dual) else At.__rmatmul__(g.imag)
    return g1, g2, colsum


def fit_state(cat, approach, n_clusters, fuzziness, seed, tau, neighbours=None, init=None, gumbel=None,
              polish=False):
    """Fit the clustering at the base point (k-means++ start, then fuzzy c-means, eqs. 15-18, to
    tol 1e-8) and return the state that :func:`cluster_objects_dual` holds fixed.

    ``init`` (c, 2 degrees) and ``gumbel`` (approach a's noise) re-fit from a previous state's start
    (``refit`` of :func:`.gradient.xi_plus_gradient`: the clustering re-fitted at another theta).
    ``polish`` (dense memberships): drive the fitted centres to the fixed point of eqs. 17-18 to
    1e-14 (:func:`fixed_point_centres`), so that re-fits at nearby theta differ by the change of
    the fixed point, not by the fit's tolerance.

    ``neighbours=k`` (approach "b" only; checked by :func:`.gradient.xi_plus_gradient`): sparse
    fuzzy c-means with memberships on each object's k nearest centres; the state then holds
    ``neighbour_sets`` (N, k), the fit's final sets.
    """
    xyz = dl.value(cat.xyz)
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[1])
    kpp_seed = rng.integers(2**63)
    if init is None:
        init = kmeans_plus_plus(cat.ra, cat.dec, n_clusters, seed=kpp_seed)
    fit = fuzzy_c_means(cat.ra, cat.dec, n_clusters, fuzziness=fuzziness, init=init, tol=1e-8, max_iter=500,
                        neighbours=neighbours)
    state = {"approach": approach, "n_clusters": n_clusters, "fuzziness": fuzziness, "init": init,
             "centres": fit.centers_xyz, "n_iter": fit.n_iter, "neighbours": neighbours}
    if neighbours is None and polish:
        state["centres"] = fixed_point_centres(xyz, fit.centers_xyz, fuzziness)
        state["labels"] = np.argmax(dl.value(_memberships(_distances(xyz, state["centres"]), fuzziness)), axis=1)
    elif neighbours is None:
        state["labels"] = np.argmax(fit.membership, axis=1)
    else:
        U = fit.membership.tocsr()
        if not np.all(np.diff(U.indptr) == neighbours):
            raise RuntimeError(f"sparse fuzzy c-means returned rows without {neighbours} stored entries")
        sets = U.indices.reshape(-1, neighbours).astype(np.intp)
        state["neighbour_sets"] = sets
        data = U.data.reshape(sets.shape)
        if polish:                  # the fixed point of the iteration restricted to the final sets
            used, step = _sparse_step(sets)
            V = np.array(fit.centers_xyz, dtype=float)
            V[:, used] = fixed_point_centres(xyz, V[:, used], fuzziness, step=step)
            state["centres"] = V
            data = dl.value(_memberships(_distances_at(xyz, V[:, used], np.searchsorted(used, sets)), fuzziness))
        state["labels"] = sets[np.arange(sets.shape[0]), np.argmax(data, axis=1)]
    if approach == "a":
        state["gumbel"] = (-np.log(-np.log(rng.uniform(1e-12, 1.0, (xyz.shape[1], n_clusters))))
                           if gumbel is None else gumbel)
        state["tau"] = tau
    return state


def cluster_objects_dual(cat, approach, state, mode):
    """Cluster objects (xyz, g1, g2, w) for an approach, as Duals."""
    xyz, g = cat.xyz, cat.g
    if approach == "none":
        return xyz, g.real, g.imag, np.ones(g.size)
    m = state["fuzziness"]
    if approach == "c":
        labels = state["labels"]
        used = np.unique(labels)
        A = (labels[:, None] == used[None, :]).astype(float)   # one-hot, fixed (straight-through)
        pos = _normalise_columns(xyz @ A)
        g1, g2, w = _cluster_from_weights(xyz, g, A)
        return pos, g1, g2, w
    if approach == "b" and state.get("neighbour_sets") is not None:
        return _sparse_b(xyz, g, state, mode)
    if approach == "b" and mode == "implicit":
        V = fixed_point_centres(dl.value(xyz), state["centres"], m)
        centres = implicit_centres(xyz, V, m)
        U = _memberships(_distances(xyz, centres), m)
        g1, g2, w = _cluster_from_weights(xyz, g, U)
        return centres, g1, g2, w
    if approach == "b" and mode == "full":
        centres = unit_vectors(state["init"][:, 0], state["init"][:, 1])
        for _ in range(state["n_iter"]):
            U = _memberships(_distances(xyz, centres), m)
            centres = _centres_from(xyz, U, m)
        U = _memberships(_distances(xyz, centres), m)
    else:
        U = _memberships(_distances(xyz, state["centres"]), m)   # eq. 18 at the converged centres
        if approach == "b":
            centres = _centres_from(xyz, U, m)                   # one more eq. 17 ...
            U = _memberships(_distances(xyz, centres), m)        # ... and eq. 18
    if approach == "b":
        g1, g2, w = _cluster_from_weights(xyz, g, U)
        return centres, g1, g2, w
    # approach a: Gumbel-softmax with fixed noise
    logits = (dl.log(U + 1e-300) + state["gumbel"]) / state["tau"]  # memberships can underflow to 0
    shift = dl.value(logits).max(axis=1, keepdims=True)
    e = dl.exp(logits - shift)
    A = e / e.sum(axis=1, keepdims=True)
    pos = _normalise_columns(xyz @ A)
    g1, g2, w = _cluster_from_weights(xyz, g, A)
    return pos, g1, g2, w


def _sparse_b(xyz, g, state, mode):
    """Approach b on the stored entries of sparse memberships (eqs. 16-18, 20-21 on (N, k) Duals),
    the neighbour sets of the fit held fixed; centres in no set are dropped."""
    m = state["fuzziness"]
    used, inverse = np.unique(state["neighbour_sets"], return_inverse=True)
    sets = inverse.reshape(state["neighbour_sets"].shape).astype(np.intp)   # columns of the used centres
    c = used.size
    if mode == "implicit":
        step = _sparse_step(state["neighbour_sets"])[1]
        V = fixed_point_centres(dl.value(xyz), np.asarray(state["centres"])[:, used], m, step=step)
        centres = implicit_centres(xyz, V, m, step=step)
    elif mode == "full":
        init = np.asarray(state["init"])[used]
        centres = unit_vectors(init[:, 0], init[:, 1])
        for _ in range(state["n_iter"]):
            U = _memberships(_distances_at(xyz, centres, sets), m)     # eq. 18 on each set
            centres = _centres_from_sparse(xyz, U, m, sets, c)         # eq. 17 over the stored entries
    else:
        U = _memberships(_distances_at(xyz, np.asarray(state["centres"])[:, used], sets), m)
        centres = _centres_from_sparse(xyz, U, m, sets, c)              # one more eq. 17 ...
    U = _memberships(_distances_at(xyz, centres, sets), m)              # ... and eq. 18
    g1, g2, w = _cluster_from_sparse(g, U, sets, c)
    return centres, g1, g2, w


def _fcm_step(xyz, V, m):
    """One fuzzy c-means iteration Phi(V): eq. 18 at centres V (3, c), then eq. 17; Dual-aware."""
    return _centres_from(xyz, _memberships(_distances(xyz, V), m), m)


def _sparse_step(neighbour_sets):
    """(used, step): the centres that are in some object's set, and one fuzzy c-means iteration
    Phi_S(V) restricted to the sets (eq. 18 on each set, eq. 17 over the stored entries) on the
    (3, len(used)) centres V; Dual-aware, the sets fixed."""
    used, inverse = np.unique(neighbour_sets, return_inverse=True)
    sets = inverse.reshape(neighbour_sets.shape).astype(np.intp)

    def step(xyz, V, m):
        return _centres_from_sparse(xyz, _memberships(_distances_at(xyz, V, sets), m), m, sets, used.size)
    return used, step


def _solve_fixed_point_system(xyz, V, m, rhs, step=_fcm_step):
    """Solve (I - dPhi/dV) x = rhs at centres V (3, c) by GMRES; the products with dPhi/dV are JVPs
    of one iteration ``step`` (Dual tangent on V, objects ``xyz`` plain arrays)."""
    size = V.size

    def matvec(x):
        x = np.asarray(x, dtype=float).reshape(V.shape)
        return (x - dl.tangent(step(xyz, Dual(V, x), m))).ravel()

    rhs = np.asarray(rhs, dtype=float).ravel()
    scale = np.abs(rhs).max()
    if scale == 0:
        return np.zeros(V.shape)
    x, info = gmres(LinearOperator((size, size), matvec=matvec), rhs / scale, rtol=1e-12, atol=0.0,
                    restart=min(size, 200), maxiter=20)
    if info != 0:
        raise RuntimeError(f"GMRES for the fuzzy c-means fixed point did not converge (info={info}): "
                           "I - dPhi/dV is (nearly) singular, the fit is not at an isolated fixed point")
    return x.reshape(V.shape) * scale


def fixed_point_centres(xyz, V0, m, tol=1e-14, max_steps=30, step=_fcm_step):
    """Centres V (3, c) with V = Phi(V) (eqs. 17-18 at convergence) to ``tol``, by Newton steps
    V <- V + (I - dPhi/dV)^(-1) (Phi(V) - V) from ``V0`` (a converged or nearly converged fit);
    ``xyz`` (3, N) plain unit vectors; ``step`` the iteration Phi (default dense, eqs. 17-18)."""
    V = np.array(V0, dtype=float)
    for _ in range(max_steps):
        r = dl.value(step(xyz, V, m)) - V
        if np.abs(r).max() < tol:
            return V
        V = V + _solve_fixed_point_system(xyz, V, m, r, step)
        V /= np.linalg.norm(V, axis=0, keepdims=True)
    r = np.abs(dl.value(step(xyz, V, m)) - V).max()
    if r > 1e3 * tol:
        raise RuntimeError(f"fuzzy c-means fixed point not reached by Newton steps (residual {r:.1e})")
    return V


def implicit_centres(xyz, V, m, step=_fcm_step):
    """The fixed-point centres V (3, c) as a Dual whose tangent is dV/dtheta by the implicit
    function theorem, (I - dPhi/dV) dV = dPhi/dtheta t, with ``xyz`` a Dual (objects and their
    tangents t); ``step`` the iteration Phi (default dense)."""
    if not isinstance(xyz, Dual):
        return Dual(V, np.zeros_like(V))
    b = dl.tangent(step(xyz, V, m))
    return Dual(V, _solve_fixed_point_system(dl.value(xyz), V, m, b, step))
