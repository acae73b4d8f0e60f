"""Epistemic (clustering) versus aleatoric (data) uncertainty, paper sec. 2.3 and 5.

- sigma_epistemic: the standard deviation over ``n_samples`` sampled cluster assignments
  (Algorithm 1 with M_i ~ Categorical(U_i)), the clusters fitted once;
- sigma_aleatoric: the data uncertainty of the deterministic (greedy, argmax) clustered estimate,
  by one of four ``aleatoric`` methods over ``n_bootstrap`` resamples (m):

  ``"bootstrap"`` (default)
      N objects drawn with replacement, greedy assignment on the clustering fitted once; std
      (ddof=1). A calibrated shot-noise error for independent objects (no sample variance).
  ``"subset"``
      The paper's sec. 2.3 procedure as its text describes it: d objects removed at random
      (``n_remove``, or ``subset_fraction`` of N), the rest *re-clustered* (fuzzy c-means with the
      same settings, started from the full fit's centres unless ``warm_start=False``) and greedily
      assigned, each of the m times; the plain std of the m estimates, **unscaled**. Not a
      calibrated error: a statistic on N - d of N objects varies by only about sqrt(d / (N - d))
      of its sampling error (0.31 for 50 of 610), so this makes sigma_aleatoric too small and the
      epistemic/aleatoric ratio too large.
  ``"delete_d_jackknife"``
      The same draws as ``"subset"`` with the delete-d jackknife scaling (Shao & Wu 1989):
      sigma^2 = (N - d) / (d m) sum_i (theta_i - mean)^2. Calibrated for independent objects.
  ``"subset_block"``
      The resampling of the paper's authors' public code: two distinct random rows a, b; the
      rows before a and after b are kept (:func:`~cosmocorr.uncertainty.resampling.block_indices`),
      so a contiguous block of rows a..b of the catalog *as stored* is dropped (a < b) or the
      rows between them are duplicated (a > b); re-clustered and greedily assigned like
      ``"subset"``; the plain std, unscaled. The block size is random (a third of the rows on
      average when a < b), so the spread is not that of a fixed d; not a calibrated error either.
  ``"patch_jackknife"``
      TreeCorr's patch jackknife of the exact estimate (``var_method="jackknife"``, equal to
      TreeCorr on the same patches): leave one of K sky patches out (the catalog's patches, or
      ``npatch`` k-means patches seeded by ``seed``); sigma = sqrt(varxip). Calibrated including
      sample variance on scales smaller than a patch.

Following the paper, a correlation is reported as mu +- sigma_aleatoric +- sigma_epistemic per
bin, mu the mean over the sampled assignments. Standard deviations use ddof=1.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._parallel import resolve_client, scatter, task_map, with_executor
from .._progress import progress_bar
from .._validate import check_bool, check_choice, check_positive_int, check_real, check_seed
from ..clustering import cluster_objects, greedy_assignments, sample_assignments
from ..clustering.reduction import CLUSTER_WEIGHTS
from ..io import ResultIO
from ..estimators import CountShearResult, ShearShearResult, count_shear, naive_pair_sums, rho_statistics, shear_shear
from ..estimators.pair_sums import check_catalog, field_pair_sums
from ..sky import Bins, Catalog, StarCatalog
from .algorithm1 import _nanmean, _std, fit_catalog, rho_draws
from .resampling import block_indices, resample_indices, subset_size

__all__ = ["UncertaintyResult", "clustering_uncertainty", "ALEATORIC_METHODS"]

ALEATORIC_METHODS = ("bootstrap", "subset", "delete_d_jackknife", "patch_jackknife", "subset_block")
#: the methods that re-cluster every resample
REFIT_METHODS = ("subset", "delete_d_jackknife", "subset_block")


@dataclass
class UncertaintyResult(ResultIO):
    """Per-bin mean and both uncertainties for one or more statistics.

    Every dict is keyed by statistic name (``"rho1"``..``"rho5"`` for a StarCatalog, ``"xip"``
    for a shear Catalog, ``"gamma_t"`` for sources around ``lenses``). ``samples`` (n_samples, nbins) are the Algorithm 1 draws,
    ``bootstrap_samples`` (n_bootstrap, nbins) the greedy resamples; ``naive`` is the all-pairs
    estimate without clustering; ``mean`` is mu, the mean of ``samples``. ``method`` is the
    ``aleatoric`` method; ``bootstrap_samples`` holds its resampled estimates (the leave-one-patch-
    out estimates for ``"patch_jackknife"``) and ``aleatoric_scale`` the factor applied to their
    std ((N - d)(m - 1)/(d m) under a square root for ``"delete_d_jackknife"``; 1 otherwise).
    ``converged`` is False (and ``n_unconverged`` counts the fits) when a fuzzy c-means fit stopped
    at ``max_iter``; each such fit also emitted a :class:`cosmocorr.ConvergenceWarning`.
    ``refit_converged`` holds the flag of each re-clustering (empty unless the method re-fits),
    ``refit_n_iter`` its iterations; ``warm_start`` and ``cluster_weights`` record the settings.
    """

    bins: Bins
    meanr: np.ndarray
    mean: dict
    sigma_epistemic: dict
    sigma_aleatoric: dict
    samples: dict
    bootstrap_samples: dict
    bootstrap_mean: dict
    naive: dict
    n_clusters: int
    method: str
    clustering: object = field(default=None, repr=False)
    aleatoric_scale: float = 1.0
    n_remove: int = 0
    npatch: int = 1
    converged: bool = True
    n_unconverged: int = 0
    refit_converged: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    refit_n_iter: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    warm_start: bool = True
    cluster_weights: str = "members"

    @property
    def names(self):
        """Names of the statistics held (e.g. rho1..rho5)."""
        return list(self.mean)

    def ratio(self, name):
        """sigma_epistemic / sigma_aleatoric per bin."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.sigma_epistemic[name] / self.sigma_aleatoric[name]

    def table(self, name):
        """Rows (theta, mu, sigma_aleatoric, sigma_epistemic, naive) as a string."""
        lines = [f"{'theta':>8} {'mu':>12} {'sig_aleat':>12} {'sig_epist':>12} {'naive':>12}"]
        for k in range(self.bins.nbins):
            lines.append(f"{self.meanr[k]:8.3f} {self.mean[name][k]:12.4e} {self.sigma_aleatoric[name][k]:12.4e} "
                         f"{self.sigma_epistemic[name][k]:12.4e} {self.naive[name][k]:12.4e}")
        return "\n".join(lines)

    def plot(self, name, axes=None):
        """The paper's figure 8 layout: bootstrap (left) and sampling (right) error bars, with
        the naive no-clustering estimate overlaid; ``|value|`` on a log axis, negative values open."""
        import matplotlib.pyplot as plt

        from ..plotting import RHO_LABELS, plot_rho, sign_legend_handles

        if axes is None:
            fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True, constrained_layout=True)
        else:
            fig = axes[0].figure
        theta = np.where(np.isfinite(self.meanr), self.meanr, self.bins.rnom)
        label = RHO_LABELS.get(name, name)
        panels = ((axes[0], self.bootstrap_mean[name], self.sigma_aleatoric[name], f"{self.method} (aleatoric)"),
                  (axes[1], self.mean[name], self.sigma_epistemic[name], "sampling (epistemic)"))
        for ax, mu, sig, title in panels:
            plot_rho(ax, theta, mu, yerr=sig, label=f"{self.n_clusters} clusters", color="C0")
            plot_rho(ax, theta, self.naive[name], label="naive (no clustering)", color="k", marker="s", offset=1.03)
            ax.set_title(f"{label}: {title}")
            ax.set_xlabel(r"$\theta$ [arcmin]")
            ax.set_xlim(self.bins.min_sep, self.bins.max_sep)
        axes[0].set_ylabel(f"|{label}| (open: negative)")
        axes[0].legend(handles=axes[0].get_legend_handles_labels()[0] + sign_legend_handles(), fontsize="small")
        return fig


@with_executor
def clustering_uncertainty(data, bins, n_clusters, n_samples=10, n_bootstrap=10, method=None,
                           subset_fraction=0.2, fuzziness=2.0, seed=None, backend=None, progress=False,
                           clustering=None, *, aleatoric=None, n_remove=None, npatch=20, tol=1e-6, max_iter=1000,
                           accelerate=False, init=None, weight_factor=0.0, client=None, num_threads=None,
                           lenses=None, coarse_to_fine=None, warm_start=True, cluster_weights="members"):
    """Epistemic and aleatoric uncertainty of a clustered estimate (paper sec. 2.3, figs. 8, 14-17).

    Parameters
    ----------
    data : StarCatalog or Catalog
        Stars (rho0..rho5) or a shear catalog (xi+; with ``lenses``: the sources of gamma_t).
    bins : Bins
    n_clusters : int
    n_samples : int
        Sampled assignments for sigma_epistemic (paper: 10).
    n_bootstrap : int
        Resamples m for sigma_aleatoric (paper: 10; not used by ``"patch_jackknife"``).
    aleatoric : {"bootstrap", "subset", "delete_d_jackknife", "patch_jackknife", "subset_block"}
        How sigma_aleatoric is estimated (module docstring; default ``"bootstrap"``). Only
        ``"delete_d_jackknife"`` and ``"patch_jackknife"`` (and, without sample variance,
        ``"bootstrap"``) are calibrated errors; ``"subset"`` reproduces the paper's procedure as
        written, ``"subset_block"`` as its authors' code runs it.
    method : str, optional
        Older name of ``aleatoric`` (same values).
    n_remove : int, optional
        d, the objects removed per draw for ``"subset"`` / ``"delete_d_jackknife"`` (the paper's
        authors removed 50 of 610); default ``round(subset_fraction * N)``. A choice that removes
        no object, or leaves fewer than 2, is a ValueError (identical draws would give 0).
    subset_fraction : float
        d / N when ``n_remove`` is not given.
    npatch : int
        Patches for ``"patch_jackknife"`` when ``data`` has none (k-means, seeded by ``seed``).
    fuzziness, tol, max_iter, accelerate, init, weight_factor, coarse_to_fine :
        Fuzzy c-means settings (:func:`cosmocorr.fuzzy_c_means`), used by every fit (the fit of
        the epistemic study and each re-clustering). ``max_iter`` defaults to 1000 here, not the
        300 of :func:`cosmocorr.fuzzy_c_means`: re-clusterings of the COSMOS-Web stars took up to
        660 iterations to reach ``tol=1e-6`` (``benchmarks/bench_covariance.py``), and a
        converged fit stops early whatever the cap. A fit stopping at ``max_iter`` warns
        (:class:`cosmocorr.ConvergenceWarning`) and is recorded (``converged``, ``n_unconverged``).
        ``coarse_to_fine`` applies to the full fit, and to each re-clustering when
        ``warm_start=False``; sizes given as a list must then stay below the objects of each
        re-clustered subset (``True`` adapts to each fit's size).
    warm_start : bool
        Start each re-clustering (``"subset"``, ``"delete_d_jackknife"``, ``"subset_block"``)
        from the full fit's centres (default), not from k-means++ with the full fit's seed. Both
        iterate eqs. 17-18 on the subset to the same ``tol``; the warm start needs fewer
        iterations (median 140 against 202 for the COSMOS-Web subset re-fits,
        ``benchmarks/bench_covariance.py``), keeps cluster k of a re-fit near cluster k of the
        full fit, and keeps each re-fit in the full fit's basin of J_m, where a cold start may
        reach another local minimum and add that clustering scatter to sigma_aleatoric.
        ``False``: cold starts (k-means++ with the full fit's seed), as before this release.
    cluster_weights : {"members", "equal"}
        Weight of a cluster object in every estimate (sampled and resampled): the summed weight of
        its members (default), or 1 per cluster, each cluster pair counting the same (the paper's
        authors' code); see :func:`cosmocorr.clustering.cluster_objects`.
    seed, backend, progress :
        As elsewhere; one seed makes the whole study reproducible.
    clustering : FuzzyCMeansResult, optional
        Precomputed clustering of ``data`` (for the epistemic draws and ``"bootstrap"``); its
        ``membership`` may be sparse (``fuzzy_c_means(..., neighbours=k)``).
    client : dask.distributed.Client, optional
        Run the sampled draws and the resamples as tasks on a Dask cluster (``data`` and the
        clustering scattered once). Default: :func:`cosmocorr.set_executor` /
        ``COSMOCORR_SCHEDULER``, else local threads (``False`` forces them). Each draw and each
        resample has its own seed (``SeedSequence.spawn`` of ``seed``), so results do not depend
        on where or in which order tasks run: equal locally and on any cluster to rounding.
    num_threads : int, optional
        Local threads (default: all cores).
    lenses : Catalog, optional
        The count-shear statistic (TreeCorr's NG): gamma_t of the sources ``data`` around these
        lenses. The sources are clustered, sampled and resampled as a shear catalog is; the lenses
        enter every estimate exactly (the study is of the clustering of the shear field; cluster
        the lenses as well with ``cosmocorr.count_shear(..., n_clusters=)``). ``"patch_jackknife"``
        gives the lenses the sources' patches.

    Returns
    -------
    UncertaintyResult
    """
    if method is not None and aleatoric is not None and method != aleatoric:
        raise ValueError(f"method ({method!r}) and aleatoric ({aleatoric!r}) disagree; give only aleatoric")
    name = "aleatoric" if aleatoric is not None or method is None else "method"
    aleatoric = aleatoric if aleatoric is not None else (method if method is not None else "bootstrap")
    check_choice(aleatoric, name, ALEATORIC_METHODS)
    check_choice(cluster_weights, "cluster_weights", CLUSTER_WEIGHTS)
    warm_start = check_bool(warm_start, "warm_start")
    n_samples = check_positive_int(n_samples, "n_samples", minimum=2)
    n_bootstrap = check_positive_int(n_bootstrap, "n_bootstrap", minimum=2)
    subset_fraction = check_real(subset_fraction, "subset_fraction", low=0.0, high=1.0, low_open=True, high_open=True)
    if not isinstance(bins, Bins):
        raise TypeError(f"bins must be a cosmocorr.Bins, got {type(bins).__name__}")
    if not isinstance(data, (StarCatalog, Catalog)):
        raise TypeError(f"data must be a StarCatalog or a Catalog, got {type(data).__name__}")
    if lenses is not None:
        check_catalog(lenses, "lenses")
        if isinstance(data, StarCatalog):
            raise TypeError("lenses: the count-shear study takes the sources as a shear Catalog, not a StarCatalog")
    n = len(data)
    d = 0
    if aleatoric in ("subset", "delete_d_jackknife"):
        if n_remove is None:
            d = n - subset_size(n, subset_fraction)   # fails early when no object would be removed
        else:
            d = check_positive_int(n_remove, "n_remove")
            if n - d < 2:
                raise ValueError(f"n_remove={d} of {n} objects leaves {n - d}; at least 2 are needed for a pair")
    opts = dict(fuzziness=fuzziness, tol=tol, max_iter=max_iter, accelerate=accelerate, init=init,
                weight_factor=weight_factor, coarse_to_fine=coarse_to_fine)
    rng = np.random.default_rng(check_seed(seed))
    fit_seed = rng.integers(2**63)
    fits = []
    if isinstance(data, StarCatalog):
        cat = data.catalog
        naive_res = rho_statistics(data, bins, backend=backend)
        naive = {k: naive_res[k].xip for k in naive_res}
    elif lenses is not None:
        data.require_shear("data")
        cat = data
        naive_res = count_shear(lenses, data, bins, backend=backend)
        naive = {"gamma_t": naive_res.xi}
    else:
        data.require_shear("data")
        cat = data
        naive_res = shear_shear(data, bins=bins, backend=backend)
        naive = {"xip": naive_res.xip}
    meanr = naive_res.meanr
    fit = fit_catalog(cat, n_clusters, fit_seed, clustering, backend, **opts)
    fits.append(fit)

    root = np.random.SeedSequence(int(rng.integers(2**63)))
    sample_seeds, resample_seeds = (ss.spawn(m) for ss, m in zip(root.spawn(2), (n_samples, n_bootstrap)))
    client = resolve_client(client)
    shared = scatter(client, (data, bins, fit, backend, lenses, cluster_weights))   # sent to the workers once
    with progress_bar(n_samples, "sampled assignments", progress) as bar:
        out = task_map(_uncertainty_task, [("sample", shared, s, 0, fit_seed, opts) for s in sample_seeds],
                       client=client, num_threads=num_threads, progress=bar)
    samples = {k: np.array([o[0][k] for o in out]) for k in out[0][0]}
    scale, k_patch = 1.0, 1
    refit_converged, refit_n_iter = np.zeros(0, dtype=bool), np.zeros(0, dtype=int)
    if aleatoric == "patch_jackknife":
        boot, sigma, k_patch = _patch_jackknife(data, bins, npatch, rng, backend, lenses)
    else:
        kind = {"bootstrap": "bootstrap", "subset_block": "block"}.get(aleatoric, "subset")
        refit_opts = {**opts, "init": None, "coarse_to_fine": None} if warm_start else opts
        with progress_bar(n_bootstrap, f"{aleatoric} resamples", progress) as bar:
            out = task_map(_uncertainty_task,
                           [(kind, shared, s, n - d, fit_seed, refit_opts, warm_start) for s in resample_seeds],
                           client=client, num_threads=num_threads, progress=bar)
        boot = {k: np.array([o[0][k] for o in out]) for k in samples}
        if aleatoric in REFIT_METHODS:
            refit_converged = np.array([o[1] for o in out], dtype=bool)
            refit_n_iter = np.array([o[2] for o in out], dtype=int)
            fits.extend(_Converged(c) for c in refit_converged)
        if aleatoric == "delete_d_jackknife":
            # sigma^2 = (n - d)/(d m) sum (theta_i - mean)^2 = (n - d)(m - 1)/(d m) * std(ddof=1)^2
            scale = float(np.sqrt((n - d) * (n_bootstrap - 1) / (d * n_bootstrap)))
        sigma = {k: scale * _std(v) for k, v in boot.items()}
    n_unconverged = sum(not f.converged for f in fits)
    return UncertaintyResult(
        bins=bins, meanr=meanr,
        mean={k: _nanmean(v) for k, v in samples.items()},
        sigma_epistemic={k: _std(v) for k, v in samples.items()},
        sigma_aleatoric=sigma,
        samples=samples, bootstrap_samples=boot, bootstrap_mean={k: _nanmean(v) for k, v in boot.items()},
        naive=naive, n_clusters=fit.n_clusters, method=aleatoric, clustering=fit, aleatoric_scale=scale,
        n_remove=int(d), npatch=int(k_patch), converged=n_unconverged == 0, n_unconverged=int(n_unconverged),
        refit_converged=refit_converged, refit_n_iter=refit_n_iter, warm_start=warm_start,
        cluster_weights=cluster_weights,
    )


def _patch_jackknife(data, bins, npatch, rng, backend, lenses=None):
    """Leave-one-patch-out estimates and sigma = sqrt(varxip) of the exact estimator (TreeCorr's
    jackknife on the same patches): the data's own patches, or ``npatch`` seeded k-means ones."""
    from ..estimators.covariance import design_matrix

    cat = data.catalog if isinstance(data, StarCatalog) else data
    if cat.patch is None:
        npatch = check_positive_int(npatch, "npatch", minimum=2)
        kw = dict(npatch=npatch, patch_seed=int(rng.integers(2**63)), keep_zero_weight=cat.keep_zero_weight)
        if isinstance(data, StarCatalog):
            data = StarCatalog(data.ra, data.dec, data.g1_star, data.g2_star, data.T_star, data.g1_model,
                               data.g2_model, data.T_model, data.w, **kw)
        else:
            data = Catalog(data.ra, data.dec, data.g1, data.g2, data.w, **kw)
    if isinstance(data, StarCatalog):
        res = rho_statistics(data, bins, backend=backend, var_method="jackknife")
        results = {k: res[k] for k in res}
    elif lenses is not None:
        lenses = Catalog(lenses.ra, lenses.dec, w=lenses.w, patch_centers=data.patch_centers)
        results = {"gamma_t": count_shear(lenses, data, bins, backend=backend, var_method="jackknife")}
    else:
        results = {"xip": shear_shear(data, bins=bins, backend=backend, var_method="jackknife")}
    nb = bins.nbins
    rows = {k: design_matrix([r], "jackknife")[0][:, :nb] for k, r in results.items()}
    sigma = {k: np.sqrt(r.varxi if k == "gamma_t" else r.varxip) for k, r in results.items()}
    return rows, sigma, next(iter(results.values())).npatch


class _Converged:
    """Stands for a re-clustering done in a task (only its ``converged`` flag comes back)."""

    def __init__(self, converged):
        self.converged = bool(converged)


def _estimate(data, bins, fit, assignment, subset, backend, lenses=None, cluster_weights="members"):
    """One greedy/sampled clustered estimate (dict name -> xi+, or gamma_t around ``lenses``) of
    ``data`` or ``data.subset(subset)``, cluster objects weighted as ``cluster_weights`` says."""
    if isinstance(data, StarCatalog):
        stars = data if subset is None else data.subset(subset)
        res = rho_draws(stars, bins, fit, assignment[None, :], backend, cluster_weights=cluster_weights)
        return {k: v[0].xip for k, v in res.items()}
    c = data if subset is None else data.subset(subset)
    cl, f = cluster_objects(fit.centers, assignment, c.w, {"g": c.g}, cluster_weights=cluster_weights)
    if lenses is not None:
        sums = field_pair_sums(lenses, cl, bins, np.ones(lenses.nobj), f["g"], "spin2", backend=backend)
        return {"gamma_t": CountShearResult.from_sums(bins, sums).xi}
    sums = naive_pair_sums(cl, None, bins, backend=backend, g1=f["g"], g2=f["g"])
    return {"xip": ShearShearResult.from_sums(bins, sums).xip}


def _uncertainty_task(kind, shared, seed, n_keep, fit_seed, opts, warm_start=True):
    """One task of :func:`clustering_uncertainty`, all its randomness from ``seed`` (a SeedSequence):
    ``"sample"``: an assignment M_i ~ Categorical(U_i) (eq. 19); ``"bootstrap"``: N objects with
    replacement, greedy assignment; ``"subset"``: ``n_keep`` objects kept; ``"block"``: the rows of
    :func:`block_indices`; both re-clustered (from the full fit's centres when ``warm_start``, else
    k-means++ with seed ``fit_seed``), greedy assignment. Returns (estimates, converged, iterations)."""
    data, bins, fit, backend, lenses, cluster_weights = shared
    rng = np.random.default_rng(seed)
    cat = data.catalog if isinstance(data, StarCatalog) else data
    if kind == "sample":
        a = sample_assignments(fit.membership, rng)
        return _estimate(data, bins, fit, a, None, backend, lenses, cluster_weights), True, 0
    if kind == "bootstrap":
        idx = resample_indices(cat.nobj, "bootstrap", 0.0, rng)
        a = greedy_assignments(fit.membership)[idx]
        return _estimate(data, bins, fit, a, idx, backend, lenses, cluster_weights), True, 0
    # the paper's subset removal: objects out, the rest re-clustered (same settings and start, so
    # the greedy estimate is a deterministic function of the objects kept)
    if kind == "block":
        idx = block_indices(cat.nobj, rng, min_distinct=max(2, fit.n_clusters))
    else:
        idx = np.sort(rng.choice(cat.nobj, size=n_keep, replace=False))
    start = {"init": fit.centers} if warm_start else {}
    refit = fit_catalog(cat.subset(idx), fit.n_clusters, fit_seed, None, backend, **{**opts, **start})
    a = greedy_assignments(refit.membership)
    return _estimate(data, bins, refit, a, idx, backend, lenses, cluster_weights), refit.converged, refit.n_iter
