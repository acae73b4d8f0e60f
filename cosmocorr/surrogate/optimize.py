"""Gradient-based optimisation of surrogate inputs (Algorithm 3 step 5)."""
from __future__ import annotations

from scipy.optimize import minimize

from .._validate import as_float_array
from .ensemble import check_bounds

__all__ = ["minimize_inputs"]


def minimize_inputs(loss_and_grad, x0, bounds):
    """Minimise ``loss_and_grad(x) -> (loss, grad)`` inside the box ``bounds`` with L-BFGS-B,
    using the surrogate's analytic gradient. Returns scipy's OptimizeResult (``x``, ``fun``...)."""
    if not callable(loss_and_grad):
        raise TypeError(f"loss_and_grad must be callable, got {type(loss_and_grad).__name__}")
    bounds = check_bounds(bounds)
    x0 = as_float_array(x0, "x0")
    if x0.size != bounds.shape[0]:
        raise ValueError(f"x0 has {x0.size} entries but bounds has {bounds.shape[0]} rows")
    return minimize(loss_and_grad, x0, jac=True, method="L-BFGS-B", bounds=bounds)
