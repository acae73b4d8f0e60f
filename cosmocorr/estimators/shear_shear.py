"""Shear-shear xi+/xi- (paper eqs. 7-8) over all pairs, and its result type.

Results follow TreeCorr's conventions and attribute names, and agree with TreeCorr's
``brute=True``, ``metric="Arc"`` results to floating-point precision. Bins that receive no pair
hold ``NaN`` in every averaged quantity (``meanr``, ``xip``, ...), with ``npairs == 0``: NaN
means "no pair at this separation", not a numerical failure.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..sky.bins import Bins
from .pair_sums import check_catalog, naive_pair_sums
from .pair_sums import ratio as _ratio

__all__ = ["ShearShearResult", "shear_shear"]


@dataclass
class ShearShearResult:
    """xi+ and xi- per bin (paper eq. 8), with TreeCorr's attribute names.

    Attributes
    ----------
    bins : Bins
    meanr : ndarray
        Weighted mean separation of the pairs in each bin (arcmin); NaN for empty bins.
    xip, xim : ndarray
        Real parts of <g g*> and <g g> over pairs, each shear projected onto the line joining
        the pair; NaN for empty bins.
    xip_im, xim_im : ndarray
        Imaginary parts (expected to vanish by parity).
    npairs, weight : ndarray
        Number of pairs and sum of w_i w_j per bin.
    """

    bins: Bins
    meanr: np.ndarray
    xip: np.ndarray
    xim: np.ndarray
    xip_im: np.ndarray
    xim_im: np.ndarray
    npairs: np.ndarray
    weight: np.ndarray
    extra: dict = field(default_factory=dict, repr=False)

    @property
    def rnom(self):
        return self.bins.rnom

    @classmethod
    def from_sums(cls, bins, sums, **extra):
        w = sums["weight"]
        return cls(
            bins=bins,
            meanr=_ratio(sums["wr"], w),
            xip=_ratio(sums["xip"], w),
            xim=_ratio(sums["xim"], w),
            xip_im=_ratio(sums["xip_im"], w),
            xim_im=_ratio(sums["xim_im"], w),
            npairs=np.asarray(sums["npairs"], dtype=float),
            weight=np.asarray(w, dtype=float),
            extra=dict(extra),
        )

    def to_dict(self):
        d = {"bins": self.bins.to_dict(), "rnom": self.rnom.tolist()}
        for k in ("meanr", "xip", "xim", "xip_im", "xim_im", "npairs", "weight"):
            d[k] = [None if not np.isfinite(v) else float(v) for v in getattr(self, k)]
        return d


def shear_shear(cat1, cat2=None, bins=None, *, min_sep=None, max_sep=None, nbins=None, spacing="linear",
                backend=None):
    """Shear-shear correlation xi+(theta), xi-(theta) over all pairs (paper eqs. 7-8).

    .. math:: \\hat\\xi_\\pm(\\theta) = \\frac{\\sum_{ij} w_i w_j\\, \\mathrm{Re}(g_i g_j^{*})\\ \\text{or}
              \\ \\mathrm{Re}(g_i g_j)}{\\sum_{ij} w_i w_j}

    over pairs in each bin, each shear projected onto the great circle joining the pair.

    Parameters
    ----------
    cat1 : Catalog
        Objects with shears (``g1``, ``g2``).
    cat2 : Catalog, optional
        Second catalog for a cross-correlation (all ordered pairs i in 1, j in 2); default:
        auto-correlation of ``cat1`` (each pair once, no self-pairs).
    bins : Bins, optional
        Or give ``min_sep``, ``max_sep`` (arcmin), ``nbins`` and ``spacing``.
    backend : {"numpy", "julia", "auto"}, optional

    Returns
    -------
    ShearShearResult
    """
    cat1 = check_catalog(cat1, "cat1")
    cat1.require_shear("cat1")
    if cat2 is not None:
        check_catalog(cat2, "cat2").require_shear("cat2")
    bins = Bins.coerce(bins, min_sep=min_sep, max_sep=max_sep, nbins=nbins, spacing=spacing)
    return ShearShearResult.from_sums(bins, naive_pair_sums(cat1, cat2, bins, backend=backend))
