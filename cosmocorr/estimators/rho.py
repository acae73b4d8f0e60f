"""rho statistics for PSF diagnostics (Rowe 2010; paper eqs. 2-6).

With e the star (true PSF) ellipticity, e_model the PSF model's, T = 2 sigma^2 sizes,
delta e = e_star - e_model and delta T = T_star - T_model (the paper's definitions, with e_PSF
and T_PSF the star's own values):

- rho1 = < delta e^*  delta e >                       (eq. 2)
- rho2 = < e^*        delta e >                       (eq. 3)
- rho3 = < (e dT/T)^* (e dT/T) >                      (eq. 4)
- rho4 = < delta e^*  (e dT/T) >                      (eq. 5)
- rho5 = < e^*        (e dT/T) >                      (eq. 6)

Each is the xi+ (and xi-) shear-shear correlation of the two fields, estimated with eq. 8.
rho1 and rho3 are auto-correlations (each pair once); rho2, rho4 and rho5 correlate two fields
at the same positions, so every ordered pair (i, j), i != j, enters. Pairs of an object with itself
(separation 0) are never counted.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from ..sky.bins import Bins
from ..sky.stars import StarCatalog
from .pair_sums import naive_pair_sums
from .shear_shear import ShearShearResult

__all__ = ["RhoResult", "rho_statistics", "rho_pair_sums", "RHO_FIELDS"]

#: which two fields each rho statistic correlates: (first, second)
RHO_FIELDS = {
    "rho1": ("de", "de"),
    "rho2": ("e", "de"),
    "rho3": ("edt", "edt"),
    "rho4": ("de", "edt"),
    "rho5": ("e", "edt"),
}


@dataclass
class RhoResult:
    """rho1..rho5, each a :class:`~cosmocorr.twopoint.ShearShearResult` (xi+ in ``xip``)."""

    bins: Bins
    rho: dict
    extra: dict = field(default_factory=dict, repr=False)

    def __getitem__(self, name):
        return self.rho[name]

    def __iter__(self):
        return iter(self.rho)

    @property
    def meanr(self):
        return self.rho["rho1"].meanr

    @property
    def rnom(self):
        return self.bins.rnom

    def to_dict(self):
        return {"bins": self.bins.to_dict(), "rnom": self.rnom.tolist(),
                **{k: v.to_dict() for k, v in self.rho.items()}}

    def to_json(self, path):
        with open(path, "w") as fh:
            json.dump(self.to_dict(), fh, indent=1)


def rho_pair_sums(stars, bins, backend=None, catalog=None, fields=None):
    """Bin sums of all five rho statistics (dict name -> pair-sum dict).

    ``catalog``/``fields`` override the stars' own positions and fields (used by the
    clustered estimator, whose objects are clusters).
    """
    cat = stars.catalog if catalog is None else catalog
    f = stars.fields() if fields is None else fields
    out = {}
    for name, (a, b) in RHO_FIELDS.items():
        if a == b:
            out[name] = naive_pair_sums(cat, None, bins, backend=backend, g1=f[a], g2=f[a])
        else:
            # cross-correlation of two fields at the same positions: all ordered pairs i != j
            # = the auto-correlation's unordered pairs taken in both orders
            s_ab = naive_pair_sums(cat, None, bins, backend=backend, g1=f[a], g2=f[b])
            s_ba = naive_pair_sums(cat, None, bins, backend=backend, g1=f[b], g2=f[a])
            out[name] = _sum_both_orders(s_ab, s_ba)
    return out


def _sum_both_orders(s_ab, s_ba):
    """Ordered-pair sums from the two unordered passes: Re/Im of z_a z_b^* taken (i,j) and (j,i)."""
    out = {}
    for k in s_ab:
        if k == "xip_im":
            # z_b(i) z_a(j)^* is the conjugate of z_a(j) z_b(i)^*
            out[k] = s_ab[k] - s_ba[k]
        else:
            out[k] = s_ab[k] + s_ba[k]
    return out


def rho_statistics(stars, bins=None, *, min_sep=None, max_sep=None, nbins=None, spacing="linear",
                   backend=None):
    """rho1..rho5 (paper eqs. 2-6) from star and PSF-model ellipticities and sizes, over all pairs.

    Parameters
    ----------
    stars : StarCatalog
    bins : Bins, optional
        Or ``min_sep``, ``max_sep`` (arcmin), ``nbins``, ``spacing``.
    backend : {"numpy", "julia", "auto"}, optional

    Returns
    -------
    RhoResult
        ``result["rho1"].xip`` etc.; empty bins hold NaN.
    """
    stars = check_stars(stars)
    bins = Bins.coerce(bins, min_sep=min_sep, max_sep=max_sep, nbins=nbins, spacing=spacing)
    sums = rho_pair_sums(stars, bins, backend=backend)
    return RhoResult(bins, {k: ShearShearResult.from_sums(bins, s) for k, s in sums.items()})


def check_stars(stars, name="stars"):
    """``stars`` if it is a :class:`StarCatalog`, else a TypeError naming the argument."""
    if not isinstance(stars, StarCatalog):
        raise TypeError(f"{name} must be a cosmocorr.StarCatalog, got {type(stars).__name__}")
    return stars
