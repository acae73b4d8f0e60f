"""Algorithm 1 step 4: a catalog reduced to one object per cluster (paper sec. 4).

Each non-empty cluster becomes one object at its centre, carrying the weighted mean of its
members' quantities and the sum of their weights; :func:`fit_clusters` runs (or checks) the
fuzzy c-means fit of steps 1-2 that the reduction uses.
"""
from __future__ import annotations

import numpy as np

from .._validate import check_choice
from ..sky.catalog import Catalog
from .fuzzy_c_means import FuzzyCMeansResult, fuzzy_c_means

__all__ = ["cluster_objects", "fit_clusters", "CLUSTER_WEIGHTS"]

#: how a cluster object is weighted in the pair sums (:func:`cluster_objects`)
CLUSTER_WEIGHTS = ("members", "equal")


def cluster_objects(centers, assignment, w, fields=None, n_clusters=None, cluster_weights="members"):
    """Algorithm 1 step 4: one object per non-empty cluster.

    Parameters
    ----------
    centers : ndarray (c, 2)
        Cluster centres (degrees).
    assignment : int ndarray (N,)
        Cluster of each object.
    w : ndarray (N,)
        Object weights.
    fields : dict of complex ndarray (N,), optional
        Quantities to average (weighted by w) within each cluster.
    n_clusters : int, optional
        Number of clusters (default: rows of ``centers``).
    cluster_weights : {"members", "equal"}
        Weight of each cluster object in the pair sums: ``"members"`` (default) the sum of its
        members' weights, so a cluster of 20 stars counts as the 20 stars would; ``"equal"``
        weight 1 for every non-empty cluster, so every cluster pair counts the same (as in the
        paper's authors' code). The averaged fields are the same either way.

    Returns
    -------
    (Catalog, dict)
        The cluster objects (at their centres, weighted as ``cluster_weights`` says) and their
        averaged fields. Clusters with no member (or zero total weight) are dropped.
    """
    check_choice(cluster_weights, "cluster_weights", CLUSTER_WEIGHTS)
    c = centers.shape[0] if n_clusters is None else n_clusters
    sw = np.bincount(assignment, weights=w, minlength=c)
    keep = sw > 0
    out = {}
    for name, q in (fields or {}).items():
        re = np.bincount(assignment, weights=w * q.real, minlength=c)
        im = np.bincount(assignment, weights=w * q.imag, minlength=c)
        out[name] = (re[keep] + 1j * im[keep]) / sw[keep]
    cw = sw[keep] if cluster_weights == "members" else np.ones(int(keep.sum()))
    return Catalog(centers[keep, 0], centers[keep, 1], w=cw), out


def fit_clusters(cat, n_clusters, fuzziness=2.0, seed=None, clustering=None):
    """Fuzzy c-means on a catalog's positions (Algorithm 1 steps 1-2), or a given result."""
    if clustering is not None:
        if not isinstance(clustering, FuzzyCMeansResult):
            raise TypeError(f"clustering must be a FuzzyCMeansResult, got {type(clustering).__name__}")
        if clustering.membership.shape[0] != cat.nobj:
            raise ValueError("clustering: its membership has a row per object of another catalog")
        return clustering
    return fuzzy_c_means(cat.ra, cat.dec, n_clusters, fuzziness=fuzziness, seed=seed, weights=cat.w)
