"""Training sets for an IA surrogate (paper Algorithm 3, steps 1-2).

Alignment strengths (mu_cen, mu_sat) are drawn on [-1, 1]^2 by Latin hypercube; for each, the
forward model (:mod:`cosmocorr.ia.mock`) populates one fixed halo catalogue several times
(realisations differ only in the galaxy draws, as HOD realisations on one N-body box do) and
xi, omega and eta are measured in the periodic box.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from scipy.stats import qmc

from .._parallel import resolve_client, scatter, task_map
from .._progress import progress_bar
from .._validate import check_positive_int, check_seed
from .estimators import DEFAULT_RBINS
from .hod import HODParams
from .mock import populate, simulate_halos

__all__ = ["IATrainingSet", "simulate_training_set", "CORRELATIONS"]

CORRELATIONS = ("xi", "omega", "eta")


@dataclass
class IATrainingSet:
    """Simulated correlations over alignment strengths.

    Attributes
    ----------
    inputs : (n_points, 2) mu_cen, mu_sat.
    outputs : (n_points, n_realisations, 3, nbins) xi, omega, eta per realisation.
    rbins : bin edges; ``meanr`` the mean pair separation per bin over all simulations.
    n_galaxies : (n_points, n_realisations) catalogue sizes.
    hod : the fixed occupation parameters; ``seconds`` the wall time of the simulations.
    """

    inputs: np.ndarray
    outputs: np.ndarray
    rbins: np.ndarray
    meanr: np.ndarray
    n_galaxies: np.ndarray
    hod: HODParams
    seconds: float

    @property
    def n_simulations(self):
        """Number of simulations (parameter sets x realisations)."""
        return self.outputs.shape[0] * self.outputs.shape[1]

    @property
    def rate(self):
        """Simulations (populate + measure) per minute."""
        return 60.0 * self.n_simulations / self.seconds

    def valid_bins(self):
        """Indices of radial bins with a finite value in every simulation and correlation
        (the smallest bins can hold no pair in a small box)."""
        return np.flatnonzero(np.all(np.isfinite(self.outputs), axis=(0, 1, 2)))

    def rows(self, bins=None):
        """One row per realisation: X (n_points * n_real, 2), Y (n_points * n_real, 3 * len(bins))."""
        bins = self.valid_bins() if bins is None else np.asarray(bins)
        n_pts, n_real = self.outputs.shape[:2]
        x = np.repeat(self.inputs, n_real, axis=0)
        y = self.outputs[..., bins].reshape(n_pts * n_real, -1)
        return x, y


def simulate_training_set(hod, n_points=64, n_realisations=4, rbins=DEFAULT_RBINS, box_size=100.0, halos=None,
                          seed=None, progress=False, client=None, num_threads=None):
    """Simulate xi, omega, eta over (mu_cen, mu_sat) for fixed occupation parameters ``hod``.

    Parameters
    ----------
    hod : HODParams
    n_points : int
        Latin-hypercube points on [-1, 1]^2.
    n_realisations : int
        Galaxy realisations per point (their scatter is the aleatoric noise the surrogate learns).
    rbins : array_like
        Radial bin edges (Mpc/h).
    box_size : float
        Periodic box length (Mpc/h); ignored when ``halos`` is given.
    halos : HaloCatalog, optional
        Fixed halo catalogue; drawn from ``seed`` otherwise.
    client : dask.distributed.Client, optional
        Run the n_points x n_realisations simulations as tasks on a Dask cluster (the halo
        catalogue scattered once). Default: :func:`cosmocorr.set_executor` /
        ``COSMOCORR_SCHEDULER``, else local threads (``False`` forces them). Each simulation
        draws its galaxies from its own seed (``SeedSequence.spawn`` of ``seed``, in simulation
        order), so the result does not depend on where or in which order simulations run.
    num_threads : int, optional
        Local threads (default: all cores).
    """
    if not isinstance(hod, HODParams):
        raise TypeError(f"hod must be an HODParams, got {type(hod).__name__}")
    n_points = check_positive_int(n_points, "n_points", minimum=2)
    n_realisations = check_positive_int(n_realisations, "n_realisations")
    rng = np.random.default_rng(check_seed(seed))
    if halos is None:
        halos = simulate_halos(box_size, seed=rng)
    inputs = 2.0 * qmc.LatinHypercube(d=2, seed=rng).random(n_points) - 1.0
    rbins = np.asarray(rbins, dtype=float)
    nb = rbins.size - 1
    outputs = np.empty((n_points, n_realisations, 3, nb))
    meanr = np.zeros(nb)
    weight = np.zeros(nb)
    n_gal = np.zeros((n_points, n_realisations), dtype=int)
    t0 = time.perf_counter()
    n_sim = n_points * n_realisations
    seeds = np.random.SeedSequence(int(rng.integers(2**63))).spawn(n_sim)
    client = resolve_client(client)
    shared = scatter(client, (halos, hod, rbins))
    tasks = [(shared, inputs[k // n_realisations], seeds[k]) for k in range(n_sim)]
    with progress_bar(n_sim, "simulating training set", progress) as bar:
        sims = task_map(_simulate_one, tasks, client=client, num_threads=num_threads, progress=bar)
    for k, (stack, n_k, c_meanr, c_weight) in enumerate(sims):
        p, r = divmod(k, n_realisations)
        outputs[p, r] = stack
        n_gal[p, r] = n_k
        meanr += np.nan_to_num(c_meanr) * c_weight
        weight += c_weight
    with np.errstate(invalid="ignore", divide="ignore"):
        meanr = np.where(weight > 0, meanr / np.where(weight > 0, weight, 1), np.nan)
    return IATrainingSet(inputs, outputs, rbins, meanr, n_gal, hod, time.perf_counter() - t0)


def _simulate_one(shared, mu, seed):
    """One training simulation: populate the halos at (mu_cen, mu_sat) = ``mu`` from ``seed`` and
    measure xi, omega, eta. Returns (stacked correlations, n_galaxies, meanr, weight)."""
    halos, hod, rbins = shared
    gal = populate(halos, hod, *mu, seed=np.random.default_rng(seed))
    c = gal.correlations(rbins)
    return c.stack(), len(gal), c.meanr, c.weight
