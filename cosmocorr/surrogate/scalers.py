"""Input standardisation and output inverse transform of the IAEmu release (paper sec. 7).

Inputs: z = (x - x_mean) / x_std per parameter. Outputs: per correlation j one mean and one
scale; xi is modelled in log (it is positive and spans decades): y_scaled = (f(y) - m_j) / s_j
with f = log for xi and the identity for omega and eta. A variance predicted in scaled units
becomes var * s_j^2 in f-space; for xi it is then mapped to linear space with the delta method,
var_y = y^2 var_log.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .checkpoint import load_npz

__all__ = ["IAEmuScalers"]

_SHAPES = {"x_mean": (7,), "x_std": (7,), "y_mean": (3,), "y_std": (3,)}
_MEANING = {"x": "one per input", "y": "one per correlation: xi, omega, eta"}
_MAX_FILE_BYTES = 1 << 20


def _entry(name, v):
    """One scaler entry checked: shape, finite, positive scales; log_outputs 3 booleans."""
    if name == "log_outputs":
        lo = tuple(v) if isinstance(v, (tuple, list, np.ndarray)) else None
        if lo is None or len(lo) != 3 or not all(isinstance(b, (bool, np.bool_)) for b in lo):
            raise ValueError(f"log_outputs must be 3 booleans (xi, omega, eta), got {v!r:.80}")
        return tuple(bool(b) for b in lo)
    shape = _SHAPES[name]
    try:
        a = np.asarray(v, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be {shape[0]} numbers, got {v!r:.80}") from None
    if a.shape != shape:
        raise ValueError(f"{name} must have shape {shape} ({_MEANING[name[0]]}), got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or infinite values")
    if name.endswith("std") and np.any(a <= 0):
        raise ValueError(f"{name} must be positive")
    return a


@dataclass
class IAEmuScalers:
    x_mean: np.ndarray
    x_std: np.ndarray
    y_mean: np.ndarray
    y_std: np.ndarray
    log_outputs: tuple = (True, False, False)

    def __post_init__(self):
        for name in _SHAPES:
            setattr(self, name, _entry(name, getattr(self, name)))
        self.log_outputs = _entry("log_outputs", self.log_outputs)

    @classmethod
    def fit(cls, x_train, y_train, log_outputs=(True, False, False)):
        """From training inputs (n, 7) and physical outputs (n, 3, 20)."""
        x = np.asarray(x_train, float)
        y = np.asarray(y_train, float)
        if x.ndim != 2 or x.shape[1] != 7:
            raise ValueError(f"x_train must have shape (n, 7), got {x.shape}")
        if y.ndim != 3 or y.shape[1] != 3:
            raise ValueError(f"y_train must have shape (n, 3, nbins), got {y.shape}")
        f = np.stack([np.log(y[:, j]) if log_outputs[j] else y[:, j] for j in range(3)], axis=1)
        return cls(x.mean(0), x.std(0), f.mean(axis=(0, 2)), f.std(axis=(0, 2)), tuple(log_outputs))

    def transform_inputs(self, x):
        """Standardised inputs from physical ones."""
        return (np.asarray(x, float) - self.x_mean) / self.x_std

    def inverse_inputs(self, z):
        """Physical inputs from standardised ones."""
        return np.asarray(z, float) * self.x_std + self.x_mean

    def transform_outputs(self, y):
        """Standardised outputs (logs where the scaler takes them) from physical (n, 3, nbins) ones."""
        y = np.asarray(y, float)
        f = np.stack([np.log(y[:, j]) if self.log_outputs[j] else y[:, j] for j in range(3)], axis=1)
        return (f - self.y_mean[:, None]) / self.y_std[:, None]

    def inverse_outputs(self, mean, var):
        """Physical means and standard deviations from scaled means and variances (..., 3, nbins)."""
        m = mean * self.y_std[:, None] + self.y_mean[:, None]
        v = var * self.y_std[:, None] ** 2
        logs = np.array(self.log_outputs)[:, None]
        y = np.where(logs, np.exp(m), m)
        std = np.where(logs, y * np.sqrt(v), np.sqrt(v))
        return y, std

    def save(self, path):
        """Write the scalers as JSON (read back by :meth:`load`)."""
        d = {"x_mean": self.x_mean.tolist(), "x_std": self.x_std.tolist(), "y_mean": self.y_mean.tolist(),
             "y_std": self.y_std.tolist(), "log_outputs": list(self.log_outputs)}
        Path(path).write_text(json.dumps(d, indent=1))

    @classmethod
    def load(cls, path):
        """Read scalers written by :meth:`save` (JSON) or an ``.npz`` with the same entries.

        The file is at most 1 MiB and holds exactly the entries ``x_mean`` (7), ``x_std`` (7),
        ``y_mean`` (3), ``y_std`` (3) and optionally ``log_outputs`` (3 booleans); anything else
        is a ValueError naming the file and the entry.
        """
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"path: scaler file not found: {path}")
        if path.stat().st_size > _MAX_FILE_BYTES:
            raise ValueError(f"{path}: larger than {_MAX_FILE_BYTES} bytes: not a scaler file")
        if path.suffix == ".npz":
            d = load_npz(path, max_bytes=_MAX_FILE_BYTES)
        else:
            try:
                d = json.loads(path.read_bytes().decode("utf-8"))
            except (ValueError, RecursionError) as e:     # JSONDecodeError and UnicodeDecodeError are ValueErrors
                raise ValueError(f"{path}: not a JSON scaler file ({type(e).__name__}: {e})") from None
            if not isinstance(d, dict):
                raise ValueError(f"{path}: holds a JSON {type(d).__name__}, not an object of scaler entries")
        missing = [k for k in _SHAPES if k not in d]
        unknown = [k for k in d if k not in _SHAPES and k != "log_outputs"]
        if missing or unknown:
            raise ValueError(f"{path}: " + "; ".join(
                f"{what} entries " + ", ".join(f"'{k}'" for k in keys)
                for what, keys in (("missing", missing), ("unexpected", unknown)) if keys))
        for k, v in d.items():
            ok = (isinstance(v, np.ndarray) and v.ndim == 1 and v.dtype.kind in ("b" if k == "log_outputs" else "iuf")
                  ) or (isinstance(v, list) and all(isinstance(x, bool) if k == "log_outputs" else
                                                    isinstance(x, (int, float)) and not isinstance(x, bool) for x in v))
            if not ok:
                raise ValueError(f"{path}: entry '{k}': must be a flat list of "
                                 f"{'booleans' if k == 'log_outputs' else 'numbers'}, got {v!r:.80}")
            try:
                d[k] = _entry(k, v)
            except ValueError as e:
                raise ValueError(f"{path}: entry '{k}': {e}") from None
        return cls(d["x_mean"], d["x_std"], d["y_mean"], d["y_std"], d.get("log_outputs", (True, False, False)))
