"""The public estimators, composed: exact all-pairs or Algorithm 1, chosen by ``n_clusters``.

This thin layer is the only place where the exact estimators (:mod:`cosmocorr.estimators`) and
the clustered ones (:mod:`cosmocorr.uncertainty`, paper Algorithm 1) meet, so that neither lower
layer needs the other: data flows catalog -> (optional cluster reduction) -> pair sums on a
backend -> result.
"""
from __future__ import annotations

import functools
import inspect

from . import estimators
from ._parallel import check_num_threads, using_executor, using_threads
from ._progress import reporting
from ._validate import check_bool, check_choice, check_positive_int, check_real, check_seed
from .clustering.reduction import CLUSTER_WEIGHTS
from .estimators.approximation_error import check_approx_settings, check_ladder, tree_with_error
from .estimators.pair_sums import check_catalog
from .estimators.rho import check_stars
from .sky import Bins
from .sky.catalog import concatenate_catalogs
from .uncertainty import (clustered_field_correlation, clustered_landy_szalay, clustered_rho_statistics,
                          clustered_shear_shear)

__all__ = ["shear_shear", "landy_szalay", "rho_statistics", "estimate_multi_cov", "count_shear", "count_scalar",
           "scalar_scalar", "scalar_shear", "tau_statistics", "fit_psf_leakage"]

estimate_multi_cov = estimators.estimate_multi_cov
fit_psf_leakage = estimators.fit_psf_leakage


def _check_algorithm1(n_clusters, assignment, n_samples, seed, fuzziness, progress):
    """Algorithm 1's scalar settings, checked before any work (each error names its argument)."""
    check_positive_int(n_clusters, "n_clusters")
    check_choice(assignment, "assignment", ("sample", "greedy"))
    check_positive_int(n_samples, "n_samples")
    check_seed(seed)
    check_real(fuzziness, "fuzziness", low=1.0, low_open=True)
    check_bool(progress, "progress")


def _approx_route(method, bin_slop, approx_error, n_clusters, n_rotations, spot_fraction, spot_npatch,
                  bin_slop_ladder, cats=()):
    """The approximation-error settings when a tree result is to carry its measured error, else None.

    ``approx_error=None`` (default): measured with ``bin_slop="auto"``, or when the catalogs
    ``cats`` all carry the same patches (the tree then runs patch by patch anyway, and the
    result is unchanged); True: always (catalogs without patches get k-means spot patches);
    False: never (``bin_slop="auto"`` is then an error).
    """
    if approx_error is not None:
        check_bool(approx_error, "approx_error")
    check_approx_settings(n_rotations, spot_fraction, spot_npatch, 0.1, None)
    if bin_slop_ladder is not None:
        check_ladder(bin_slop_ladder)
    auto = isinstance(bin_slop, str)
    if auto and bin_slop != "auto":
        raise TypeError(f"bin_slop must be a number >= 0, None or 'auto'; got {bin_slop!r}")
    if method != "tree":
        if auto:
            raise ValueError("bin_slop='auto' chooses the tree's slop: it needs method='tree'")
        return None
    if auto and approx_error is False:
        raise ValueError("bin_slop='auto' chooses the slop from the measured approximation error: it needs "
                         "approx_error=True (or None)")
    if approx_error is None:
        cats = [c for c in cats if c is not None]
        approx_error = bool(cats) and all(getattr(c, "patch", None) is not None for c in cats) and len(
            {c.npatch for c in cats}) == 1
    if n_clusters is not None or not (approx_error or auto):
        if bin_slop_ladder is not None:
            raise ValueError("bin_slop_ladder is used only with bin_slop='auto'")
        return None
    return dict(n_rotations=n_rotations, spot_fraction=spot_fraction, spot_npatch=spot_npatch,
                bin_slop_ladder=bin_slop_ladder)


def _check_clustered_var_method(var_method):
    estimators.check_var_method(var_method)
    if var_method != "shot":
        raise ValueError(f"var_method={var_method!r} is for the exact estimator; Algorithm 1 (n_clusters) results "
                         "carry shot-noise variances, and cosmocorr.clustering_uncertainty(..., "
                         "aleatoric='patch_jackknife') gives the patch jackknife")


def _check_exact_for_algorithm1(method, bin_slop, angle_slop, approx_tol):
    """Algorithm 1 (``n_clusters``) sums its clusters' pairs exactly: ``method="tree"`` and the
    tree's settings are a ValueError there rather than silently unused."""
    if estimators.check_method(method) != "exact":
        raise ValueError(f"method={method!r} cannot be combined with n_clusters: Algorithm 1 correlates its "
                         "clusters exactly (give n_clusters=None for the tree estimator)")
    for name, v in (("bin_slop", bin_slop), ("angle_slop", angle_slop), ("approx_tol", approx_tol)):
        if v is not None:
            raise ValueError(f"{name} is a setting of method='tree', which cannot be combined with n_clusters")


def _executor_args(fn):
    """Add ``client=`` and ``num_threads=`` (keyword-only) to a public estimator: all the work
    below it runs under that Dask client / thread count (:mod:`cosmocorr._parallel`)."""
    @functools.wraps(fn)
    def wrapper(*args, client=None, num_threads=None, **kwargs):
        with using_executor(client), using_threads(check_num_threads(num_threads)):
            return fn(*args, **kwargs)

    sig = inspect.signature(fn)
    extra = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None)
             for name in ("client", "num_threads")]
    wrapper.__signature__ = sig.replace(parameters=list(sig.parameters.values()) + extra)
    wrapper.__doc__ = (fn.__doc__ or "") + _EXECUTOR_DOC
    return wrapper


_EXECUTOR_DOC = """
    Other Parameters
    ----------------
    client : dask.distributed.Client, optional
        Run on a Dask cluster: exact all-pairs sums as tiles of the pair matrix
        (:mod:`cosmocorr.backends.distributed`), Algorithm 1 work as tasks. Default: the client of
        :func:`cosmocorr.set_executor` or ``COSMOCORR_SCHEDULER``, else local threads;
        ``client=False`` forces local threads. Results equal the local ones to rounding.
    num_threads : int, optional
        Threads on this machine (default: all cores; no cap).
"""


@_executor_args
def shear_shear(cat1, cat2=None, bins=None, *, min_sep=None, max_sep=None, nbins=None, spacing=None,
                backend=None, n_clusters=None, assignment="sample", n_samples=10, seed=None,
                fuzziness=2.0, progress=False, var_method="shot", cross_patch_weight="simple", num_bootstrap=500,
                tol=1e-6, max_iter=300, accelerate=False, init=None, weight_factor=0.0, method="exact",
                bin_slop=None, angle_slop=None, approx_tol=None, approx_error=None, n_rotations=8, spot_fraction=0.1,
                spot_npatch=20, bin_slop_ladder=None, coarse_to_fine=None, cluster_weights="members"):
    """Shear-shear correlation xi+(theta), xi-(theta) (paper eqs. 7-8).

    Without ``n_clusters``: the exact estimator over all pairs
    (:func:`cosmocorr.estimators.shear_shear`). With ``n_clusters``: the probabilistic estimator of
    Algorithm 1 (:func:`cosmocorr.uncertainty.clustered_shear_shear`), ``n_samples`` sampled
    assignments (``assignment="sample"``, eq. 19) or the greedy argmax one, seeded by ``seed``.

    Parameters
    ----------
    cat1 : Catalog
        Objects with shears (``g1``, ``g2``).
    cat2 : Catalog, optional
        Second catalog for a cross-correlation; default: auto-correlation of ``cat1``.
    bins : Bins, optional
        Or give ``min_sep``, ``max_sep`` (arcmin), ``nbins`` and ``spacing``.
    backend : {"numpy", "julia", "auto"}, optional
    n_clusters, assignment, n_samples, seed, fuzziness :
        Algorithm 1's settings (used only with ``n_clusters``).
    progress : bool
        A tqdm bar: row blocks of pair tiles done (exact estimator), or sampled assignments
        (Algorithm 1).
    var_method, cross_patch_weight, num_bootstrap :
        Error bars of the exact estimator (TreeCorr's meanings): ``varxip``, ``varxim`` and
        ``cov`` (xi+ then xi-) by ``"shot"`` (default), ``"jackknife"``, ``"sample"``,
        ``"bootstrap"`` or ``"marked_bootstrap"``; all but ``"shot"`` need catalogs with patches
        (``Catalog(..., patch=...)`` or ``npatch=``). ``seed`` seeds the bootstrap draws.
        Algorithm 1 results carry the shot-noise variance (other methods are a ValueError there;
        see :func:`cosmocorr.clustering_uncertainty` for its aleatoric errors).
    tol, max_iter, accelerate, init, weight_factor, coarse_to_fine :
        Fuzzy c-means settings of Algorithm 1 (:func:`cosmocorr.fuzzy_c_means`); stopping at
        ``max_iter`` without converging emits a :class:`cosmocorr.ConvergenceWarning` and is
        recorded on the result (``converged``).
    method : {"exact", "tree"}
        Without ``n_clusters``: ``"exact"`` (default, every pair) or ``"tree"`` (TreeCorr's tree,
        :mod:`cosmocorr.backends.tree`; the same result type, ``var_method`` and files). With
        ``n_clusters`` only ``"exact"``.
    cluster_weights : {"members", "equal"}
        Algorithm 1 only: the weight of each cluster object in the pair sums, its members' total
        weight (default) or 1 for every cluster (the paper's authors' code;
        :func:`cosmocorr.clustering.cluster_objects`). Recorded on the result.
    bin_slop, angle_slop, approx_tol :
        ``method="tree"`` settings (TreeCorr's meanings and defaults; see
        :func:`cosmocorr.estimators.shear_shear`); the values used are on the result.
        ``bin_slop="auto"``: the largest slop of ``bin_slop_ladder`` whose measured approximation
        error bound stays below ``approx_tol`` (default 0.1) statistical sigmas in every bin, and,
        with ``angle_slop`` not given, lower angle_slop values at bin_slop 0 when no bin_slop
        alone passes (:func:`cosmocorr.estimators.approximation_error.choose_bin_slop`).
    approx_error : bool, optional
        ``method="tree"``: measure the tree's approximation error per bin (result fields
        ``approx_error``, ``approx_sigma``, their ``_err`` and ``approx_info``; docs/tree_error.md).
        None (default): when the catalogs carry patches, or with ``bin_slop="auto"``; True:
        always (catalogs without patches get ``spot_npatch`` k-means patches, and the tree runs
        patch by patch); False: never.
    n_rotations, spot_fraction, spot_npatch, bin_slop_ladder :
        The measurement's settings: random rotations of the sky (>= 2, default 8), fraction of
        the patch pairs of each stratum checked by the exact kernel (default 0.1), patches made
        when the catalogs have none (default 20), and the slops ``"auto"`` may choose (default:
        TreeCorr's default slop, then 0.1, 0.05, 0.02, 0.01, 0). ``seed`` seeds them.

    Returns
    -------
    ShearShearResult or ClusteredShearShearResult
    """
    check_choice(cluster_weights, "cluster_weights", CLUSTER_WEIGHTS)
    approx = _approx_route(method, bin_slop, approx_error, n_clusters, n_rotations, spot_fraction,
                           spot_npatch, bin_slop_ladder, (cat1, cat2))
    if approx:
        check_catalog(cat1, "cat1").require_shear("cat1")
        if cat2 is not None:
            check_catalog(cat2, "cat2").require_shear("cat2")
        bins = Bins.coerce(bins, min_sep=min_sep, max_sep=max_sep, nbins=nbins, spacing=spacing)
        return tree_with_error("shear", (cat1, cat2), bins, bin_slop=bin_slop, angle_slop=angle_slop,
                               approx_tol=approx_tol, seed=seed, progress=progress, backend=backend,
                               var_method=var_method, cross_patch_weight=cross_patch_weight,
                               num_bootstrap=num_bootstrap, **approx)
    if n_clusters is None:
        with reporting(check_bool(progress, "progress"), "shear_shear: row blocks of pair tiles"):
            return estimators.shear_shear(cat1, cat2, bins, min_sep=min_sep, max_sep=max_sep, nbins=nbins,
                                          spacing=spacing, backend=backend, var_method=var_method,
                                          cross_patch_weight=cross_patch_weight, num_bootstrap=num_bootstrap,
                                          seed=seed, method=method, bin_slop=bin_slop, angle_slop=angle_slop,
                                          approx_tol=approx_tol)
    _check_exact_for_algorithm1(method, bin_slop, angle_slop, approx_tol)
    _check_clustered_var_method(var_method)
    _check_algorithm1(n_clusters, assignment, n_samples, seed, fuzziness, progress)
    check_catalog(cat1, "cat1").require_shear("cat1")
    if cat2 is not None:
        check_catalog(cat2, "cat2").require_shear("cat2")
    bins = Bins.coerce(bins, min_sep=min_sep, max_sep=max_sep, nbins=nbins, spacing=spacing)
    return clustered_shear_shear(cat1, cat2, bins, n_clusters=n_clusters, assignment=assignment,
                                 n_samples=n_samples, seed=seed, fuzziness=fuzziness, backend=backend,
                                 progress=progress, tol=tol, max_iter=max_iter, accelerate=accelerate, init=init,
                                 weight_factor=weight_factor, coarse_to_fine=coarse_to_fine,
                                 cluster_weights=cluster_weights)


@_executor_args
def landy_szalay(data, randoms, bins=None, *, data2=None, randoms2=None, estimator="landy_szalay", min_sep=None,
                 max_sep=None, nbins=None, spacing=None,
                 backend=None, n_clusters=None, assignment="sample", n_samples=10, seed=None,
                 fuzziness=2.0, progress=False, var_method="shot", cross_patch_weight="simple", num_bootstrap=500,
                 tol=1e-6, max_iter=300, accelerate=False, init=None, weight_factor=0.0, method="exact",
                 bin_slop=None, angle_slop=None, approx_tol=None, approx_error=None, n_rotations=8, spot_fraction=0.1,
                 spot_npatch=20, bin_slop_ladder=None, coarse_to_fine=None):
    """Landy-Szalay omega(theta) (paper eq. 1): exact, or by Algorithm 1 with ``n_clusters``
    (data and randoms each clustered; :func:`cosmocorr.uncertainty.clustered_landy_szalay`).
    ``method="tree"`` (with ``bin_slop``, ``angle_slop``) takes DD, DR, RR from TreeCorr's tree
    (without ``n_clusters``), as :func:`shear_shear`, with the same approximation-error settings
    (``approx_error``, ``bin_slop="auto"``, ...; the result's dicts hold ``xi``).

    ``data2``/``randoms2`` give the cross-correlation (D1D2 - D1R2 - R1D2 + R1R2) / R1R2,
    ``estimator`` the natural or Davis-Peebles estimator instead, and ``randoms`` may be a list of
    catalogs (see :func:`cosmocorr.estimators.landy_szalay`; exact estimator only).

    Parameters
    ----------
    data, randoms : Catalog
        Positions (and weights) of the data and of a random catalog covering the same area.
    bins : Bins, optional
        Or give ``min_sep``, ``max_sep`` (arcmin), ``nbins`` and ``spacing`` (``"log"`` when not
        given, as TreeCorr; ``"linear"`` is needed when ``min_sep`` is 0).
    backend : {"numpy", "julia", "auto"}, optional
        Where the pair sums run (:mod:`cosmocorr.backends`).
    n_clusters, assignment, n_samples, seed, fuzziness :
        Algorithm 1's settings, used only with ``n_clusters`` (as :func:`shear_shear`).
    progress : bool
        A tqdm bar: row blocks of pair tiles done (exact estimator), or sampled assignments
        (Algorithm 1).
    var_method, cross_patch_weight, num_bootstrap :
        Error bars of the exact estimator (``varxi``, ``cov``), TreeCorr's meanings; the patch
        methods need catalogs with patches (give the randoms ``patch_centers=data.patch_centers``).
    tol, max_iter, accelerate, init, weight_factor :
        Fuzzy c-means settings of Algorithm 1 (:func:`cosmocorr.fuzzy_c_means`).

    Returns
    -------
    LandySzalayResult or ClusteredLandySzalayResult
    """
    approx = _approx_route(method, bin_slop, approx_error, n_clusters, n_rotations, spot_fraction,
                           spot_npatch, bin_slop_ladder, (data, randoms))
    if approx:
        check_catalog(data, "data")
        check_catalog(randoms, "randoms")
        bins = Bins.coerce(bins, min_sep=min_sep, max_sep=max_sep, nbins=nbins, spacing=spacing)
        return tree_with_error("counts", (data, randoms), bins, bin_slop=bin_slop, angle_slop=angle_slop,
                               approx_tol=approx_tol, seed=seed, progress=progress, backend=backend,
                               var_method=var_method, cross_patch_weight=cross_patch_weight,
                               num_bootstrap=num_bootstrap, **approx)
    if n_clusters is None:
        with reporting(check_bool(progress, "progress"), "landy_szalay: row blocks of pair tiles (DD, DR, RR)"):
            return estimators.landy_szalay(data, randoms, bins, data2=data2, randoms2=randoms2, estimator=estimator,
                                           min_sep=min_sep, max_sep=max_sep, nbins=nbins,
                                           spacing=spacing, backend=backend, var_method=var_method,
                                           cross_patch_weight=cross_patch_weight, num_bootstrap=num_bootstrap,
                                           seed=seed, method=method, bin_slop=bin_slop, angle_slop=angle_slop,
                                           approx_tol=approx_tol)
    _check_exact_for_algorithm1(method, bin_slop, angle_slop, approx_tol)
    if data2 is not None or randoms2 is not None or estimator != "landy_szalay" or isinstance(randoms, (list, tuple)):
        raise ValueError("n_clusters: Algorithm 1 is defined here for the auto Landy-Szalay estimator of one data "
                         "and one random catalog; data2, randoms2, estimator and lists of randoms are for the exact "
                         "estimator")
    _check_clustered_var_method(var_method)
    _check_algorithm1(n_clusters, assignment, n_samples, seed, fuzziness, progress)
    check_catalog(data, "data")
    check_catalog(randoms, "randoms")
    bins = Bins.coerce(bins, min_sep=min_sep, max_sep=max_sep, nbins=nbins, spacing=spacing)
    return clustered_landy_szalay(data, randoms, bins, n_clusters=n_clusters, assignment=assignment,
                                  n_samples=n_samples, seed=seed, fuzziness=fuzziness, backend=backend,
                                  progress=progress, tol=tol, max_iter=max_iter, accelerate=accelerate, init=init,
                                  weight_factor=weight_factor, coarse_to_fine=coarse_to_fine)


@_executor_args
def rho_statistics(stars, bins=None, *, min_sep=None, max_sep=None, nbins=None, spacing=None,
                   backend=None, n_clusters=None, assignment="sample", n_samples=10, seed=None,
                   fuzziness=2.0, progress=False, var_method="shot", cross_patch_weight="simple", num_bootstrap=500,
                   tol=1e-6, max_iter=300, accelerate=False, init=None, weight_factor=0.0, method="exact",
                   bin_slop=None, angle_slop=None, approx_tol=None, approx_error=None, n_rotations=8,
                   spot_fraction=0.1, spot_npatch=20, bin_slop_ladder=None, coarse_to_fine=None,
                   cluster_weights="members"):
    """rho0..rho5 (paper eqs. 2-6; rho0 = <e_model^* e_model>, Gatti et al. 2021, arXiv:2011.03408):
    exact, or by Algorithm 1 on the stars with ``n_clusters``
    (:func:`cosmocorr.uncertainty.clustered_rho_statistics`). ``method="tree"`` (with
    ``bin_slop``, ``angle_slop``) takes the six from TreeCorr's tree (without ``n_clusters``),
    as :func:`shear_shear`, with the same approximation-error settings (each entry's dicts hold
    ``xip``, ``xim``).

    Parameters
    ----------
    stars : StarCatalog
        Stars with observed and PSF-model ellipticities and sizes.
    bins : Bins, optional
        Or give ``min_sep``, ``max_sep`` (arcmin), ``nbins`` and ``spacing`` (``"log"`` when not
        given, as TreeCorr; the paper's rho plots use ``Bins(0, 45, 8, "linear")``).
    backend : {"numpy", "julia", "auto"}, optional
        Where the pair sums run (:mod:`cosmocorr.backends`).
    n_clusters, assignment, n_samples, seed, fuzziness :
        Algorithm 1's settings, used only with ``n_clusters`` (as :func:`shear_shear`).
    progress : bool
        A tqdm bar: row blocks of pair tiles done (exact estimator, all five rho in one pass), or
        sampled assignments (Algorithm 1).
    var_method, cross_patch_weight, num_bootstrap :
        Error bars of every rho (``varxip``, ``varxim``, ``cov``) and of all five together
        (``RhoResult.cov``), TreeCorr's meanings; the patch methods need stars with patches.
    tol, max_iter, accelerate, init, weight_factor :
        Fuzzy c-means settings of Algorithm 1 (:func:`cosmocorr.fuzzy_c_means`).
    cluster_weights : {"members", "equal"}
        Algorithm 1 only, as :func:`shear_shear` (recorded in ``result.extra`` and on each
        entry).

    Returns
    -------
    RhoResult
        ``result["rho1"].xip`` etc.; empty bins hold NaN.
    """
    check_choice(cluster_weights, "cluster_weights", CLUSTER_WEIGHTS)
    approx = _approx_route(method, bin_slop, approx_error, n_clusters, n_rotations, spot_fraction,
                           spot_npatch, bin_slop_ladder, (getattr(stars, "catalog", None),))
    if approx:
        check_stars(stars)
        bins = Bins.coerce(bins, min_sep=min_sep, max_sep=max_sep, nbins=nbins, spacing=spacing)
        return tree_with_error("rho", (stars,), bins, bin_slop=bin_slop, angle_slop=angle_slop,
                               approx_tol=approx_tol, seed=seed, progress=progress, backend=backend,
                               var_method=var_method, cross_patch_weight=cross_patch_weight,
                               num_bootstrap=num_bootstrap, **approx)
    if n_clusters is None:
        with reporting(check_bool(progress, "progress"), "rho_statistics: row blocks of pair tiles"):
            return estimators.rho_statistics(stars, bins, min_sep=min_sep, max_sep=max_sep, nbins=nbins,
                                             spacing=spacing, backend=backend, var_method=var_method,
                                             cross_patch_weight=cross_patch_weight, num_bootstrap=num_bootstrap,
                                             seed=seed, method=method, bin_slop=bin_slop, angle_slop=angle_slop,
                                             approx_tol=approx_tol)
    _check_exact_for_algorithm1(method, bin_slop, angle_slop, approx_tol)
    _check_clustered_var_method(var_method)
    _check_algorithm1(n_clusters, assignment, n_samples, seed, fuzziness, progress)
    check_stars(stars)
    bins = Bins.coerce(bins, min_sep=min_sep, max_sep=max_sep, nbins=nbins, spacing=spacing)
    return clustered_rho_statistics(stars, bins, n_clusters=n_clusters, assignment=assignment,
                                    n_samples=n_samples, seed=seed, fuzziness=fuzziness, backend=backend,
                                    progress=progress, tol=tol, max_iter=max_iter, accelerate=accelerate, init=init,
                                    weight_factor=weight_factor, coarse_to_fine=coarse_to_fine,
                                    cluster_weights=cluster_weights)


def _field_api(name, result_name, clustered_result, first, second, randoms_doc):
    """An api function for one of the NG/NK/KK/KG estimators: exact, or Algorithm 1 with
    ``n_clusters`` (:func:`cosmocorr.uncertainty.clustered_field_correlation`)."""
    exact = getattr(estimators, name)
    result_cls = getattr(estimators, result_name)
    with_randoms = randoms_doc is not None

    def fn(cat1, cat2=None, bins=None, *, randoms=None, min_sep=None, max_sep=None, nbins=None, spacing=None,
           backend=None, n_clusters=None, assignment="sample", n_samples=10, seed=None, fuzziness=2.0,
           progress=False, var_method="shot", cross_patch_weight="simple", num_bootstrap=500, tol=1e-6,
           max_iter=300, accelerate=False, init=None, weight_factor=0.0, method="exact", bin_slop=None,
           angle_slop=None, approx_tol=None, approx_error=None, n_rotations=8, spot_fraction=0.1, spot_npatch=20,
           bin_slop_ladder=None):
        kw = dict(min_sep=min_sep, max_sep=max_sep, nbins=nbins, spacing=spacing)
        rands = None if randoms is None or method != "tree" else concatenate_catalogs(randoms, "randoms")
        approx = _approx_route(method, bin_slop, approx_error, n_clusters, n_rotations, spot_fraction,
                               spot_npatch, bin_slop_ladder, (cat1, cat2, rands))
        if approx:
            check_catalog(cat1, first)
            if cat2 is not None:
                check_catalog(cat2, second)
            bins = Bins.coerce(bins, **kw)
            return tree_with_error(FIELD_LETTERS[name], (cat1, cat2, rands), bins, bin_slop=bin_slop,
                                   angle_slop=angle_slop, approx_tol=approx_tol, seed=seed, progress=progress,
                                   backend=backend, var_method=var_method, cross_patch_weight=cross_patch_weight,
                                   num_bootstrap=num_bootstrap, **approx)
        if n_clusters is None:
            if with_randoms:
                kw["randoms"] = randoms
            return exact(cat1, cat2, bins, backend=backend, var_method=var_method,
                         cross_patch_weight=cross_patch_weight, num_bootstrap=num_bootstrap, seed=seed, method=method,
                         bin_slop=bin_slop, angle_slop=angle_slop, approx_tol=approx_tol, **kw)
        _check_exact_for_algorithm1(method, bin_slop, angle_slop, approx_tol)
        _check_clustered_var_method(var_method)
        _check_algorithm1(n_clusters, assignment, n_samples, seed, fuzziness, progress)
        check_catalog(cat1, first)
        if cat2 is not None:
            check_catalog(cat2, second)
        elif name != "scalar_scalar":
            raise TypeError(f"{name}: {second} is required")
        bins = Bins.coerce(bins, **kw)
        return clustered_field_correlation(result_cls, cat1, cat2, bins, n_clusters, randoms=randoms,
                                           assignment=assignment, n_samples=n_samples, seed=seed,
                                           fuzziness=fuzziness, backend=backend, progress=progress, tol=tol,
                                           max_iter=max_iter, accelerate=accelerate, init=init,
                                           weight_factor=weight_factor)

    # the public signature names the catalogs as the statistic does (lenses, sources, ...)
    sig = inspect.signature(fn)
    params = list(sig.parameters.values())
    params[0] = params[0].replace(name=first)
    params[1] = params[1].replace(name=second, default=None if name == "scalar_scalar" else inspect.Parameter.empty)
    if not with_randoms:
        params = [p for p in params if p.name != "randoms"]
    sig = sig.replace(parameters=params)
    core = fn

    def fn(*args, **kwargs):
        a = sig.bind(*args, **kwargs)
        a.apply_defaults()
        a = dict(a.arguments)
        return core(a.pop(first), a.pop(second), **a)

    fn.__signature__ = sig
    randoms_block = (f"    randoms : Catalog or list of Catalog, optional\n        {randoms_doc}\n" if with_randoms
                     else "")
    auto_note = f" (``{second}`` None: the auto-correlation of ``{first}``)" if name == "scalar_scalar" else ""
    fn.__name__ = fn.__qualname__ = name
    fn.__module__ = __name__
    fn.__doc__ = (exact.__doc__.split("Parameters")[0].rstrip() + f"""

    Without ``n_clusters``: the exact estimator (:func:`cosmocorr.estimators.{name}`). With
    ``n_clusters``: Algorithm 1 (:func:`cosmocorr.uncertainty.clustered_field_correlation`): each
    catalog clustered on its own, ``n_samples`` sampled assignments (or ``assignment="greedy"``),
    ``xi_samples`` / ``xi_std`` (epistemic) on the result.

    Parameters
    ----------
    {first}, {second} : Catalog
        The two catalogs{auto_note}.
    bins : Bins, optional
        Or ``min_sep``, ``max_sep`` (arcmin), ``nbins``, ``spacing``.
{randoms_block}    backend : {{"numpy", "julia", "auto"}}, optional
    n_clusters, assignment, n_samples, seed, fuzziness, progress, tol, max_iter, accelerate, init, weight_factor :
        Algorithm 1's settings, as :func:`cosmocorr.shear_shear`.
    var_method, cross_patch_weight, num_bootstrap :
        Error bars of the exact estimator (TreeCorr's meanings; patch methods need patches).
    method, bin_slop, angle_slop, approx_tol :
        ``"tree"``: TreeCorr's tree with these settings instead of every pair (without
        ``n_clusters``), as :func:`shear_shear`.
    approx_error, n_rotations, spot_fraction, spot_npatch, bin_slop_ladder :
        The tree result's measured approximation error (``bin_slop="auto"`` too), as
        :func:`shear_shear`: ``approx_error`` etc. are dicts keyed ``"xi"`` (and ``"xi_im"``),
        randoms rotated with the catalogs (docs/tree_error.md).

    Returns
    -------
    {result_name} or {clustered_result}
    """)
    return _executor_args(fn)


count_shear = _field_api("count_shear", "CountShearResult", "ClusteredCountShearResult", "lenses", "sources",
                         "Random points of the lenses: ``xi = DG - RG`` (TreeCorr's ``rg``).")
count_scalar = _field_api("count_scalar", "CountScalarResult", "ClusteredCountScalarResult", "lenses", "cat",
                          "Random points of the lenses: ``xi = DK - RK`` (TreeCorr's ``rk``).")
scalar_scalar = _field_api("scalar_scalar", "ScalarScalarResult", "ClusteredScalarScalarResult", "cat1", "cat2", None)
#: the approximation-error kind of each field estimator (cosmocorr.estimators.approximation_error)
FIELD_LETTERS = {"count_shear": "NG", "count_scalar": "NK", "scalar_scalar": "KK", "scalar_shear": "KG"}
scalar_shear = _field_api("scalar_shear", "ScalarShearResult", "ClusteredScalarShearResult", "cat1", "cat2", None)


@_executor_args
def tau_statistics(galaxies, stars, bins=None, *, min_sep=None, max_sep=None, nbins=None, spacing=None,
                   backend=None, var_method="shot", cross_patch_weight="simple", num_bootstrap=500, seed=None,
                   method="exact", bin_slop=None, angle_slop=None, approx_tol=None, approx_error=None, n_rotations=8,
                   spot_fraction=0.1, spot_npatch=20, bin_slop_ladder=None, progress=False):
    """tau0, tau2, tau5 (Gatti et al. 2021, arXiv:2011.03408, eqs. 20-22 as quoted by TXPipe): galaxy
    shapes against the PSF model ellipticity p, the residual q = e_star - e_model and
    w = e_star dT/T at the stars (:func:`cosmocorr.estimators.tau_statistics`, which gives the
    definitions and the sources they were checked against).

    ``method="tree"`` with ``approx_error``, ``n_rotations``, ``spot_fraction``, ``spot_npatch``,
    ``bin_slop_ladder``, ``bin_slop="auto"``: the measured approximation error, as
    :func:`rho_statistics` (each entry's dicts hold ``xip``, ``xim``; docs/tree_error.md).

    Returns
    -------
    TauResult
        ``result["tau0"].xip`` etc.; with shared patches on galaxies and stars,
        ``cosmocorr.estimate_multi_cov([rho, tau], "jackknife")`` is the joint covariance that
        :func:`cosmocorr.fit_psf_leakage` uses.
    """
    approx = _approx_route(method, bin_slop, approx_error, n_clusters=None, n_rotations=n_rotations,
                           spot_fraction=spot_fraction, spot_npatch=spot_npatch, bin_slop_ladder=bin_slop_ladder,
                           cats=(galaxies, getattr(stars, "catalog", None)))
    if approx:
        check_catalog(galaxies, "galaxies").require_shear("galaxies")
        check_stars(stars)
        bins = Bins.coerce(bins, min_sep=min_sep, max_sep=max_sep, nbins=nbins, spacing=spacing)
        return tree_with_error("tau", (galaxies, stars), bins, bin_slop=bin_slop, angle_slop=angle_slop,
                               approx_tol=approx_tol, seed=seed, progress=progress, backend=backend,
                               var_method=var_method, cross_patch_weight=cross_patch_weight,
                               num_bootstrap=num_bootstrap, **approx)
    return estimators.tau_statistics(galaxies, stars, bins, min_sep=min_sep, max_sep=max_sep, nbins=nbins,
                                     spacing=spacing, backend=backend, var_method=var_method,
                                     cross_patch_weight=cross_patch_weight, num_bootstrap=num_bootstrap, seed=seed,
                                     method=method, bin_slop=bin_slop, angle_slop=angle_slop, approx_tol=approx_tol)
