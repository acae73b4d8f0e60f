"""rho statistics for PSF diagnostics (Rowe 2010; paper eqs. 2-6).

With e the star (true PSF) ellipticity, e_model the PSF model's, T = 2 sigma^2 sizes,
delta e = e_star - e_model and delta T = T_star - T_model (the paper's definitions, with e_PSF
and T_PSF the star's own values):

- rho1 = < delta e^*  delta e >                       (eq. 2)
- rho2 = < e^*        delta e >                       (eq. 3)
- rho3 = < (e dT/T)^* (e dT/T) >                      (eq. 4)
- rho4 = < delta e^*  (e dT/T) >                      (eq. 5)
- rho5 = < e^*        (e dT/T) >                      (eq. 6)

Each is the xi+ (and xi-) shear-shear correlation of the two fields, estimated with eq. 8.
rho1 and rho3 are auto-correlations (each pair once); rho2, rho4 and rho5 correlate two fields
at the same positions, so every ordered pair (i, j), i != j, enters. Pairs of an object with itself
(separation 0) are never counted.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..backends import get_kernels
from ..io import ResultIO
from ..sky.bins import Bins
from ..sky.stars import StarCatalog
from .covariance import check_cross_patch_weight, check_var_method, estimate_multi_cov
from .pair_sums import field_variance, logr_sums, naive_pair_sums, patch_pair_sums, patches_in_use
from .pair_sums import sum_both_orders as _sum_both_orders
from .shear_shear import ShearShearResult

__all__ = ["RhoResult", "rho_statistics", "rho_pair_sums", "RHO_FIELDS"]

#: which two fields each rho statistic correlates: (first, second)
RHO_FIELDS = {
    "rho1": ("de", "de"),
    "rho2": ("e", "de"),
    "rho3": ("edt", "edt"),
    "rho4": ("de", "edt"),
    "rho5": ("e", "edt"),
}


@dataclass
class RhoResult(ResultIO):
    """rho1..rho5, each a :class:`~cosmocorr.estimators.ShearShearResult` (xi+ in ``xip``).

    Each entry carries its own ``varxip``, ``varxim``, ``cov`` and ``meanlogr``. ``cov`` here is
    the joint covariance of (rho1 xi+, rho1 xi-, ..., rho5 xi+, rho5 xi-) by ``var_method``
    (TreeCorr's ``estimate_multi_cov`` order), 10 nbins square.
    """

    bins: Bins
    rho: dict
    extra: dict = field(default_factory=dict, repr=False)
    cov: np.ndarray = field(default=None, repr=False)
    var_method: str = "shot"

    def estimate_cov(self, method, *, cross_patch_weight="simple", num_bootstrap=500, seed=None):
        """Joint covariance of rho1..rho5 (xi+ then xi- of each) by ``method``."""
        return estimate_multi_cov(list(self.rho.values()), method, cross_patch_weight=cross_patch_weight,
                                  num_bootstrap=num_bootstrap, seed=seed)

    def __getitem__(self, name):
        return self.rho[name]

    def __iter__(self):
        return iter(self.rho)

    @property
    def meanr(self):
        return self.rho["rho1"].meanr

    @property
    def rnom(self):
        return self.bins.rnom

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


def rho_pair_sums(stars, bins, backend=None, catalog=None, fields=None):
    """Bin sums of all five rho statistics (dict name -> pair-sum dict).

    ``catalog``/``fields`` override the stars' own positions and fields (used by the
    clustered estimator, whose objects are clusters).
    """
    cat = stars.catalog if catalog is None else catalog
    f = stars.fields() if fields is None else fields
    multi = getattr(get_kernels(backend), "pair_sums_fields", None)
    if multi is not None:
        # one pass over the pair geometry (separations, bins, projections) for all five
        names = sorted({k for ab in RHO_FIELDS.values() for k in ab})
        at = {k: q for q, k in enumerate(names)}
        sums = multi(cat.xyz, cat.w, [f[k] for k in names], [(at[a], at[b]) for a, b in RHO_FIELDS.values()],
                     bins.min_sep, bins.max_sep, bins.nbins, bins.spacing == "log", logr=True)
        return dict(zip(RHO_FIELDS, sums))
    wlogr = logr_sums(cat.xyz, cat.w, cat.xyz, cat.w, bins, True)   # positions only: once for all five
    out = {}
    for name, (a, b) in RHO_FIELDS.items():
        if a == b:
            out[name] = naive_pair_sums(cat, None, bins, backend=backend, g1=f[a], g2=f[a], logr=False)
            out[name]["wlogr"] = wlogr.copy()
        else:
            # cross-correlation of two fields at the same positions: all ordered pairs i != j
            # = the auto-correlation's unordered pairs taken in both orders
            s_ab = naive_pair_sums(cat, None, bins, backend=backend, g1=f[a], g2=f[b], logr=False)
            s_ba = naive_pair_sums(cat, None, bins, backend=backend, g1=f[b], g2=f[a], logr=False)
            out[name] = _sum_both_orders(s_ab, s_ba)
            out[name]["wlogr"] = 2.0 * wlogr
    return out


def rho_statistics(stars, bins=None, *, min_sep=None, max_sep=None, nbins=None, spacing=None,
                   backend=None, var_method="shot", cross_patch_weight="simple", num_bootstrap=500, seed=None):
    """rho1..rho5 (paper eqs. 2-6) from star and PSF-model ellipticities and sizes, over all pairs.

    Parameters
    ----------
    stars : StarCatalog
    bins : Bins, optional
        Or ``min_sep``, ``max_sep`` (arcmin), ``nbins``, ``spacing``.
    backend : {"numpy", "julia", "auto"}, optional
    var_method, cross_patch_weight, num_bootstrap, seed :
        Error bars of each rho (``varxip``, ``varxim``, ``cov``) and of all five together
        (``RhoResult.cov``), as for :func:`cosmocorr.estimators.shear_shear`; the patch methods
        need a StarCatalog built with ``patch=`` or ``npatch=``. rho1 and rho3 are
        auto-correlations (patch pairs p <= q); rho2, rho4, rho5 correlate two fields at the same
        positions over ordered pairs, i.e. a TreeCorr cross-correlation (all patch pairs).

    Returns
    -------
    RhoResult
        ``result["rho1"].xip`` etc.; empty bins hold NaN.
    """
    stars = check_stars(stars)
    var_method = check_var_method(var_method)
    cross_patch_weight = check_cross_patch_weight(cross_patch_weight, var_method)
    bins = Bins.coerce(bins, min_sep=min_sep, max_sep=max_sep, nbins=nbins, spacing=spacing)
    cat, f = stars.catalog, stars.fields()
    opts = dict(var_method=var_method, cross_patch_weight=cross_patch_weight, num_bootstrap=num_bootstrap, seed=seed)
    var = {k: field_variance(v, cat.w) for k, v in f.items()}
    rho = {}
    if patches_in_use([cat], ["stars"], var_method):
        cache = {}   # the positions-only wlogr sums of each patch pair, shared by the five statistics
        for name, (a, b) in RHO_FIELDS.items():
            ps = patch_pair_sums(cat, None, bins, shear=True, g1=f[a], g2=f[b],
                                 mode="auto" if a == b else "ordered", backend=backend, logr_cache=cache)
            rho[name] = ShearShearResult.from_sums(bins, ps.total(), patch_sums=ps, varg1=var[a], varg2=var[b], **opts)
    else:
        sums = rho_pair_sums(stars, bins, backend=backend)
        for name, (a, b) in RHO_FIELDS.items():
            rho[name] = ShearShearResult.from_sums(bins, sums[name], varg1=var[a], varg2=var[b], **opts)
    out = RhoResult(bins, rho, var_method=var_method)
    out.cov = (np.diag(out.estimate_cov("shot")) if var_method == "shot" else
               out.estimate_cov(var_method, cross_patch_weight=cross_patch_weight, num_bootstrap=num_bootstrap,
                                seed=seed))
    return out


def check_stars(stars, name="stars"):
    """``stars`` if it is a :class:`StarCatalog`, else a TypeError naming the argument."""
    if not isinstance(stars, StarCatalog):
        raise TypeError(f"{name} must be a cosmocorr.StarCatalog, got {type(stars).__name__}")
    return stars
