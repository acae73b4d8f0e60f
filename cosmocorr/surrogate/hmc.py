"""Hamiltonian Monte Carlo in NumPy with analytic gradients (paper sec. 7, Algorithm 3 step 6).

Two samplers share one interface: the No-U-Turn Sampler (Hoffman & Gelman 2014, their
Algorithm 6, with dual-averaging step-size adaptation during warm-up) and static HMC with a
fixed trajectory length and the same step-size adaptation. ``logp_and_grad(theta)`` returns the
log density (up to a constant) and its gradient; the sampler runs on unconstrained parameters.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._progress import progress_range
from .diagnostics import effective_sample_size, split_rhat

__all__ = ["HMCResult", "hmc", "DualAveraging"]

MAX_DELTA_H = 1000.0


class DualAveraging:
    """Nesterov dual averaging of log step size (Hoffman & Gelman 2014, sec. 3.2.1)."""

    def __init__(self, eps0, target=0.8, gamma=0.05, t0=10.0, kappa=0.75):
        self.mu = np.log(10 * eps0)
        self.target, self.gamma, self.t0, self.kappa = target, gamma, t0, kappa
        self.hbar, self.log_eps_bar, self.m = 0.0, 0.0, 0

    def update(self, accept_stat):
        self.m += 1
        m = self.m
        self.hbar = (1 - 1 / (m + self.t0)) * self.hbar + (self.target - accept_stat) / (m + self.t0)
        log_eps = self.mu - np.sqrt(m) / self.gamma * self.hbar
        eta = m ** (-self.kappa)
        self.log_eps_bar = eta * log_eps + (1 - eta) * self.log_eps_bar
        return np.exp(log_eps)

    @property
    def final(self):
        return np.exp(self.log_eps_bar)


@dataclass
class HMCResult:
    """samples (chains, draws, params); acceptance (mean accept statistic per chain);
    step_size per chain; n_grad_evals in total; ess and rhat per parameter."""

    samples: np.ndarray
    acceptance: np.ndarray
    step_size: np.ndarray
    n_grad_evals: int
    tree_depth: np.ndarray
    divergences: int

    @property
    def ess(self):
        return effective_sample_size(self.samples)

    @property
    def rhat(self):
        return split_rhat(self.samples)

    @property
    def flat(self):
        return self.samples.reshape(-1, self.samples.shape[-1])


class _Counter:
    def __init__(self, f):
        self.f, self.n = f, 0

    def __call__(self, x):
        self.n += 1
        return self.f(x)


def _leapfrog(f, theta, r, grad, eps):
    r = r + 0.5 * eps * grad
    theta = theta + eps * r
    logp, grad = f(theta)
    r = r + 0.5 * eps * grad
    return theta, r, logp, grad


def _find_reasonable_eps(f, theta, logp, grad, rng):
    eps = 1.0
    r = rng.standard_normal(theta.size)
    h0 = logp - 0.5 * r @ r
    _, r1, lp1, _ = _leapfrog(f, theta, r, grad, eps)
    a = 1.0 if (lp1 - 0.5 * r1 @ r1 - h0) > np.log(0.5) else -1.0
    for _ in range(50):
        _, r1, lp1, _ = _leapfrog(f, theta, r, grad, eps)
        d = lp1 - 0.5 * r1 @ r1 - h0
        if not np.isfinite(d) or a * d <= -a * np.log(2):
            break
        eps *= 2.0**a
    return eps


def _build_tree(f, theta, r, grad, log_u, v, j, eps, h0, rng):
    """Recursive tree doubling (Hoffman & Gelman 2014, Algorithm 6)."""
    if j == 0:
        theta1, r1, lp1, g1 = _leapfrog(f, theta, r, grad, v * eps)
        h1 = lp1 - 0.5 * r1 @ r1
        if not np.isfinite(h1):
            h1 = -np.inf
        n1 = int(log_u <= h1)
        s1 = log_u < h1 + MAX_DELTA_H
        alpha = min(1.0, np.exp(min(0.0, h1 - h0))) if np.isfinite(h1) else 0.0
        return theta1, r1, g1, theta1, r1, g1, theta1, lp1, g1, n1, s1, alpha, 1
    tm, rm, gm, tp, rp, gp, t1, lp1, g1, n1, s1, a1, na1 = _build_tree(f, theta, r, grad, log_u, v, j - 1, eps, h0, rng)
    if s1:
        if v == -1:
            tm, rm, gm, _, _, _, t2, lp2, g2, n2, s2, a2, na2 = _build_tree(f, tm, rm, gm, log_u, v, j - 1, eps, h0, rng)
        else:
            _, _, _, tp, rp, gp, t2, lp2, g2, n2, s2, a2, na2 = _build_tree(f, tp, rp, gp, log_u, v, j - 1, eps, h0, rng)
        if n1 + n2 > 0 and rng.random() < n2 / (n1 + n2):
            t1, lp1, g1 = t2, lp2, g2
        a1 += a2
        na1 += na2
        n1 += n2
        dtheta = tp - tm
        s1 = s2 and (dtheta @ rm >= 0) and (dtheta @ rp >= 0)
    return tm, rm, gm, tp, rp, gp, t1, lp1, g1, n1, s1, a1, na1


def _nuts_step(f, theta, logp, grad, eps, rng, max_depth):
    r0 = rng.standard_normal(theta.size)
    h0 = logp - 0.5 * r0 @ r0
    log_u = h0 + np.log(rng.random())
    tm = tp = theta
    rm = rp = r0
    gm = gp = grad
    out_t, out_lp, out_g = theta, logp, grad
    n, s, j = 1, True, 0
    alpha = na = 0
    divergent = False
    while s and j < max_depth:
        v = -1 if rng.random() < 0.5 else 1
        if v == -1:
            tm, rm, gm, _, _, _, t1, lp1, g1, n1, s1, alpha, na = _build_tree(f, tm, rm, gm, log_u, v, j, eps, h0, rng)
        else:
            _, _, _, tp, rp, gp, t1, lp1, g1, n1, s1, alpha, na = _build_tree(f, tp, rp, gp, log_u, v, j, eps, h0, rng)
        if s1 and rng.random() < min(1.0, n1 / n):
            out_t, out_lp, out_g = t1, lp1, g1
        if not s1 and na == 1:
            divergent = True
        n += n1
        dtheta = tp - tm
        s = s1 and (dtheta @ rm >= 0) and (dtheta @ rp >= 0)
        j += 1
    return out_t, out_lp, out_g, alpha / max(na, 1), j, divergent


def _static_step(f, theta, logp, grad, eps, rng, n_leapfrog):
    r0 = rng.standard_normal(theta.size)
    h0 = logp - 0.5 * r0 @ r0
    t, r, lp, g = theta, r0, logp, grad
    for _ in range(n_leapfrog):
        t, r, lp, g = _leapfrog(f, t, r, g, eps)
    h1 = lp - 0.5 * r @ r
    accept = min(1.0, np.exp(h1 - h0)) if np.isfinite(h1) else 0.0
    if rng.random() < accept:
        return t, lp, g, accept, 0, not np.isfinite(h1)
    return theta, logp, grad, accept, 0, not np.isfinite(h1)


def hmc(logp_and_grad, initial, n_warmup=1000, n_samples=1000, n_chains=4, seed=None, nuts=True,
        trajectory_length=1.0, target_accept=0.8, max_tree_depth=10, progress=False):
    """Sample a density with HMC (NUTS by default) and warm-up step-size adaptation.

    Parameters
    ----------
    logp_and_grad : callable
        theta (k,) -> (log density, gradient (k,)).
    initial : array_like (k,) or (n_chains, k)
        Starting points.
    n_warmup, n_samples, n_chains : int
        Warm-up iterations (step size adapted by dual averaging, then frozen), kept draws, chains.
    seed : int, optional
        One seed for all chains (each chain gets an independent stream).
    nuts : bool
        No-U-Turn Sampler; else static HMC with ``round(trajectory_length / step_size)`` steps.
    target_accept : float
        Dual-averaging target of the mean acceptance statistic.

    Returns
    -------
    HMCResult
    """
    initial = np.atleast_2d(np.asarray(initial, dtype=float))
    if initial.shape[0] == 1:
        initial = np.repeat(initial, n_chains, axis=0)
    if initial.shape[0] != n_chains:
        raise ValueError(f"initial must have 1 or n_chains={n_chains} rows, got {initial.shape[0]}")
    if not 0 < target_accept < 1:
        raise ValueError(f"target_accept must lie in (0, 1), got {target_accept}")
    f = _Counter(logp_and_grad)
    ss = np.random.SeedSequence(seed)
    k = initial.shape[1]
    samples = np.empty((n_chains, n_samples, k))
    acc = np.empty(n_chains)
    steps = np.empty(n_chains)
    depth = np.zeros((n_chains, n_samples), dtype=int)
    divergences = 0
    for c, child in enumerate(ss.spawn(n_chains)):
        rng = np.random.default_rng(child)
        theta = initial[c].copy()
        logp, grad = f(theta)
        if not np.isfinite(logp):
            raise ValueError(f"initial point of chain {c} has log density {logp}")
        eps = _find_reasonable_eps(f, theta, logp, grad, rng)
        da = DualAveraging(eps, target_accept)
        stats = []
        for it in progress_range(n_warmup + n_samples, desc=f"HMC chain {c + 1}/{n_chains}", progress=progress):
            if nuts:
                theta, logp, grad, a, d, div = _nuts_step(f, theta, logp, grad, eps, rng, max_tree_depth)
            else:
                nl = max(1, int(round(trajectory_length / eps)))
                theta, logp, grad, a, d, div = _static_step(f, theta, logp, grad, eps, rng, nl)
            if it < n_warmup:
                eps = da.update(a)
                if it == n_warmup - 1:
                    eps = da.final
            else:
                samples[c, it - n_warmup] = theta
                depth[c, it - n_warmup] = d
                stats.append(a)
                divergences += int(div)
        acc[c] = np.mean(stats) if stats else np.nan
        steps[c] = eps
    return HMCResult(samples, acc, steps, f.n, depth, divergences)
