"""Resampling of objects for the aleatoric (data) uncertainty (paper sec. 2.3).

``"bootstrap"`` draws N objects with replacement; ``"subset"`` removes a random fraction of the
objects (the paper's wording).
"""
from __future__ import annotations

import numpy as np

__all__ = ["resample_indices"]


def resample_indices(n, method, fraction, rng):
    if method == "bootstrap":
        return rng.integers(0, n, n)
    keep = n - int(round(fraction * n))
    return np.sort(rng.choice(n, size=max(keep, 2), replace=False))
