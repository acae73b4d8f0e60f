"""Catalog tables: reading files with :func:`astropy.table.Table.read` and picking columns.

Used by :meth:`Catalog.read` / :meth:`Catalog.from_table` and :meth:`StarCatalog.read` /
:meth:`StarCatalog.from_table`. Columns are found by name (case-insensitively); units come from
the column (FITS ``TUNIT``, an ECSV/HDF5 unit, a Quantity column) or from ``ra_units`` /
``dec_units``; a SkyCoord column gives both positions; masked entries are an error naming the
column and the count unless ``drop_masked=True``; a TreeCorr-style flag column selects objects.
"""
from __future__ import annotations

import numbers
import warnings
from pathlib import Path

import numpy as np

from .units import angle_unit, is_skycoord, skycoord_degrees

__all__ = ["read_table", "select_columns", "unmask_arrays", "POSITION_ARGS"]

POSITION_ARGS = ("ra", "dec")

#: astropy formats tried by extension when ``format`` is None
_EXT_FORMATS = {".fits": "fits", ".fit": "fits", ".fts": "fits", ".fits.gz": "fits", ".fit.gz": "fits",
                ".csv": "ascii.csv", ".ecsv": "ascii.ecsv", ".hdf5": "hdf5", ".h5": "hdf5", ".hdf": "hdf5",
                ".parquet": "parquet", ".pq": "parquet", ".vot": "votable", ".xml": "votable"}


def _guess_format(path):
    name = path.name.lower()
    for ext, fmt in sorted(_EXT_FORMATS.items(), key=lambda kv: -len(kv[0])):
        if name.endswith(ext):
            return fmt
    return "ascii"  # whitespace-separated text with a header line, as TreeCorr reads


def read_table(path, format=None, hdu=None, **kwargs):
    """Read a table with :func:`astropy.table.Table.read`.

    ``format``: an astropy format name (``"fits"``, ``"ascii"``, ``"ascii.csv"``, ``"hdf5"``,
    ``"parquet"``, ...) or None to choose by extension. ``hdu``: for FITS, the HDU index or
    EXTNAME (default: the first table); for HDF5, the dataset path. Errors are a ValueError
    naming ``path``, ``hdu`` or ``format``.
    """
    from astropy.table import Table

    if not isinstance(path, (str, Path)):
        raise TypeError(f"path must be a str or Path, got {type(path).__name__}")
    path = Path(path)
    if not path.exists():
        raise ValueError(f"path: file not found: {path}")
    fmt = _guess_format(path) if format is None else str(format)
    kw = dict(kwargs)
    if fmt == "fits":
        if hdu is not None:
            if isinstance(hdu, (bool, np.bool_)) or not isinstance(hdu, (numbers.Integral, str)):
                raise TypeError(f"hdu must be an HDU index (int) or an extension name (str), got {type(hdu).__name__}")
            _check_fits_hdu(path, hdu)
            kw["hdu"] = int(hdu) if isinstance(hdu, numbers.Integral) else hdu
    elif fmt == "hdf5" and hdu is not None:
        kw["path"] = hdu
    elif hdu is not None:
        raise ValueError(f"hdu: {fmt} files have no HDUs (hdu={hdu!r} was given)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # astropy's unit / multi-HDU chatter; units are checked below
            return Table.read(path, format=fmt, **kw)
    except ImportError as exc:
        raise ValueError(f"format: reading {fmt} needs a package that is not installed ({exc})") from None
    except (OSError, ValueError, TypeError, KeyError, IndexError, UnicodeDecodeError) as exc:
        raise ValueError(f"path: cannot read {path} as {fmt}: {exc}") from None


def _check_fits_hdu(path, hdu):
    from astropy.io import fits

    try:
        with fits.open(path, memmap=False) as hdul:
            names = [h.name for h in hdul]
            if isinstance(hdu, str):
                if hdu.upper() not in [n.upper() for n in names]:
                    raise ValueError(f"hdu: {path.name} has no HDU named {hdu!r}; HDUs: {', '.join(names)}")
                h = hdul[hdu]
            else:
                if not 0 <= int(hdu) < len(hdul):
                    raise ValueError(f"hdu: {path.name} has {len(hdul)} HDUs (0..{len(hdul) - 1}), no HDU {hdu}")
                h = hdul[int(hdu)]
            if not isinstance(h, (fits.BinTableHDU, fits.TableHDU)):
                raise ValueError(f"hdu: HDU {hdu!r} of {path.name} is not a table")
    except OSError as exc:
        raise ValueError(f"path: cannot read {path} as FITS: {exc}") from None


def _lookup(table, col, arg, source):
    if not isinstance(col, str):
        raise TypeError(f"{arg} must be a column name (str), got {type(col).__name__}")
    names = list(table.colnames)
    same = [c for c in names if c.lower() == col.lower()]
    if len(same) > 1:  # FITS column names are case-insensitive: 'RA' and 'ra' are the same name
        raise ValueError(f"{arg}: column name {col!r} matches {len(same)} columns case-insensitively in {source} "
                         f"({', '.join(repr(c) for c in same)}); rename all but one of them")
    if same:
        return same[0]
    raise ValueError(f"{arg}: column {col!r} not found in {source}; available columns: {', '.join(names)}")


def _masked_count(column):
    mask = getattr(column, "mask", None)
    if mask is None or mask is np.ma.nomask:
        return None, 0
    mask = np.asarray(mask)
    if mask.ndim > 1:
        mask = mask.reshape(mask.shape[0], -1).any(axis=1)
    return mask, int(np.count_nonzero(mask))


def _mask_of(value):
    """(plain value, row mask or None) of a masked array (numpy.ma, astropy MaskedColumn, an
    astropy Masked Quantity); other values are returned as they are with None."""
    if isinstance(value, np.ma.MaskedArray):  # also astropy's MaskedColumn
        mask = np.ma.getmaskarray(value)
        data = np.ma.getdata(value)
        unit = getattr(value, "unit", None)
        if unit is not None and type(value).__module__.startswith("astropy"):
            from astropy import units as u

            data = np.asarray(data) * u.Unit(unit)  # a column's unit is kept, as from_table keeps it
        return data, mask
    if type(value).__module__.startswith("astropy") and hasattr(value, "unmasked") and hasattr(value, "mask"):
        return value.unmasked, np.asarray(value.mask)
    if type(value).__module__.startswith("astropy.table") and getattr(value, "unit", None) is not None:
        return value.quantity, None  # a Column with a unit: converted by it, as from_table does
    return value, None


def unmask_arrays(named, drop_masked=False):
    """Honour the masks of masked arrays given straight to a catalog, as :func:`select_columns`
    does for table columns.

    Parameters
    ----------
    named : dict
        argument name -> value (None entries are passed through).
    drop_masked : bool
        False: a masked entry is a ValueError naming the argument and the count. True: those rows
        are dropped from every argument, with a warning.

    Returns
    -------
    dict
        argument name -> the values without their mask (rows dropped when ``drop_masked``).
    """
    out, masks = {}, {}
    for arg, value in named.items():
        data, mask = (value, None) if value is None else _mask_of(value)
        out[arg] = data
        if mask is not None:
            if mask.ndim > 1:
                mask = mask.reshape(mask.shape[0], -1).any(axis=1)
            if mask.any():
                masks[arg] = mask
    if not masks:
        return out
    n = len(next(iter(masks.values())))
    if not drop_masked:
        detail = "; ".join(f"{a}: {int(m.sum())}" for a, m in masks.items())
        arg, mask = next(iter(masks.items()))
        raise ValueError(f"{arg} has {int(mask.sum())} masked (missing) value(s) of {n} [{detail}]; pass "
                         "drop_masked=True to drop those rows (masked entries are never used as data)")
    keep = np.ones(n, dtype=bool)
    for arg, mask in masks.items():
        if mask.shape[0] != n:
            raise ValueError(f"{arg} has length {mask.shape[0]} but another masked argument has length {n}")
        keep &= ~mask
    from .._warnings import emit_warning

    emit_warning(f"drop_masked=True: dropped {n - int(keep.sum())} of {n} rows with masked values in "
                 f"{', '.join(masks)}", UserWarning)
    for arg, value in out.items():
        if value is not None and np.ndim(value) >= 1 and len(value) == n:
            out[arg] = value[keep]
    return out


def select_columns(table, columns, *, units=None, drop_masked=False, flag=None, ok_flag=0, ignore_flag=None,
                   source="table"):
    """Pick the named columns of an astropy Table as float arrays (positions in degrees).

    Parameters
    ----------
    columns : dict
        argument name -> column name (None entries are skipped). The arguments ``"ra"`` and
        ``"dec"`` are positions; ``ra`` naming a SkyCoord column (with ``dec`` None) gives both.
    units : dict, optional
        argument name -> unit of that column's plain numbers (``ra_units``, ``dec_units``); a
        column's own unit (TUNIT) is used when it has one, and must then agree.
    drop_masked : bool
        False: a masked entry in any used column is a ValueError naming the column and the
        count. True: drop those rows (the number dropped is warned about).
    flag, ok_flag, ignore_flag :
        TreeCorr's flag selection: objects whose ``flag`` column has a bit set outside
        ``ok_flag`` (or, when given, inside ``ignore_flag``) are dropped.

    Returns
    -------
    dict
        argument name -> float ndarray, plus ``"_rows"``: the kept row indices.
    """
    units = units or {}
    n = len(table)
    picked = {}
    for arg, col in columns.items():
        if col is None:
            continue
        picked[arg] = _lookup(table, col, arg, source)
    keep = np.ones(n, dtype=bool)
    masks = {}
    for arg, real in picked.items():
        mask, count = _masked_count(table[real])
        if count:
            masks[arg] = (real, mask, count)
    if flag is not None:
        real = _lookup(table, flag, "flag", source)
        mask, count = _masked_count(table[real])
        if count:
            masks["flag"] = (real, mask, count)
        fl = np.asarray(np.ma.getdata(table[real]))
        if fl.dtype.kind not in "biu":
            if fl.dtype.kind == "f" and np.all(np.isfinite(fl)) and np.all(fl == np.round(fl)):
                fl = fl.astype(np.int64)
            else:
                raise ValueError(f"flag: column {real!r} must hold integer flags, got {fl.dtype}")
        bad = (fl & int(ignore_flag)) != 0 if ignore_flag is not None else (fl & ~int(ok_flag)) != 0
        keep &= ~bad
    if masks:
        if not drop_masked:
            arg, (real, _, count) = next(iter(masks.items()))
            detail = "; ".join(f"column {r!r} ({a}): {c}" for a, (r, _, c) in masks.items())
            raise ValueError(f"{arg}: column {real!r} has {count} masked (missing) value(s) of {n} "
                             f"[{detail}]; pass drop_masked=True to drop those rows")
        for _, mask, _ in masks.values():
            keep &= ~mask
        ndrop = int(np.count_nonzero(~keep))
        from .._warnings import emit_warning as warn

        warn(f"drop_masked=True: dropped rows with masked values in "
             f"{', '.join(repr(r) for r, _, _ in masks.values())} ({ndrop} of {n} rows removed, flags included)",
             UserWarning)
    rows = np.flatnonzero(keep)
    out = {"_rows": rows}
    unitless = []
    for arg, real in picked.items():
        column = table[real]
        if is_skycoord(column):
            if arg != "ra":
                raise ValueError(f"{arg}: column {real!r} is a SkyCoord; pass it as ra= (with dec=None)")
            ra, dec = skycoord_degrees(column[rows])
            out["ra"], out["dec"] = ra, dec
            continue
        data = np.ma.getdata(column)[rows] if hasattr(column, "mask") else np.asarray(column)[rows]
        data = np.asarray(getattr(data, "value", data))
        if data.dtype.kind not in "biuf":
            raise TypeError(f"{arg}: column {real!r} must be numeric, got {data.dtype}")
        col_unit = getattr(column, "unit", None)
        if arg in POSITION_ARGS or arg in units:
            given = units.get(arg)
            if col_unit is not None and str(col_unit).strip() not in ("", "None"):
                if given is not None:  # an explicit argument wins over the file's metadata
                    unit = angle_unit(given, f"{arg}_units")
                    try:
                        col = angle_unit(col_unit, f"{arg} (column {real!r})")
                    except ValueError:
                        col = None
                    if col != unit:
                        from .._warnings import emit_warning

                        emit_warning(f"{arg}_units={given!r} overrides the unit {str(col_unit)!r} of column "
                                     f"{real!r} (the explicit argument wins)", UserWarning)
                else:
                    unit = angle_unit(col_unit, f"{arg} (column {real!r}, unit {str(col_unit)!r})")
                out[arg] = np.asarray((data.astype(float) * unit).to_value("deg"), dtype=float)
            elif given is not None:
                from .units import to_degrees

                out[arg] = np.asarray(to_degrees(data.astype(float), given, arg), dtype=float)
            else:
                out[arg] = data.astype(float)
                unitless.append(arg)
        else:
            out[arg] = data.astype(float)
    _warn_if_radians(out, unitless, source)
    return out


def _warn_if_radians(out, unitless, source):
    """Positions read as degrees for want of any unit, although every value would also be a valid
    angle in radians (|ra| <= 2 pi, |dec| <= pi/2): TreeCorr refuses to guess here; cosmocorr
    reads degrees (its documented default) and says so, once per catalog."""
    if not {"ra", "dec"} <= set(unitless) or out["ra"].size < 2:
        return
    ra, dec = out["ra"], out["dec"]
    if np.all(np.abs(ra) <= 2 * np.pi) and np.all(np.abs(dec) <= np.pi / 2):
        from .._warnings import emit_warning

        emit_warning(f"{source}: ra and dec have no unit (no TUNIT, no ra_units/dec_units) and read as degrees, "
                     "but every value would also be a valid angle in radians (|ra| <= 2 pi, |dec| <= pi/2); "
                     "pass ra_units='rad', dec_units='rad' if they are radians, or ra_units='deg', dec_units='deg' "
                     "to confirm degrees", UserWarning)
