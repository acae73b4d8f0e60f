"""Input checks shared by every public function.

Each check raises ``TypeError`` (wrong kind of object) or ``ValueError`` (wrong value) with a
message that names the offending argument, so that a user sees *which* input is bad.
"""
from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "as_float_array",
    "check_sky_coords",
    "check_same_length",
    "check_positive_int",
    "check_choice",
]


def as_float_array(x, name, *, ndim=1, allow_empty=False, finite=True, dtype=float):
    """Convert ``x`` to a float ndarray of dimension ``ndim`` and validate it.

    Raises
    ------
    TypeError
        If ``x`` is None, a string, complex, or cannot be converted to numbers.
    ValueError
        If it has the wrong dimension, is empty (unless ``allow_empty``) or holds NaN/inf
        (when ``finite``).
    """
    if x is None:
        raise TypeError(f"{name} must be an array of numbers, got None")
    if isinstance(x, (str, bytes)):
        raise TypeError(f"{name} must be an array of numbers, got a string")
    arr = np.asarray(x)
    if arr.dtype == object or arr.dtype.kind in "USV":
        try:
            arr = arr.astype(dtype)
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be an array of numbers, got {arr.dtype}") from None
    if arr.dtype.kind == "c":
        raise TypeError(f"{name} must be real-valued, got complex values")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be an array of numbers, got dtype {arr.dtype}")
    arr = np.asarray(arr, dtype=dtype)
    if ndim == 1 and arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional, got shape {arr.shape}")
    if not allow_empty and arr.size == 0:
        raise ValueError(f"{name} is empty: at least one object is needed")
    if finite and arr.size and not np.all(np.isfinite(arr)):
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        raise ValueError(f"{name} contains {bad} NaN or infinite value(s)")
    return arr


def check_sky_coords(ra, dec, *, ra_name="ra", dec_name="dec", allow_empty=False):
    """Validate right ascension and declination in degrees; return float arrays.

    RA may take any finite value (it is used modulo 360); |dec| must not exceed 90.
    """
    ra = as_float_array(ra, ra_name, allow_empty=allow_empty)
    dec = as_float_array(dec, dec_name, allow_empty=allow_empty)
    check_same_length((ra_name, ra), (dec_name, dec))
    if dec.size and np.max(np.abs(dec)) > 90.0:
        raise ValueError(
            f"{dec_name} must lie in [-90, 90] degrees; found |{dec_name}| up to {np.max(np.abs(dec)):.6g}"
        )
    return ra, dec


def check_same_length(*named):
    """``check_same_length(("ra", ra), ("g1", g1), ...)``: all must share the first length."""
    (name0, a0), *rest = named
    n0 = len(a0)
    for name, a in rest:
        if len(a) != n0:
            raise ValueError(f"{name} has length {len(a)} but {name0} has length {n0}; they must match")


def check_positive_int(value, name, *, minimum=1):
    """Return ``value`` as int if it is an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def check_choice(value, name, choices):
    """Raise ``ValueError`` naming ``name`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(repr(c) for c in choices)}; got {value!r}")
    return value
