"""The soft-binned shear estimator (paper eq. 8 with the soft bins of eqs. 22-23; Algorithm 2 step 5).

Every pair is weighted by W_k(d_ij) instead of a hard bin indicator, and the shears are
projected as TreeCorr does on the sphere, so xi+ is differentiable in the positions. Works on
arrays and on :class:`~cosmocorr.differentiable.dual.Dual` (value, tangent) pairs.
"""
from __future__ import annotations

import numpy as np

from ..sky.geometry import ARCMIN
from . import dual as dl
from .dual import Dual
from .soft_bin_weights import soft_bin_weights

__all__ = ["soft_xi_plus"]


def _pair_terms(a, b, g1a, g2a, g1b, g2b):
    """Separation (arcmin) and Re(z_a z_b^*) for pairs, on Duals (see backends.numpy_kernels._pair_terms)."""
    ax, ay, az = a[0], a[1], a[2]
    bx, by, bz = b[0], b[1], b[2]
    cx = ay * bz - az * by
    cy = az * bx - ax * bz
    cz = ax * by - ay * bx
    r = dl.arctan2(dl.sqrt(cx * cx + cy * cy + cz * cz), ax * bx + ay * by + az * bz) / ARCMIN
    dz = az - bz
    dsq = (ax - bx) * (ax - bx) + (ay - by) * (ay - by) + dz * dz
    s = -cz
    cb = dz + 0.5 * bz * dsq
    ca = 0.5 * az * dsq - dz
    ss = s * s
    nb = ss + cb * cb
    na = ss + ca * ca
    cos2b, sin2b = (ss - cb * cb) / nb, 2.0 * s * cb / nb
    cos2a, sin2a = (ss - ca * ca) / na, -2.0 * s * ca / na
    zar = g1a * cos2a - g2a * sin2a
    zai = g1a * sin2a + g2a * cos2a
    zbr = g1b * cos2b - g2b * sin2b
    zbi = g1b * sin2b + g2b * cos2b
    return r, zar * zbr + zai * zbi


def _take(x, idx):
    return x[..., idx] if isinstance(x, Dual) else np.asarray(x)[..., idx]


def soft_xi_plus(xyz, g1, g2, w, bins, alpha, kind="sigmoid", chunk=200_000):
    """Soft-binned xi+ (eq. 8 with W_k weights) over all unordered pairs of the objects.

    ``xyz`` (3, n) unit vectors, ``g1``/``g2``/``w`` (n,): arrays or Duals. Returns a Dual (nbins,).
    """
    n = dl.value(xyz).shape[1]
    i, j = np.triu_indices(n, 1)
    num = den = 0.0
    for s in range(0, i.size, chunk):
        ii, jj = i[s:s + chunk], j[s:s + chunk]
        r, xp = _pair_terms(_take(xyz, ii), _take(xyz, jj), _take(g1, ii), _take(g2, ii), _take(g1, jj), _take(g2, jj))
        ww = _take(w, ii) * _take(w, jj)
        W = soft_bin_weights(r, bins, alpha, kind)          # (nbins, P)
        num = num + (W * (ww * xp)).sum(axis=1)
        den = den + (W * ww).sum(axis=1)
    return num / den
