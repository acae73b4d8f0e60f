"""The probabilistic estimator: paper Algorithm 1, repeated over sampled assignments.

1. k-means++ centres, 2. fuzzy c-means centres v and memberships U (fitted once),
3. assign each object to a cluster, M_i ~ Categorical(U_i) (eq. 19) — or greedily by argmax,
4. one new object per non-empty cluster, at its centre, carrying the (weighted) average of its
   members' quantities and the sum of their weights,
5.-9. the usual hard-binned pair estimator between the cluster objects.

Steps 3-9 are repeated ``n_samples`` times; the spread of the results is the epistemic
(clustering) uncertainty (sec. 2.3). Results keep the naive result's attributes (``xip`` etc.
are the means over samples) and add the per-sample values and their standard deviation.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from .._progress import progress_range
from .._validate import check_choice, check_positive_int
from ..clustering import FuzzyCMeansResult, cluster_objects, fit_clusters, greedy_assignments, sample_assignments
from ..estimators import RHO_FIELDS, LandySzalayResult, RhoResult, ShearShearResult, naive_pair_sums, rho_pair_sums

__all__ = [
    "assign", "ClusteredShearShearResult", "ClusteredLandySzalayResult",
    "clustered_shear_shear", "clustered_landy_szalay", "clustered_rho_statistics", "rho_draws",
]

ASSIGNMENTS = ("sample", "greedy")


def assign(U, assignment, rng, n_samples):
    """Assignments (n_draws, N): sampled (eq. 19) or the single greedy (argmax) one."""
    check_choice(assignment, "assignment", ASSIGNMENTS)
    if assignment == "greedy":
        return greedy_assignments(U)[None, :]
    return sample_assignments(U, rng, n_samples)


def _setup(n_samples, assignment, seed):
    check_choice(assignment, "assignment", ASSIGNMENTS)
    n_samples = check_positive_int(n_samples, "n_samples")
    rng = np.random.default_rng(seed)
    # the clustering and the sampling get independent streams from the one seed
    fit_seed, sample_rng = rng.integers(2**63), np.random.default_rng(rng.integers(2**63))
    return n_samples, fit_seed, sample_rng


def _std(samples):
    return np.std(samples, axis=0, ddof=1) if samples.shape[0] > 1 else np.zeros(samples.shape[1:])


def _stack(results, names):
    return {k: np.array([getattr(r, k) for r in results]) for k in names}


@dataclass
class ClusteredShearShearResult(ShearShearResult):
    """:class:`ShearShearResult` of Algorithm 1: averaged attributes plus per-sample values.

    ``xip``, ``xim``, ``meanr``, ``npairs``, ``weight`` are NaN-aware means over the samples
    (a bin empty in every sample stays NaN). ``xip_samples``/``xim_samples`` are (n_samples, nbins);
    ``xip_std``/``xim_std`` their standard deviation (ddof=1): the epistemic uncertainty.
    """

    xip_samples: np.ndarray = None
    xim_samples: np.ndarray = None
    xip_std: np.ndarray = None
    xim_std: np.ndarray = None
    clustering: FuzzyCMeansResult = field(default=None, repr=False)
    assignment: str = "sample"

    @property
    def centers(self):
        return self.clustering.centers

    @property
    def membership(self):
        return self.clustering.membership


def _nanmean(a):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN bins stay NaN
        return np.nanmean(a, axis=0)


def _combine_shear(bins, per_sample, clustering, assignment):
    s = _stack(per_sample, ("meanr", "xip", "xim", "xip_im", "xim_im", "npairs", "weight"))
    return ClusteredShearShearResult(
        bins=bins, meanr=_nanmean(s["meanr"]), xip=_nanmean(s["xip"]), xim=_nanmean(s["xim"]),
        xip_im=_nanmean(s["xip_im"]), xim_im=_nanmean(s["xim_im"]), npairs=s["npairs"].mean(0),
        weight=s["weight"].mean(0), xip_samples=s["xip"], xim_samples=s["xim"], xip_std=_std(s["xip"]),
        xim_std=_std(s["xim"]), clustering=clustering, assignment=assignment,
    )


def clustered_shear_shear(cat1, cat2, bins, n_clusters, assignment="sample", n_samples=10, seed=None,
                          fuzziness=2.0, backend=None, progress=False, clustering=None, clustering2=None):
    """xi+/xi- by Algorithm 1 (see :func:`cosmocorr.shear_shear` with ``n_clusters``).

    ``cat2`` (cross-correlation) is clustered on its own. ``clustering``/``clustering2`` pass
    precomputed :class:`FuzzyCMeansResult` objects instead of fitting.
    """
    n_samples, fit_seed, rng = _setup(n_samples, assignment, seed)
    fit1 = fit_clusters(cat1, n_clusters, fuzziness, fit_seed, clustering)
    a1 = assign(fit1.membership, assignment, rng, n_samples)
    if cat2 is not None:
        fit2 = fit_clusters(cat2, n_clusters, fuzziness, fit_seed + 1, clustering2)
        a2 = assign(fit2.membership, assignment, rng, n_samples)
    results = []
    for s in progress_range(a1.shape[0], desc="Algorithm 1 samples", progress=progress):
        c1, f1 = cluster_objects(fit1.centers, a1[s], cat1.w, {"g": cat1.g})
        if cat2 is None:
            sums = naive_pair_sums(c1, None, bins, backend=backend, g1=f1["g"], g2=f1["g"])
        else:
            c2, f2 = cluster_objects(fit2.centers, a2[s], cat2.w, {"g": cat2.g})
            sums = naive_pair_sums(c1, c2, bins, backend=backend, g1=f1["g"], g2=f2["g"])
        results.append(ShearShearResult.from_sums(bins, sums))
    return _combine_shear(bins, results, fit1, assignment)


@dataclass
class ClusteredLandySzalayResult(LandySzalayResult):
    """:class:`LandySzalayResult` of Algorithm 1: ``xi`` is the NaN-aware mean over samples;
    ``xi_samples`` (n_samples, nbins) and ``xi_std`` (epistemic) are added."""

    xi_samples: np.ndarray = None
    xi_std: np.ndarray = None
    clustering: FuzzyCMeansResult = field(default=None, repr=False)
    random_clustering: FuzzyCMeansResult = field(default=None, repr=False)


def clustered_landy_szalay(data, randoms, bins, n_clusters, assignment="sample", n_samples=10, seed=None,
                           fuzziness=2.0, backend=None, progress=False, clustering=None, random_clustering=None):
    """Landy-Szalay omega(theta) by Algorithm 1: data and randoms each clustered into
    ``n_clusters`` (fitted once), cluster objects weighted by their members' total weight."""
    n_samples, fit_seed, rng = _setup(n_samples, assignment, seed)
    fd = fit_clusters(data, n_clusters, fuzziness, fit_seed, clustering)
    fr = fit_clusters(randoms, n_clusters, fuzziness, fit_seed + 1, random_clustering)
    ad = assign(fd.membership, assignment, rng, n_samples)
    ar = assign(fr.membership, assignment, rng, n_samples)
    results = []
    for s in progress_range(ad.shape[0], desc="Algorithm 1 samples", progress=progress):
        cd, _ = cluster_objects(fd.centers, ad[s], data.w)
        cr, _ = cluster_objects(fr.centers, ar[s], randoms.w)
        dd = naive_pair_sums(cd, None, bins, shear=False, backend=backend)
        rr = naive_pair_sums(cr, None, bins, shear=False, backend=backend)
        dr = naive_pair_sums(cd, cr, bins, shear=False, backend=backend)
        results.append(LandySzalayResult.from_sums(bins, dd, dr, rr, data.sumw, randoms.sumw))
    s = _stack(results, ("xi", "meanr", "dd", "dr", "rr", "dd_npairs", "dr_npairs", "rr_npairs"))
    r0 = results[0]
    return ClusteredLandySzalayResult(
        bins=bins, xi=_nanmean(s["xi"]), meanr=_nanmean(s["meanr"]), dd=s["dd"].mean(0), dr=s["dr"].mean(0),
        rr=s["rr"].mean(0), dd_npairs=s["dd_npairs"].mean(0), dr_npairs=s["dr_npairs"].mean(0),
        rr_npairs=s["rr_npairs"].mean(0), dd_tot=r0.dd_tot, dr_tot=r0.dr_tot, rr_tot=r0.rr_tot,
        xi_samples=s["xi"], xi_std=_std(s["xi"]), clustering=fd, random_clustering=fr,
    )


def rho_draws(stars, bins, fit, assignments, backend=None, progress=False, desc="Algorithm 1 samples"):
    """rho1..rho5 (dict name -> list of ShearShearResult) for each row of ``assignments``."""
    fields = stars.fields()
    out = {name: [] for name in RHO_FIELDS}
    for s in progress_range(assignments.shape[0], desc=desc, progress=progress):
        cat, f = cluster_objects(fit.centers, assignments[s], stars.w, fields)
        for name, sums in rho_pair_sums(stars, bins, backend=backend, catalog=cat, fields=f).items():
            out[name].append(ShearShearResult.from_sums(bins, sums))
    return out


def clustered_rho_statistics(stars, bins, n_clusters, assignment="sample", n_samples=10, seed=None,
                             fuzziness=2.0, backend=None, progress=False, clustering=None):
    """rho1..rho5 by Algorithm 1 (see :func:`cosmocorr.rho_statistics` with ``n_clusters``).

    The stars are clustered once; each draw averages e, delta e and e dT/T within clusters.
    Returns a :class:`~cosmocorr.estimators.RhoResult` whose entries are
    :class:`ClusteredShearShearResult` (``xip_samples``, ``xip_std``, ...).
    """
    n_samples, fit_seed, rng = _setup(n_samples, assignment, seed)
    fit = fit_clusters(stars.catalog, n_clusters, fuzziness, fit_seed, clustering)
    draws = rho_draws(stars, bins, fit, assign(fit.membership, assignment, rng, n_samples), backend, progress)
    rho = {name: _combine_shear(bins, res, fit, assignment) for name, res in draws.items()}
    return RhoResult(bins, rho, extra={"clustering": fit, "assignment": assignment})


