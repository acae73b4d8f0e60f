"""Shear-shear xi+/xi- (paper eqs. 7-8) over all pairs, and its result type.

Results follow TreeCorr's conventions and attribute names, and agree with TreeCorr's
``brute=True``, ``metric="Arc"`` results to floating-point precision. Bins that receive no pair
hold ``NaN`` in every averaged quantity (``meanr``, ``xip``, ...), with ``npairs == 0``: NaN
means "no pair at this separation", not a numerical failure.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..io import ResultIO
from ..sky.bins import Bins
from .covariance import LazyShotCov, check_cross_patch_weight, check_var_method, estimate_multi_cov
from .pair_sums import ApproximationFields
from .pair_sums import (check_addable, check_catalog, combined_variance, field_variance, pair_sum_method,
                        patches_in_use, sums_from_means)
from .pair_sums import ratio as _ratio

__all__ = ["ShearShearResult", "shear_shear"]


@dataclass
class ShearShearResult(ResultIO, ApproximationFields):
    """xi+ and xi- per bin (paper eq. 8), with TreeCorr's attribute names.

    Attributes
    ----------
    bins : Bins
    meanr : ndarray
        Weighted mean separation of the pairs in each bin (arcmin); NaN for empty bins.
    xip, xim : ndarray
        Real parts of <g g*> and <g g> over pairs, each shear projected onto the line joining
        the pair; NaN for empty bins.
    xip_im, xim_im : ndarray
        Imaginary parts (expected to vanish by parity).
    npairs, weight : ndarray
        Number of pairs and sum of w_i w_j per bin.
    meanlogr : ndarray
        Weighted mean of ln(r / arcmin) of the pairs (TreeCorr's ``meanlogr``); NaN for empty bins.
    varxip, varxim : ndarray
        Variance estimates of xi+ and xi-: the diagonal of ``cov`` (NaN for empty bins).
    cov : ndarray (2 nbins, 2 nbins)
        Covariance of the data vector (xi+ then xi-) by ``var_method``. ``"shot"`` (default):
        shape noise only, ``2 varg1 varg2 / weight`` on the diagonal (TreeCorr's formula, with
        ``varg`` = :func:`~cosmocorr.estimators.pair_sums.field_variance`), zero elsewhere;
        the patch methods (:mod:`cosmocorr.estimators.covariance`) need catalogs with patches.
    var_method, cross_patch_weight : str
    npatch : int
        Patches used (1: none).
    varg1, varg2 : float
        Shape-noise variance per component of the two fields.
    patch_sums : PatchPairSums or None
        The per-patch-pair sums every covariance method reuses (None without patches).
    method : {"exact", "tree"}
        How the pair sums were taken (every pair, or TreeCorr's tree).
    bin_slop, angle_slop : float
        The tree's slop values used (TreeCorr's defaults resolved); 0 for ``method="exact"``
        (every pair at its own separation and projection angle).
    approx_error, approx_error_err : dict or None
        ``cosmocorr.shear_shear(method="tree")``: the measured approximation error
        (:mod:`cosmocorr.estimators.approximation_error`), systematic part (tree - exact, signed)
        per bin as {"xip": ..., "xim": ...} and its standard error; None otherwise.
    approx_sigma, approx_sigma_err : dict or None
        Its random part: the spread of the tree estimate over random rotations of the sky, and
        the standard error of that spread.
    approx_info : dict or None
        How they were measured (rotations, units checked exactly, the ``bin_slop`` values tried
        by ``bin_slop="auto"`` and each one's worst error bound in statistical sigmas).
    """

    bins: Bins
    meanr: np.ndarray
    xip: np.ndarray
    xim: np.ndarray
    xip_im: np.ndarray
    xim_im: np.ndarray
    npairs: np.ndarray
    weight: np.ndarray
    extra: dict = field(default_factory=dict, repr=False)
    meanlogr: np.ndarray = None
    varxip: np.ndarray = None
    varxim: np.ndarray = None
    cov: np.ndarray = field(default=LazyShotCov("cov"), repr=False)
    var_method: str = "shot"
    cross_patch_weight: str = "simple"
    npatch: int = 1
    varg1: float = float("nan")
    varg2: float = float("nan")
    patch_sums: object = field(default=None, repr=False)

    @property
    def rnom(self):
        """Nominal bin centres (arcmin), TreeCorr's ``rnom``."""
        return self.bins.rnom

    # --- covariance interface (cosmocorr.estimators.covariance) ---------------------------
    def _patch_ok(self):
        return self.patch_sums.ok

    def _empty_mask(self):
        e = np.asarray(self.weight) == 0
        return np.concatenate([e, e])

    def _shot_diag(self):
        """TreeCorr's shot noise: var_num / weight with var_num = 2 varg1 varg2 (0 where empty)."""
        w = np.concatenate([self.weight, self.weight])
        out = np.zeros_like(w)
        np.divide(2.0 * self.varg1 * self.varg2, w, out=out, where=w != 0)
        return out

    def _design_rows(self, W):
        """xi+ then xi- of each design row: sums weighted by W (nrows, npatch, npatch)."""
        S = self.patch_sums.sums
        w = np.einsum("rpq,pqb->rb", W, S["weight"])
        rows = []
        for k in ("xip", "xim"):
            num = np.einsum("rpq,pqb->rb", W, S[k])
            v = np.zeros_like(num)
            np.divide(num, w, out=v, where=w != 0)
            rows.append(v)
        return np.concatenate(rows, axis=1), 2.0 * w.sum(axis=1)

    def estimate_cov(self, method, *, cross_patch_weight="simple", num_bootstrap=500, seed=None):
        """Covariance of (xi+, xi-) by ``method`` (TreeCorr's ``estimate_cov``; ``"shot"``
        gives the 1-d diagonal)."""
        return estimate_multi_cov([self], method, cross_patch_weight=cross_patch_weight,
                                  num_bootstrap=num_bootstrap, seed=seed)

    def _set_covariance(self, var_method="shot", cross_patch_weight="simple", num_bootstrap=500, seed=None):
        self.var_method = var_method
        self.cross_patch_weight = cross_patch_weight
        if var_method == "shot":  # diagonal: keep the vectors, cov is built when read
            cov, d = None, estimate_multi_cov([self], "shot")
        else:
            cov = estimate_multi_cov([self], var_method, cross_patch_weight=cross_patch_weight,
                                     num_bootstrap=num_bootstrap, seed=seed)
            d = np.diagonal(cov).copy()
        nb = self.bins.nbins
        self.cov, self.varxip, self.varxim = cov, d[:nb], d[nb:]
        return self

    def _shot_variances(self):
        """The diagonal of the shot-noise ``cov``: varxip then varxim (None when unset)."""
        if self.varxip is None or self.varxim is None:
            return None
        return np.concatenate([np.asarray(self.varxip, float), np.asarray(self.varxim, float)])

    @classmethod
    def from_sums(cls, bins, sums, *, varg1=None, varg2=None, patch_sums=None, var_method="shot",
                  cross_patch_weight="simple", num_bootstrap=500, seed=None, settings=None, **extra):
        """A result from all-pairs sums (and, for the patch methods, the per-patch-pair sums).

        ``varg1``/``varg2`` (shape noise per component of the two fields) give the shot-noise
        variances; without them ``varxip``/``varxim``/``cov`` are NaN. ``settings``: how the sums
        were taken (``method``, ``bin_slop``, ``angle_slop``; default exact).
        """
        w = sums["weight"]
        out = cls(
            bins=bins,
            meanr=_ratio(sums["wr"], w),
            xip=_ratio(sums["xip"], w),
            xim=_ratio(sums["xim"], w),
            xip_im=_ratio(sums["xip_im"], w),
            xim_im=_ratio(sums["xim_im"], w),
            npairs=np.asarray(sums["npairs"], dtype=float),
            weight=np.asarray(w, dtype=float),
            extra=dict(extra),
            meanlogr=_ratio(sums["wlogr"], w) if "wlogr" in sums else np.full(bins.nbins, np.nan),
            npatch=1 if patch_sums is None else patch_sums.npatch,
            varg1=np.nan if varg1 is None else float(varg1),
            varg2=np.nan if varg2 is None else float(varg2),
            patch_sums=patch_sums,
            **({} if settings is None else settings),
        )
        return out._set_covariance(var_method, cross_patch_weight, num_bootstrap, seed)

    # --- sums of chunks (TreeCorr's +=) ------------------------------------------------------
    def pair_sums(self):
        """The bin sums behind the result (eq. 8's numerators and denominators: ``weight``,
        ``npairs``, ``wr``, ``wlogr``, ``xip``, ``xim``, ``xip_im``, ``xim_im``), recovered from
        the means (0 in empty bins)."""
        means = {"wr": self.meanr, "xip": self.xip, "xim": self.xim, "xip_im": self.xip_im, "xim_im": self.xim_im}
        if self.meanlogr is not None:
            means["wlogr"] = self.meanlogr
        out = sums_from_means(self.weight, means)
        out["weight"], out["npairs"] = np.asarray(self.weight, float), np.asarray(self.npairs, float)
        return out

    def add(self, other, *, varg1=None, varg2=None):
        """The result over the pairs of both (TreeCorr's ``+=``): for sums over disjoint sets of
        pairs, e.g. the chunks (p, q), p <= q, of a catalog cut into patches, each computed by
        :func:`shear_shear` (``shear_shear(cat_p)`` for p = q, ``shear_shear(cat_p, cat_q)``
        otherwise). Sums add; ``xip``, ``xim``, ``meanr``, ``meanlogr`` are recomputed from
        them (eq. 8) and the shot noise ``2 varg1 varg2 / weight`` from the field variances.

        Parameters
        ----------
        other : ShearShearResult
            On the same bins, without patches (a TypeError / ValueError otherwise).
        varg1, varg2 : float, optional
            Shape-noise variances of the two fields of the whole (e.g.
            :func:`~cosmocorr.estimators.pair_sums.field_variance` of the whole catalog). Default:
            the results' own when they agree; chunks of one catalog carry different ones, and
            then these are required (ValueError).

        Returns
        -------
        ShearShearResult
        """
        check_addable(self, other, ShearShearResult)
        a, b = self.pair_sums(), other.pair_sums()
        if ("wlogr" in a) != ("wlogr" in b):
            a.pop("wlogr", None)
            b.pop("wlogr", None)
        return ShearShearResult.from_sums(self.bins, {k: a[k] + b[k] for k in a},
                                          varg1=combined_variance(self.varg1, other.varg1, varg1, "varg1"),
                                          varg2=combined_variance(self.varg2, other.varg2, varg2, "varg2"))

    def __add__(self, other):
        return self.add(other)

    def __radd__(self, other):
        return self if isinstance(other, int) and other == 0 else self.add(other)   # sum([...]) starts at 0

    # to_dict / to_json / write / read / to_table: cosmocorr.io.ResultIO (complete and lossless)


def shear_shear(cat1, cat2=None, bins=None, *, min_sep=None, max_sep=None, nbins=None, spacing=None,
                backend=None, var_method="shot", cross_patch_weight="simple", num_bootstrap=500, seed=None,
                method="exact", bin_slop=None, angle_slop=None, approx_tol=None):
    """Shear-shear correlation xi+(theta), xi-(theta) over all pairs, or by a tree (paper eqs. 7-8).

    .. math:: \\hat\\xi_\\pm(\\theta) = \\frac{\\sum_{ij} w_i w_j\\, \\mathrm{Re}(g_i g_j^{*})\\ \\text{or}
              \\ \\mathrm{Re}(g_i g_j)}{\\sum_{ij} w_i w_j}

    over pairs in each bin, each shear projected onto the great circle joining the pair.

    Parameters
    ----------
    cat1 : Catalog
        Objects with shears (``g1``, ``g2``).
    cat2 : Catalog, optional
        Second catalog for a cross-correlation (all ordered pairs i in 1, j in 2); default:
        auto-correlation of ``cat1`` (each pair once, no self-pairs).
    bins : Bins, optional
        Or give ``min_sep``, ``max_sep`` (arcmin), ``nbins`` and ``spacing``.
    backend : {"numpy", "julia", "auto"}, optional
    var_method : {"shot", "jackknife", "sample", "bootstrap", "marked_bootstrap"}
        How ``cov`` / ``varxip`` / ``varxim`` are estimated (TreeCorr's meanings; see
        :mod:`cosmocorr.estimators.covariance`). All but ``"shot"`` need catalogs with patches.
    cross_patch_weight : {"simple", "mean", "match", "geom"}
        Weight of pairs between a kept and a dropped patch (TreeCorr's default ``"simple"``).
    num_bootstrap : int
        Realisations for the bootstrap methods (default 500).
    seed : int or Generator, optional
        Seed of the bootstrap draws.
    method : {"exact", "tree"}
        ``"exact"`` (default): every pair on ``backend``'s kernels. ``"tree"``: TreeCorr's tree
        (:mod:`cosmocorr.backends.tree`): pairs of cells stand for their pairs within
        ``bin_slop`` and ``angle_slop``; same result type, variances and covariances.
    bin_slop, angle_slop : float >= 0, optional
        ``method="tree"`` only, TreeCorr's meanings and defaults (None: ``bin_slop`` with
        ``bin_slop * bin_size <= 0.1``, at most 1; ``angle_slop=0.1``). The values used are on
        the result.
    approx_tol : float > 0, optional
        ``method="tree"`` only: the tolerated approximation error in units of each bin's
        statistical sigma (for ``bin_slop="auto"``).

    With patches on the catalogs the pair sums are taken once per pair of patches and kept on
    the result (``patch_sums``), so :meth:`ShearShearResult.estimate_cov` and
    :func:`cosmocorr.estimate_multi_cov` give any method later without recounting pairs.

    Returns
    -------
    ShearShearResult
    """
    cat1 = check_catalog(cat1, "cat1")
    cat1.require_shear("cat1")
    if cat2 is not None:
        check_catalog(cat2, "cat2").require_shear("cat2")
    var_method = check_var_method(var_method)
    cross_patch_weight = check_cross_patch_weight(cross_patch_weight, var_method)
    bins = Bins.coerce(bins, min_sep=min_sep, max_sep=max_sep, nbins=nbins, spacing=spacing)
    how = pair_sum_method(method, backend=backend, bin_slop=bin_slop, angle_slop=angle_slop, approx_tol=approx_tol)
    cats, names = ([cat1], ["cat1"]) if cat2 is None else ([cat1, cat2], ["cat1", "cat2"])
    use_patches = patches_in_use(cats, names, var_method)
    c2 = cat1 if cat2 is None else cat2
    varg = dict(varg1=field_variance(cat1.g, cat1.w), varg2=field_variance(c2.g, c2.w))
    opts = dict(var_method=var_method, cross_patch_weight=cross_patch_weight, num_bootstrap=num_bootstrap, seed=seed,
                settings=how.settings(bins))
    if use_patches:
        ps = how.per_patch(cat1, cat2, bins, shear=True, mode="auto" if cat2 is None else "cross")
        return ShearShearResult.from_sums(bins, ps.total(), patch_sums=ps, **varg, **opts)
    return ShearShearResult.from_sums(bins, how.all_pairs(cat1, cat2, bins), **varg, **opts)
