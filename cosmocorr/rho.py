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

from ._validate import as_float_array, check_same_length, check_sky_coords
from .bins import Bins
from .catalog import Catalog, read_fits_columns
from .twopoint import ShearShearResult, naive_pair_sums

__all__ = ["StarCatalog", "RhoResult", "rho_statistics", "RHO_FIELDS"]

#: which two fields each rho statistic correlates: (first, second)
RHO_FIELDS = {
    "rho1": ("de", "de"),
    "rho2": ("e", "de"),
    "rho3": ("edt", "edt"),
    "rho4": ("de", "edt"),
    "rho5": ("e", "edt"),
}


class StarCatalog:
    """Stars with measured and modelled PSF ellipticities and sizes.

    Parameters
    ----------
    ra, dec : array_like
        Positions in degrees.
    g1_star, g2_star, T_star : array_like
        Star (observed PSF) ellipticity components and size T = 2 sigma^2.
    g1_model, g2_model, T_model : array_like
        PSF model ellipticity and size at each star.
    w : array_like, optional
        Weights (default 1).

    Attributes
    ----------
    e, de, dT_over_T, edt : ndarray
        e_star (complex), e_star - e_model, (T_star - T_model) / T_star and e * dT/T.
    catalog : Catalog
        The positions and weights.
    """

    def __init__(self, ra, dec, g1_star, g2_star, T_star, g1_model, g2_model, T_model, w=None):
        ra, dec = check_sky_coords(ra, dec)
        arrays = {}
        for name, v in (("g1_star", g1_star), ("g2_star", g2_star), ("T_star", T_star),
                        ("g1_model", g1_model), ("g2_model", g2_model), ("T_model", T_model)):
            arrays[name] = as_float_array(v, name)
        check_same_length(("ra", ra), *arrays.items())
        if np.any(arrays["T_star"] <= 0):
            raise ValueError("T_star must be positive (it divides delta T)")
        self.catalog = Catalog(ra, dec, w=w)
        self.g1_star, self.g2_star, self.T_star = arrays["g1_star"], arrays["g2_star"], arrays["T_star"]
        self.g1_model, self.g2_model, self.T_model = arrays["g1_model"], arrays["g2_model"], arrays["T_model"]

    @property
    def ra(self):
        return self.catalog.ra

    @property
    def dec(self):
        return self.catalog.dec

    @property
    def w(self):
        return self.catalog.w

    def __len__(self):
        return len(self.catalog)

    @property
    def e(self):
        return self.g1_star + 1j * self.g2_star

    @property
    def e_model(self):
        return self.g1_model + 1j * self.g2_model

    @property
    def de(self):
        return self.e - self.e_model

    @property
    def dT_over_T(self):
        return (self.T_star - self.T_model) / self.T_star

    @property
    def edt(self):
        return self.e * self.dT_over_T

    def fields(self):
        """The three complex fields the rho statistics correlate: ``e``, ``de``, ``edt``."""
        return {"e": self.e, "de": self.de, "edt": self.edt}

    def subset(self, index):
        index = np.asarray(index)
        return StarCatalog(
            self.ra[index], self.dec[index], self.g1_star[index], self.g2_star[index], self.T_star[index],
            self.g1_model[index], self.g2_model[index], self.T_model[index], self.w[index],
        )

    def __repr__(self):
        return f"StarCatalog(nstars={len(self)})"

    @classmethod
    def from_fits(cls, path, *, ra="ra", dec="dec", g1_star="g1_vignet", g2_star="g2_vignet",
                  sigma_star="sig_vignet", g1_model="g1_psfex", g2_model="g2_psfex",
                  sigma_model="sig_psfex", w=None, hdu=1):
        """Read stars from a FITS table; sizes are given as sigma and converted to T = 2 sigma^2.

        The defaults are the COSMOS-Web validation catalog's column names.
        """
        names = {"ra": ra, "dec": dec, "g1_star": g1_star, "g2_star": g2_star, "sigma_star": sigma_star,
                 "g1_model": g1_model, "g2_model": g2_model, "sigma_model": sigma_model}
        if w is not None:
            names["w"] = w
        c = read_fits_columns(path, names, hdu=hdu)
        return cls(c["ra"], c["dec"], c["g1_star"], c["g2_star"], 2.0 * c["sigma_star"] ** 2,
                   c["g1_model"], c["g2_model"], 2.0 * c["sigma_model"] ** 2, c.get("w"))


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
                   backend=None, n_clusters=None, assignment="sample", n_samples=10, seed=None,
                   fuzziness=2.0, progress=False):
    """rho1..rho5 (paper eqs. 2-6) from star and PSF-model ellipticities and sizes.

    Parameters
    ----------
    stars : StarCatalog
    bins : Bins, optional
        Or ``min_sep``, ``max_sep`` (arcmin), ``nbins``, ``spacing``.
    backend : {"numpy", "julia", "auto"}, optional
    n_clusters, assignment, n_samples, seed, fuzziness, progress :
        With ``n_clusters`` set, run the probabilistic estimator of Algorithm 1 on the stars
        (:func:`cosmocorr.probabilistic.clustered_rho_statistics`).

    Returns
    -------
    RhoResult
        ``result["rho1"].xip`` etc.; empty bins hold NaN.
    """
    if not isinstance(stars, StarCatalog):
        raise TypeError(f"stars must be a cosmocorr.StarCatalog, got {type(stars).__name__}")
    bins = Bins.coerce(bins, min_sep=min_sep, max_sep=max_sep, nbins=nbins, spacing=spacing)
    if n_clusters is not None:
        from .probabilistic import clustered_rho_statistics

        return clustered_rho_statistics(
            stars, bins, n_clusters=n_clusters, assignment=assignment, n_samples=n_samples,
            seed=seed, fuzziness=fuzziness, backend=backend, progress=progress,
        )
    sums = rho_pair_sums(stars, bins, backend=backend)
    return RhoResult(bins, {k: ShearShearResult.from_sums(bins, s) for k, s in sums.items()})
