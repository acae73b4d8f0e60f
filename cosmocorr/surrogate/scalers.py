"""Input standardisation and output inverse transform of the IAEmu release.

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

__all__ = ["IAEmuScalers"]


@dataclass
class IAEmuScalers:
    x_mean: np.ndarray
    x_std: np.ndarray
    y_mean: np.ndarray
    y_std: np.ndarray
    log_outputs: tuple = (True, False, False)

    def __post_init__(self):
        self.x_mean, self.x_std = np.asarray(self.x_mean, float), np.asarray(self.x_std, float)
        self.y_mean, self.y_std = np.asarray(self.y_mean, float), np.asarray(self.y_std, float)
        if np.any(self.x_std <= 0) or np.any(self.y_std <= 0):
            raise ValueError("x_std and y_std must be positive")
        if self.x_mean.shape != (7,) or self.y_mean.shape != (3,):
            raise ValueError("x_mean must have 7 entries and y_mean 3 (xi, omega, eta)")

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
        return (np.asarray(x, float) - self.x_mean) / self.x_std

    def inverse_inputs(self, z):
        return np.asarray(z, float) * self.x_std + self.x_mean

    def transform_outputs(self, y):
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
        d = {"x_mean": self.x_mean.tolist(), "x_std": self.x_std.tolist(), "y_mean": self.y_mean.tolist(),
             "y_std": self.y_std.tolist(), "log_outputs": list(self.log_outputs)}
        Path(path).write_text(json.dumps(d, indent=1))

    @classmethod
    def load(cls, path):
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"path: scaler file not found: {path}")
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                return cls(z["x_mean"], z["x_std"], z["y_mean"], z["y_std"],
                           tuple(bool(b) for b in z["log_outputs"]) if "log_outputs" in z.files else (True, False, False))
        d = json.loads(path.read_text())
        return cls(d["x_mean"], d["x_std"], d["y_mean"], d["y_std"], tuple(d.get("log_outputs", (True, False, False))))
