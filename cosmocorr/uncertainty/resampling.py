"""Resampling of objects for the aleatoric (data) uncertainty (paper sec. 2.3).

``"bootstrap"`` draws N objects with replacement; ``"subset"`` removes a random fraction of the
objects (the paper's wording). :func:`cosmocorr.clustering_uncertainty` uses the bootstrap here;
its ``"subset"`` / ``"delete_d_jackknife"`` draws remove ``n_remove`` objects and re-cluster;
its ``"subset_block"`` draws are the rows of :func:`block_indices` (the paper's authors' code).
"""
from __future__ import annotations

import numpy as np

__all__ = ["resample_indices", "subset_size", "block_indices"]


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


def block_indices(n, rng, min_distinct=2):
    """Rows of one resample as the paper's authors' code draws them (sec. 2.3 as run): two distinct
    rows a and b chosen at random (0-based; the first and last of a random permutation's first
    entries), and the rows ``[0, a)`` followed by ``(b, n)``. When a < b this drops the contiguous
    block of rows a..b (both included, 2 to n rows); when a > b nothing is dropped and the rows
    b+1..a-1 appear twice. A draw leaving fewer than ``min_distinct`` distinct rows is drawn again
    (from the same ``rng``, so the result stays a function of the seed).

    Parameters
    ----------
    n : int
        Rows in the catalog (>= 2).
    rng : numpy.random.Generator
    min_distinct : int
        Fewest distinct rows a resample may keep (e.g. the clusters of a re-fit).

    Returns
    -------
    ndarray of int
        The rows kept, in the catalog's order (with the duplicated block when a > b).
    """
    if n < 2 or min_distinct > n:
        raise ValueError(f"block_indices: {n} rows cannot give a block resample keeping {min_distinct} distinct rows")
    while True:
        a, b = (int(i) for i in rng.choice(n, size=2, replace=False))
        idx = np.concatenate([np.arange(a), np.arange(b + 1, n)])
        if (n if a > b else idx.size) >= min_distinct:
            return idx
