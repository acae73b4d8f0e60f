"""Writing and reading result objects: FITS, ASCII (TreeCorr's layout) and JSON.

A result is stored as

- *blocks*: tables of one row per separation bin. Each two-point result (an object with ``bins``)
  is one block; a shear-shear block starts with TreeCorr's ``GGCorrelation`` columns and header,
  a Landy-Szalay block with ``NNCorrelation``'s, then every other per-bin field of the result.
  The top-level result's block is called ``main``; the entries of a :class:`RhoResult` are the
  blocks ``rho1`` .. ``rho5``.
- *arrays*: every other array (per-sample values ``(n_samples, nbins)``, covariances, cluster
  centres and memberships, ...), one FITS image extension or ASCII block each.
- *metadata*: a JSON description of the object (which class, which field is in which column or
  extension, scalar settings) and the provenance record.

FITS: a primary HDU whose header carries the provenance, the blocks as binary tables (TreeCorr's
header keys, ``TUNIT`` arcmin on separations), the arrays as images, and a ``COSMOCORR_META``
table holding the JSON. ASCII: TreeCorr's layout (``## {params}``, ``# column names``, rows),
the first block first (so that TreeCorr's reader sees it), further blocks introduced by
``## name``. JSON: ``{"provenance", "units", "bins", <block>: {column: [...]}, "arrays", ...}``
with ``null`` for NaN. Values are written with 17 significant digits: a round trip is exact.
"""
from __future__ import annotations

import ast
import dataclasses
import importlib
import json
import math
import numbers
import warnings
from pathlib import Path

import numpy as np

from ..sky.bins import Bins
from .provenance import UNITS, package_version
from .provenance import provenance as make_provenance

__all__ = ["ResultIO", "write_result", "read_result", "read", "result_table", "to_json_dict", "FORMATS"]

FORMATS = ("fits", "ascii", "json")
FORMAT_VERSION = 1
META_EXT = "COSMOCORR_META"
_SEP_COLUMNS = ("r_nom", "meanr")


class ResultIO:
    """Mixin giving a result dataclass ``write``, ``read`` and ``to_table`` (see :mod:`cosmocorr.io`)."""

    def write(self, path, *, format=None, overwrite=False, provenance=None):
        """Write this result to ``path`` (FITS ``.fits``/``.fit``/``.fits.gz``, JSON ``.json``,
        otherwise ASCII; or ``format="fits"|"ascii"|"json"``).

        Shear-shear blocks have TreeCorr's columns and header, so
        ``treecorr.GGCorrelation.from_file(path)`` reads them. ``provenance`` (a dict, e.g. from
        :func:`cosmocorr.io.provenance`) is recorded; by default the result's
        ``extra["provenance"]`` or a minimal record (version, backend resolved now). An existing
        file is never replaced unless ``overwrite=True`` (``FileExistsError``).
        Returns the path.
        """
        return write_result(self, path, format=format, overwrite=overwrite, provenance=provenance)

    @classmethod
    def read(cls, path, *, format=None):
        """Read a result written by :meth:`write` (any of the three formats); checks its class."""
        return read_result(path, cls=cls, format=format)

    def to_dict(self):
        """Everything as a JSON-able dict (the JSON file's content; lossless, NaN as None)."""
        return to_json_dict(self)

    def to_json(self, path, *, overwrite=False, provenance=None):
        """Write the JSON form (:meth:`write` with ``format="json"``)."""
        return write_result(self, path, format="json", overwrite=overwrite, provenance=provenance)

    def to_table(self):
        """The per-bin columns as an :class:`astropy.table.Table` (units on separations; header
        parameters and provenance in ``meta``). Several blocks (rho1..rho5) are joined with
        prefixed names (``rho1_xip``)."""
        return result_table(self)


# ----------------------------------------------------------------------------- encoding


class _Store:
    def __init__(self):
        self.blocks = {}  # name -> {"params": dict, "columns": dict name -> 1-D array, "nbins": int}
        self.arrays = {}  # name -> ndarray


def _nan_equal(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))))


def _class_path(obj):
    cls = type(obj)
    return f"{cls.__module__}:{cls.__qualname__}"


def _is_result(obj):
    return dataclasses.is_dataclass(obj) and not isinstance(obj, type) and isinstance(getattr(obj, "bins", None), Bins)


def _bin_type(bins):
    return "Linear" if bins.spacing == "linear" else "Log"


def _treecorr_params(bins, corr):
    return {"min_sep": bins.min_sep, "max_sep": bins.max_sep, "nbins": bins.nbins, "bin_type": _bin_type(bins),
            "sep_units": "arcmin", "brute": True, "metric": "Arc", "coords": "spherical", "corr": corr}


def _tree_params(obj, params):
    """A ``method="tree"`` result's header says how TreeCorr ran (not brute force; its slops)."""
    if getattr(obj, "method", "exact") == "tree":
        params = dict(params, brute=False, bin_slop=float(obj.bin_slop), angle_slop=float(obj.angle_slop))
    return params


def _field(obj, name):
    v = getattr(obj, name, None)
    return None if v is None else np.asarray(v, dtype=float)


def _treecorr_block(obj):
    """TreeCorr-compatible params and leading columns for a two-point result, by its attributes."""
    bins = obj.bins
    n = bins.nbins
    nan = np.full(n, np.nan)
    meanr = _field(obj, "meanr")
    meanr = nan if meanr is None else meanr
    meanlogr = _field(obj, "meanlogr")
    meanlogr = nan if meanlogr is None else meanlogr
    if all(hasattr(obj, k) for k in ("xip", "xim", "npairs", "weight")):
        var_p, var_m = _field(obj, "varxip"), _field(obj, "varxim")
        cols = {
            "r_nom": np.asarray(bins.rnom, float), "meanr": meanr, "meanlogr": meanlogr,
            "xip": _field(obj, "xip"), "xim": _field(obj, "xim"),
            "xip_im": _field(obj, "xip_im") if hasattr(obj, "xip_im") else nan,
            "xim_im": _field(obj, "xim_im") if hasattr(obj, "xim_im") else nan,
            "sigma_xip": nan if var_p is None else np.sqrt(var_p),
            "sigma_xim": nan if var_m is None else np.sqrt(var_m),
            "weight": _field(obj, "weight"), "npairs": _field(obj, "npairs"),
        }
        return _tree_params(obj, _treecorr_params(bins, "GG")), cols
    if all(hasattr(obj, k) for k in ("xi", "dd", "dr", "rr", "dd_tot", "dr_tot", "rr_tot")):
        var = _field(obj, "varxi")
        tot = float(obj.dd_tot)
        with np.errstate(divide="ignore", invalid="ignore"):
            cols = {
                "r_nom": np.asarray(bins.rnom, float), "meanr": meanr, "meanlogr": meanlogr,
                "xi": _field(obj, "xi"), "sigma_xi": nan if var is None else np.sqrt(var),
                "DD": _field(obj, "dd"), "RR": _field(obj, "rr") * (tot / float(obj.rr_tot)),
                "DR": _field(obj, "dr") * (tot / float(obj.dr_tot)), "npairs": _field(obj, "npairs"),
            }
        params = _tree_params(obj, _treecorr_params(bins, "NN"))
        params["tot"] = tot
        return params, cols
    params = {k: v for k, v in _treecorr_params(bins, None).items() if k != "corr"}
    return params, {"r_nom": np.asarray(bins.rnom, float)}


class _Encoder:
    def __init__(self, store):
        self.store = store
        self.memo = {}

    def new_block(self, name, obj):
        base, i = name, 1
        while name in self.store.blocks:
            i += 1
            name = f"{base}_{i}"
        params, cols = _treecorr_block(obj)
        params = dict(params)
        params["num_rows"] = obj.bins.nbins
        self.store.blocks[name] = {"params": params, "columns": dict(cols), "nbins": obj.bins.nbins}
        return name

    def ext_name(self, path):
        name = ".".join(path) or "array"
        base, i = name, 1
        while name in self.store.arrays or name in self.store.blocks:
            i += 1
            name = f"{base}_{i}"
        return name

    def encode(self, value, path, block=None, colname=None):
        """Descriptor of ``value``; arrays go to the store. ``block``/``colname``: where a
        per-bin 1-D array would become a column (None: an extension)."""
        if value is None or isinstance(value, (bool, np.bool_)):
            return None if value is None else bool(value)
        if isinstance(value, str):
            return value
        if isinstance(value, numbers.Integral):
            return int(value)
        if isinstance(value, numbers.Real):
            v = float(value)
            return v if math.isfinite(v) else {"__float__": repr(v)}
        if isinstance(value, numbers.Complex):
            return {"__complex__": [self.encode(value.real, path), self.encode(value.imag, path)]}
        if isinstance(value, Bins):
            return {"__bins__": value.to_dict()}
        if isinstance(value, np.ndarray):
            return self.encode_array(value, path, block, colname)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return self.encode_dataclass(value, path)
        if isinstance(value, dict):
            items = []
            for k, v in value.items():
                sub_col = None if colname is None or not isinstance(k, str) else f"{colname}_{k}"
                if _is_result(v):
                    items.append([str(k), self.encode_dataclass(v, path + [str(k)], block_name=str(k))])
                else:
                    items.append([k if isinstance(k, (str, int)) else repr(k),
                                  self.encode(v, path + [str(k)], block if sub_col else None, sub_col)])
            return {"__dict__": items}
        if isinstance(value, (list, tuple)):
            key = "__tuple__" if isinstance(value, tuple) else "__list__"
            return {key: [self.encode(v, path + [str(i)]) for i, v in enumerate(value)]}
        if isinstance(value, Path):
            return str(value)
        if hasattr(value, "__array__") and not isinstance(value, type):
            return self.encode_array(np.asarray(value), path, block, colname)
        return {"__repr__": repr(value)}

    def encode_array(self, arr, path, block, colname):
        dtype = arr.dtype
        if dtype.kind == "c":
            return {"__complex_array__": [self.encode_array(arr.real.copy(), path + ["real"], None, None),
                                          self.encode_array(arr.imag.copy(), path + ["imag"], None, None)]}
        if dtype.kind not in "biuf":
            return {"__repr__": repr(arr.tolist())}
        if block is not None and colname and arr.ndim == 1 and arr.size == self.store.blocks[block]["nbins"]:
            cols = self.store.blocks[block]["columns"]
            values = arr.astype(float)
            lower = {c.lower(): c for c in cols}
            existing = lower.get(colname.lower())
            if existing is not None and _nan_equal(cols[existing], values):
                return {"__col__": [block, existing], "dtype": dtype.str}
            name = colname if existing is None else f"cc_{colname}"
            while name.lower() in lower:
                name = f"cc_{name}"
            cols[name] = values
            return {"__col__": [block, name], "dtype": dtype.str}
        ext = self.ext_name(path)
        self.store.arrays[ext] = np.ascontiguousarray(arr)
        return {"__arr__": ext, "dtype": dtype.str, "shape": list(arr.shape)}

    def encode_dataclass(self, obj, path, block_name=None):
        key = id(obj)
        if key in self.memo:
            return {"__ref__": self.memo[key]}
        ref = ".".join(path) or "<root>"
        self.memo[key] = ref
        block = None
        if _is_result(obj):
            block = self.new_block(block_name or (path[-1] if path else "main"), obj)
        fields = {}
        for f in dataclasses.fields(obj):
            v = getattr(obj, f.name)
            fields[f.name] = self.encode(v, path + [f.name], block, f.name if block else None)
        return {"__dataclass__": _class_path(obj), "ref": ref, "block": block, "fields": fields}


def _build(obj, provenance=None):
    if not (dataclasses.is_dataclass(obj) and not isinstance(obj, type)):
        raise TypeError(f"result must be a cosmocorr result object (a dataclass), got {type(obj).__name__}")
    store = _Store()
    desc = _Encoder(store).encode_dataclass(obj, [])
    # a container of results (RhoResult) has no per-bin columns of its own: no block for it
    for name in [n for n, b in store.blocks.items() if set(b["columns"]) == {"r_nom"} and len(store.blocks) > 1]:
        del store.blocks[name]
    extra = getattr(obj, "extra", None)
    extra = extra if isinstance(extra, dict) else {}
    if provenance is None:
        provenance = extra.get("provenance")
    if provenance is None:
        provenance = make_provenance(backend=extra.get("backend"))
    provenance = json.loads(json.dumps(provenance, default=str))
    meta = {"format": "cosmocorr-result", "format_version": FORMAT_VERSION, "class": _class_path(obj),
            "version": package_version(), "provenance": provenance, "units": UNITS, "object": desc}
    return store, meta


# ----------------------------------------------------------------------------- decoding


def _resolve_class(path):
    module, _, qualname = path.partition(":")
    if not (module == "cosmocorr" or module.startswith("cosmocorr.")):
        raise ValueError(f"path: the file names class {path!r}, which is not a cosmocorr class")
    try:
        obj = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"path: the file's class {path!r} does not exist in this cosmocorr: {exc}") from None
    return obj


class _Decoder:
    def __init__(self, blocks, arrays):
        self.blocks = blocks
        self.arrays = arrays
        self.refs = {}

    def decode(self, d):
        if d is None or isinstance(d, (bool, int, float, str)):
            return d
        if isinstance(d, list):
            return [self.decode(v) for v in d]
        if "__float__" in d:
            return float(d["__float__"])
        if "__complex__" in d:
            re, im = (self.decode(v) for v in d["__complex__"])
            return complex(re, im)
        if "__bins__" in d:
            b = d["__bins__"]
            return Bins(b["min_sep"], b["max_sep"], b["nbins"], b["spacing"])
        if "__col__" in d:
            block, col = d["__col__"]
            try:
                values = self.blocks[block]["columns"][col]
            except KeyError:
                raise ValueError(f"path: column {col!r} of block {block!r} is missing from the file") from None
            return np.asarray(values, dtype=float).astype(np.dtype(d["dtype"]))
        if "__arr__" in d:
            name = d["__arr__"]
            if name not in self.arrays:
                raise ValueError(f"path: extension {name!r} is missing from the file")
            arr = np.asarray(self.arrays[name])
            return arr.reshape(d["shape"]).astype(np.dtype(d["dtype"]))
        if "__complex_array__" in d:
            re, im = (self.decode(v) for v in d["__complex_array__"])
            return re + 1j * im
        if "__dict__" in d:
            return {k: self.decode(v) for k, v in d["__dict__"]}
        if "__list__" in d:
            return [self.decode(v) for v in d["__list__"]]
        if "__tuple__" in d:
            return tuple(self.decode(v) for v in d["__tuple__"])
        if "__repr__" in d:
            return d["__repr__"]
        if "__ref__" in d:
            return self.refs[d["__ref__"]]
        if "__dataclass__" in d:
            cls = _resolve_class(d["__dataclass__"])
            values = {k: self.decode(v) for k, v in d["fields"].items()}
            init = {}
            later = {}
            for f in dataclasses.fields(cls):
                if f.name in values:
                    (init if f.init else later)[f.name] = values[f.name]
                elif f.init and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                    init[f.name] = None  # a field this file predates
            obj = cls(**init)
            for k, v in later.items():
                setattr(obj, k, v)
            self.refs[d["ref"]] = obj
            return obj
        raise ValueError(f"path: cannot decode the file's metadata entry {str(d)[:80]}")


# ----------------------------------------------------------------------------- formats


def _format_of(path, format):
    if format is not None:
        f = str(format).lower()
        if f in ("fit", "fits"):
            return "fits"
        if f in ("ascii", "txt", "dat", "text"):
            return "ascii"
        if f == "json":
            return "json"
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
    name = Path(path).name.lower()
    if name.endswith((".fits", ".fit", ".fits.gz", ".fit.gz", ".fz")):
        return "fits"
    if name.endswith(".json"):
        return "json"
    return "ascii"


def _check_path(path, overwrite):
    if not isinstance(path, (str, Path)):
        raise TypeError(f"path must be a str or Path, got {type(path).__name__}")
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"path: {path} exists; pass overwrite=True to replace it")
    if path.parent and not path.parent.exists():
        raise ValueError(f"path: directory {path.parent} does not exist")
    return path


def write_result(obj, path, *, format=None, overwrite=False, provenance=None):
    """Write a result object to ``path`` (see :mod:`cosmocorr.io`). Returns the path."""
    path = _check_path(path, overwrite)
    fmt = _format_of(path, format)
    store, meta = _build(obj, provenance)
    tmp = path.with_name(path.name + ".partial")
    try:
        if fmt == "fits":
            _write_fits(tmp, store, meta)
        elif fmt == "ascii":
            _write_ascii(tmp, store, meta)
        else:
            with open(tmp, "w") as fh:
                json.dump(_json_dict(store, meta), fh, indent=1, allow_nan=False)
                fh.write("\n")
        tmp.replace(path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def read_result(path, cls=None, *, format=None):
    """Read a result written by :func:`write_result`; with ``cls``, check that it is one."""
    if not isinstance(path, (str, Path)):
        raise TypeError(f"path must be a str or Path, got {type(path).__name__}")
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"path: file not found: {path}")
    fmt = _format_of(path, format)
    try:
        if fmt == "fits":
            blocks, arrays, meta = _read_fits(path)
        elif fmt == "ascii":
            blocks, arrays, meta = _read_ascii(path)
        else:
            blocks, arrays, meta = _read_json(path)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, SyntaxError) as exc:
        raise ValueError(f"path: cannot read {path} as a cosmocorr {fmt.upper()} result: {exc}") from None
    if meta is None or meta.get("format") != "cosmocorr-result":
        raise ValueError(f"path: {path} is not a cosmocorr result file (no {META_EXT} metadata); "
                         "read TreeCorr's own files with treecorr")
    obj = _Decoder(blocks, arrays).decode(meta["object"])
    if cls is not None and not isinstance(obj, cls):
        raise TypeError(f"{path} holds a {type(obj).__name__}, not a {cls.__name__}; "
                        f"use {type(obj).__name__}.read or cosmocorr.io.read")
    return obj


def read(path, *, format=None):
    """Read any cosmocorr result file; returns the object of the class that wrote it."""
    return read_result(path, None, format=format)


def _units(col):
    return "arcmin" if col in _SEP_COLUMNS else None


def _flat_provenance(meta):
    prov = meta["provenance"]
    out = {"CCVERS": meta["version"], "CCCLASS": meta["class"].split(":")[-1]}
    for key, card in (("backend", "CCBACKND"), ("estimator", "CCESTIM"), ("command", "CCCMD"), ("seed", "CCSEED"),
                      ("created_utc", "CCDATE")):
        if key in prov and prov[key] is not None:
            out[card] = prov[key] if isinstance(prov[key], (int, float, str)) else json.dumps(prov[key])
    for i, item in enumerate(prov.get("input", [])[:9]):
        out[f"CCINP{i}"] = item.get("path", "")
        if "sha256" in item:
            out[f"CCSHA{i}"] = item["sha256"]
    if "columns" in prov:
        out["CCCOLS"] = json.dumps(prov["columns"])
    return out


def _write_fits(path, store, meta):
    from astropy.io import fits
    from astropy.io.fits.verify import VerifyWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VerifyWarning)  # HIERARCH cards for TreeCorr's long keys
        primary = fits.PrimaryHDU()
        for k, v in _flat_provenance(meta).items():
            primary.header[k] = v
        primary.header["COMMENT"] = "written by cosmocorr; separations in arcmin, positions in deg"
        hdus = [primary]
        for name, blk in store.blocks.items():
            cols = [fits.Column(name=c, format="D", array=np.asarray(v, float), unit=_units(c))
                    for c, v in blk["columns"].items()]
            hdu = fits.BinTableHDU.from_columns(cols, name=name)
            for k, v in blk["params"].items():
                hdu.header[k] = v
            hdus.append(hdu)
        for name, arr in store.arrays.items():
            data = arr.astype(np.uint8) if arr.dtype.kind == "b" else arr
            hdus.append(fits.ImageHDU(data=data if data.size else None, name=name))
        text = json.dumps(meta, allow_nan=False)
        hdus.append(fits.BinTableHDU.from_columns(
            [fits.Column(name="json", format=f"{max(len(text), 1)}A", array=np.array([text]))], name=META_EXT))
        fits.HDUList(hdus).writeto(path)


def _read_fits(path):
    from astropy.io import fits

    blocks, arrays, meta = {}, {}, None
    with fits.open(path, memmap=False) as hdul:
        for hdu in hdul[1:]:
            name = hdu.name
            if name == META_EXT:
                meta = json.loads(str(hdu.data["json"][0]))
            elif isinstance(hdu, fits.BinTableHDU):
                blocks[name] = {"columns": {c: np.array(hdu.data[c], dtype=float) for c in hdu.columns.names}}
            else:
                arrays[name] = np.array(hdu.data) if hdu.data is not None else np.zeros(0)
    # astropy upper-cases EXTNAME: map the metadata's names onto what is in the file
    blocks = _Caseless(blocks)
    arrays = _Caseless(arrays)
    return blocks, arrays, meta


class _Caseless(dict):
    """A dict looked up case-insensitively (FITS extension names are upper-cased)."""

    def __init__(self, d):
        super().__init__({k.upper(): v for k, v in d.items()})

    def __getitem__(self, k):
        return super().__getitem__(k.upper())

    def __contains__(self, k):
        return super().__contains__(k.upper())


def _fmt_row(values):
    return " ".join(f"{v:24.16e}" for v in values)


def _write_ascii(path, store, meta):
    first = True
    with open(path, "w") as fh:
        for name, blk in store.blocks.items():
            params = dict(blk["params"])
            params["cosmocorr_block"] = name
            if first:
                params["provenance"] = meta["provenance"]
            else:
                fh.write(f"## {name}\n")
            fh.write(f"## {params!r}\n")
            cols = list(blk["columns"])
            fh.write("#" + " ".join(f"{c:>24}" for c in cols)[1:] + "\n")
            data = np.column_stack([np.asarray(blk["columns"][c], float) for c in cols])
            for row in data:
                fh.write(_fmt_row(row) + "\n")
            first = False
        for name, arr in store.arrays.items():
            fh.write(f"## {name}\n")
            fh.write(f"## {{'shape': {tuple(arr.shape)!r}, 'dtype': {arr.dtype.str!r}}}\n")
            if arr.size:
                flat = arr.reshape(arr.shape[0], -1) if arr.ndim >= 1 else arr.reshape(1, 1)
                for row in flat.astype(float):
                    fh.write(_fmt_row(row) + "\n")
        fh.write(f"## {META_EXT}\n")
        fh.write(f"## {{'json': {json.dumps(meta, allow_nan=False)!r}}}\n")


def _read_ascii(path):
    sections = []  # [name, params, colnames, rows]
    current = None
    with open(path) as fh:
        for line in fh:
            if line.startswith("##"):
                content = line[2:].strip()
                if content.startswith("{"):
                    if current is None or current[1] is not None:
                        current = [None, None, None, []]
                        sections.append(current)
                    current[1] = ast.literal_eval(content)
                else:
                    current = [content, None, None, []]
                    sections.append(current)
            elif line.startswith("#"):
                if current is None:
                    current = [None, {}, None, []]
                    sections.append(current)
                current[2] = line[1:].split()
            elif line.strip():
                current[3].append([float(t) for t in line.split()])
    blocks, arrays, meta = {}, {}, None
    for name, params, colnames, rows in sections:
        params = params or {}
        if name == META_EXT:
            meta = json.loads(params["json"])
        elif colnames is not None:
            name = params.get("cosmocorr_block", name or "main")
            data = np.array(rows, dtype=float).reshape(len(rows), len(colnames))
            blocks[name] = {"columns": {c: data[:, i] for i, c in enumerate(colnames)}}
        elif "shape" in params:
            shape = tuple(params["shape"])
            arrays[name] = np.array(rows, dtype=float).reshape(shape) if rows else np.zeros(shape)
    return blocks, arrays, meta


def _json_list(a):
    a = np.asarray(a, dtype=float)
    return [None if not math.isfinite(v) else v for v in a.ravel().tolist()]


def _json_dict(store, meta):
    out = {"format": meta["format"], "class": meta["class"].split(":")[-1], "version": meta["version"],
           "provenance": meta["provenance"], "units": meta["units"]}
    first = next(iter(store.blocks.values()), None)
    if first is not None:
        p = first["params"]
        out["bins"] = {"min_sep": p["min_sep"], "max_sep": p["max_sep"], "nbins": p["nbins"],
                       "spacing": p["bin_type"].lower(), "sep_units": "arcmin"}
        out["rnom"] = _json_list(first["columns"]["r_nom"])
    out["blocks"] = list(store.blocks)
    for name, blk in store.blocks.items():
        params = {k: v for k, v in blk["params"].items() if k not in ("min_sep", "max_sep", "nbins", "bin_type",
                                                                       "sep_units", "num_rows")}
        out[name] = {"treecorr": params,
                     **{c: _json_list(v) for c, v in blk["columns"].items() if c != "r_nom"}}
    out["arrays"] = {k: {"shape": list(a.shape), "dtype": a.dtype.str, "data": _json_list(a)}
                     for k, a in store.arrays.items()}
    out["cosmocorr_meta"] = {"object": meta["object"], "format_version": meta["format_version"],
                             "class": meta["class"]}
    return out


def _read_json(path):
    with open(path) as fh:
        d = json.load(fh)
    if not isinstance(d, dict) or "cosmocorr_meta" not in d:
        return {}, {}, None
    blocks = {}
    rnom = d.get("rnom")
    for name in d.get("blocks", []):
        cols = {c: np.array([np.nan if x is None else x for x in v], dtype=float)
                for c, v in d[name].items() if c != "treecorr"}
        if rnom is not None:
            cols["r_nom"] = np.asarray(rnom, dtype=float)
        blocks[name] = {"columns": cols}
    arrays = {k: np.array([np.nan if x is None else x for x in a["data"]], dtype=float).reshape(a["shape"])
              for k, a in d.get("arrays", {}).items()}
    meta = {"format": d.get("format"), "provenance": d.get("provenance"), **d["cosmocorr_meta"]}
    return blocks, arrays, meta


def to_json_dict(obj, provenance=None):
    """The JSON form of a result (what ``write(path.json)`` writes), as a dict."""
    store, meta = _build(obj, provenance)
    return _json_dict(store, meta)


def result_table(obj, provenance=None):
    """An :class:`astropy.table.Table` of a result's per-bin columns (see :meth:`ResultIO.to_table`)."""
    from astropy.table import Table

    store, meta = _build(obj, provenance)
    blocks = list(store.blocks.items())
    if not blocks:
        raise ValueError("result has no per-bin columns")
    t = Table()
    if len(blocks) == 1:
        name, blk = blocks[0]
        for c, v in blk["columns"].items():
            t[c] = v
            if _units(c):
                t[c].unit = _units(c)
        t.meta.update({k: v for k, v in blk["params"].items() if k != "num_rows"})
    else:
        t["r_nom"] = blocks[0][1]["columns"]["r_nom"]
        t["r_nom"].unit = "arcmin"
        for name, blk in blocks:
            for c, v in blk["columns"].items():
                if c != "r_nom":
                    t[f"{name}_{c}"] = v
                    if _units(c):
                        t[f"{name}_{c}"].unit = _units(c)
        t.meta.update({k: v for k, v in blocks[0][1]["params"].items() if k not in ("num_rows", "corr")})
    t.meta["provenance"] = meta["provenance"]
    return t
