"""Landy-Szalay omega(theta) (paper eq. 1) over all pairs, and its result type.

Counts are normalised as in TreeCorr; a bin where RR is empty holds NaN.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..sky.bins import Bins
from .pair_sums import check_catalog, naive_pair_sums
from .pair_sums import ratio as _ratio

__all__ = ["LandySzalayResult", "landy_szalay"]


@dataclass
class LandySzalayResult:
    """Landy-Szalay position-position correlation (paper eq. 1).

    ``xi = (DD - 2 DR + RR) / RR`` with each count normalised by its total pair weight as in
    TreeCorr: DD by sum(w_d)^2 / 2, RR by sum(w_r)^2 / 2 and DR by sum(w_d) sum(w_r).

    Attributes
    ----------
    xi : ndarray
        omega(theta); NaN where RR is empty.
    meanr : ndarray
        Weighted mean separation of the DD pairs (arcmin); NaN where DD is empty.
    dd, dr, rr : ndarray
        Raw weighted pair counts (sums of w_i w_j).
    dd_npairs, dr_npairs, rr_npairs : ndarray
        Pair numbers.
    dd_tot, dr_tot, rr_tot : float
        The normalisations.
    """

    bins: Bins
    xi: np.ndarray
    meanr: np.ndarray
    dd: np.ndarray
    dr: np.ndarray
    rr: np.ndarray
    dd_npairs: np.ndarray
    dr_npairs: np.ndarray
    rr_npairs: np.ndarray
    dd_tot: float
    dr_tot: float
    rr_tot: float
    extra: dict = field(default_factory=dict, repr=False)

    @property
    def rnom(self):
        return self.bins.rnom

    @property
    def npairs(self):
        return self.dd_npairs

    @classmethod
    def from_sums(cls, bins, dd, dr, rr, sumw_d, sumw_r, **extra):
        dd_tot, rr_tot, dr_tot = 0.5 * sumw_d**2, 0.5 * sumw_r**2, sumw_d * sumw_r
        ddn = dd["weight"] / dd_tot
        drn = dr["weight"] / dr_tot
        rrn = rr["weight"] / rr_tot
        return cls(
            bins=bins,
            xi=_ratio(ddn - 2.0 * drn + rrn, rrn),
            meanr=_ratio(dd["wr"], dd["weight"]),
            dd=np.asarray(dd["weight"], float), dr=np.asarray(dr["weight"], float), rr=np.asarray(rr["weight"], float),
            dd_npairs=np.asarray(dd["npairs"], float), dr_npairs=np.asarray(dr["npairs"], float),
            rr_npairs=np.asarray(rr["npairs"], float),
            dd_tot=float(dd_tot), dr_tot=float(dr_tot), rr_tot=float(rr_tot),
            extra=dict(extra),
        )

    def to_dict(self):
        d = {"bins": self.bins.to_dict(), "rnom": self.rnom.tolist()}
        for k in ("xi", "meanr", "dd", "dr", "rr", "dd_npairs", "dr_npairs", "rr_npairs"):
            d[k] = [None if not np.isfinite(v) else float(v) for v in getattr(self, k)]
        return d


def landy_szalay(data, randoms, bins=None, *, min_sep=None, max_sep=None, nbins=None, spacing="linear",
                 backend=None):
    """Landy-Szalay estimator of the angular correlation omega(theta) over all pairs (paper eq. 1).

    Parameters
    ----------
    data, randoms : Catalog
        The data catalog and a random catalog covering the same footprint.
    bins : Bins, optional
        Or ``min_sep``, ``max_sep``, ``nbins``, ``spacing``.
    backend : {"numpy", "julia", "auto"}, optional

    Returns
    -------
    LandySzalayResult
    """
    data = check_catalog(data, "data")
    randoms = check_catalog(randoms, "randoms")
    bins = Bins.coerce(bins, min_sep=min_sep, max_sep=max_sep, nbins=nbins, spacing=spacing)
    dd = naive_pair_sums(data, None, bins, shear=False, backend=backend)
    rr = naive_pair_sums(randoms, None, bins, shear=False, backend=backend)
    dr = naive_pair_sums(data, randoms, bins, shear=False, backend=backend)
    return LandySzalayResult.from_sums(bins, dd, dr, rr, data.sumw, randoms.sumw)
