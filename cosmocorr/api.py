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
from ._validate import check_bool, check_choice, check_positive_int, check_real, check_seed
from .estimators.pair_sums import check_catalog
from .estimators.rho import check_stars
from .sky import Bins
from .uncertainty import clustered_landy_szalay, clustered_rho_statistics, clustered_shear_shear

__all__ = ["shear_shear", "landy_szalay", "rho_statistics", "estimate_multi_cov"]

estimate_multi_cov = estimators.estimate_multi_cov


def _check_algorithm1(n_clusters, assignment, n_samples, seed, fuzziness, progress):
    """Algorithm 1's scalar settings, checked before any work (each error names its argument)."""
    check_positive_int(n_clusters, "n_clusters")
    check_choice(assignment, "assignment", ("sample", "greedy"))
    check_positive_int(n_samples, "n_samples")
    check_seed(seed)
    check_real(fuzziness, "fuzziness", low=1.0, low_open=True)
    check_bool(progress, "progress")


def _check_clustered_var_method(var_method):
    estimators.check_var_method(var_method)
    if var_method != "shot":
        raise ValueError(f"var_method={var_method!r} is for the exact estimator; Algorithm 1 (n_clusters) results "
                         "carry shot-noise variances, and cosmocorr.clustering_uncertainty(..., "
                         "aleatoric='patch_jackknife') gives the patch jackknife")


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
    Parallel execution (all estimators)
    -----------------------------------
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
                tol=1e-6, max_iter=300, accelerate=False, init=None, weight_factor=0.0, coarse_to_fine=None):
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
    n_clusters, assignment, n_samples, seed, fuzziness, progress :
        Algorithm 1's settings (used only with ``n_clusters``).
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

    Returns
    -------
    ShearShearResult or ClusteredShearShearResult
    """
    if n_clusters is None:
        return estimators.shear_shear(cat1, cat2, bins, min_sep=min_sep, max_sep=max_sep, nbins=nbins,
                                      spacing=spacing, backend=backend, var_method=var_method,
                                      cross_patch_weight=cross_patch_weight, num_bootstrap=num_bootstrap, seed=seed)
    _check_clustered_var_method(var_method)
    _check_algorithm1(n_clusters, assignment, n_samples, seed, fuzziness, progress)
    check_catalog(cat1, "cat1").require_shear("cat1")
    if cat2 is not None:
        check_catalog(cat2, "cat2").require_shear("cat2")
    bins = Bins.coerce(bins, min_sep=min_sep, max_sep=max_sep, nbins=nbins, spacing=spacing)
    return clustered_shear_shear(cat1, cat2, bins, n_clusters=n_clusters, assignment=assignment,
                                 n_samples=n_samples, seed=seed, fuzziness=fuzziness, backend=backend,
                                 progress=progress, tol=tol, max_iter=max_iter, accelerate=accelerate, init=init,
                                 weight_factor=weight_factor, coarse_to_fine=coarse_to_fine)


@_executor_args
def landy_szalay(data, randoms, bins=None, *, min_sep=None, max_sep=None, nbins=None, spacing=None,
                 backend=None, n_clusters=None, assignment="sample", n_samples=10, seed=None,
                 fuzziness=2.0, progress=False, var_method="shot", cross_patch_weight="simple", num_bootstrap=500,
                 tol=1e-6, max_iter=300, accelerate=False, init=None, weight_factor=0.0, coarse_to_fine=None):
    """Landy-Szalay omega(theta) (paper eq. 1): exact, or by Algorithm 1 with ``n_clusters``
    (data and randoms each clustered; :func:`cosmocorr.uncertainty.clustered_landy_szalay`).

    Returns
    -------
    LandySzalayResult or ClusteredLandySzalayResult
    """
    if n_clusters is None:
        return estimators.landy_szalay(data, randoms, bins, min_sep=min_sep, max_sep=max_sep, nbins=nbins,
                                       spacing=spacing, backend=backend, var_method=var_method,
                                       cross_patch_weight=cross_patch_weight, num_bootstrap=num_bootstrap, seed=seed)
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
                   tol=1e-6, max_iter=300, accelerate=False, init=None, weight_factor=0.0, coarse_to_fine=None):
    """rho1..rho5 (paper eqs. 2-6): exact, or by Algorithm 1 on the stars with ``n_clusters``
    (:func:`cosmocorr.uncertainty.clustered_rho_statistics`).

    Returns
    -------
    RhoResult
        ``result["rho1"].xip`` etc.; empty bins hold NaN.
    """
    if n_clusters is None:
        return estimators.rho_statistics(stars, bins, min_sep=min_sep, max_sep=max_sep, nbins=nbins,
                                         spacing=spacing, backend=backend, var_method=var_method,
                                         cross_patch_weight=cross_patch_weight, num_bootstrap=num_bootstrap,
                                         seed=seed)
    _check_clustered_var_method(var_method)
    _check_algorithm1(n_clusters, assignment, n_samples, seed, fuzziness, progress)
    check_stars(stars)
    bins = Bins.coerce(bins, min_sep=min_sep, max_sep=max_sep, nbins=nbins, spacing=spacing)
    return clustered_rho_statistics(stars, bins, n_clusters=n_clusters, assignment=assignment,
                                    n_samples=n_samples, seed=seed, fuzziness=fuzziness, backend=backend,
                                    progress=progress, tol=tol, max_iter=max_iter, accelerate=accelerate, init=init,
                                    weight_factor=weight_factor, coarse_to_fine=coarse_to_fine)
