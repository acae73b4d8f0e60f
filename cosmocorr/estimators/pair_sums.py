"""All-pairs bin sums on a backend: the one entry from the estimators into the kernels.

"Naive" is meant as in Jarvis et al. (2004) and the paper's sec. 5: every pair is used, no
clustering approximation. The sums (``npairs``, ``weight``, ``wr`` and, for shears, the four
projected shear products of eq. 8) come from :func:`cosmocorr.backends.get_kernels`, so this
module never needs to know which backend runs them.
"""
from __future__ import annotations

import numpy as np

from ..backends import get_kernels
from ..sky.catalog import Catalog

__all__ = ["naive_pair_sums", "check_catalog", "ratio"]


def ratio(num, den):
    """num / den with NaN where den == 0 (empty bins)."""
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def check_catalog(cat, name):
    if not isinstance(cat, Catalog):
        raise TypeError(f"{name} must be a cosmocorr.Catalog, got {type(cat).__name__}")
    return cat


def naive_pair_sums(cat1, cat2=None, bins=None, *, shear=True, backend=None, g1=None, g2=None):
    """All-pairs bin sums between two catalogs (auto when ``cat2`` is None), on ``backend``.

    ``g1``/``g2`` override the catalogs' own shears (complex arrays), which is how the rho
    statistics correlate derived fields at the same positions.
    """
    auto = cat2 is None
    c2 = cat1 if auto else cat2
    if shear:
        same = auto and g1 is g2  # one field with itself (the catalog's own shear, or one given array)
        g1 = cat1.g if g1 is None else np.asarray(g1, dtype=complex)
        g2 = g1 if same else (c2.g if g2 is None else np.asarray(g2, dtype=complex))
    else:
        g1 = g2 = None
    sums = get_kernels(backend).pair_sums(
        cat1.xyz, cat1.w, g1, c2.xyz, c2.w, g2,
        bins.min_sep, bins.max_sep, bins.nbins, bins.spacing == "log", auto,
    )
    if shear and auto and same:
        # Im(g_i g_j^*) is odd under exchanging the pair, so over unordered pairs of one field
        # it is not defined by the data; by symmetry it is 0.
        sums["xip_im"] = np.zeros_like(sums["xip_im"])
    return sums
