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

from .._progress import progress_iter
from .._validate import check_choice, check_positive_int
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
            patience=100, seed=None, progress=False):
        """Train ``n_members`` MLPs on ``training_set`` (an :class:`IATrainingSet`)."""
        if not isinstance(training_set, IATrainingSet):
            raise TypeError(f"training_set must be an IATrainingSet, got {type(training_set).__name__}")
        n_members = check_positive_int(n_members, "n_members")
        bins = training_set.valid_bins()
        if bins.size == 0:
            raise ValueError("training_set: no radial bin is finite in every simulation; use a larger box or bins")
        x, y = training_set.rows(bins)
        seeds = np.random.default_rng(seed).integers(2**63, size=n_members)
        members = [MLPSurrogate.fit(x, y, hidden=hidden, epochs=epochs, batch_size=batch_size,
                                    learning_rate=learning_rate, patience=patience, seed=int(s))
                   for s in progress_iter(seeds, total=n_members, desc="training ensemble", progress=progress)]
        return cls(members, bins, training_set.rbins, training_set.meanr[bins])

    @property
    def nbins(self):
        return self.bins.size

    def predict(self, theta):
        """mean, aleatoric sigma, epistemic sigma, each (n, 3, nbins) at theta (n, 2) or (2,)."""
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        if theta.shape[1] != 2:
            raise ValueError(f"theta must have 2 columns (mu_cen, mu_sat), got shape {theta.shape}")
        preds = [m.predict(theta) for m in self.members]
        means = np.stack([p[0] for p in preds])
        var = np.mean([p[1] ** 2 for p in preds], axis=0)
        shape = (theta.shape[0], 3, self.nbins)
        epi = means.std(axis=0) if len(self.members) > 1 else np.zeros_like(var)
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
