"""Catalogs of objects on the sky: positions, optional shears and weights."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .._validate import as_float_array, check_same_length, check_sky_coords
from .geometry import unit_vectors

__all__ = ["Catalog", "read_fits_columns"]


class Catalog:
    """Objects on the sky, in the spirit of ``treecorr.Catalog``.

    Parameters
    ----------
    ra, dec : array_like
        Positions in degrees; |dec| <= 90.
    g1, g2 : array_like, optional
        Shear / ellipticity components, e = g1 + i g2, in the local (RA, Dec) frame with
        TreeCorr's convention. Both or neither.
    w : array_like, optional
        Non-negative weights (default 1).

    Attributes
    ----------
    ra, dec, g1, g2, w : ndarray
    g : complex ndarray or None
        ``g1 + 1j * g2``.
    nobj : int
    sumw : float
    """

    def __init__(self, ra, dec, g1=None, g2=None, w=None):
        self.ra, self.dec = check_sky_coords(ra, dec)
        n = self.ra.size
        if (g1 is None) != (g2 is None):
            raise ValueError("g1 and g2 must be given together (or neither)")
        if g1 is not None:
            self.g1 = as_float_array(g1, "g1")
            self.g2 = as_float_array(g2, "g2")
            check_same_length(("ra", self.ra), ("g1", self.g1), ("g2", self.g2))
        else:
            self.g1 = self.g2 = None
        if w is None:
            self.w = np.ones(n)
        else:
            self.w = as_float_array(w, "w")
            check_same_length(("ra", self.ra), ("w", self.w))
            if np.any(self.w < 0):
                raise ValueError("w must be non-negative")
        self._xyz = None

    @property
    def nobj(self):
        return self.ra.size

    def __len__(self):
        return self.ra.size

    @property
    def sumw(self):
        return float(np.sum(self.w))

    @property
    def has_shear(self):
        return self.g1 is not None

    @property
    def g(self):
        return None if self.g1 is None else self.g1 + 1j * self.g2

    @property
    def xyz(self):
        """Unit vectors, shape (3, N); computed once."""
        if self._xyz is None:
            self._xyz = unit_vectors(self.ra, self.dec)
        return self._xyz

    def require_shear(self, name="catalog"):
        if not self.has_shear:
            raise ValueError(f"{name} has no shear: give g1 and g2 when building the Catalog")

    def subset(self, index):
        """A new Catalog with the objects selected by ``index`` (mask or integer array)."""
        index = np.asarray(index)
        return Catalog(
            self.ra[index], self.dec[index],
            None if self.g1 is None else self.g1[index],
            None if self.g2 is None else self.g2[index],
            self.w[index],
        )

    def __repr__(self):
        return f"Catalog(nobj={self.nobj}, shear={'yes' if self.has_shear else 'no'}, sumw={self.sumw:.6g})"

    @classmethod
    def from_fits(cls, path, ra="ra", dec="dec", g1=None, g2=None, w=None, hdu=1):
        """Read a Catalog from a FITS binary table with astropy.

        Parameters
        ----------
        path : str or Path
            FITS file.
        ra, dec, g1, g2, w : str or None
            Column names (positions in degrees). ``g1``/``g2``/``w`` are optional.
        hdu : int
            HDU holding the table (default 1).
        """
        names = {"ra": ra, "dec": dec, "g1": g1, "g2": g2, "w": w}
        cols = read_fits_columns(path, {k: v for k, v in names.items() if v is not None}, hdu=hdu)
        return cls(cols["ra"], cols["dec"], cols.get("g1"), cols.get("g2"), cols.get("w"))


def read_fits_columns(path, columns, hdu=1):
    """Read named columns of a FITS table as float arrays.

    ``columns`` maps an argument name (used in error messages) to a column name.
    Raises ``ValueError`` naming the argument and the available columns when one is missing,
    and when the file cannot be read.
    """
    from astropy.io import fits

    if not isinstance(path, (str, Path)):
        raise TypeError(f"path must be a str or Path, got {type(path).__name__}")
    path = Path(path)
    if not path.exists():
        raise ValueError(f"path: FITS file not found: {path}")
    try:
        with fits.open(path, memmap=False) as hdul:
            if hdu >= len(hdul):
                raise ValueError(f"hdu: {path} has {len(hdul)} HDUs, no HDU {hdu}")
            data = hdul[hdu].data
            if data is None or not hasattr(data, "columns"):
                raise ValueError(f"hdu: HDU {hdu} of {path} is not a table")
            available = list(data.columns.names)
            lower = {c.lower(): c for c in available}
            out = {}
            for arg, col in columns.items():
                if not isinstance(col, str):
                    raise TypeError(f"{arg} must be a column name (str), got {type(col).__name__}")
                real = col if col in available else lower.get(col.lower())
                if real is None:
                    raise ValueError(
                        f"{arg}: column {col!r} not found in {path.name}; available columns: {', '.join(available)}"
                    )
                out[arg] = np.array(data[real], dtype=float)
            return out
    except (OSError, TypeError) as exc:  # astropy raises OSError for corrupt files
        if isinstance(exc, TypeError) and "column name" in str(exc):
            raise
        raise ValueError(f"path: cannot read {path} as FITS: {exc}") from exc
