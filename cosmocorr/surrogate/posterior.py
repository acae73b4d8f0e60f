"""Posterior over chosen surrogate inputs (paper sec. 7, Algorithm 3 step 6).

Uniform box priors on the free inputs, the others held fixed; a Gaussian likelihood
N(target | mean(theta), C(theta)) with C = diag(aleatoric variance(theta)) + data covariance,
the target being observed data or zeros (the paper drives omega towards zero). The surrogate
supplies its mean, variance and their Jacobians, so log p and its gradient are analytic.
HMC runs on unconstrained u with theta = lo + (hi - lo) sigmoid(u) (Jacobian included).
"""
from __future__ import annotations

import numpy as np

from .iaemu import INPUT_NAMES, N_BINS, OUTPUT_NAMES

__all__ = ["GaussianSurrogatePosterior", "iaemu_posterior"]


class GaussianSurrogatePosterior:
    """log p(theta | target) for a surrogate ``model(theta) -> (mean (m,), var (m,), dmean (m,k), dvar (m,k))``.

    Parameters
    ----------
    model : callable
        Surrogate evaluated at free inputs theta (k,).
    bounds : array_like (k, 2)
        Uniform prior box.
    target : array_like (m,), optional
        Observed data; zeros by default.
    data_cov : array_like (m, m) or (m,), optional
        Extra (data) covariance added to the surrogate's aleatoric variance.
    """

    def __init__(self, model, bounds, target=None, data_cov=None, m=None):
        self.model = model
        self.bounds = np.asarray(bounds, dtype=float)
        if self.bounds.ndim != 2 or self.bounds.shape[1] != 2 or np.any(self.bounds[:, 0] >= self.bounds[:, 1]):
            raise ValueError("bounds must be (k, 2) with low < high for every input")
        self.k = self.bounds.shape[0]
        self.target = None if target is None else np.asarray(target, dtype=float)
        if data_cov is not None:
            data_cov = np.asarray(data_cov, dtype=float)
            data_cov = np.diag(data_cov) if data_cov.ndim == 1 else data_cov
        self.data_cov = data_cov
        self.n_evals = 0

    def in_bounds(self, theta):
        return bool(np.all(theta > self.bounds[:, 0]) and np.all(theta < self.bounds[:, 1]))

    def loglike_and_grad(self, theta):
        theta = np.asarray(theta, dtype=float)
        self.n_evals += 1
        mean, var, dmean, dvar = self.model(theta)
        target = np.zeros_like(mean) if self.target is None else self.target
        r = target - mean
        if self.data_cov is None:
            ll = -0.5 * np.sum(r * r / var + np.log(2 * np.pi * var))
            g = (r / var) @ dmean + 0.5 * ((r * r / var**2 - 1 / var) @ dvar)
            return ll, g
        C = np.diag(var) + self.data_cov
        L = np.linalg.cholesky(C)
        a = np.linalg.solve(C, r)
        ll = -0.5 * r @ a - np.sum(np.log(np.diag(L))) - 0.5 * r.size * np.log(2 * np.pi)
        cinv_diag = np.diag(np.linalg.inv(C))
        g = a @ dmean + 0.5 * ((a * a - cinv_diag) @ dvar)
        return ll, g

    def log_prob(self, theta):
        """log posterior (uniform prior) for emcee; -inf outside the box."""
        theta = np.asarray(theta, dtype=float)
        if not self.in_bounds(theta):
            return -np.inf
        return self.loglike_and_grad(theta)[0]

    # unconstrained parameterisation for HMC
    def to_theta(self, u):
        lo, hi = self.bounds.T
        return lo + (hi - lo) / (1 + np.exp(-np.asarray(u)))

    def to_u(self, theta):
        lo, hi = self.bounds.T
        p = (np.asarray(theta) - lo) / (hi - lo)
        return np.log(p) - np.log1p(-p)

    def logp_u_and_grad(self, u):
        u = np.asarray(u, dtype=float)
        lo, hi = self.bounds.T
        s = 0.5 * (1 + np.tanh(0.5 * u))
        theta = lo + (hi - lo) * s
        ll, g = self.loglike_and_grad(theta)
        dtheta = (hi - lo) * s * (1 - s)
        logjac = np.sum(np.log(hi - lo) - np.logaddexp(0, -u) - np.logaddexp(0, u))
        return ll + logjac, g * dtheta + (1 - 2 * s)


def iaemu_posterior(model, x_fixed, free=("mu_cen", "mu_sat"), bounds=((-1, 1), (-1, 1)), correlation="omega",
                    target=None, data_cov=None, bins=None):
    """The paper's IAEmu experiment: posterior over ``free`` inputs, the others at ``x_fixed``.

    Works in the model's standardised input/output units (``model.raw``); with zero target this
    pulls the chosen correlation towards zero in those units. ``bins`` selects radial bins.
    """
    names = list(free)
    unknown = [n for n in names if n not in INPUT_NAMES]
    if unknown:
        raise ValueError(f"free: unknown input(s) {unknown}; choose from {INPUT_NAMES}")
    if correlation not in OUTPUT_NAMES:
        raise ValueError(f"correlation must be one of {OUTPUT_NAMES}, got {correlation!r}")
    x_fixed = np.asarray(x_fixed, dtype=float)
    if x_fixed.shape != (7,):
        raise ValueError(f"x_fixed must have 7 entries, got {x_fixed.shape}")
    idx = [INPUT_NAMES.index(n) for n in names]
    j = OUTPUT_NAMES.index(correlation)
    sel = np.arange(N_BINS) if bins is None else np.asarray(bins)

    def surrogate(theta):
        x = x_fixed.copy()
        x[idx] = theta
        y, jac = model._forward(x[None, :], tangents=True, outputs=(j,), directions=idx)
        y, jac = y[0, 0], jac[0, 0]
        return y[sel], y[N_BINS + sel], jac[sel], jac[N_BINS + sel]

    return GaussianSurrogatePosterior(surrogate, bounds, target, data_cov)
