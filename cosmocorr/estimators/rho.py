"""rho statistics for PSF diagnostics (Rowe 2010; paper eqs. 2-6).

With e the star (true PSF) ellipticity, e_model the PSF model's, T = 2 sigma^2 sizes,
delta e = e_star - e_model and delta T = T_star - T_model (the paper's definitions, with e_PSF
and T_PSF the star's own values):

- rho0 = < e_model^*  e_model >                      (Gatti et al. 2021, DES Y3; not in the paper)
- rho1 = < delta e^*  delta e >                       (eq. 2)
- rho2 = < e^*        delta e >                       (eq. 3)
- rho3 = < (e dT/T)^* (e dT/T) >                      (eq. 4)
- rho4 = < delta e^*  (e dT/T) >                      (eq. 5)
- rho5 = < e^*        (e dT/T) >                      (eq. 6)

Each is the xi+ (and xi-) shear-shear correlation of the two fields, estimated with eq. 8.
rho0 is the PSF model's own correlation, which the PSF-leakage fit (:mod:`.psf_leakage`) needs
beside the tau statistics (:mod:`.tau`): the rho0 of Gatti et al. 2021 (DES Y3 shape catalogue,
arXiv:2011.03408; its equation number could not be checked here, see docs/psf_leakage.md), of
UNIONS ``shear_psf_leakage`` (``RhoStat.compute_rho_stats``: ``rho_0`` correlates the ``psf``
catalog with itself) and of TXPipe (``TXRoweStatistics``, definition ``"des-y3"``: rowe 0 of
``e_mod`` with ``e_mod``). Note that rho2 and rho5 here follow the paper (eqs. 3, 6) and correlate
the *star* ellipticity e; DES Y3 and UNIONS write them with e_model (R2 = <q p>, R5 = <p w>);
:func:`cosmocorr.estimators.psf_leakage.model_rho` converts (e_model = e - delta e).
rho0, rho1 and rho3 are auto-correlations (each pair once); rho2, rho4 and rho5 correlate two fields
at the same positions, so every ordered pair (i, j), i != j, enters. Pairs of an object with itself
(separation 0) are never counted.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..io import ResultIO
from ..sky.bins import Bins
from ..sky.stars import StarCatalog
from .covariance import JointStatistics, LazyShotCov, check_cross_patch_weight, check_var_method
from .pair_sums import PairSumSettings
from .pair_sums import ExactSums, field_variance, pair_sum_method, patches_in_use
from .shear_shear import ShearShearResult

__all__ = ["RhoResult", "rho_statistics", "rho_pair_sums", "RHO_FIELDS"]

#: which two fields each rho statistic correlates: (first, second)
RHO_FIELDS = {
    "rho0": ("em", "em"),
    "rho1": ("de", "de"),
    "rho2": ("e", "de"),
    "rho3": ("edt", "edt"),
    "rho4": ("de", "edt"),
    "rho5": ("e", "edt"),
}


@dataclass
class RhoResult(JointStatistics, ResultIO, PairSumSettings):
    """rho0..rho5, each a :class:`~cosmocorr.estimators.ShearShearResult` (xi+ in ``xip``).

    Each entry carries its own ``varxip``, ``varxim``, ``cov`` and ``meanlogr``. ``cov`` here is
    the joint covariance of (rho0 xi+, rho0 xi-, ..., rho5 xi+, rho5 xi-) by ``var_method``
    (TreeCorr's ``estimate_multi_cov`` order), 12 nbins square. ``method``, ``bin_slop`` and
    ``angle_slop``: how the pair sums were taken (as on each entry). ``approx_info``: how the
    approximation error of ``cosmocorr.rho_statistics(method="tree")`` was measured; each entry
    carries its own ``approx_error``, ``approx_sigma`` (and ``_err``) dicts of ``xip``, ``xim``.
    """

    bins: Bins
    rho: dict
    extra: dict = field(default_factory=dict, repr=False)
    cov: np.ndarray = field(default=LazyShotCov("cov"), repr=False)
    var_method: str = "shot"

    _entries = "rho"

    @property
    def meanr(self):
        """Weighted mean separation per bin (arcmin), that of rho1."""
        return self.rho["rho1"].meanr


    # --- sums of chunks (TreeCorr's +=) ------------------------------------------------------
    def add(self, other, *, field_variances=None):
        """rho1..rho5 over the pairs of both (each :meth:`ShearShearResult.add`), e.g. of star
        fields farther apart than the largest bin.

        Parameters
        ----------
        other : RhoResult
            On the same bins, without patches.
        field_variances : dict, optional
            Shape-noise variance of each field of the whole (keys ``"e"``, ``"de"``, ``"edt"``:
            star ellipticity, residual, e dT/T; see :data:`RHO_FIELDS`). Default: the results'
            own where they agree (a ValueError when they differ).

        Returns
        -------
        RhoResult
        """
        if not isinstance(other, RhoResult):
            raise TypeError(f"other: only a RhoResult can be added to a RhoResult, got {type(other).__name__}")
        if set(self.rho) != set(other.rho):
            raise ValueError(f"other: holds {sorted(other.rho)}, this result {sorted(self.rho)}")
        fv = {} if field_variances is None else dict(field_variances)
        unknown = set(fv) - {k for ab in RHO_FIELDS.values() for k in ab}
        if unknown:
            raise ValueError(f"field_variances: unknown fields {sorted(unknown)}; the fields are 'e', 'de', 'edt'")
        rho = {}
        for name, r in self.rho.items():
            a, b = RHO_FIELDS[name]
            rho[name] = r.add(other.rho[name], varg1=fv.get(a), varg2=fv.get(b))
        out = RhoResult(self.bins, rho)
        out.cov = np.diag(out.estimate_cov("shot"))
        return out

    def __add__(self, other):
        return self.add(other)

    def __radd__(self, other):
        return self if isinstance(other, int) and other == 0 else self.add(other)   # sum([...]) starts at 0

    # to_dict / to_json / write / read / to_table: cosmocorr.io.ResultIO (complete and lossless)


def rho_pair_sums(stars, bins, backend=None, catalog=None, fields=None, how=None):
    """Bin sums of all six rho statistics, rho0..rho5 (dict name -> pair-sum dict).

    ``catalog``/``fields`` override the stars' own positions and fields (used by the
    clustered estimator, whose objects are clusters). ``how``: the pair-sum method
    (:func:`~cosmocorr.estimators.pair_sums.pair_sum_method`; default exact on ``backend``).
    """
    cat = stars.catalog if catalog is None else catalog
    f = stars.fields() if fields is None else fields
    how = ExactSums(backend) if how is None else how
    return how.field_pairs(cat, f, RHO_FIELDS, bins)


def rho_statistics(stars, bins=None, *, min_sep=None, max_sep=None, nbins=None, spacing=None,
                   backend=None, var_method="shot", cross_patch_weight="simple", num_bootstrap=500, seed=None,
                   method="exact", bin_slop=None, angle_slop=None, approx_tol=None):
    """rho0..rho5 (paper eqs. 2-6; rho0 = <e_model^* e_model>, Gatti et al. 2021, arXiv:2011.03408,
    and UNIONS' ``RhoStat.compute_rho_stats``) from star and PSF-model ellipticities and sizes, over
    all pairs or by a tree.

    Parameters
    ----------
    stars : StarCatalog
    bins : Bins, optional
        Or ``min_sep``, ``max_sep`` (arcmin), ``nbins``, ``spacing``.
    backend : {"numpy", "julia", "auto"}, optional
    var_method, cross_patch_weight, num_bootstrap, seed :
        Error bars of each rho (``varxip``, ``varxim``, ``cov``) and of all six together
        (``RhoResult.cov``), as for :func:`cosmocorr.estimators.shear_shear`; the patch methods
        need a StarCatalog built with ``patch=`` or ``npatch=``. rho0, rho1 and rho3 are
        auto-correlations (patch pairs p <= q); rho2, rho4, rho5 correlate two fields at the same
        positions over ordered pairs, i.e. a TreeCorr cross-correlation (all patch pairs).
    method, bin_slop, angle_slop, approx_tol :
        ``"exact"`` (default) or ``"tree"`` and the tree's settings, as for
        :func:`cosmocorr.estimators.shear_shear`. With ``"tree"``, rho0, rho1 and rho3 are TreeCorr
        GG auto-correlations and rho2, rho4, rho5 GG cross-correlations of the two fields at the
        same positions (zero-separation pairs excluded, as on the exact path).

    Returns
    -------
    RhoResult
        ``result["rho1"].xip`` etc.; empty bins hold NaN.
    """
    stars = check_stars(stars)
    var_method = check_var_method(var_method)
    cross_patch_weight = check_cross_patch_weight(cross_patch_weight, var_method)
    bins = Bins.coerce(bins, min_sep=min_sep, max_sep=max_sep, nbins=nbins, spacing=spacing)
    how = pair_sum_method(method, backend=backend, bin_slop=bin_slop, angle_slop=angle_slop, approx_tol=approx_tol)
    cat, f = stars.catalog, stars.fields()
    settings = how.settings(bins)
    opts = dict(var_method=var_method, cross_patch_weight=cross_patch_weight, num_bootstrap=num_bootstrap, seed=seed,
                settings=settings)
    var = {k: field_variance(v, cat.w) for k, v in f.items()}
    rho = {}
    if patches_in_use([cat], ["stars"], var_method):
        cache = {}   # shared by the six statistics: exact, the wlogr sums of each patch pair; tree, its catalogs
        for name, (a, b) in RHO_FIELDS.items():
            ps = how.per_patch(cat, None, bins, shear=True, g1=f[a], g2=f[b], mode="auto" if a == b else "ordered",
                               logr_cache=cache)
            rho[name] = ShearShearResult.from_sums(bins, ps.total(), patch_sums=ps, varg1=var[a], varg2=var[b], **opts)
    else:
        sums = rho_pair_sums(stars, bins, how=how)
        for name, (a, b) in RHO_FIELDS.items():
            rho[name] = ShearShearResult.from_sums(bins, sums[name], varg1=var[a], varg2=var[b], **opts)
    out = RhoResult(bins, rho, var_method=var_method, **settings)
    out.cov = (None if var_method == "shot" else   # shot: diagonal, built from the variances when read
               out.estimate_cov(var_method, cross_patch_weight=cross_patch_weight, num_bootstrap=num_bootstrap,
                                seed=seed))
    return out


def check_stars(stars, name="stars"):
    """``stars`` if it is a :class:`StarCatalog`, else a TypeError naming the argument."""
    if not isinstance(stars, StarCatalog):
        raise TypeError(f"{name} must be a cosmocorr.StarCatalog, got {type(stars).__name__}")
    return stars
