"""tau statistics: galaxy shapes against PSF quantities at the stars (Gatti et al. 2021, DES Y3).

With e the galaxy ellipticities and, at the stars, p = e_model the PSF model ellipticity,
q = e_star - e_model the residual and w = e_star (T_star - T_model) / T_star the size-weighted term
(the fields of :class:`~cosmocorr.sky.StarCatalog`: ``em``, ``de``, ``edt``):

- tau0 = < e^* p >
- tau2 = < e^* q >
- tau5 = < e^* w >

Citation: Gatti et al. 2021, "Dark Energy Survey Year 3 results: weak lensing shape catalogue",
MNRAS 504, 4312, arXiv:2011.03408, eqs. 20-22. Those equation numbers are as quoted by
LSSTDESC TXPipe (``txpipe/psf_diagnostics.py``, ``TXTauStatistics``: "the definition of Tau stats
are eq. 20-22 of Gatti et al"); the paper's own text could not be retrieved from the build machine,
so they are not checked against it (docs/psf_leakage.md lists the routes tried). The definitions
were checked term by term against three public sources that agree with each other and with this
module: UNIONS ``shear_psf_leakage`` (``rho_tau_stat.py``: ``TauStat.compute_tau_stats``
correlates ``gal`` with ``psf``, ``psf_error`` and ``psf_size_error``, the fields of
``Catalogs.get_cat_fields``), TXPipe (``TXTauStatistics.compute_all_tau``: ``p = e_mod``,
``q = e_meas - e_mod``, ``w = e_meas (T_meas - T_mod)/T_meas``) and the DES Y3 derivation restated
by A. Navarro-Alsina (co-author of Gatti et al. 2021; ``andalenavals.github.io``,
``_research/rhostats.md``).

Each tau is a cross shear-shear correlation (paper eq. 8, xi+ and xi-) between the galaxy catalog
(first) and the stars (second): every galaxy-star pair, exactly as TreeCorr's
``GGCorrelation.process(gal_cat, star_cat)`` (UNIONS and TXPipe call it the same way) with the star
catalog's ``g1, g2`` set to the field. No mean is subtracted from either field (as TreeCorr and
TXPipe's default ``subtract_mean=False``); the DES Y3 derivation writes the tau and rho statistics
with mean-subtracted fields x' = x - <x>, and UNIONS subtracts the weighted mean of the galaxy
shapes only; subtract the means from the catalog columns first to follow either.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..io import ResultIO
from ..sky.bins import Bins
from .covariance import JointStatistics, LazyShotCov, check_cross_patch_weight, check_var_method
from .pair_sums import PairSumSettings
from .pair_sums import check_catalog, field_variance, pair_sum_method, patches_in_use
from .rho import check_stars
from .shear_shear import ShearShearResult

__all__ = ["TauResult", "tau_statistics", "TAU_FIELDS"]

#: the star field each tau statistic correlates with the galaxy shapes
TAU_FIELDS = {"tau0": "em", "tau2": "de", "tau5": "edt"}


@dataclass
class TauResult(JointStatistics, ResultIO, PairSumSettings):
    """tau0, tau2, tau5, each a :class:`~cosmocorr.estimators.ShearShearResult` (``xip``, ``xim``).

    ``cov`` is the joint covariance of (tau0 xi+, tau0 xi-, tau2 xi+, ..., tau5 xi-) by
    ``var_method``, 6 nbins square. The joint covariance with the rho statistics (for the
    leakage fit) is ``cosmocorr.estimate_multi_cov([rho, tau], "jackknife")`` when stars and
    galaxies share patches. ``method``, ``bin_slop`` and ``angle_slop``: how the pair sums were
    taken (as on each entry). ``approx_info``: how the tree's approximation error was measured
    (``method="tree"``; each entry then carries ``approx_error`` etc. as dicts of ``xip``, ``xim``).
    """

    bins: Bins
    tau: dict
    extra: dict = field(default_factory=dict, repr=False)
    cov: np.ndarray = field(default=LazyShotCov("cov"), repr=False)
    var_method: str = "shot"

    _entries = "tau"

    @property
    def meanr(self):
        """Mean separation of the galaxy-star pairs per bin (arcmin; those of tau0, shared by all three)."""
        return self.tau["tau0"].meanr



def tau_statistics(galaxies, stars, bins=None, *, min_sep=None, max_sep=None, nbins=None, spacing=None,
                   backend=None, var_method="shot", cross_patch_weight="simple", num_bootstrap=500, seed=None,
                   method="exact", bin_slop=None, angle_slop=None, approx_tol=None):
    """tau0, tau2, tau5: galaxy shapes against the PSF model, its residual and the size term.

    tau0 = <e p>, tau2 = <e q>, tau5 = <e w> with p = e_model, q = e_star - e_model and
    w = e_star (T_star - T_model) / T_star at the stars: Gatti et al. 2021 (DES Y3 shape catalogue,
    arXiv:2011.03408), eqs. 20-22 as quoted by TXPipe's ``TXTauStatistics`` (not checked against the
    paper's text, see the module docstring); UNIONS ``shear_psf_leakage``
    ``TauStat.compute_tau_stats``. Each is a TreeCorr-style GG cross-correlation, no mean subtracted.

    Parameters
    ----------
    galaxies : Catalog
        Galaxies with shears ``g1``, ``g2`` (the first catalog of each pair).
    stars : StarCatalog
        Stars with star and model ellipticities and sizes (the second catalog).
    bins : Bins, optional
        Or ``min_sep``, ``max_sep`` (arcmin), ``nbins``, ``spacing``.
    backend : {"numpy", "julia", "auto"}, optional
    var_method, cross_patch_weight, num_bootstrap, seed :
        Error bars, as for :func:`cosmocorr.estimators.shear_shear`. The patch methods need the
        galaxies and the stars to carry the same patches (e.g. ``Catalog(..., npatch=K)`` and
        ``StarCatalog(..., patch_centers=galaxies.patch_centers)``); the galaxy-star pairs of
        every patch pair are kept, so any method (and the joint covariance with the rho
        statistics) is available later without recounting.
    method, bin_slop, angle_slop, approx_tol :
        ``"exact"`` (default) or ``"tree"`` and the tree's settings, as for
        :func:`cosmocorr.estimators.shear_shear`: each tau is then a TreeCorr GG
        cross-correlation of the galaxies with one star field.

    Returns
    -------
    TauResult
        ``result["tau0"].xip`` etc.; ``varxip`` of each from ``var_method`` (``"shot"``:
        ``2 varg_gal varg_field / weight``, TreeCorr's formula); empty bins hold NaN.
    """
    galaxies = check_catalog(galaxies, "galaxies")
    galaxies.require_shear("galaxies")
    stars = check_stars(stars)
    var_method = check_var_method(var_method)
    cross_patch_weight = check_cross_patch_weight(cross_patch_weight, var_method)
    bins = Bins.coerce(bins, min_sep=min_sep, max_sep=max_sep, nbins=nbins, spacing=spacing)
    cat, f = stars.catalog, stars.fields()
    how = pair_sum_method(method, backend=backend, bin_slop=bin_slop, angle_slop=angle_slop, approx_tol=approx_tol)
    settings = how.settings(bins)
    opts = dict(var_method=var_method, cross_patch_weight=cross_patch_weight, num_bootstrap=num_bootstrap, seed=seed,
                settings=settings)
    varg = field_variance(galaxies.g, galaxies.w)
    use_patches = patches_in_use([galaxies, cat], ["galaxies", "stars"], var_method)
    tau = {}
    for name, key in TAU_FIELDS.items():
        varf = field_variance(f[key], cat.w)
        if use_patches:
            ps = how.per_patch(galaxies, cat, bins, shear=True, g1=galaxies.g, g2=f[key], mode="cross")
            tau[name] = ShearShearResult.from_sums(bins, ps.total(), patch_sums=ps, varg1=varg, varg2=varf, **opts)
        else:
            sums = how.all_pairs(galaxies, cat, bins, g1=galaxies.g, g2=f[key])
            tau[name] = ShearShearResult.from_sums(bins, sums, varg1=varg, varg2=varf, **opts)
    out = TauResult(bins, tau, var_method=var_method, **settings)
    out.cov = (None if var_method == "shot" else   # shot: diagonal, built from the variances when read
               out.estimate_cov(var_method, cross_patch_weight=cross_patch_weight, num_bootstrap=num_bootstrap,
                                seed=seed))
    return out
