"""k-means++ initial centres on the sky (Kapoor & Singhal 2017; paper sec. 4, Algorithm 1 step 1).

Seeded through :class:`numpy.random.Generator`; distances are Vincenty's (eq. 16). Runs in NumPy
whichever backend iterates fuzzy c-means, so that a seed gives the same start everywhere.
"""
from __future__ import annotations

import numpy as np

from .._validate import check_positive_int, check_real, check_seed, check_sky_coords
from ..sky.geometry import angular_distances, unit_vectors

__all__ = ["kmeans_plus_plus", "check_n_clusters"]


def check_n_clusters(n_clusters, n_objects):
    """``n_clusters`` as an int in 1..``n_objects``; ValueError/TypeError naming it otherwise."""
    n_clusters = check_positive_int(n_clusters, "n_clusters")
    if n_clusters > n_objects:
        raise ValueError(f"n_clusters: too many clusters ({n_clusters}) for {n_objects} objects")
    return n_clusters


def kmeans_plus_plus(ra, dec, n_clusters, seed=None, weight_factor=0.0):
    """k-means++ initial centres with Vincenty distances (Kapoor & Singhal 2017; paper sec. 4).

    The first centre is a random object; each next one is drawn with probability proportional to
    D(x)^2, the squared distance to the nearest centre chosen so far. With ``weight_factor`` f in
    [0, 1] the probabilities are mixed with random weights: p = (1 - f) D^2/sum D^2 + f r/sum r,
    r ~ Uniform(0, 1) per object (the paper's weighted variant). Objects already chosen (D = 0)
    are never drawn again while others remain.

    Returns
    -------
    ndarray (c, 2)
        Centres (ra, dec) in degrees, each at an object.
    """
    ra, dec = check_sky_coords(ra, dec)
    n = ra.size
    n_clusters = check_n_clusters(n_clusters, n)
    weight_factor = check_real(weight_factor, "weight_factor", low=0.0, high=1.0)
    rng = np.random.default_rng(check_seed(seed))
    xyz = unit_vectors(ra, dec)
    chosen = np.zeros(n, dtype=bool)
    idx = np.empty(n_clusters, dtype=np.intp)
    idx[0] = rng.integers(n)
    chosen[idx[0]] = True
    dmin = angular_distances(xyz, xyz[:, idx[:1]])[:, 0]
    for i in range(1, n_clusters):
        d2 = np.where(chosen, 0.0, dmin**2)
        total = d2.sum()
        p = d2 / total if total > 0 else (~chosen) / np.count_nonzero(~chosen)
        if weight_factor > 0:
            r = rng.random(n) * ~chosen
            p = (1.0 - weight_factor) * p + weight_factor * r / r.sum()
        idx[i] = rng.choice(n, p=p)
        chosen[idx[i]] = True
        dmin = np.minimum(dmin, angular_distances(xyz, xyz[:, idx[i:i + 1]])[:, 0])
    return np.column_stack([ra[idx], dec[idx]])
