"""Catalogs of objects on the sky: positions, optional shears, weights and patches (the inputs of
paper eqs. 1 and 7-8 and of Algorithm 1), in the spirit of ``treecorr.Catalog``."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .._validate import as_float_array, check_bool, check_same_length, check_sky_coords
from .geometry import unit_vectors
from .units import is_skycoord, skycoord_degrees, to_degrees
from .patches import patch_centers_of, resolve_patches

__all__ = ["Catalog", "read_fits_columns", "concatenate_catalogs"]


class Catalog:
    """Objects on the sky, in the spirit of ``treecorr.Catalog``.

    Parameters
    ----------
    ra, dec : array_like, Quantity or SkyCoord
        Positions, in ``ra_units``/``dec_units`` (default degrees); ``|dec|`` <= 90 deg. An astropy
        Quantity is converted by its own unit (an error if it is not an angle); a SkyCoord as
        ``ra`` with ``dec=None`` gives both (ICRS).
    g1, g2 : array_like, optional
        Shear / ellipticity components, e = g1 + i g2, in the local (RA, Dec) frame with
        TreeCorr's convention. Both or neither.
    w : array_like, optional
        Non-negative weights (default 1); they may not all be zero.
    k : array_like, optional
        A scalar field per object (convergence, size residual, ...: TreeCorr's ``k``), finite
        floats; used by the count-scalar, scalar-scalar and scalar-shear correlations.
    keep_zero_weight : bool
        As ``treecorr.Catalog``: by default (False) objects with ``w == 0`` are dropped when the
        Catalog is built, so they enter no pair count (``npairs``); with True they are kept and
        counted in ``npairs`` while contributing nothing to the weighted sums.
    patch : array_like of int, optional
        Patch label (0..npatch-1) of each given object, for jackknife / bootstrap covariances
        (``var_method`` of the estimators); every patch must hold an object.
    npatch : int, optional
        Without ``patch``: build ``npatch`` patches by TreeCorr's spherical k-means (as
        ``treecorr.Catalog(npatch=)``, seeded by ``patch_seed``;
        :func:`cosmocorr.sky.patches.kmeans_patches`); ``npatch`` may not exceed the number of
        objects.
    patch_centers : array_like (npatch, 2), optional
        Patch centres (ra, dec, degrees): each object joins its nearest centre. Use
        ``other.patch_centers`` to give a random or second catalog the same patches.
    patch_seed : int or Generator, optional
        Seed of the k-means patches.
    ra_units, dec_units : str or astropy unit
        Unit of plain-number positions, named as TreeCorr does (``"deg"`` default, ``"rad"``,
        ``"hour"``, ``"arcmin"``, ``"arcsec"``) or any astropy angle unit; a unit that is not an
        angle is a ValueError. Internally everything is in degrees.
    flip_g1, flip_g2 : bool
        Negate g1 / g2 on input (catalogs whose shear convention differs from TreeCorr's).
    drop_masked : bool
        Masked arrays (``numpy.ma``, astropy ``MaskedColumn`` or masked Quantity) have their masks
        honoured as in :meth:`from_table`: by default (False) a masked entry is a ValueError naming
        the argument and the count; True drops those rows, with a warning.

    Attributes
    ----------
    ra, dec, g1, g2, w, k : ndarray
        The objects kept (zero-weight objects removed unless ``keep_zero_weight``); ``k`` None
        without a scalar field.
    g : complex ndarray or None
        ``g1 + 1j * g2``.
    nobj : int
        Number of objects kept.
    sumw : float
    ntot_input : int
        Number of objects given.
    nobj_dropped : int
        Number of zero-weight objects dropped (0 with ``keep_zero_weight=True``).
    kept_index : ndarray of int
        Index into the given arrays of each object kept.
    patch : ndarray of int or None
        Patch label of each object (None without patches).
    npatch : int
        Number of patches (1 without patches, as TreeCorr).
    patch_centers : ndarray (npatch, 2) or None
        Patch centres in degrees.
    """

    def __init__(self, ra, dec, g1=None, g2=None, w=None, *, keep_zero_weight=False, patch=None, npatch=None,
                 patch_centers=None, patch_seed=None, ra_units="deg", dec_units="deg", flip_g1=False,
                 flip_g2=False, k=None, drop_masked=False):
        self.keep_zero_weight = check_bool(keep_zero_weight, "keep_zero_weight")
        from .tables import unmask_arrays

        given = unmask_arrays({"ra": ra, "dec": dec, "g1": g1, "g2": g2, "w": w, "patch": patch},
                              check_bool(drop_masked, "drop_masked"))
        ra, dec, g1, g2, w, patch = (given[k] for k in ("ra", "dec", "g1", "g2", "w", "patch"))
        if is_skycoord(ra) and dec is None:
            ra, dec = skycoord_degrees(ra, "ra")
        ra, dec = to_degrees(ra, ra_units, "ra"), to_degrees(dec, dec_units, "dec")
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
        if check_bool(flip_g1, "flip_g1") and self.g1 is not None:  # TreeCorr's flip_g1/flip_g2
            self.g1 = -self.g1
        if check_bool(flip_g2, "flip_g2") and self.g2 is not None:
            self.g2 = -self.g2
        self.k = None
        if k is not None:
            self.k = as_float_array(k, "k")
            check_same_length(("ra", self.ra), ("k", self.k))
        if w is None:
            self.w = np.ones(n)
        else:
            self.w = as_float_array(w, "w")
            check_same_length(("ra", self.ra), ("w", self.w))
            if np.any(self.w < 0):
                raise ValueError("w must be non-negative")
            if not np.any(self.w > 0):
                raise ValueError("w: all weights are zero (sum of w == 0); at least one object needs a positive weight")
        self.ntot_input = n
        self.kept_index = np.arange(n)
        if not self.keep_zero_weight and np.any(self.w == 0):
            # TreeCorr's default: zero-weight objects are removed from the catalog
            keep = np.flatnonzero(self.w != 0)
            self.kept_index = keep
            self.ra, self.dec, self.w = self.ra[keep], self.dec[keep], self.w[keep]
            if self.g1 is not None:
                self.g1, self.g2 = self.g1[keep], self.g2[keep]
            if self.k is not None:
                self.k = self.k[keep]
        self.nobj_dropped = n - self.ra.size
        self._xyz = None
        if patch is not None:
            patch = np.asarray(patch)
            if patch.ndim != 1 or patch.size != n:
                raise ValueError(f"patch has shape {patch.shape} but {n} objects were given; they must match")
            patch = patch[self.kept_index]
        self.patch, self.npatch, self._patch_centers = resolve_patches(
            self.ra, self.dec, patch=patch, npatch=npatch, patch_centers=patch_centers, patch_seed=patch_seed)

    @property
    def patch_centers(self):
        """Patch centres (npatch, 2) in degrees (None without patches)."""
        if self._patch_centers is None and self.patch is not None:
            self._patch_centers = patch_centers_of(self.ra, self.dec, self.patch, self.npatch)
        return self._patch_centers

    @property
    def nobj(self):
        """Number of objects kept."""
        return self.ra.size

    def __len__(self):
        return self.ra.size

    @property
    def sumw(self):
        """Sum of the weights."""
        return float(np.sum(self.w))

    @property
    def has_shear(self):
        """Whether the catalog has shears."""
        return self.g1 is not None

    @property
    def g(self):
        """Complex shear ``g1 + 1j * g2`` (None without shears)."""
        return None if self.g1 is None else self.g1 + 1j * self.g2

    @property
    def xyz(self):
        """Unit vectors, shape (3, N); computed once."""
        if self._xyz is None:
            self._xyz = unit_vectors(self.ra, self.dec)
        return self._xyz

    @property
    def has_scalar(self):
        """Whether the catalog carries a scalar field ``k``."""
        return self.k is not None

    def require_scalar(self, name="catalog"):
        """ValueError naming ``name`` unless the catalog has a scalar field ``k``."""
        if not self.has_scalar:
            raise ValueError(f"{name} has no scalar field: give k when building the Catalog")

    def require_shear(self, name="catalog"):
        """Raise a ValueError naming ``name`` unless the catalog has shears."""
        if not self.has_shear:
            raise ValueError(f"{name} has no shear: give g1 and g2 when building the Catalog")

    def subset(self, index):
        """A new Catalog with the objects selected by ``index`` (mask or integer array)."""
        index = np.asarray(index)
        new = Catalog(
            self.ra[index], self.dec[index],
            None if self.g1 is None else self.g1[index],
            None if self.g2 is None else self.g2[index],
            self.w[index], keep_zero_weight=self.keep_zero_weight,
            k=None if self.k is None else self.k[index],
        )
        if self.patch is not None:  # the subset keeps its objects' patches (some may be empty)
            new.patch, new.npatch, new._patch_centers = self.patch[index][new.kept_index], self.npatch, self.patch_centers
        return new

    def __repr__(self):
        return f"Catalog(nobj={self.nobj}, shear={'yes' if self.has_shear else 'no'}, sumw={self.sumw:.6g})"

    @classmethod
    def from_fits(cls, path, ra="ra", dec="dec", g1=None, g2=None, w=None, hdu=1, **kwargs):
        """Read a Catalog from a FITS binary table: :meth:`read` with ``format="fits"``.

        Parameters
        ----------
        path : str or Path
            FITS file.
        ra, dec, g1, g2, w : str or None
            Column names. Positions honour the columns' ``TUNIT`` (degrees when there is none).
        hdu : int or str
            HDU index or EXTNAME holding the table (default 1).
        **kwargs :
            As :meth:`from_table`.
        """
        return cls.read(path, format="fits", hdu=hdu, ra=ra, dec=dec, g1=g1, g2=g2, w=w, **kwargs)

    @classmethod
    def from_table(cls, table, ra="ra", dec="dec", g1=None, g2=None, w=None, *, ra_units=None, dec_units=None,
                   flip_g1=False, flip_g2=False, drop_masked=False, flag=None, ok_flag=0, ignore_flag=None,
                   patch=None, source="table", k=None, **kwargs):
        """A Catalog from the columns of a table.

        Parameters
        ----------
        table : astropy Table, dict of arrays, structured ndarray or pandas DataFrame
        ra, dec, g1, g2, w, k : str or None
            Column names (case-insensitive). ``ra`` may name a SkyCoord column (then ``dec=None``).
        ra_units, dec_units : str or astropy unit, optional
            Unit of position columns without a unit of their own (default degrees). A column's unit
            (FITS ``TUNIT``, Quantity column) is used when present; it must be an angle, and a
            different ``ra_units``/``dec_units`` is an error.
        flip_g1, flip_g2 : bool
            Negate g1 / g2.
        drop_masked : bool
            False (default): masked (missing) entries in a used column are a ValueError naming the
            column and the count. True: drop those rows, with a warning.
        flag, ok_flag, ignore_flag :
            A flag column and TreeCorr's selection: objects with a flag bit set outside ``ok_flag``
            (default 0: any non-zero flag), or inside ``ignore_flag`` when given, are dropped.
        patch : str or array_like, optional
            A column of patch labels, or the labels themselves.
        **kwargs :
            Further :class:`Catalog` arguments (``keep_zero_weight``, ``npatch``, ...).
        """
        from .tables import select_columns

        table = _as_table(table)
        cols = {"ra": ra, "dec": dec, "g1": g1, "g2": g2, "w": w, "k": k}
        if isinstance(patch, str):
            cols["patch"] = patch
        c = select_columns(table, cols, units={"ra": ra_units, "dec": dec_units}, drop_masked=drop_masked,
                           flag=flag, ok_flag=ok_flag, ignore_flag=ignore_flag, source=source)
        if patch is not None and not isinstance(patch, str):
            patch = np.asarray(patch)[c["_rows"]]
        elif isinstance(patch, str):
            patch = c["patch"].astype(np.int64)
        if patch is not None:
            kwargs["patch"] = patch
        return cls(c["ra"], c["dec"], c.get("g1"), c.get("g2"), c.get("w"), flip_g1=flip_g1, flip_g2=flip_g2,
                   k=c.get("k"), **kwargs)

    @classmethod
    def read(cls, path, format=None, hdu=None, ra="ra", dec="dec", g1=None, g2=None, w=None, *, first_row=1,
             last_row=-1, every_nth=1, **kwargs):
        """Read a Catalog from a file: only the columns it uses, only the rows asked for.

        Parameters
        ----------
        path : str or Path
        format : str, optional
            astropy format: ``"fits"``, ``"ascii"`` (whitespace, header line), ``"ascii.csv"``,
            ``"ascii.ecsv"``, ``"hdf5"``, ``"parquet"``, ...; by default chosen from the
            extension (anything unknown is read as ASCII). HDF5 needs h5py and Parquet pyarrow
            (``pip install "cosmocorr[hdf5]"`` / ``"cosmocorr[parquet]"``).
        hdu : int or str, optional
            FITS: the HDU index or EXTNAME (default: the first table). HDF5: the dataset path
            (astropy's layout) or a group with one dataset per column (TreeCorr's).
        ra, dec, g1, g2, w, **kwargs :
            As :meth:`from_table` (units, masked values, flags, flips, patches). Only these
            columns (and ``k=``, ``flag=``, ``patch=`` when they name columns) are read: FITS columns
            are copied one at a time out of a memory map, HDF5 fields with h5py, Parquet
            columns with pyarrow; text files are parsed keeping only these columns.
        first_row, last_row, every_nth : int
            TreeCorr's row selection: rows ``first_row`` to ``last_row`` (1-based, inclusive;
            ``last_row=-1``: to the end), every ``every_nth``-th of them (FITS and HDF5 copy only
            those rows). A first or last row beyond the file, ``every_nth < 1`` or a non-integer
            is an error naming the argument.
        """
        from .tables import read_table, row_slice

        rows = row_slice(first_row, last_row, every_nth)
        names = {k: v for k, v in dict(ra=ra, dec=dec, g1=g1, g2=g2, w=w, k=kwargs.get("k"), flag=kwargs.get("flag"),
                                       patch=kwargs.get("patch")).items() if isinstance(v, str)}
        whole = rows.start == 0 and rows.stop is None and rows.step == 1
        table = read_table(path, format=format, hdu=hdu, columns=names, rows=None if whole else rows)
        return cls.from_table(table, ra=ra, dec=dec, g1=g1, g2=g2, w=w, source=Path(path).name, **kwargs)


def _as_table(table):
    """An astropy Table from a Table, dict of arrays, structured array or pandas DataFrame."""
    from astropy.table import Table

    if isinstance(table, Table):
        return table
    if type(table).__name__ == "DataFrame":
        return Table.from_pandas(table)
    if isinstance(table, (dict, np.ndarray)) or hasattr(table, "colnames"):
        try:
            return Table(table)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"table: cannot make a table of {type(table).__name__}: {exc}") from None
    raise TypeError(f"table must be an astropy Table, a dict of columns, a structured array or a pandas "
                    f"DataFrame, got {type(table).__name__}")


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
            out = {}
            for arg, col in columns.items():
                if not isinstance(col, str):
                    raise TypeError(f"{arg} must be a column name (str), got {type(col).__name__}")
                same = [c for c in available if c.lower() == col.lower()]
                if len(same) > 1:
                    raise ValueError(f"{arg}: column name {col!r} matches {len(same)} columns case-insensitively "
                                     f"in {path.name} ({', '.join(map(repr, same))}); rename all but one of them")
                real = same[0] if same else None
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


def concatenate_catalogs(cats, name):
    """One Catalog from a Catalog or a list of them (TreeCorr's list of random catalogs: the
    objects of all, each with its own weights; ``k``/shears kept when every catalog has them,
    patches when every catalog has the same number of them).

    Parameters
    ----------
    cats : Catalog or list of Catalog
    name : str
        Argument name for error messages.

    Returns
    -------
    Catalog
    """
    if isinstance(cats, Catalog):
        return cats
    if not isinstance(cats, (list, tuple)) or len(cats) == 0:
        raise TypeError(f"{name} must be a cosmocorr.Catalog or a non-empty list of them, got {type(cats).__name__}")
    for q, c in enumerate(cats):
        if not isinstance(c, Catalog):
            raise TypeError(f"{name}[{q}] must be a cosmocorr.Catalog, got {type(c).__name__}")
    if len(cats) == 1:
        return cats[0]

    def cat(attr):
        return np.concatenate([getattr(c, attr) for c in cats])

    with_k = all(c.k is not None for c in cats)
    with_g = all(c.g1 is not None for c in cats)
    out = Catalog(cat("ra"), cat("dec"), cat("g1") if with_g else None, cat("g2") if with_g else None, cat("w"),
                  keep_zero_weight=True, k=cat("k") if with_k else None)
    if any(c.patch is not None for c in cats):
        npatch = {c.npatch if c.patch is not None else None for c in cats}
        if len(npatch) != 1 or None in npatch:
            raise ValueError(f"{name}: give every catalog the same patches (patch_centers=) or none")
        out.patch, out.npatch, out._patch_centers = cat("patch"), npatch.pop(), cats[0].patch_centers
    return out
