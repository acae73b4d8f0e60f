"""The public estimators, composed: exact all-pairs or Algorithm 1, chosen by ``n_clusters``.

This thin layer is the only place where the exact estimators (:mod:`cosmocorr.estimators`) and
the clustered ones (:mod:`cosmocorr.uncertainty`, paper Algorithm 1) meet, so that neither lower
layer needs the other: data flows catalog -> (optional cluster reduction) -> pair sums on a
backend -> result.
"""
from __future__ import annotations

from . import estimators
from .estimators.pair_sums import check_catalog
from .estimators.rho import check_stars
from .sky import Bins
from .uncertainty import clustered_landy_szalay, clustered_rho_statistics, clustered_shear_shear

__all__ = ["shear_shear", "landy_szalay", "rho_statistics"]


def shear_shear(cat1, cat2=None, bins=None, *, min_sep=None, max_sep=None, nbins=None, spacing="linear",
                backend=None, n_clusters=None, assignment="sample", n_samples=10, seed=None,
                fuzziness=2.0, progress=False):
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

    Returns
    -------
    ShearShearResult or ClusteredShearShearResult
    """
    if n_clusters is None:
        return estimators.shear_shear(cat1, cat2, bins, min_sep=min_sep, max_sep=max_sep, nbins=nbins,
                                      spacing=spacing, backend=backend)
    check_catalog(cat1, "cat1").require_shear("cat1")
    if cat2 is not None:
        check_catalog(cat2, "cat2").require_shear("cat2")
    bins = Bins.coerce(bins, min_sep=min_sep, max_sep=max_sep, nbins=nbins, spacing=spacing)
    return clustered_shear_shear(cat1, cat2, bins, n_clusters=n_clusters, assignment=assignment,
                                 n_samples=n_samples, seed=seed, fuzziness=fuzziness, backend=backend,
                                 progress=progress)


def landy_szalay(data, randoms, bins=None, *, min_sep=None, max_sep=None, nbins=None, spacing="linear",
                 backend=None, n_clusters=None, assignment="sample", n_samples=10, seed=None,
                 fuzziness=2.0, progress=False):
    """Landy-Szalay omega(theta) (paper eq. 1): exact, or by Algorithm 1 with ``n_clusters``
    (data and randoms each clustered; :func:`cosmocorr.uncertainty.clustered_landy_szalay`).

    Returns
    -------
    LandySzalayResult or ClusteredLandySzalayResult
    """
    if n_clusters is None:
        return estimators.landy_szalay(data, randoms, bins, min_sep=min_sep, max_sep=max_sep, nbins=nbins,
                                       spacing=spacing, backend=backend)
    check_catalog(data, "data")
    check_catalog(randoms, "randoms")
    bins = Bins.coerce(bins, min_sep=min_sep, max_sep=max_sep, nbins=nbins, spacing=spacing)
    return clustered_landy_szalay(data, randoms, bins, n_clusters=n_clusters, assignment=assignment,
                                  n_samples=n_samples, seed=seed, fuzziness=fuzziness, backend=backend,
                                  progress=progress)


def rho_statistics(stars, bins=None, *, min_sep=None, max_sep=None, nbins=None, spacing="linear",
                   backend=None, n_clusters=None, assignment="sample", n_samples=10, seed=None,
                   fuzziness=2.0, progress=False):
    """rho1..rho5 (paper eqs. 2-6): exact, or by Algorithm 1 on the stars with ``n_clusters``
    (:func:`cosmocorr.uncertainty.clustered_rho_statistics`).

    Returns
    -------
    RhoResult
        ``result["rho1"].xip`` etc.; empty bins hold NaN.
    """
    if n_clusters is None:
        return estimators.rho_statistics(stars, bins, min_sep=min_sep, max_sep=max_sep, nbins=nbins,
                                         spacing=spacing, backend=backend)
    check_stars(stars)
    bins = Bins.coerce(bins, min_sep=min_sep, max_sep=max_sep, nbins=nbins, spacing=spacing)
    return clustered_rho_statistics(stars, bins, n_clusters=n_clusters, assignment=assignment,
                                    n_samples=n_samples, seed=seed, fuzziness=fuzziness, backend=backend,
                                    progress=progress)
