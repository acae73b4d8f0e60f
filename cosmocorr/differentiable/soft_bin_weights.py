"""Soft separation bins (paper eqs. 22-23, Algorithm 2 step 5).

For a bin [a, b] and sharpness alpha (in 1/arcmin; the Gaussian's alpha in 1/arcmin^2):

- ``"sigmoid"`` (eq. 22): W = sigma(alpha (x - a)) * sigma(alpha (b - x));
- ``"gaussian"`` (eq. 23): W = exp(-alpha (x - (a + b)/2)^2), centred on the bin centre (the
  printed (b - a)/2 is a typo).

As alpha grows the sigmoid weight tends to the bin's indicator function, so the soft estimator
tends to the hard-binned naive estimator. Works on arrays and on :class:`~cosmocorr.differentiable.dual.Dual`.
"""
from __future__ import annotations

import numpy as np

from .._validate import as_float_array, check_choice, check_real
from ..sky.bins import Bins
from . import dual as dl

__all__ = ["soft_bin_weights", "KINDS"]

KINDS = ("sigmoid", "gaussian")


def soft_bin_weights(r, bins, alpha, kind="sigmoid"):
    """Weights W_k(r) of separations ``r`` (arcmin) for every bin: shape (nbins,) + r.shape.

    ``r``: finite separations (array or Dual; NaN/inf is a ValueError naming ``r``); ``bins``: a
    :class:`~cosmocorr.Bins`; ``alpha``: a positive finite number; ``kind``: "sigmoid" or "gaussian".
    """
    check_choice(kind, "kind", KINDS)
    alpha = check_real(alpha, "alpha", low=0.0, low_open=True)
    if not isinstance(bins, Bins):
        raise TypeError(f"bins must be a cosmocorr.Bins, got {type(bins).__name__}")
    if isinstance(r, dl.Dual):
        rv = dl.value(r)
        if not (np.all(np.isfinite(rv)) and np.all(np.isfinite(dl.tangent(r)))):
            raise ValueError("r contains NaN or infinite values (value or tangent)")
    else:
        r = as_float_array(r, "r", ndim=np.ndim(r), allow_empty=True)
    edges = bins.edges
    out = []
    for a, b in zip(edges[:-1], edges[1:]):
        if kind == "sigmoid":
            out.append(dl.expit(alpha * (r - a)) * dl.expit(alpha * (b - r)))
        else:
            c = 0.5 * (a + b)
            out.append(dl.exp(-alpha * (r - c) * (r - c)))
    return dl.stack(out) if isinstance(r, dl.Dual) else np.stack(out)
