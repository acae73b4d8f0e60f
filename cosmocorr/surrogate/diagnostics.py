"""Multi-chain MCMC diagnostics (paper sec. 7, Algorithm 3 step 6: checking the HMC posteriors).

Definitions follow Vehtari, Gelman, Simpson, Carpenter & Buerkner (2021), "Rank-normalization,
folding, and localization: an improved R-hat for assessing convergence of MCMC", Bayesian
Analysis 16, 667 (arXiv:1903.08008), as implemented by Stan, posterior and ArviZ:

- every chain is split in two halves (the middle draw is dropped when the length is odd), so a
  drift within a chain shows up as disagreement between chains;
- *rank normalisation*: all draws of all chains are ranked together (ties averaged) and mapped
  to normal scores ``z = Phi^-1((r - 3/8) / (S + 1/4))`` (Blom), S the total number of draws;
- :func:`rhat`: the maximum of the split R-hat of the rank-normalised draws ("bulk") and of the
  rank-normalised folded draws ``|x - median(x)|`` ("tail": detects chains that differ in scale);
- :func:`ess_bulk`: the effective sample size of the rank-normalised split chains;
  :func:`ess_tail`: the smaller ESS of the indicators ``x <= q_0.05`` and ``x <= q_0.95``;
  :func:`ess_mean`: the ESS of the raw split chains; :func:`mcse_mean` = sd / sqrt(ess_mean);
- the ESS uses the multi-chain autocorrelation ``rho_t = 1 - (W - mean_c acov_c(t)) / var+``
  (W the mean within-chain variance, var+ the pooled variance including the between-chain
  variance, so chains that disagree give a *small* ESS), truncated by Geyer's initial positive
  sequence and made monotone (Geyer's initial monotone sequence), ``tau >= 1 / log10(S)``.

Every function takes ``x`` of shape (chains, draws) -> float, or (chains, draws, params) -> one
value per parameter (NumPy array). A parameter whose draws are all identical gives NaN (its
convergence cannot be judged; documented, as in the ``posterior`` R package), never ESS = number
of draws; any chain that never moved (all its draws of a parameter identical) is reported by a
:class:`cosmocorr._warnings.CosmocorrWarning` through ``warnings`` and the ``cosmocorr`` logger.
``split_rhat`` and ``effective_sample_size`` are the names used before issue 14: they are aliases
of :func:`rhat` and :func:`ess_bulk` (rank-normalised; the earlier classic split R-hat and the
within-chain-only ESS understated failures).
"""
from __future__ import annotations

import numpy as np
from scipy import special, stats

from .._warnings import CosmocorrWarning, emit_warning

__all__ = ["rhat", "ess_bulk", "ess_tail", "ess_mean", "mcse_mean", "split_rhat", "effective_sample_size",
           "autocorrelation_time", "ChainSummary"]


# ---------------------------------------------------------------------------------- helpers
def _as_3d(x, name="x"):
    a = np.asarray(x)
    if a.dtype == bool:
        a = a.astype(float)
    if not np.issubdtype(a.dtype, np.number):
        raise TypeError(f"{name} must be a numeric array, got dtype {a.dtype}")
    a = a.astype(float)
    if a.ndim not in (2, 3):
        raise ValueError(f"{name} must have shape (chains, draws) or (chains, draws, params), got {a.shape}")
    if a.shape[1] < 4:
        raise ValueError(f"{name}: need at least 4 draws per chain, got {a.shape[1]}")
    if a.shape[0] < 1:
        raise ValueError(f"{name}: need at least one chain")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or infinite values")
    squeeze = a.ndim == 2
    return (a[..., None] if squeeze else a), squeeze


def _per_param(fn, x, name="x"):
    a, squeeze = _as_3d(x, name)
    _warn_stuck(a, name)
    out = np.array([fn(a[:, :, j]) for j in range(a.shape[2])], dtype=float)
    return float(out[0]) if squeeze else out


def _warn_stuck(a, name):
    """Warn (warnings + ``cosmocorr`` logger) when a chain never moved: all its draws of a parameter
    identical. Every chain stuck gives NaN (never ESS = number of draws); some chains stuck keep
    ArviZ's values, but those chains carry no information on the spread (issue 16)."""
    stuck = np.ptp(a, axis=1) == 0                    # (chains, params)
    if not stuck.any():
        return
    for j in np.flatnonzero(stuck.any(axis=0)):
        chains = np.flatnonzero(stuck[:, j]).tolist()
        emit_warning(f"{name}: parameter {j} never moved in chain(s) {chains} of {a.shape[0]} (all their draws "
                     "identical: a stuck sampler); ESS and R-hat measure no spread there (NaN when every draw "
                     "is identical)", CosmocorrWarning, stacklevel=4)


def _split(a):
    """(m, n) -> (2m, n // 2): first and last halves of every chain (odd n: middle draw dropped)."""
    half = a.shape[1] // 2
    return np.concatenate([a[:, :half], a[:, a.shape[1] - half:]], axis=0)


def _rank_normalise(a):
    """Normal scores of the pooled ranks (ties averaged), Blom's offset 3/8."""
    r = stats.rankdata(a, method="average", axis=None).reshape(a.shape)
    return special.ndtri((r - 0.375) / (a.size + 0.25))


def _constant(a):
    return np.ptp(a) <= np.finfo(float).resolution * max(1.0, np.abs(a).max())


def _basic_rhat(a):
    """sqrt(var+ / W) for chains a (m, n): var+ = (n - 1) / n W + B / n (BDA3 eq. 11.3-11.4)."""
    n = a.shape[1]
    w = a.var(axis=1, ddof=1).mean()
    b_over_n = a.mean(axis=1).var(ddof=1) if a.shape[0] > 1 else 0.0
    if w <= 0:
        return np.nan
    return float(np.sqrt(((n - 1) / n * w + b_over_n) / w))


def _autocov(a):
    """Biased autocovariance (divided by n) of every chain, lags 0..n-1, by FFT."""
    m, n = a.shape
    d = a - a.mean(axis=1, keepdims=True)
    nfft = 1 << int(np.ceil(np.log2(2 * n)))
    f = np.fft.rfft(d, nfft, axis=1)
    return np.fft.irfft(f * np.conj(f), nfft, axis=1)[:, :n] / n


def _ess(a):
    """Multi-chain ESS of chains a (m, n) (Vehtari et al. 2021 eqs. 10-11; Geyer's initial
    monotone sequence as in Stan)."""
    m, n = a.shape
    if _constant(a):
        return np.nan
    acov = _autocov(a)
    mean_acov = acov.mean(axis=0)
    w = mean_acov[0] * n / (n - 1.0)                 # mean within-chain variance (ddof = 1)
    var_plus = w * (n - 1.0) / n
    if m > 1:
        var_plus += a.mean(axis=1).var(ddof=1)
    rho = 1.0 - (w - mean_acov) / var_plus          # rho_0 = 1
    keep = np.zeros(n)
    keep[0] = 1.0
    keep[1] = rho[1]
    even, odd = 1.0, rho[1]
    t = 1
    # Geyer's initial positive sequence: pairs rho_{2k} + rho_{2k+1} while positive
    while t < n - 3 and even + odd > 0.0:
        even, odd = rho[t + 1], rho[t + 2]
        if even + odd >= 0.0:
            keep[t + 1], keep[t + 2] = even, odd
        t += 2
    max_t = t - 2
    if even > 0.0:                                   # the last even lag improves the estimate
        keep[max_t + 1] = even
    # Geyer's initial monotone sequence: pair sums never increase
    t = 1
    while t <= max_t - 2:
        if keep[t + 1] + keep[t + 2] > keep[t - 1] + keep[t]:
            keep[t + 1] = keep[t + 2] = 0.5 * (keep[t - 1] + keep[t])
        t += 2
    s = m * n
    tau = -1.0 + 2.0 * keep[:max_t + 1].sum() + keep[max_t + 1:max_t + 2].sum()
    tau = max(tau, 1.0 / np.log10(s))
    return float(s / tau)


# ---------------------------------------------------------------------------------- public
def rhat(x):
    """Rank-normalised split R-hat, max of bulk and folded (Vehtari et al. 2021, sec. 4.2).

    Values above 1.01 say the chains have not mixed. ``x``: (chains, draws[, params]); a single
    chain is split in two (ArviZ returns NaN there; Stan and ``posterior`` do the same as here).
    """
    def one(a):
        if _constant(a):
            return np.nan
        s = _split(a)
        bulk = _basic_rhat(_rank_normalise(s))
        folded = _basic_rhat(_rank_normalise(np.abs(s - np.median(s))))
        return max(bulk, folded)

    return _per_param(one, x)


def ess_bulk(x):
    """Bulk effective sample size: ESS of the rank-normalised split chains (Vehtari et al. 2021,
    sec. 4.3). Small when chains disagree, even if each chain alone looks well mixed."""
    return _per_param(lambda a: _ess(_rank_normalise(_split(a))) if not _constant(a) else np.nan, x)


def ess_tail(x, prob=(0.05, 0.95)):
    """Tail effective sample size: min over q in ``prob`` of the ESS of the split indicator chains
    ``x <= quantile(x, q)`` (quantiles of all draws, linear interpolation = R type 7)."""
    lo, hi = prob

    def one(a):
        if _constant(a):
            return np.nan
        return min(_ess(_split((a <= np.quantile(a, q)).astype(float))) for q in (lo, hi))

    return _per_param(one, x)


def ess_mean(x):
    """Effective sample size for the mean: ESS of the raw (not rank-normalised) split chains."""
    return _per_param(lambda a: _ess(_split(a)), x)


def mcse_mean(x):
    """Monte Carlo standard error of the posterior mean: sd(all draws) / sqrt(ess_mean)."""
    return _per_param(lambda a: float(np.std(a, ddof=1) / np.sqrt(_ess(_split(a)))), x)


def autocorrelation_time(x):
    """Integrated autocorrelation time S / ess_mean (draws per independent draw), per parameter."""
    a, squeeze = _as_3d(x)
    out = a.shape[0] * (a.shape[1] // 2) * 2 / np.atleast_1d(ess_mean(a))
    return float(out[0]) if squeeze else out


#: Alias of :func:`rhat` (the name before issue 14; now rank-normalised, max of bulk and folded).
split_rhat = rhat
#: Alias of :func:`ess_bulk` (the name before issue 14; now includes the between-chain variance).
effective_sample_size = ess_bulk


class ChainSummary:
    """Diagnostics of a sampler result with ``samples`` of shape (chains, draws, params), shared by
    :class:`~cosmocorr.surrogate.hmc.HMCResult` and :class:`~cosmocorr.surrogate.ensemble.EmceeResult`."""

    @property
    def ess(self):
        """Bulk ESS per parameter (rank-normalised, Vehtari et al. 2021)."""
        return np.atleast_1d(ess_bulk(self.samples))

    @property
    def ess_tail(self):
        """Tail ESS per parameter (5 % and 95 % quantiles)."""
        return np.atleast_1d(ess_tail(self.samples))

    @property
    def rhat(self):
        """Rank-normalised split R-hat per parameter (max of bulk and folded)."""
        return np.atleast_1d(rhat(self.samples))

    @property
    def flat(self):
        """All draws of all chains, (chains x draws, params)."""
        return self.samples.reshape(-1, self.samples.shape[-1])
