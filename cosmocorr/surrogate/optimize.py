"""Gradient-based optimisation of surrogate inputs (Algorithm 3 step 5)."""
from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

__all__ = ["minimize_inputs"]


def minimize_inputs(loss_and_grad, x0, bounds):
    """Minimise ``loss_and_grad(x) -> (loss, grad)`` inside the box ``bounds`` with L-BFGS-B,
    using the surrogate's analytic gradient. Returns scipy's OptimizeResult (``x``, ``fun``...)."""
    bounds = np.asarray(bounds, dtype=float)
    return minimize(loss_and_grad, np.asarray(x0, dtype=float), jac=True, method="L-BFGS-B", bounds=bounds)
