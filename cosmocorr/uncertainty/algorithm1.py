"""The probabilistic estimator: paper Algorithm 1, repeated over sampled assignments.

1. k-means++ centres;
2. fuzzy c-means centres v and memberships U (fitted once);
3. assign each object to a cluster, M_i ~ Categorical(U_i) (eq. 19) — or greedily by argmax;
4. one new object per non-empty cluster, at its centre, carrying the (weighted) average of its
   members' quantities and the sum of their weights;
5. (to 9.) the usual hard-binned pair estimator between the cluster objects.

Steps 3-9 are repeated ``n_samples`` times; the spread of the results is the epistemic
(clustering) uncertainty (sec. 2.3). Results keep the naive result's attributes (``xip`` etc.
are the means over samples) and add the per-sample values and their standard deviation.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from .._parallel import resolve_client, scatter, task_map
from .._progress import progress_bar, progress_range
from .._validate import check_choice, check_positive_int, check_seed
from .._warnings import emit_warning as warn
from ..clustering import (FuzzyCMeansResult, cluster_objects, fit_clusters, fuzzy_c_means, greedy_assignments,
                          sample_assignments)
from ..clustering.reduction import CLUSTER_WEIGHTS
from ..estimators import RHO_FIELDS, LandySzalayResult, RhoResult, ShearShearResult, naive_pair_sums, rho_pair_sums
from ..estimators.field_correlations import (CountScalarResult, CountShearResult, ScalarScalarResult,
                                             ScalarShearResult, field_of, var_num_of)
from ..estimators.pair_sums import field_pair_sums, field_variance
from ..sky.catalog import concatenate_catalogs

__all__ = [
    "assign", "ClusteredShearShearResult", "ClusteredLandySzalayResult",
    "clustered_shear_shear", "clustered_landy_szalay", "clustered_rho_statistics", "rho_draws",
    "CLUSTER_OPTIONS", "fit_catalog", "clustered_field_correlation", "ClusteredCountShearResult",
    "ClusteredCountScalarResult", "ClusteredScalarScalarResult", "ClusteredScalarShearResult",
]

#: fuzzy c-means settings every clustered estimator passes through (:func:`cosmocorr.fuzzy_c_means`)
CLUSTER_OPTIONS = {"fuzziness": 2.0, "tol": 1e-6, "max_iter": 300, "accelerate": False, "init": None,
                   "weight_factor": 0.0, "coarse_to_fine": None}


def fit_catalog(cat, n_clusters, seed, clustering=None, backend=None, **options):
    """Algorithm 1 steps 1-2 on a catalog: fuzzy c-means with the given options (weights = the
    catalog's), or a precomputed :class:`FuzzyCMeansResult` checked against the catalog.
    A fit that stops at ``max_iter`` warns (:class:`cosmocorr.ConvergenceWarning`); callers record
    ``converged`` on their result."""
    opts = {**CLUSTER_OPTIONS, **options}
    if clustering is not None:
        return fit_clusters(cat, n_clusters, opts["fuzziness"], seed, clustering)
    return fuzzy_c_means(cat.ra, cat.dec, n_clusters, seed=seed, weights=cat.w, backend=backend, **opts)

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
    if assignment == "sample" and n_samples == 1:
        warn("n_samples=1: one sampled assignment has no spread, so the epistemic std (xip_std, xi_std) "
             "is NaN, not 0; use n_samples >= 2 for an uncertainty", stacklevel=4)
    rng = np.random.default_rng(check_seed(seed))
    # the clustering and the sampling get independent streams from the one seed
    fit_seed, sample_rng = rng.integers(2**63), np.random.default_rng(rng.integers(2**63))
    return n_samples, fit_seed, sample_rng


def _std(samples):
    """Standard deviation over the first axis (ddof=1); NaN with fewer than two samples (a single
    draw, or the one greedy assignment, carries no spread: its uncertainty is unknown, not 0)."""
    if samples.shape[0] < 2:
        return np.full(samples.shape[1:], np.nan)
    return np.std(samples, axis=0, ddof=1)


def _stack(results, names):
    return {k: np.array([getattr(r, k) for r in results]) for k in names}


@dataclass
class ClusteredShearShearResult(ShearShearResult):
    """:class:`ShearShearResult` of Algorithm 1: averaged attributes plus per-sample values.

    ``xip``, ``xim``, ``meanr``, ``npairs``, ``weight`` are NaN-aware means over the samples
    (a bin empty in every sample stays NaN). ``xip_samples``/``xim_samples`` are (n_samples, nbins);
    ``xip_std``/``xim_std`` their standard deviation (ddof=1): the epistemic uncertainty. With a
    single draw (``n_samples=1``, which warns, or ``assignment="greedy"``) there is no spread and
    the std is NaN, never 0. ``meanlogr``, ``varxip``, ``varxim`` are the means over samples of the
    cluster objects' values, the variances being the shot noise of the original objects' fields
    (``2 varg1 varg2 / weight``); ``cov`` their diagonal. ``converged`` records whether the fuzzy
    c-means fit converged (a :class:`cosmocorr.ConvergenceWarning` was emitted otherwise);
    ``cluster_weights`` how the cluster objects were weighted (``"members"`` or ``"equal"``).
    """

    xip_samples: np.ndarray = None
    xim_samples: np.ndarray = None
    xip_std: np.ndarray = None
    xim_std: np.ndarray = None
    clustering: FuzzyCMeansResult = field(default=None, repr=False)
    assignment: str = "sample"
    converged: bool = True
    cluster_weights: str = "members"

    @property
    def centers(self):
        """Cluster centres (c, 2), degrees, of the fit used."""
        return self.clustering.centers

    @property
    def membership(self):
        """Memberships U (N, c) of the fit used."""
        return self.clustering.membership


def _nanmean(a):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN bins stay NaN
        return np.nanmean(a, axis=0)


def _combine_shear(bins, per_sample, clustering, assignment, converged=None, cluster_weights="members"):
    s = _stack(per_sample, ("meanr", "meanlogr", "xip", "xim", "xip_im", "xim_im", "npairs", "weight", "varxip",
                            "varxim"))
    varxip, varxim = _nanmean(s["varxip"]), _nanmean(s["varxim"])
    r0 = per_sample[0]
    return ClusteredShearShearResult(
        bins=bins, meanr=_nanmean(s["meanr"]), xip=_nanmean(s["xip"]), xim=_nanmean(s["xim"]),
        xip_im=_nanmean(s["xip_im"]), xim_im=_nanmean(s["xim_im"]), npairs=s["npairs"].mean(0),
        weight=s["weight"].mean(0), meanlogr=_nanmean(s["meanlogr"]), varxip=varxip, varxim=varxim,
        cov=None, var_method="shot", varg1=r0.varg1, varg2=r0.varg2,
        xip_samples=s["xip"], xim_samples=s["xim"], xip_std=_std(s["xip"]),
        xim_std=_std(s["xim"]), clustering=clustering, assignment=assignment,
        converged=bool(clustering.converged if converged is None else converged), cluster_weights=cluster_weights,
    )


def clustered_shear_shear(cat1, cat2, bins, n_clusters, assignment="sample", n_samples=10, seed=None,
                          fuzziness=2.0, backend=None, progress=False, clustering=None, clustering2=None,
                          tol=1e-6, max_iter=300, accelerate=False, init=None, weight_factor=0.0, coarse_to_fine=None,
                          cluster_weights="members"):
    """xi+/xi- by Algorithm 1 (see :func:`cosmocorr.shear_shear` with ``n_clusters``).

    ``cat2`` (cross-correlation) is clustered on its own. ``clustering``/``clustering2`` pass
    precomputed :class:`FuzzyCMeansResult` objects instead of fitting. ``fuzziness``, ``tol``,
    ``max_iter``, ``accelerate``, ``init``, ``weight_factor``, ``coarse_to_fine`` go to
    :func:`cosmocorr.fuzzy_c_means`. ``cluster_weights`` (``"members"`` or ``"equal"``) weights
    the cluster objects (:func:`cosmocorr.clustering.cluster_objects`).
    """
    check_choice(cluster_weights, "cluster_weights", CLUSTER_WEIGHTS)
    opts = dict(fuzziness=fuzziness, tol=tol, max_iter=max_iter, accelerate=accelerate, init=init,
                weight_factor=weight_factor, coarse_to_fine=coarse_to_fine)
    n_samples, fit_seed, rng = _setup(n_samples, assignment, seed)
    fit1 = fit_catalog(cat1, n_clusters, fit_seed, clustering, backend, **opts)
    a1 = assign(fit1.membership, assignment, rng, n_samples)
    converged = fit1.converged
    varg = {"varg1": field_variance(cat1.g, cat1.w), "varg2": field_variance(cat1.g, cat1.w)}
    if cat2 is not None:
        fit2 = fit_catalog(cat2, n_clusters, fit_seed + 1, clustering2, backend, **opts)
        a2 = assign(fit2.membership, assignment, rng, n_samples)
        converged = converged and fit2.converged
        varg["varg2"] = field_variance(cat2.g, cat2.w)
    # the draws are independent tasks (local threads, or a Dask client from client= / set_executor)
    client = resolve_client()
    shared = scatter(client, (cat1, cat2, fit1.centers, None if cat2 is None else fit2.centers, bins, backend, varg,
                              cluster_weights))
    tasks = [(shared, a1[s], None if cat2 is None else a2[s]) for s in range(a1.shape[0])]
    with progress_bar(len(tasks), "Algorithm 1 samples", progress) as bar:
        results = task_map(_shear_draw, tasks, client=client, progress=bar)
    return _combine_shear(bins, results, fit1, assignment, converged, cluster_weights)


@dataclass
class ClusteredLandySzalayResult(LandySzalayResult):
    """:class:`LandySzalayResult` of Algorithm 1: ``xi`` is the NaN-aware mean over samples;
    ``xi_samples`` (n_samples, nbins) and ``xi_std`` (epistemic) are added."""

    xi_samples: np.ndarray = None
    xi_std: np.ndarray = None
    clustering: FuzzyCMeansResult = field(default=None, repr=False)
    random_clustering: FuzzyCMeansResult = field(default=None, repr=False)
    converged: bool = True


def clustered_landy_szalay(data, randoms, bins, n_clusters, assignment="sample", n_samples=10, seed=None,
                           fuzziness=2.0, backend=None, progress=False, clustering=None, random_clustering=None,
                           tol=1e-6, max_iter=300, accelerate=False, init=None, weight_factor=0.0, coarse_to_fine=None):
    """Landy-Szalay omega(theta) by Algorithm 1: data and randoms each clustered into
    ``n_clusters`` (fitted once), cluster objects weighted by their members' total weight.
    ``meanlogr``/``varxi`` (shot noise of the cluster objects) are means over samples; the
    fuzzy c-means options pass through to :func:`cosmocorr.fuzzy_c_means` (``init`` for the data)."""
    opts = dict(fuzziness=fuzziness, tol=tol, max_iter=max_iter, accelerate=accelerate, weight_factor=weight_factor,
                coarse_to_fine=coarse_to_fine)
    n_samples, fit_seed, rng = _setup(n_samples, assignment, seed)
    fd = fit_catalog(data, n_clusters, fit_seed, clustering, backend, init=init, **opts)
    fr = fit_catalog(randoms, n_clusters, fit_seed + 1, random_clustering, backend, **opts)
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
    s = _stack(results, ("xi", "meanr", "meanlogr", "varxi", "dd", "dr", "rr", "dd_npairs", "dr_npairs",
                         "rr_npairs"))
    r0 = results[0]
    varxi = _nanmean(s["varxi"])
    return ClusteredLandySzalayResult(
        bins=bins, xi=_nanmean(s["xi"]), meanr=_nanmean(s["meanr"]), dd=s["dd"].mean(0), dr=s["dr"].mean(0),
        rr=s["rr"].mean(0), dd_npairs=s["dd_npairs"].mean(0), dr_npairs=s["dr_npairs"].mean(0),
        rr_npairs=s["rr_npairs"].mean(0), dd_tot=r0.dd_tot, dr_tot=r0.dr_tot, rr_tot=r0.rr_tot,
        meanlogr=_nanmean(s["meanlogr"]), varxi=varxi, cov=None,
        xi_samples=s["xi"], xi_std=_std(s["xi"]), clustering=fd, random_clustering=fr,
        converged=bool(fd.converged and fr.converged),
    )


def rho_draws(stars, bins, fit, assignments, backend=None, progress=False, desc="Algorithm 1 samples",
              cluster_weights="members"):
    """rho0..rho5 (dict name -> list of ShearShearResult) for each row of ``assignments``
    (cluster objects weighted as ``cluster_weights`` says, :func:`cosmocorr.clustering.cluster_objects`)."""
    fields = stars.fields()
    var = {k: field_variance(v, stars.w) for k, v in fields.items()}   # the stars' shape noise per field
    out = {name: [] for name in RHO_FIELDS}
    for s in progress_range(assignments.shape[0], desc=desc, progress=progress):
        cat, f = cluster_objects(fit.centers, assignments[s], stars.w, fields, cluster_weights=cluster_weights)
        for name, sums in rho_pair_sums(stars, bins, backend=backend, catalog=cat, fields=f).items():
            a, b = RHO_FIELDS[name]
            out[name].append(ShearShearResult.from_sums(bins, sums, varg1=var[a], varg2=var[b]))
    return out


def clustered_rho_statistics(stars, bins, n_clusters, assignment="sample", n_samples=10, seed=None,
                             fuzziness=2.0, backend=None, progress=False, clustering=None,
                             tol=1e-6, max_iter=300, accelerate=False, init=None, weight_factor=0.0, coarse_to_fine=None,
                             cluster_weights="members"):
    """rho0..rho5 by Algorithm 1 (see :func:`cosmocorr.rho_statistics` with ``n_clusters``).

    The stars are clustered once; each draw averages e, delta e and e dT/T within clusters, and
    weights each cluster object as ``cluster_weights`` says (``"members"``: its members' total
    weight; ``"equal"``: 1; :func:`cosmocorr.clustering.cluster_objects`).
    Returns a :class:`~cosmocorr.estimators.RhoResult` whose entries are
    :class:`ClusteredShearShearResult` (``xip_samples``, ``xip_std``, ...).
    """
    check_choice(cluster_weights, "cluster_weights", CLUSTER_WEIGHTS)
    n_samples, fit_seed, rng = _setup(n_samples, assignment, seed)
    fit = fit_catalog(stars.catalog, n_clusters, fit_seed, clustering, backend, fuzziness=fuzziness, tol=tol,
                      max_iter=max_iter, accelerate=accelerate, init=init, weight_factor=weight_factor,
                      coarse_to_fine=coarse_to_fine)
    draws = rho_draws(stars, bins, fit, assign(fit.membership, assignment, rng, n_samples), backend, progress,
                      cluster_weights=cluster_weights)
    rho = {name: _combine_shear(bins, res, fit, assignment, cluster_weights=cluster_weights)
           for name, res in draws.items()}
    return RhoResult(bins, rho, extra={"clustering": fit, "assignment": assignment, "converged": fit.converged,
                                       "cluster_weights": cluster_weights})




def _shear_draw(shared, a1, a2):
    """One Algorithm 1 draw of xi+/xi- (steps 4-9) for the assignments ``a1`` (and ``a2``)."""
    cat1, cat2, centers1, centers2, bins, backend, varg, cluster_weights = shared
    c1, f1 = cluster_objects(centers1, a1, cat1.w, {"g": cat1.g}, cluster_weights=cluster_weights)
    if cat2 is None:
        sums = naive_pair_sums(c1, None, bins, backend=backend, g1=f1["g"], g2=f1["g"])
    else:
        c2, f2 = cluster_objects(centers2, a2, cat2.w, {"g": cat2.g}, cluster_weights=cluster_weights)
        sums = naive_pair_sums(c1, c2, bins, backend=backend, g1=f1["g"], g2=f2["g"])
    return ShearShearResult.from_sums(bins, sums, **varg)


@dataclass
class _ClusteredFields:
    """Algorithm 1 attributes of an NG/NK/KK/KG result: per-sample values and their spread.

    ``xi``, ``xi_im``, ``meanr``, ``meanlogr``, ``varxi`` are NaN-aware means over the samples
    (``npairs``, ``weight`` plain means); ``xi_samples`` (n_samples, nbins) and ``xi_std`` (ddof=1,
    the epistemic uncertainty; NaN for a single draw) are added, likewise ``xi_im_samples`` and
    ``xi_im_std`` for NG and KG. ``varxi`` is the shot noise of the original objects' fields over
    the cluster objects' pair weights. ``clustering`` is the fit of the first catalog,
    ``clusterings`` every catalog's (first, second, randoms).
    """

    xi_samples: np.ndarray = None
    xi_std: np.ndarray = None
    xi_im_samples: np.ndarray = None
    xi_im_std: np.ndarray = None
    clustering: FuzzyCMeansResult = field(default=None, repr=False)
    clusterings: list = field(default=None, repr=False)
    assignment: str = "sample"
    converged: bool = True


@dataclass
class ClusteredCountShearResult(_ClusteredFields, CountShearResult):
    """:class:`~cosmocorr.estimators.CountShearResult` of Algorithm 1 (see ``_ClusteredFields``)."""


@dataclass
class ClusteredCountScalarResult(_ClusteredFields, CountScalarResult):
    """:class:`~cosmocorr.estimators.CountScalarResult` of Algorithm 1."""


@dataclass
class ClusteredScalarScalarResult(_ClusteredFields, ScalarScalarResult):
    """:class:`~cosmocorr.estimators.ScalarScalarResult` of Algorithm 1."""


@dataclass
class ClusteredScalarShearResult(_ClusteredFields, ScalarShearResult):
    """:class:`~cosmocorr.estimators.ScalarShearResult` of Algorithm 1."""


_CLUSTERED = {"NG": ClusteredCountShearResult, "NK": ClusteredCountScalarResult, "KK": ClusteredScalarScalarResult,
              "KG": ClusteredScalarShearResult}


def clustered_field_correlation(result_cls, cat1, cat2, bins, n_clusters, randoms=None, assignment="sample",
                                n_samples=10, seed=None, fuzziness=2.0, backend=None, progress=False, tol=1e-6,
                                max_iter=300, accelerate=False, init=None, weight_factor=0.0):
    """NG, NK, KK or KG (``result_cls``, e.g. :class:`~cosmocorr.estimators.CountShearResult`) by
    Algorithm 1.

    Every catalog (``cat1``, ``cat2`` unless an auto-correlation, ``randoms``) is clustered on its
    own (fuzzy c-means fitted once; ``init`` for ``cat1``), and each draw replaces it by one object
    per non-empty cluster at the centre (step 4): weight = the members' total weight, field = their
    weighted mean. A count (N) cluster object therefore counts its members' weight, exactly as the
    clustered Landy-Szalay's. Steps 3-9 are repeated for ``n_samples`` sampled assignments
    (eq. 19), or once greedily; the spread is the epistemic uncertainty.

    Returns
    -------
    ClusteredCountShearResult, ClusteredCountScalarResult, ClusteredScalarScalarResult or
    ClusteredScalarShearResult
    """
    letters = result_cls.letters
    opts = dict(fuzziness=fuzziness, tol=tol, max_iter=max_iter, accelerate=accelerate, weight_factor=weight_factor)
    n_samples, fit_seed, rng = _setup(n_samples, assignment, seed)
    auto = cat2 is None
    c2 = cat1 if auto else cat2
    cats = [(cat1, field_of(cat1, letters[0], "cat1"))]
    if not auto:
        cats.append((c2, field_of(c2, letters[1], "cat2")))
    if randoms is not None:
        randoms = concatenate_catalogs(randoms, "randoms")
        cats.append((randoms, np.ones(randoms.nobj)))
    fits = [fit_catalog(c, n_clusters, fit_seed + q, None, backend, **opts, **({"init": init} if q == 0 else {}))
            for q, (c, _) in enumerate(cats)]
    draws = [assign(f.membership, assignment, rng, n_samples) for f in fits]
    var_num = var_num_of(letters, cat1, c2)
    kind = "spin2" if letters[1] == "G" else "scalar"
    results = []
    for s in progress_range(draws[0].shape[0], desc="Algorithm 1 samples", progress=progress):
        red = [cluster_objects(f.centers, a[s], c.w, {"f": np.asarray(v, complex)})
               for f, a, (c, v) in zip(fits, draws, cats)]
        (r1, f1), (r2, f2) = red[0], (red[0] if auto else red[1])
        sums = field_pair_sums(r1, None if auto else r2, bins, f1["f"], f2["f"], kind, backend=backend)
        rs = None
        if randoms is not None:
            rr = red[-1][0]
            rs = field_pair_sums(rr, r2, bins, np.ones(rr.nobj), f2["f"], kind, backend=backend)
        results.append(result_cls.from_sums(bins, sums, var_num=var_num, random_sums=rs))
    st = _stack(results, ("xi", "meanr", "meanlogr", "varxi", "npairs", "weight"))
    imag = result_cls.has_imag
    xi_im = np.array([r.xi_im for r in results]) if imag else None
    varxi = _nanmean(st["varxi"])
    return _CLUSTERED[letters](
        bins=bins, meanr=_nanmean(st["meanr"]), xi=_nanmean(st["xi"]), npairs=st["npairs"].mean(0),
        weight=st["weight"].mean(0), meanlogr=_nanmean(st["meanlogr"]), xi_im=None if xi_im is None else _nanmean(xi_im),
        varxi=varxi, cov=np.diag(varxi), var_num=var_num, xi_samples=st["xi"], xi_std=_std(st["xi"]),
        xi_im_samples=xi_im, xi_im_std=None if xi_im is None else _std(xi_im), clustering=fits[0], clusterings=fits,
        assignment=assignment, converged=bool(all(f.converged for f in fits)),
    )
