"""A surrogate of the toy IA forward model and its posterior (paper Algorithm 3, steps 3-6).

A small deep ensemble of mean-and-variance MLPs (:class:`cosmocorr.surrogate.MLPSurrogate`),
each trained with the 70/10/20 split on one row per realisation, so the variance head learns the
realisation scatter (aleatoric sigma) and the spread of the members' means is the epistemic
sigma (the ensemble plays the role of IAEmu's Monte Carlo dropout). The posterior over
(mu_cen, mu_sat) is the paper's: uniform priors on [-1, 1]^2 and a zero-mean Gaussian likelihood
whose covariance is the surrogate's aleatoric variance.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._parallel import resolve_client, scatter, task_map
from .._progress import progress_bar
from .._validate import check_choice, check_positive_int, check_seed
from .._warnings import emit_warning as warn
from ..surrogate.mlp import MLPSurrogate
from ..surrogate.posterior import GaussianSurrogatePosterior
from .training import CORRELATIONS, IATrainingSet

__all__ = ["IASurrogate"]


@dataclass
class IASurrogate:
    """Ensemble surrogate (mu_cen, mu_sat) -> xi, omega, eta on the training set's valid bins.

    Attributes
    ----------
    members : list of MLPSurrogate
    bins : indices of the radial bins modelled (the training set's valid bins)
    rbins, meanr : the training set's bin edges and mean separations
    """

    members: list
    bins: np.ndarray
    rbins: np.ndarray
    meanr: np.ndarray

    @classmethod
    def fit(cls, training_set, n_members=3, hidden=(64, 64), epochs=1500, batch_size=64, learning_rate=2e-3,
            patience=100, seed=None, progress=False, client=None, num_threads=None):
        """Train ``n_members`` MLPs on ``training_set`` (an :class:`IATrainingSet`).

        The members are independent tasks: on a Dask cluster with ``client=`` (default:
        :func:`cosmocorr.set_executor` / ``COSMOCORR_SCHEDULER``), else in ``num_threads`` local
        threads; each member's seed is fixed by its index, so the ensemble is the same anywhere."""
        if not isinstance(training_set, IATrainingSet):
            raise TypeError(f"training_set must be an IATrainingSet, got {type(training_set).__name__}")
        n_members = check_positive_int(n_members, "n_members")
        if n_members == 1:
            warn("n_members=1: a single ensemble member has no spread, so the epistemic sigma of "
                 "predict() is NaN, not 0; use n_members >= 2 for an uncertainty")
        seed = check_seed(seed)
        bins = training_set.valid_bins()
        if bins.size == 0:
            raise ValueError("training_set: no radial bin is finite in every simulation; use a larger box or bins")
        x, y = training_set.rows(bins)
        seeds = np.random.default_rng(seed).integers(2**63, size=n_members)
        options = dict(hidden=hidden, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
                       patience=patience)
        client = resolve_client(client)
        shared = scatter(client, (x, y, options))
        with progress_bar(n_members, "training ensemble", progress) as bar:
            members = task_map(_fit_member, [(shared, int(s)) for s in seeds], client=client,
                               num_threads=num_threads, progress=bar)
        return cls(members, bins, training_set.rbins, training_set.meanr[bins])

    @property
    def nbins(self):
        """Number of radial bins."""
        return self.bins.size

    def predict(self, theta):
        """mean, aleatoric sigma, epistemic sigma, each (n, 3, nbins) at theta (n, 2) or (2,).

        The epistemic sigma is the spread of the members' means; with a single member it is NaN
        (unknown), never 0."""
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        if theta.shape[1] != 2:
            raise ValueError(f"theta must have 2 columns (mu_cen, mu_sat), got shape {theta.shape}")
        preds = [m.predict(theta) for m in self.members]
        means = np.stack([p[0] for p in preds])
        var = np.mean([p[1] ** 2 for p in preds], axis=0)
        shape = (theta.shape[0], 3, self.nbins)
        epi = means.std(axis=0) if len(self.members) > 1 else np.full_like(var, np.nan)
        return means.mean(axis=0).reshape(shape), np.sqrt(var).reshape(shape), epi.reshape(shape)

    def _mean_var_jac(self, theta, columns):
        """Ensemble mean and aleatoric variance at one theta, with their Jacobians (m, 2)."""
        mean = var = dmean = dvar = 0.0
        for m in self.members:
            mu, sd = m.predict(theta)
            dmu, dsd = m.jacobian(theta)
            mu, sd, dmu, dsd = mu[0, columns], sd[0, columns], dmu[0, columns], dsd[0, columns]
            mean, var = mean + mu, var + sd * sd
            dmean, dvar = dmean + dmu, dvar + 2 * sd[:, None] * dsd
        k = len(self.members)
        return mean / k, var / k, dmean / k, dvar / k

    def posterior(self, correlation="omega", target=None, bounds=((-1.0, 1.0), (-1.0, 1.0))):
        """The paper's posterior over (mu_cen, mu_sat): uniform prior in ``bounds`` and
        N(target | surrogate mean, aleatoric variance) for ``correlation`` (target zero by default)."""
        check_choice(correlation, "correlation", CORRELATIONS)
        j = CORRELATIONS.index(correlation)
        columns = np.arange(j * self.nbins, (j + 1) * self.nbins)
        return GaussianSurrogatePosterior(lambda th: self._mean_var_jac(th, columns), bounds, target=target)


def _fit_member(shared, seed):
    """One ensemble member (a task): an :class:`MLPSurrogate` trained with its own seed."""
    x, y, options = shared
    return MLPSurrogate.fit(x, y, seed=seed, **options)
