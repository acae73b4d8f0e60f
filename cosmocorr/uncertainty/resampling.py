"""Resampling of objects for the aleatoric (data) uncertainty (paper sec. 2.3).

``"bootstrap"`` draws N objects with replacement; ``"subset"`` removes a random fraction of the
objects (the paper's wording). :func:`cosmocorr.clustering_uncertainty` uses the bootstrap here;
its ``"subset"`` / ``"delete_d_jackknife"`` draws remove ``n_remove`` objects and re-cluster.
"""
from __future__ import annotations

import numpy as np

__all__ = ["resample_indices", "subset_size"]


def subset_size(n, fraction):
    """Objects kept when a fraction ``fraction`` of ``n`` is removed (rounded to the nearest
    object). ValueError naming ``subset_fraction`` unless at least one object is removed and at
    least two are kept: removing none would give identical resamples and a spread of exactly 0,
    which is not an uncertainty."""
    removed = int(round(fraction * n))
    if removed < 1:
        raise ValueError(f"subset_fraction={fraction} of {n} objects rounds to 0 objects removed: every subset "
                         "would be the whole catalog and sigma_aleatoric exactly 0; use a larger fraction or "
                         "method='bootstrap'")
    if n - removed < 2:
        raise ValueError(f"subset_fraction={fraction} of {n} objects leaves {n - removed} object(s); "
                         "at least 2 are needed for a pair")
    return n - removed


def resample_indices(n, method, fraction, rng):
    """Indices of one resample of ``n`` objects: with replacement (``method='bootstrap'``) or a sorted subset
    without ``fraction`` of them."""
    if method == "bootstrap":
        return rng.integers(0, n, n)
    return np.sort(rng.choice(n, size=subset_size(n, fraction), replace=False))
