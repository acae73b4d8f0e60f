"""Star catalogs for PSF diagnostics: star and PSF-model ellipticities and sizes (paper sec. 2.1).

The fields the rho statistics (paper eqs. 2-6) correlate are derived here: e (the star's
ellipticity), delta e = e_star - e_model and e dT/T with T = 2 sigma^2; and e_model itself, for
rho0 and the tau statistics (Gatti et al. 2021).
"""
from __future__ import annotations

import numpy as np

from .._validate import as_float_array, check_same_length, check_sky_coords
from .catalog import Catalog
from .units import to_degrees

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
        Non-negative weights (default 1), not all zero.
    keep_zero_weight : bool
        As for :class:`Catalog` (TreeCorr's option): stars with ``w == 0`` are dropped unless True.
    patch, npatch, patch_centers, patch_seed : optional
        Patches for jackknife / bootstrap covariances, as for :class:`Catalog`.
    drop_masked : bool
        Masked arrays have their masks honoured as for :class:`Catalog`: a masked entry is a
        ValueError naming the argument unless True (rows dropped, with a warning).

    Attributes
    ----------
    e, de, dT_over_T, edt : ndarray
        e_star (complex), e_star - e_model, (T_star - T_model) / T_star and e * dT/T.
    catalog : Catalog
        The positions and weights.
    """

    def __init__(self, ra, dec, g1_star, g2_star, T_star, g1_model, g2_model, T_model, w=None, *,
                 keep_zero_weight=False, patch=None, npatch=None, patch_centers=None, patch_seed=None,
                 drop_masked=False):
        from .tables import unmask_arrays

        given = unmask_arrays({"ra": ra, "dec": dec, "g1_star": g1_star, "g2_star": g2_star, "T_star": T_star,
                               "g1_model": g1_model, "g2_model": g2_model, "T_model": T_model, "w": w,
                               "patch": patch}, drop_masked)
        ra, dec, g1_star, g2_star, T_star, g1_model, g2_model, T_model, w, patch = given.values()
        # astropy Quantities are converted by their own unit (plain numbers are degrees)
        ra, dec = check_sky_coords(to_degrees(ra, None, "ra"), to_degrees(dec, None, "dec"))
        arrays = {}
        for name, v in (("g1_star", g1_star), ("g2_star", g2_star), ("T_star", T_star),
                        ("g1_model", g1_model), ("g2_model", g2_model), ("T_model", T_model)):
            arrays[name] = as_float_array(v, name)
        check_same_length(("ra", ra), *arrays.items())
        if np.any(arrays["T_star"] <= 0):
            raise ValueError("T_star must be positive (it divides delta T)")
        self.catalog = Catalog(ra, dec, w=w, keep_zero_weight=keep_zero_weight, patch=patch, npatch=npatch,
                               patch_centers=patch_centers, patch_seed=patch_seed)
        if self.catalog.nobj_dropped:
            arrays = {k: v[self.catalog.kept_index] for k, v in arrays.items()}
        self.g1_star, self.g2_star, self.T_star = arrays["g1_star"], arrays["g2_star"], arrays["T_star"]
        self.g1_model, self.g2_model, self.T_model = arrays["g1_model"], arrays["g2_model"], arrays["T_model"]

    @property
    def ra(self):
        """Right ascensions (degrees)."""
        return self.catalog.ra

    @property
    def dec(self):
        """Declinations (degrees)."""
        return self.catalog.dec

    @property
    def w(self):
        """Weights."""
        return self.catalog.w

    def __len__(self):
        return len(self.catalog)

    @property
    def e(self):
        """Star ellipticity g1_star + 1j g2_star."""
        return self.g1_star + 1j * self.g2_star

    @property
    def e_model(self):
        """PSF-model ellipticity g1_model + 1j g2_model."""
        return self.g1_model + 1j * self.g2_model

    @property
    def de(self):
        """Ellipticity residual e_star - e_model (complex)."""
        return self.e - self.e_model

    @property
    def dT_over_T(self):
        """(T_star - T_model) / T_star, the size residual of the rho statistics."""
        return (self.T_star - self.T_model) / self.T_star

    @property
    def edt(self):
        """e_star (T_star - T_model) / T_star, the third field of rho3-rho5 (eqs. 4-6)."""
        return self.e * self.dT_over_T

    def fields(self):
        """The complex fields the rho and tau statistics correlate: ``e`` (star), ``de``, ``edt`` and
        ``em`` (the PSF model's ellipticity, for rho0 and tau0)."""
        return {"e": self.e, "de": self.de, "edt": self.edt, "em": self.e_model}

    def subset(self, index):
        """A new StarCatalog with the stars selected by ``index`` (mask or integer array)."""
        index = np.asarray(index)
        new = StarCatalog(
            self.ra[index], self.dec[index], self.g1_star[index], self.g2_star[index], self.T_star[index],
            self.g1_model[index], self.g2_model[index], self.T_model[index], self.w[index],
            keep_zero_weight=self.catalog.keep_zero_weight,
        )
        if self.catalog.patch is not None:  # the subset keeps its stars' patches
            new.catalog = self.catalog.subset(index)
        return new

    def __repr__(self):
        return f"StarCatalog(nstars={len(self)})"

    @classmethod
    def from_fits(cls, path, *, hdu=1, **kwargs):
        """Read stars from a FITS table (:meth:`read` with ``format="fits"``; ``hdu`` index or name).

        The defaults are the COSMOS-Web validation catalog's column names; sizes given as sigma
        are converted to T = 2 sigma^2.
        """
        return cls.read(path, format="fits", hdu=hdu, **kwargs)

    @classmethod
    def from_table(cls, table, *, ra="ra", dec="dec", g1_star="g1_vignet", g2_star="g2_vignet",
                   sigma_star="sig_vignet", g1_model="g1_psfex", g2_model="g2_psfex", sigma_model="sig_psfex",
                   T_star=None, T_model=None, w=None, ra_units=None, dec_units=None, flip_g1=False,
                   flip_g2=False, drop_masked=False, flag=None, ok_flag=0, ignore_flag=None, source="table",
                   **kwargs):
        """Stars from the columns of a table (see :meth:`Catalog.from_table` for units, masked
        values, flags and flips, which apply to star and model ellipticities alike).

        Sizes: ``T_star``/``T_model`` name columns of T = 2 sigma^2 (e.g. HSM's T); otherwise
        ``sigma_star``/``sigma_model`` name columns of sigma, converted to T = 2 sigma^2.
        The defaults are the COSMOS-Web validation catalog's column names.
        """
        from .catalog import _as_table
        from .tables import select_columns

        cols = {"ra": ra, "dec": dec, "g1_star": g1_star, "g2_star": g2_star, "g1_model": g1_model,
                "g2_model": g2_model, "w": w,
                "T_star": T_star, "T_model": T_model,
                "sigma_star": None if T_star is not None else sigma_star,
                "sigma_model": None if T_model is not None else sigma_model}
        c = select_columns(_as_table(table), cols, units={"ra": ra_units, "dec": dec_units},
                           drop_masked=drop_masked, flag=flag, ok_flag=ok_flag, ignore_flag=ignore_flag, source=source)
        t_star = c["T_star"] if T_star is not None else 2.0 * c["sigma_star"] ** 2
        t_model = c["T_model"] if T_model is not None else 2.0 * c["sigma_model"] ** 2
        s1, s2 = (-1.0 if flip_g1 else 1.0), (-1.0 if flip_g2 else 1.0)
        return cls(c["ra"], c["dec"], s1 * c["g1_star"], s2 * c["g2_star"], t_star, s1 * c["g1_model"],
                   s2 * c["g2_model"], t_model, c.get("w"), **kwargs)

    @classmethod
    def read(cls, path, format=None, hdu=None, *, first_row=1, last_row=-1, every_nth=1, **kwargs):
        """Read stars from a file with :func:`astropy.table.Table.read` (FITS by HDU index or name,
        ASCII, CSV, HDF5, Parquet when pyarrow is installed); ``first_row``, ``last_row``,
        ``every_nth`` select rows as :meth:`Catalog.read` (TreeCorr's meanings); other keywords as
        :meth:`from_table`."""
        from pathlib import Path

        from .tables import read_table, row_slice

        rows = row_slice(first_row, last_row, every_nth)
        whole = rows.start == 0 and rows.stop is None and rows.step == 1
        table = read_table(path, format=format, hdu=hdu, rows=None if whole else rows)
        return cls.from_table(table, source=Path(path).name, **kwargs)
