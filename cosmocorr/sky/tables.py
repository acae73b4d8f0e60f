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

__all__ = ["read_table", "select_columns", "unmask_arrays", "POSITION_ARGS", "row_slice"]

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


def row_slice(first_row=1, last_row=-1, every_nth=1):
    """TreeCorr's row selection (``treecorr.Catalog``'s ``first_row``, ``last_row``,
    ``every_nth``) as a slice: rows ``first_row`` to ``last_row`` (1-based, inclusive; -1: to
    the end), every ``every_nth``-th of them. Bad values are a TypeError/ValueError naming the
    argument."""
    from .._validate import check_positive_int

    first_row = check_positive_int(first_row, "first_row")
    every_nth = check_positive_int(every_nth, "every_nth")
    if isinstance(last_row, bool) or not isinstance(last_row, numbers.Integral):
        raise TypeError(f"last_row must be an integer (-1: the last row), got {type(last_row).__name__}")
    last_row = int(last_row)
    if last_row != -1 and last_row < first_row:
        raise ValueError(f"last_row must be -1 (the last row) or >= first_row ({first_row}), got {last_row}")
    return slice(first_row - 1, None if last_row == -1 else last_row, every_nth)


def _check_rows(rows, nrows, source):
    """The row slice against the file's ``nrows`` rows (a ValueError naming the argument)."""
    if rows is None:
        return
    if rows.start >= nrows:
        raise ValueError(f"first_row={rows.start + 1} but {source} has {nrows} rows")
    if rows.stop is not None and rows.stop > nrows:
        raise ValueError(f"last_row={rows.stop} but {source} has {nrows} rows (use last_row=-1 for the last row)")


def _resolve(names, available, source):
    """Each wanted name's spelling in the file (case-insensitive), or a ValueError naming the
    argument (``names``: argument -> column name) and listing the file's columns."""
    lower = {c.lower(): c for c in available}
    out = []
    for arg, name in names.items():
        real = name if name in available else lower.get(name.lower())
        if real is None:
            raise ValueError(f"{arg}: column {name!r} not found in {source}; available columns: "
                             f"{', '.join(available)}")
        out.append(real)
    return list(dict.fromkeys(out))


def _read_fits_columns(path, hdu, names, rows):
    """Only ``names`` of a FITS table, only ``rows``: the file is memory-mapped and each column
    copied out on its own (NaN floats and TNULL integers masked, as astropy's reader does)."""
    from astropy.io import fits
    from astropy.table import Column, MaskedColumn, Table

    with fits.open(path, memmap=True) as hdul:
        if hdu is None:
            hdu = next((i for i, h in enumerate(hdul) if isinstance(h, (fits.BinTableHDU, fits.TableHDU))), None)
            if hdu is None:
                raise ValueError(f"path: {path.name} has no table HDU")
        h = hdul[int(hdu) if isinstance(hdu, numbers.Integral) else hdu]
        nrows = int(h.header.get("NAXIS2", 0))
        _check_rows(rows, nrows, path.name)
        sel = slice(None) if rows is None else rows
        # the column definitions before the data: once the data is mapped they refer to it, and
        # astropy copies a still-referenced map into memory (the whole table) when the file closes
        info = {real: (h.columns[real].null, h.columns[real].unit)
                for real in _resolve(names, list(h.columns.names), path.name)}
        out = {}
        for real, (null, unit) in info.items():
            data = np.array(h.data.field(real)[sel])
            mask = None
            if data.dtype.kind == "f":
                mask = np.isnan(data)
            elif data.dtype.kind in "iu" and null not in (None, ""):
                mask = data == int(null)
            unit = unit if unit not in (None, "") else None
            # a Column with the file's unit, as Table.read gives (an unrecognised TUNIT such as
            # 'DEG' or 'radians' stays an UnrecognizedUnit for sky.units.angle_unit to parse)
            unit = None if unit is None else _unit(unit)
            out[real] = (MaskedColumn(data, mask=mask, unit=unit, name=real) if mask is not None and mask.any()
                         else Column(data, unit=unit, name=real))
        del h.data
        return Table(out), nrows


def _unit(unit):
    from astropy import units as u

    return u.Unit(unit, format="fits", parse_strict="silent")   # as astropy's FITS reader parses TUNIT


def _read_hdf5_columns(path, hdu, names, rows):
    """Only ``names`` of an HDF5 table, only ``rows``, with h5py: fields of a compound dataset
    (astropy's layout; units from its column metadata) or datasets of a group (TreeCorr's)."""
    import h5py
    from astropy.table import Table

    with h5py.File(path, "r") as f:
        node = f if hdu is None else f.get(hdu)
        if node is None:
            raise ValueError(f"hdu: {path.name} has no dataset or group {hdu!r}")
        if hdu is None:     # astropy's default: the first table (compound dataset) at the top
            node = next((f[k] for k in f if isinstance(f[k], h5py.Dataset) and f[k].dtype.names), f)
        sel = slice(None) if rows is None else rows
        if isinstance(node, h5py.Dataset):
            if not node.dtype.names:
                raise ValueError(f"hdu: dataset {node.name!r} of {path.name} is not a table (no named fields)")
            nrows = node.shape[0]
            _check_rows(rows, nrows, path.name)
            real = _resolve(names, list(node.dtype.names), path.name)
            units = {}
            meta_path = node.name + ".__table_column_meta__"
            if meta_path in f:
                from astropy.table import meta

                header = meta.get_header_from_yaml(h.decode("utf-8") for h in f[meta_path])
                units = {d["name"]: d["unit"] for d in header.get("datatype", []) if d.get("unit")}
            data = node.fields(real)[sel] if len(real) > 1 else {real[0]: node.fields(real[0])[sel]}
            from astropy import units as u
            from astropy.table import Column

            return Table({k: Column(np.asarray(data[k]), name=k,
                                    unit=u.Unit(units[k], parse_strict="silent") if k in units else None)
                          for k in real}), nrows
        available = [k for k in node if isinstance(node[k], h5py.Dataset)]
        real = _resolve(names, available, path.name)
        nrows = node[real[0]].shape[0]
        _check_rows(rows, nrows, path.name)
        return Table({k: np.asarray(node[k][sel]) for k in real}), nrows


def read_table(path, format=None, hdu=None, columns=None, rows=None, **kwargs):
    """Read a table with :func:`astropy.table.Table.read`.

    ``format``: an astropy format name (``"fits"``, ``"ascii"``, ``"ascii.csv"``, ``"hdf5"``,
    ``"parquet"``, ...) or None to choose by extension. ``hdu``: for FITS, the HDU index or
    EXTNAME (default: the first table); for HDF5, the dataset path (or a group holding one
    dataset per column, TreeCorr's layout). Errors are a ValueError naming ``path``, ``hdu``
    or ``format``.

    ``columns`` (dict argument name -> column name, case-insensitive; None: all) limits what is read: FITS columns are copied
    out of a memory map one at a time, HDF5 fields / datasets are read with h5py, Parquet
    columns with pyarrow (through astropy's ``include_names``), text files are parsed with
    astropy's ``include_names`` (the text itself is read whole). ``rows`` (a slice from
    :func:`row_slice`) keeps those rows only; for FITS and HDF5 only those are copied.
    """
    from astropy.table import Table

    if not isinstance(path, (str, Path)):
        raise TypeError(f"path must be a str or Path, got {type(path).__name__}")
    path = Path(path)
    if not path.exists():
        raise ValueError(f"path: file not found: {path}")
    fmt = _guess_format(path) if format is None else str(format)
    if columns is not None:
        table, nrows = _read_columns(path, fmt, hdu, dict(columns), rows)
        if table is not None:
            return table if rows is None or fmt in ("fits", "hdf5") else table[rows]
    table = _read_whole(path, fmt, hdu, **kwargs)
    if rows is not None:
        _check_rows(rows, len(table), path.name)
        table = table[rows]
    return table


def _read_columns(path, fmt, hdu, names, rows):
    """(table of ``names`` only, rows in the file) by the format's own column reader, or (None,
    None) when the format has none here (then the whole table is read)."""
    from astropy.table import Table

    try:
        if fmt == "fits":
            return _read_fits_columns(path, _fits_hdu(path, hdu), names, rows)
        if fmt == "hdf5":
            return _read_hdf5_columns(path, hdu, names, rows)
        if hdu is not None:
            raise ValueError(f"hdu: {fmt} files have no HDUs (hdu={hdu!r} was given)")
        if fmt == "parquet":
            import pyarrow.parquet as pq

            schema = pq.read_schema(path)
            real = _resolve(names, list(schema.names), path.name)
            table = Table.read(path, format="parquet", include_names=real)
            _check_rows(rows, len(table), path.name)
            return table, len(table)
        if fmt.startswith("ascii"):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    header = Table.read(path, format=fmt, data_end=1).colnames
            except (ValueError, TypeError):
                return None, None    # not a table astropy can read: the whole read reports it
            lower = {c.lower() for c in header}
            if not all(n in header or n.lower() in lower for n in names.values()):
                return None, None    # e.g. a SkyCoord column of ECSV: the whole table, then the usual errors
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                table = Table.read(path, format=fmt, include_names=_resolve(names, header, path.name))
            _check_rows(rows, len(table), path.name)
            return table, len(table)
    except ImportError as exc:
        raise ValueError(f"format: reading {fmt} needs a package that is not installed ({exc}); "
                         f"pip install 'cosmocorr[{'parquet' if fmt == 'parquet' else 'hdf5'}]'") from None
    except (OSError, KeyError, IndexError, UnicodeDecodeError) as exc:
        raise ValueError(f"path: cannot read {path} as {fmt}: {exc}") from None
    return None, None


def _read_whole(path, fmt, hdu, **kwargs):
    """Every column of the table, with :func:`astropy.table.Table.read`."""
    from astropy.table import Table

    kw = dict(kwargs)
    if fmt == "fits":
        if hdu is not None:
            kw["hdu"] = _fits_hdu(path, hdu)
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


def _fits_hdu(path, hdu):
    """``hdu`` checked against the file (an int index or an EXTNAME; None stays None)."""
    if hdu is None:
        return None
    if isinstance(hdu, (bool, np.bool_)) or not isinstance(hdu, (numbers.Integral, str)):
        raise TypeError(f"hdu must be an HDU index (int) or an extension name (str), got {type(hdu).__name__}")
    _check_fits_hdu(path, hdu)
    return int(hdu) if isinstance(hdu, numbers.Integral) else hdu


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
