"""The gradient-free baseline: emcee's affine-invariant ensemble sampler (Foreman-Mackey et al. 2013)."""
from __future__ import annotations

import numpy as np

__all__ = ["run_emcee"]


def run_emcee(log_prob, bounds, n_walkers=16, n_steps=2000, n_burn=500, seed=None, progress=False):
    """Sample ``log_prob`` with emcee, walkers started uniformly in the prior box.

    Returns samples (n_walkers, n_steps - n_burn, k) — the same layout as
    :class:`~cosmocorr.surrogate.hmc.HMCResult.samples` (walkers as chains) — and the acceptance
    fraction per walker. Reproducible with ``seed``.
    """
    import emcee

    bounds = np.asarray(bounds, dtype=float)
    k = bounds.shape[0]
    if n_walkers < 2 * k:
        raise ValueError(f"n_walkers must be at least 2 * n_params = {2 * k}")
    if not 0 <= n_burn < n_steps:
        raise ValueError("n_burn must lie in [0, n_steps)")
    rng = np.random.default_rng(seed)
    p0 = bounds[:, 0] + (bounds[:, 1] - bounds[:, 0]) * rng.uniform(0.05, 0.95, (n_walkers, k))
    sampler = emcee.EnsembleSampler(n_walkers, k, log_prob)
    sampler.random_state = np.random.RandomState(rng.integers(2**32)).get_state()
    sampler.run_mcmc(p0, n_steps, progress=progress)
    chain = sampler.get_chain()[n_burn:]          # (steps, walkers, k)
    return np.swapaxes(chain, 0, 1), sampler.acceptance_fraction
