"""Input checks shared by every public function (private helper, bottom layer; no paper section).

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
    "check_real",
    "check_seed",
    "check_bool",
    "check_weights",
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

    RA may take any finite value (it is used modulo 360); ``|dec|`` must not exceed 90.
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
    """Return ``value`` as int if it is an integer >= ``minimum``.

    A float with an integral value (``3.0``) is accepted; ``2.5``, ``True``, strings and None are
    a ``TypeError``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, (float, np.floating)) and np.isfinite(value) and float(value).is_integer():
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


def check_real(value, name, *, low=None, high=None, low_open=False, high_open=False, finite=True):
    """Return ``value`` as a Python float if it is a real number within the given range.

    Parameters
    ----------
    value : object
        Must be a real number (int, float, NumPy real scalar or 0-d array); ``bool``, ``None``,
        strings and complex numbers are a ``TypeError``.
    name : str
        Argument name for the message.
    low, high : float, optional
        Bounds; inclusive unless ``low_open``/``high_open``.
    finite : bool
        Reject NaN and +-inf (default). With ``finite=False`` infinities pass (NaN never does).
    """
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        if isinstance(value, numbers.Complex):
            raise TypeError(f"{name} must be a real number, got complex {value!r}")
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if np.isnan(value) or (finite and not np.isfinite(value)):
        raise ValueError(f"{name} must be a finite number, got {value}")
    if low is not None and (value < low or (low_open and value == low)):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}, got {value}")
    if high is not None and (value > high or (high_open and value == high)):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high}, got {value}")
    return value


def check_seed(seed, name="seed", *, integer_only=False):
    """Validate a seed for :func:`numpy.random.default_rng` and return it unchanged.

    Accepted: None, a non-negative integer, a :class:`numpy.random.SeedSequence`, a
    :class:`numpy.random.Generator` or :class:`numpy.random.BitGenerator` (only None or an
    integer with ``integer_only``). Negative integers are a ``ValueError``; floats, strings and
    other objects a ``TypeError``.
    """
    if seed is None:
        return seed
    if isinstance(seed, (np.random.SeedSequence, np.random.Generator, np.random.BitGenerator)):
        if integer_only:
            raise TypeError(f"{name} must be None or a non-negative integer here, got {type(seed).__name__}")
        return seed
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"{name} must be None, a non-negative integer, a SeedSequence or a Generator, "
                        f"got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {seed}")
    return seed


def check_bool(value, name):
    """Return ``value`` if it is a bool (Python or NumPy), else a ``TypeError`` naming it."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__}")
    return bool(value)


def check_weights(w, name, n, *, allow_all_zero=False):
    """Validate weights: a finite, non-negative float array of length ``n``.

    All weights zero is a ``ValueError`` (no pair could carry weight) unless ``allow_all_zero``.
    """
    w = as_float_array(w, name)
    if w.size != n:
        raise ValueError(f"{name} has length {w.size} but there are {n} objects; they must match")
    if np.any(w < 0):
        raise ValueError(f"{name} must be non-negative; {int(np.count_nonzero(w < 0))} negative value(s)")
    if not allow_all_zero and not np.any(w > 0):
        raise ValueError(f"{name}: all weights are zero (sum of {name} == 0), so every pair has zero weight")
    return w


