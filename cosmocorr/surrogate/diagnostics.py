"""MCMC diagnostics: split R-hat and effective sample size (Gelman et al., BDA3 ch. 11)."""
from __future__ import annotations

import numpy as np

__all__ = ["split_rhat", "effective_sample_size"]


def _as_chains(samples):
    s = np.asarray(samples, dtype=float)
    if s.ndim == 2:
        s = s[..., None]
    if s.ndim != 3:
        raise ValueError(f"samples must have shape (chains, draws[, params]), got {s.shape}")
    return s


def split_rhat(samples):
    """Split R-hat per parameter for samples (chains, draws, params): each chain is halved."""
    s = _as_chains(samples)
    half = s.shape[1] // 2
    if half < 2:
        raise ValueError("samples: need at least 4 draws per chain")
    split = np.concatenate([s[:, :half], s[:, half:2 * half]], axis=0)
    m, n = split.shape[:2]
    means = split.mean(axis=1)
    b = n * means.var(axis=0, ddof=1)
    w = split.var(axis=1, ddof=1).mean(axis=0)
    var_plus = (n - 1) / n * w + b / n
    return np.sqrt(var_plus / w)


def _autocorr(x):
    n = x.size
    f = np.fft.rfft(x - x.mean(), 2 * n)
    ac = np.fft.irfft(f * np.conj(f))[:n]
    return ac / ac[0] if ac[0] > 0 else np.zeros(n)


def effective_sample_size(samples):
    """ESS per parameter for samples (chains, draws, params), with Geyer's initial monotone
    sequence on the chain-averaged autocorrelation (as in Stan)."""
    s = _as_chains(samples)
    m, n, k = s.shape
    out = np.empty(k)
    for j in range(k):
        rho = np.mean([_autocorr(s[c, :, j]) for c in range(m)], axis=0)
        # pair sums Gamma_t = rho_{2t} + rho_{2t+1}, truncated when negative, made monotone
        pairs = rho[: 2 * (n // 2)].reshape(-1, 2).sum(axis=1)
        neg = np.nonzero(pairs <= 0)[0]
        pairs = pairs[: neg[0]] if neg.size else pairs
        pairs = np.minimum.accumulate(pairs)
        tau = -1.0 + 2.0 * pairs.sum() if pairs.size else 1.0
        out[j] = m * n / max(tau, 1e-12)
    return out
