"""Posterior over chosen surrogate inputs (paper sec. 7, Algorithm 3 step 6).

Uniform box priors on the free inputs, the others held fixed; a Gaussian likelihood
N(target | mean(theta), C(theta)) with C = diag(aleatoric variance(theta)) + data covariance,
the target being observed data or zeros (the paper drives omega towards zero). The surrogate
supplies its mean and variance and either their Jacobians or a pullback (one backpropagation
pass for the cotangents d log L / d mean and d log L / d var), so log p and its gradient are
analytic.
HMC runs on unconstrained u with theta = lo + (hi - lo) sigmoid(u) (Jacobian included).
"""
from __future__ import annotations

import threading

import numpy as np

from .._validate import as_float_array
from . import backprop
from .ensemble import check_bounds
from .iaemu import INPUT_NAMES, N_BINS, OUTPUT_NAMES

__all__ = ["GaussianSurrogatePosterior", "iaemu_posterior"]


class GaussianSurrogatePosterior:
    """log p(theta | target) for a surrogate ``model(theta)`` returning either
    ``(mean (m,), var (m,), dmean (m, k), dvar (m, k))`` or ``(mean, var, pullback)`` with
    ``pullback(g_mean (m,), g_var (m,)) -> (k,)`` the vector-Jacobian product.

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
        if not callable(model):
            raise TypeError(f"model must be callable, got {type(model).__name__}")
        self.model = model
        self.bounds = check_bounds(bounds)      # finite (k, 2), low < high
        self.k = self.bounds.shape[0]
        self.target = None if target is None else as_float_array(target, "target")
        if data_cov is not None:
            data_cov = as_float_array(data_cov, "data_cov", ndim=2 if np.ndim(data_cov) == 2 else 1)
            if data_cov.ndim == 2 and data_cov.shape[0] != data_cov.shape[1]:
                raise ValueError(f"data_cov must be square, got shape {data_cov.shape}")
            if self.target is not None and data_cov.shape[0] != self.target.size:
                raise ValueError(f"data_cov has {data_cov.shape[0]} rows but target has {self.target.size} entries")
            data_cov = np.diag(data_cov) if data_cov.ndim == 1 else data_cov
        self.data_cov = data_cov
        self.n_evals = 0
        self._lock = threading.Lock()     # HMC chains call from several threads

    def __getstate__(self):          # picklable for Dask workers: the lock is recreated there
        state = self.__dict__.copy()
        state.pop("_lock", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def in_bounds(self, theta):
        """Whether ``theta`` lies strictly inside the prior box."""
        return bool(np.all(theta > self.bounds[:, 0]) and np.all(theta < self.bounds[:, 1]))

    def loglike_and_grad(self, theta):
        """Log-likelihood at ``theta`` and its gradient."""
        return self._loglike(theta, True)

    def _loglike(self, theta, need_grad):
        theta = np.asarray(theta, dtype=float)
        with self._lock:
            self.n_evals += 1
        out = self.model(theta)
        if len(out) == 4:
            mean, var, dmean, dvar = out

            def pullback(gm, gv):
                return gm @ dmean + gv @ dvar
        else:
            mean, var, pullback = out
        target = np.zeros_like(mean) if self.target is None else self.target
        r = target - mean
        if self.data_cov is None:
            ll = -0.5 * np.sum(r * r / var + np.log(2 * np.pi * var))
            return (ll, pullback(r / var, 0.5 * (r * r / var**2 - 1 / var))) if need_grad else ll
        C = np.diag(var) + self.data_cov
        L = np.linalg.cholesky(C)
        a = np.linalg.solve(C, r)
        ll = -0.5 * r @ a - np.sum(np.log(np.diag(L))) - 0.5 * r.size * np.log(2 * np.pi)
        if not need_grad:
            return ll
        cinv_diag = np.diag(np.linalg.inv(C))
        return ll, pullback(a, 0.5 * (a * a - cinv_diag))

    def log_prob(self, theta):
        """log posterior (uniform prior) for emcee; -inf outside the box."""
        theta = np.asarray(theta, dtype=float)
        if not self.in_bounds(theta):
            return -np.inf
        return self._loglike(theta, False)       # value only: no backward pass

    # unconstrained parameterisation for HMC
    def to_theta(self, u):
        """Inputs theta in the prior box from unbounded u (scaled logistic)."""
        lo, hi = self.bounds.T
        return lo + (hi - lo) / (1 + np.exp(-np.asarray(u)))

    def to_u(self, theta):
        """Unbounded u from inputs theta in the prior box (scaled logit)."""
        lo, hi = self.bounds.T
        p = (np.asarray(theta) - lo) / (hi - lo)
        return np.log(p) - np.log1p(-p)

    def logp_u_and_grad(self, u):
        """Log-posterior in the unbounded coordinates u (logit of the box, Jacobian included) and its gradient:
        what HMC samples."""
        u = np.asarray(u, dtype=float)
        lo, hi = self.bounds.T
        s = 0.5 * (1 + np.tanh(0.5 * u))
        theta = lo + (hi - lo) * s
        ll, g = self.loglike_and_grad(theta)
        dtheta = (hi - lo) * s * (1 - s)
        logjac = np.sum(np.log(hi - lo) - np.logaddexp(0, -u) - np.logaddexp(0, u))
        return ll + logjac, g * dtheta + (1 - 2 * s)


def _check_bins(bins):
    """Radial bin indices 0..19, each once: a negative or larger index would read a variance slot
    (indices 20..39 of the network output) or wrap around, so it is a ValueError."""
    b = np.asarray(bins)
    if b.size == 0:
        raise ValueError("bins is empty: select at least one radial bin")
    if b.dtype == bool or b.dtype.kind not in "iu":
        if b.dtype.kind == "f" and np.all(np.isfinite(b)) and np.all(b == np.round(b)):
            b = b.astype(np.intp)
        else:
            raise TypeError(f"bins must be integer bin indices in [0, {N_BINS}), got dtype {b.dtype}")
    b = np.atleast_1d(b).astype(np.intp)
    if b.ndim != 1 or b.size == 0:
        raise ValueError(f"bins must be a non-empty 1-d list of bin indices, got shape {b.shape}")
    if np.any(b < 0) or np.any(b >= N_BINS):
        raise ValueError(f"bins must lie in [0, {N_BINS}) (radial bins of the means); got {b.tolist()}")
    if np.unique(b).size != b.size:
        raise ValueError(f"bins: each bin may be selected once, got {b.tolist()}")
    return b


def iaemu_posterior(model, x_fixed, free=("mu_cen", "mu_sat"), bounds=((-1, 1), (-1, 1)), correlation="omega",
                    target=None, data_cov=None, bins=None):
    """The paper's IAEmu experiment (sec. 7, figs. 12-13): posterior over ``free`` inputs, the
    others at ``x_fixed``, uniform priors in ``bounds``, likelihood N(target | mean, aleatoric var).

    Works in the model's standardised input/output units (``model.raw``). ``target``:

    - ``"physical_zero"``: the correlation vanishing physically, i.e. the constant
      :meth:`IAEmu.zero_level` in standardised units (exact with output scalers, otherwise
      calibrated at mu_cen = mu_sat = 0 with the HOD of ``x_fixed``): the paper's experiment;
    - ``None``: zeros in *standardised* units (the output scalers' mean, not physical zero);
    - an array of observed values (standardised units) for the selected bins.

    ``bins`` selects radial bins. Each gradient is one backpropagation pass through the encoder
    and the chosen decoder. The returned posterior has ``zero_level`` set (None unless
    ``target="physical_zero"``).
    """
    names = [free] if isinstance(free, str) else list(free)
    unknown = [n for n in names if n not in INPUT_NAMES]
    if unknown:
        raise ValueError(f"free: unknown input(s) {unknown}; choose from {INPUT_NAMES}")
    if not names or len(set(names)) != len(names):
        raise ValueError(f"free must name at least one input, each once; got {names}")
    if correlation not in OUTPUT_NAMES:
        raise ValueError(f"correlation must be one of {OUTPUT_NAMES}, got {correlation!r}")
    x_fixed = as_float_array(x_fixed, "x_fixed")
    if x_fixed.shape != (7,):
        raise ValueError(f"x_fixed must have 7 entries, got {x_fixed.shape}")
    bounds = check_bounds(bounds)
    if bounds.shape[0] != len(names):
        raise ValueError(f"bounds has {bounds.shape[0]} rows but free names {len(names)} input(s)")
    idx = [INPUT_NAMES.index(n) for n in names]
    j = OUTPUT_NAMES.index(correlation)
    sel = np.arange(N_BINS) if bins is None else _check_bins(bins)
    level = None
    if isinstance(target, str):
        if target != "physical_zero":
            raise ValueError(f"target must be 'physical_zero', None or an array, got {target!r}")
        level = model.zero_level(correlation, hod=x_fixed)
        target = np.full(sel.size, level)
    elif target is not None:
        target = as_float_array(target, "target")
        if target.shape != (sel.size,):
            raise ValueError(f"target must hold one value per selected bin ({sel.size}), got shape {target.shape}")

    def surrogate(theta):
        x = x_fixed.copy()
        x[idx] = theta
        y, cache = backprop.forward(model.state, x[None, :].astype(model.dtype), outputs=(j,))
        y = y[0, 0].astype(float)

        def pullback(g_mean, g_var):
            g = np.zeros((1, 1, 1, 2 * N_BINS), dtype=model.dtype)
            g[0, 0, 0, sel] = g_mean
            g[0, 0, 0, N_BINS + sel] = g_var
            return backprop.backward(model.state, cache, g)[0, 0, idx].astype(float)

        return y[sel], y[N_BINS + sel], pullback

    post = GaussianSurrogatePosterior(surrogate, bounds, target, data_cov)
    post.zero_level = level
    return post
