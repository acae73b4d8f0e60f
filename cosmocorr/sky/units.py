"""Angle units for positions: plain numbers with a named unit, astropy Quantities and SkyCoords.

cosmocorr works in degrees internally. Units are named as TreeCorr names them (``ra_units`` /
``dec_units``: ``"rad"``/``"radians"``, ``"deg"``/``"degrees"``, ``"hour"``/``"hours"``,
``"arcmin"``, ``"arcsec"``) or given as any astropy angle unit. astropy is imported only when a
unit other than degrees, a Quantity or a SkyCoord is actually used.
"""
from __future__ import annotations

import numpy as np

__all__ = ["to_degrees", "is_quantity", "is_skycoord", "skycoord_degrees", "angle_unit"]

_ALIASES = {"deg": "deg", "degree": "deg", "degrees": "deg", "rad": "rad", "radian": "rad", "radians": "rad",
            "hour": "hourangle", "hours": "hourangle", "hourangle": "hourangle", "h": "hourangle",
            "arcmin": "arcmin", "arcminutes": "arcmin", "arcsec": "arcsec", "arcseconds": "arcsec"}
#: degrees per unit, for the common units (exact; no astropy needed)
_FACTORS = {"deg": 1.0, "rad": 180.0 / np.pi, "hourangle": 15.0, "arcmin": 1.0 / 60.0, "arcsec": 1.0 / 3600.0}


def is_quantity(x):
    """Whether ``x`` is an astropy Quantity (checked without importing astropy)."""
    return type(x).__module__.startswith("astropy") and hasattr(x, "unit") and hasattr(x, "to_value")


def is_skycoord(x):
    """Whether ``x`` is an astropy SkyCoord (checked without importing astropy)."""
    return type(x).__name__ == "SkyCoord" and type(x).__module__.startswith("astropy")


def angle_unit(unit, name):
    """The astropy angle unit for ``unit`` (a name or an astropy unit); ValueError if it is not an angle."""
    from astropy import units as u

    if isinstance(unit, u.UnrecognizedUnit):  # e.g. FITS TUNIT 'degree', 'DEG', 'radians'
        unit = unit.name
    if isinstance(unit, str):
        unit = _parse_unit_name(unit, name)
    try:
        unit = u.Unit(unit)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name}: unknown unit {unit!r} ({exc})") from None
    if getattr(unit, "physical_type", None) != "angle":
        raise ValueError(f"{name}: unit {unit.to_string()!r} is not an angle (physical type "
                         f"{getattr(unit, 'physical_type', 'unknown')}); give positions in an angle unit "
                         "such as deg, rad, hourangle, arcmin")
    return unit


def _parse_unit_name(text, name):
    """An astropy unit from a unit name as files spell it: TreeCorr's names and astropy's
    (generic format), in any case, singular or plural (``degree``, ``DEG``, ``Radians``,
    ``arcmins``); ValueError naming ``name`` when none of these readings is a unit."""
    from astropy import units as u

    text = text.strip()
    key = text.lower()
    candidates = [key] + ([key[:-1]] if key.endswith("s") and len(key) > 1 else [])
    for cand in candidates:
        if cand in _ALIASES:
            return u.Unit(_ALIASES[cand])
    for cand in [text] + candidates:
        try:
            return u.Unit(cand, parse_strict="raise")
        except ValueError:
            continue
    raise ValueError(f"{name}: unknown unit {text!r}; use an angle unit such as deg, rad, hourangle, arcmin")


def _canonical(units):
    return _ALIASES.get(units.strip().lower()) if isinstance(units, str) else None


def to_degrees(values, units, name):
    """``values`` in degrees (float ndarray). ``units``: the unit of plain numbers (str or astropy
    unit; None or "deg" = degrees). A Quantity is converted by its own unit (an error when it is
    not an angle, or when ``units`` names a different unit)."""
    if is_quantity(values):
        qunit = angle_unit(values.unit, name)
        if units is not None and _canonical(units) != "deg":
            given = angle_unit(units, f"{name}_units")
            if given != qunit:
                raise ValueError(f"{name} is a Quantity in {qunit.to_string()} but {name}_units={units!r} was "
                                 "given; drop the units argument (the Quantity carries its unit)")
        return np.asarray(values.to_value("deg"), dtype=float)
    if is_skycoord(values):
        raise TypeError(f"{name} is a SkyCoord: pass it as the position (ra=coord, dec=None) or use "
                        "coord.ra / coord.dec")
    if units is None:
        return values
    canonical = _canonical(units)
    if canonical in _FACTORS:
        if canonical == "deg":
            return values
        arr = np.asarray(values)
        if arr.dtype.kind not in "biuf":
            return values  # the array check downstream names the problem
        return arr.astype(float) * _FACTORS[canonical]
    unit = angle_unit(units, f"{name}_units")
    arr = np.asarray(values)
    if arr.dtype.kind not in "biuf":
        return values
    return (arr.astype(float) * unit).to_value("deg")


def skycoord_degrees(coord, name="coord"):
    """(ra, dec) in degrees of a SkyCoord, in ICRS when the frame can be transformed."""
    try:
        c = coord.icrs
    except Exception:  # frames without a transformation keep their own spherical angles
        c = coord
    sph = c.spherical
    return (np.asarray(sph.lon.to_value("deg"), dtype=float).ravel(),
            np.asarray(sph.lat.to_value("deg"), dtype=float).ravel())
