"""The clustering approaches of the differentiable estimator (paper sec. 6, Algorithm 2 steps 1-4).

- ``"none"``: no clustering, every object enters (the exact reference);
- ``"c"``: hard argmax assignment fitted at the base point and held fixed (straight-through);
- ``"b"``: weighted averages (eqs. 20-21) from the memberships, one step (``mode="one_step"``) or
  through every fuzzy c-means iteration (``"full"``);
- ``"a"``: Gumbel-softmax relaxation of eq. 19 with fixed noise.

:func:`fit_state` fits the clustering at the base point (seeded); :func:`cluster_objects_dual`
builds the objects (positions, shears, weights) as Duals so that tangents flow through them.
"""
from __future__ import annotations

import numpy as np

from ..clustering import fuzzy_c_means, kmeans_plus_plus
from ..sky.geometry import unit_vectors
from . import dual as dl
from .dual import Dual

__all__ = ["APPROACHES", "fit_state", "cluster_objects_dual"]

APPROACHES = ("none", "a", "b", "c")


def _normalise_columns(m):
    """Unit vectors from (3, c) sums."""
    return m / dl.sqrt((m * m).sum(axis=0, keepdims=True))


def _distances(xyz, centres):
    """Vincenty distances (radians) between objects (3, N) and centres (3, c), Dual-aware: (N, c)."""
    a = xyz[:, :, None] if isinstance(xyz, Dual) else np.asarray(xyz)[:, :, None]
    b = centres[:, None, :] if isinstance(centres, Dual) else np.asarray(centres)[:, None, :]
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


def _cluster_from_weights(xyz, g, A):
    """Objects from soft (or one-hot) weights A (N, c): positions, quantities (eq. 21), weights."""
    colsum = A.sum(axis=0)
    At = A / colsum                                         # eq. 20: column-normalised
    g1 = np.asarray(g.real) @ At if not isinstance(At, Dual) else At.__rmatmul__(g.real)
    g2 = np.asarray(g.imag) @ At if not isinstance(At, Dual) else At.__rmatmul__(g.imag)
    return g1, g2, colsum


def fit_state(cat, approach, n_clusters, fuzziness, seed, tau):
    xyz = dl.value(cat.xyz)
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[1])
    init = kmeans_plus_plus(cat.ra, cat.dec, n_clusters, seed=rng.integers(2**63))
    fit = fuzzy_c_means(cat.ra, cat.dec, n_clusters, fuzziness=fuzziness, init=init, tol=1e-8, max_iter=500)
    state = {"approach": approach, "n_clusters": n_clusters, "fuzziness": fuzziness, "init": init,
             "centres": fit.centers_xyz, "n_iter": fit.n_iter, "labels": np.argmax(fit.membership, axis=1)}
    if approach == "a":
        state["gumbel"] = -np.log(-np.log(rng.uniform(1e-12, 1.0, (xyz.shape[1], n_clusters))))
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
