"""Star catalogs for PSF diagnostics: star and PSF-model ellipticities and sizes (paper sec. 2.1).

The fields the rho statistics (paper eqs. 2-6) correlate are derived here: e (the star's
ellipticity), delta e = e_star - e_model and e dT/T with T = 2 sigma^2.
"""
from __future__ import annotations

import numpy as np

from .._validate import as_float_array, check_same_length, check_sky_coords
from .catalog import Catalog, read_fits_columns

__all__ = ["StarCatalog"]


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
