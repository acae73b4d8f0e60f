"""The gradient-free baseline: emcee's affine-invariant ensemble sampler (Foreman-Mackey et al. 2013),
beside NUTS for the paper's surrogate posterior (sec. 7, figs. 12-13)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._parallel import single_threaded_blas

from .diagnostics import ChainSummary

__all__ = ["run_emcee", "EmceeResult", "check_bounds"]


def check_bounds(bounds, name="bounds"):
    """A prior box as a float array (k, 2), finite, low < high in every row; else ValueError."""
    try:
        b = np.asarray(bounds, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a (k, 2) array of numbers, got {bounds!r:.80}") from None
    if b.ndim != 2 or b.shape[1] != 2 or b.shape[0] < 1:
        raise ValueError(f"{name} must have shape (k, 2) (low, high per parameter), got {b.shape}")
    if not np.all(np.isfinite(b)) or np.any(b[:, 0] >= b[:, 1]):
        raise ValueError(f"{name} must be finite with low < high for every parameter")
    return b


@dataclass
class EmceeResult(ChainSummary):
    """Draws of :func:`run_emcee` after burn-in.

    samples (walkers, draws, params), the layout of :attr:`HMCResult.samples` with walkers as
    chains (walkers of one ensemble are not independent chains: read R-hat across them as a rough
    check only); acceptance_fraction per walker; autocorr_time per parameter (emcee's integrated
    autocorrelation time of the kept steps, ``quiet=True``: a warning, not an error, when the run is
    shorter than 50 autocorrelation times); log_prob (walkers, draws); sampler: the
    ``emcee.EnsembleSampler`` itself (None after :meth:`load`), e.g. for ``get_chain(thin=...)``
    or its HDF5 backend. Unpacks as ``samples, acceptance_fraction`` (the tuple returned before).
    """

    samples: np.ndarray
    acceptance_fraction: np.ndarray
    autocorr_time: np.ndarray
    log_prob: np.ndarray = None
    n_evals: int = 0
    n_burn: int = 0
    names: tuple = None
    sampler: object = field(default=None, repr=False)

    def __iter__(self):
        return iter((self.samples, self.acceptance_fraction))

    def to_inference_data(self, names=None):
        """ArviZ object with walkers as chains: posterior and sample_stats (lp). Needs arviz."""
        from .hmc import _to_inference_data

        return _to_inference_data(self.samples, names or self.names, {"lp": self.log_prob})

    def save(self, path, overwrite=False):
        """Write to ``.npz`` or ``.nc`` (netCDF through arviz); no silent overwrite."""
        from .hmc import _check_out, _to_netcdf

        path = _check_out(path, overwrite)
        if path.suffix == ".nc":
            _to_netcdf(self.to_inference_data(), path)
            return path
        extra = {} if self.log_prob is None else {"log_prob": self.log_prob}
        np.savez(path, samples=self.samples, acceptance_fraction=self.acceptance_fraction,
                 autocorr_time=self.autocorr_time, n_evals=np.int64(self.n_evals), n_burn=np.int64(self.n_burn),
                 names=np.array(self.names if self.names else [], dtype=str), **extra)
        return path

    @classmethod
    def load(cls, path):
        """Read an EmceeResult written by ``save`` (.npz)."""
        from .hmc import _open_npz

        with _open_npz(path) as z:
            return cls(z["samples"], z["acceptance_fraction"], z["autocorr_time"],
                       z["log_prob"] if "log_prob" in z.files else None, int(z["n_evals"]), int(z["n_burn"]),
                       tuple(str(s) for s in z["names"]) or None)


def run_emcee(log_prob, bounds, n_walkers=16, n_steps=2000, n_burn=500, seed=None, progress=False, backend=None,
              names=None):
    """Sample ``log_prob`` with emcee, walkers started uniformly in the prior box.

    Parameters
    ----------
    log_prob : callable
        theta (k,) -> log density (-inf outside the support).
    bounds : array_like (k, 2)
        Box the walkers start in (5%-95% of each side).
    n_walkers, n_steps, n_burn : int
        Ensemble size, steps, and leading steps discarded.
    seed : int, optional
        Reproducible starting points and moves.
    backend : str or Path, optional
        An HDF5 file for emcee's ``HDFBackend`` (needs h5py): the chain is written as it runs, for
        long runs. An existing file is refused (no silent overwrite).

    Returns
    -------
    EmceeResult
        Unpacks as ``(samples, acceptance_fraction)``.
    """
    import emcee

    if not callable(log_prob):
        raise TypeError(f"log_prob must be callable, got {type(log_prob).__name__}")
    bounds = check_bounds(bounds)
    k = bounds.shape[0]
    if n_walkers < 2 * k:
        raise ValueError(f"n_walkers must be at least 2 * n_params = {2 * k}")
    if not 0 <= n_burn < n_steps:
        raise ValueError("n_burn must lie in [0, n_steps)")
    be = None
    if backend is not None:
        backend = Path(backend)
        if backend.exists():
            raise FileExistsError(f"backend: {backend} exists (emcee would append to or reset it); choose a new file")
        be = emcee.backends.HDFBackend(str(backend))
        be.reset(n_walkers, k)
    rng = np.random.default_rng(seed)
    p0 = bounds[:, 0] + (bounds[:, 1] - bounds[:, 0]) * rng.uniform(0.05, 0.95, (n_walkers, k))
    calls = [0]

    def counted(theta):
        calls[0] += 1
        return log_prob(theta)

    sampler = emcee.EnsembleSampler(n_walkers, k, counted, backend=be)
    sampler.random_state = np.random.RandomState(rng.integers(2**32)).get_state()
    with single_threaded_blas():   # one-point model calls: BLAS threads only contend
        sampler.run_mcmc(p0, n_steps, progress=progress)
    chain = sampler.get_chain(discard=n_burn)          # (steps, walkers, k)
    tau = sampler.get_autocorr_time(discard=n_burn, quiet=True)
    return EmceeResult(np.ascontiguousarray(np.swapaxes(chain, 0, 1)), sampler.acceptance_fraction,
                       np.asarray(tau, dtype=float), np.swapaxes(sampler.get_log_prob(discard=n_burn), 0, 1),
                       calls[0], int(n_burn), None if names is None else tuple(names), sampler)
