"""Count-shear, count-scalar, scalar-scalar and scalar-shear correlations over all pairs.

TreeCorr's NG, NK, KK and KG: the two-point functions a lensing, 3x2pt or convergence-map team
needs next to shear-shear (paper eqs. 7-8) and Landy-Szalay (eq. 1). Each is a weighted mean over
the pairs in a separation bin,

.. math:: \\hat\\xi(\\theta) = \\frac{\\sum_{ij} w_i w_j\\, a_i\\, b_j'}{\\sum_{ij} w_i w_j},

with a_i = 1 (a count, N) or the scalar k_i (K) of the first catalog, and b_j' the scalar k_j
(K) or the shear of the second catalog in the frame of the pair (G: Re b' = gamma_t,
Im b' = gamma_x, TreeCorr's signs; the same great-circle projection as eq. 8). Results carry
TreeCorr's attribute names (``xi``, ``xi_im``, ``varxi``, ``raw_xi``, ...) and agree with its
``brute=True``, ``metric="Arc"`` results; empty bins hold NaN.

With ``randoms=`` (NG, NK) the same statistic around random points is subtracted (TreeCorr's
``calculateXi(rg=)`` / ``(rk=)``): ``xi = DG - RG``, ``raw_xi`` keeps DG; a bin without any
random pair subtracts 0 (as TreeCorr).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..io import ResultIO
from ..sky.bins import Bins
from ..sky.catalog import concatenate_catalogs
from .covariance import LazyShotCov, XiCovariance, check_cross_patch_weight, check_var_method
from .pair_sums import ApproximationFields
from .pair_sums import check_catalog, pair_sum_method, patches_in_use
from .pair_sums import field_variance
from .pair_sums import ratio as _ratio

__all__ = ["FieldCorrelationResult", "CountShearResult", "CountScalarResult", "ScalarScalarResult",
           "ScalarShearResult", "count_shear", "count_scalar", "scalar_scalar", "scalar_shear", "scalar_variance",
           "field_of", "var_num_of"]


def scalar_variance(k, w):
    """TreeCorr's variance of a scalar field (``Catalog.vark``): sum w^2 (k - <k>_w)^2 / sum w."""
    k = np.asarray(k, dtype=float)
    w = np.asarray(w, dtype=float)
    m = np.sum(w * k) / np.sum(w)
    return float(np.sum(w**2 * (k - m) ** 2) / np.sum(w))


def _ratio0(num, den):
    """num / den with 0 where den == 0 (a resampled bin without pairs counts as 0, as TreeCorr)."""
    out = np.zeros(np.broadcast(num, den).shape)
    np.divide(num, den, out=out, where=den != 0)
    return out


@dataclass
class FieldCorrelationResult(XiCovariance, ResultIO, ApproximationFields):
    """A correlation <a b'> of two fields per bin (NG, NK, KK, KG), TreeCorr's attribute names.

    Attributes
    ----------
    bins : Bins
    meanr, meanlogr : ndarray
        Weighted mean separation (arcmin) and mean ln(r / arcmin) of the pairs; NaN for empty bins.
    xi : ndarray
        The correlation (NG: <gamma_t>, NK: <kappa>, KK: <k k>, KG: <k gamma_t>), compensated by
        the randoms when given; NaN for empty bins.
    xi_im : ndarray or None
        NG: <gamma_x>; KG: <k gamma_x> (None for NK, KK).
    npairs, weight : ndarray
        Number of pairs and sum of w_i w_j per bin.
    varxi : ndarray
        Variance of ``xi``: the diagonal of ``cov``.
    cov : ndarray (nbins, nbins)
        Covariance of ``xi`` by ``var_method``. ``"shot"``: TreeCorr's ``var_num / weight``
        (NG: varg; NK: vark; KK: vark1 vark2; KG: vark varg), plus that of the randoms' term when
        ``randoms`` were given; the patch methods need catalogs with the same patches.
    var_method, cross_patch_weight : str
    npatch : int
    var_num : float
        TreeCorr's ``_var_num``, the numerator of the shot noise.
    raw_xi, raw_xi_im, raw_varxi : ndarray or None
        The uncompensated values (NG, NK with ``randoms``; None otherwise).
    patch_sums, random_patch_sums : PatchPairSums or None
        Per-patch-pair sums of the data and of the randoms' term, reused by every covariance.
    random_sums : dict or None
        All-pairs sums of the randoms' term (RG / RK).
    method : {"exact", "tree"}
        How the pair sums were taken (``"tree"``: TreeCorr's tree, :mod:`cosmocorr.backends.tree`).
    bin_slop, angle_slop : float
        The tree's slop values used (TreeCorr's defaults resolved); 0 for ``method="exact"``.
    approx_error, approx_error_err, approx_sigma, approx_sigma_err : dict or None
        ``method="tree"`` with its measured approximation error
        (:mod:`cosmocorr.estimators.approximation_error`): per bin, {"xi": ...} (and "xi_im"
        for NG, KG); None otherwise. ``approx_info``: how they were measured.
    """

    bins: Bins
    meanr: np.ndarray
    xi: np.ndarray
    npairs: np.ndarray
    weight: np.ndarray
    extra: dict = field(default_factory=dict, repr=False)
    meanlogr: np.ndarray = None
    xi_im: np.ndarray = None
    varxi: np.ndarray = None
    cov: np.ndarray = field(default=LazyShotCov("cov"), repr=False)
    var_method: str = "shot"
    cross_patch_weight: str = "simple"
    npatch: int = 1
    var_num: float = float("nan")
    raw_xi: np.ndarray = None
    raw_xi_im: np.ndarray = None
    raw_varxi: np.ndarray = None
    random_sums: dict = field(default=None, repr=False)
    patch_sums: object = field(default=None, repr=False)
    random_patch_sums: object = field(default=None, repr=False)

    #: TreeCorr's letters (file header ``corr``) and class, and whether there is an imaginary part
    letters = None
    treecorr_class = None
    has_imag = False

    @property
    def rnom(self):
        """Nominal bin centres (arcmin), TreeCorr's ``rnom``."""
        return self.bins.rnom

    # --- covariance interface (cosmocorr.estimators.covariance) ---------------------------
    def _patch_ok(self):
        ok = self.patch_sums.ok
        if self.random_patch_sums is not None:
            # TreeCorr's calculateXi(rg=) adds the RG patch pairs to DG's results (zero weight)
            ok = ok | self.random_patch_sums.ok
        return ok

    def _empty_mask(self):
        return np.asarray(self.weight) == 0

    def _shot_diag(self):
        """TreeCorr's shot noise var_num / weight (0 where empty), plus the randoms' term."""
        out = _ratio0(self.var_num, np.asarray(self.weight, dtype=float))
        if self.random_sums is not None:
            out = out + _ratio0(self.var_num, np.asarray(self.random_sums["weight"], dtype=float))
        return out

    def _design_rows(self, W):
        """xi of each design row: the sums weighted by W (nrows, npatch, npatch), minus the
        randoms' term on the patch pairs the randoms have (TreeCorr's ``_calculate_xi_from_pairs``)."""
        S = self.patch_sums.sums
        w = np.einsum("rpq,pqb->rb", W, S["weight"])
        v = _ratio0(np.einsum("rpq,pqb->rb", W, S["xi"]), w)
        if self.random_patch_sums is not None:
            R = self.random_patch_sums
            Wr = W * R.ok
            v = v - _ratio0(np.einsum("rpq,pqb->rb", Wr, R.sums["xi"]), np.einsum("rpq,pqb->rb", Wr, R.sums["weight"]))
        return v, w.sum(axis=1)

    @classmethod
    def from_sums(cls, bins, sums, *, var_num=None, random_sums=None, patch_sums=None, random_patch_sums=None,
                  var_method="shot", cross_patch_weight="simple", num_bootstrap=500, seed=None, settings=None,
                  **extra):
        """A result from all-pairs sums (``xi``, ``xi_im``, ``npairs``, ``weight``, ``wr``, ``wlogr``),
        the randoms' sums (NG, NK) and, for the patch methods, the per-patch-pair sums;
        ``settings``: ``method``, ``bin_slop``, ``angle_slop`` (default exact)."""
        w = sums["weight"]
        xi = _ratio(sums["xi"], w)
        xi_im = _ratio(sums["xi_im"], w) if cls.has_imag else None
        out = cls(
            bins=bins, meanr=_ratio(sums["wr"], w), xi=xi, xi_im=xi_im,
            npairs=np.asarray(sums["npairs"], dtype=float), weight=np.asarray(w, dtype=float), extra=dict(extra),
            meanlogr=_ratio(sums["wlogr"], w) if "wlogr" in sums else np.full(bins.nbins, np.nan),
            npatch=1 if patch_sums is None else patch_sums.npatch,
            var_num=np.nan if var_num is None else float(var_num),
            random_sums=None if random_sums is None else {k: np.asarray(v, float) for k, v in random_sums.items()},
            patch_sums=patch_sums, random_patch_sums=random_patch_sums, **({} if settings is None else settings),
        )
        if random_sums is not None:
            rw = out.random_sums["weight"]
            out.raw_xi, out.xi = xi, xi - _ratio0(out.random_sums["xi"], rw)
            if cls.has_imag:
                out.raw_xi_im, out.xi_im = xi_im, xi_im - _ratio0(out.random_sums["xi_im"], rw)
            out.raw_varxi = np.where(out._empty_mask(), np.nan, _ratio0(out.var_num, out.weight))
        return out._set_covariance(var_method, cross_patch_weight, num_bootstrap, seed)

    # to_dict / to_json / write / read / to_table: cosmocorr.io.ResultIO (complete and lossless)


@dataclass
class CountShearResult(FieldCorrelationResult):
    """Count-shear (TreeCorr's ``NGCorrelation``): ``xi`` = <gamma_t>, ``xi_im`` = <gamma_x> of the
    sources around the lenses (see :class:`FieldCorrelationResult`)."""

    letters = "NG"
    treecorr_class = "NGCorrelation"
    has_imag = True


@dataclass
class CountScalarResult(FieldCorrelationResult):
    """Count-scalar (TreeCorr's ``NKCorrelation``): ``xi`` = <k> around the positions."""

    letters = "NK"
    treecorr_class = "NKCorrelation"


@dataclass
class ScalarScalarResult(FieldCorrelationResult):
    """Scalar-scalar (TreeCorr's ``KKCorrelation``): ``xi`` = <k_i k_j>."""

    letters = "KK"
    treecorr_class = "KKCorrelation"


@dataclass
class ScalarShearResult(FieldCorrelationResult):
    """Scalar-shear (TreeCorr's ``KGCorrelation``): ``xi`` = <k gamma_t>, ``xi_im`` = <k gamma_x>."""

    letters = "KG"
    treecorr_class = "KGCorrelation"
    has_imag = True


def field_of(cat, kind, name):
    """The field a catalog contributes: ones (N), k (K) or g (G), after checking it is there."""
    if kind == "N":
        return np.ones(cat.nobj)
    if kind == "K":
        cat.require_scalar(name)
        return cat.k
    cat.require_shear(name)
    return cat.g


def var_num_of(letters, cat1, cat2):
    """TreeCorr's shot-noise numerator for ``letters`` (finalize's ``_var_num``)."""
    var = {"K": lambda c: scalar_variance(c.k, c.w), "G": lambda c: field_variance(c.g, c.w), "N": lambda c: 1.0}
    return var[letters[0]](cat1) * var[letters[1]](cat2) if letters[0] != "N" else var[letters[1]](cat2)


def _correlate(cls, cat1, cat2, bins, *, randoms=None, backend=None, var_method="shot", cross_patch_weight="simple",
               num_bootstrap=500, seed=None, names=("cat1", "cat2"), min_sep=None, max_sep=None, nbins=None,
               spacing=None, method="exact", bin_slop=None, angle_slop=None, approx_tol=None):
    """The shared body of the four estimators: validation, sums (per patch pair when patches are
    in use), randoms' term, result."""
    letters = cls.letters
    auto = cat2 is None
    if auto and letters != "KK":
        raise TypeError(f"{names[1]} must be a cosmocorr.Catalog, got None ({letters} has no auto-correlation)")
    cat1 = check_catalog(cat1, names[0])
    c2 = cat1 if auto else check_catalog(cat2, names[1])
    f1 = field_of(cat1, letters[0], names[0])
    f2 = field_of(c2, letters[1], names[1 if not auto else 0])
    var_method = check_var_method(var_method)
    cross_patch_weight = check_cross_patch_weight(cross_patch_weight, var_method)
    bins = Bins.coerce(bins, min_sep=min_sep, max_sep=max_sep, nbins=nbins, spacing=spacing)
    how = pair_sum_method(method, backend=backend, bin_slop=bin_slop, angle_slop=angle_slop, approx_tol=approx_tol)
    cats, cnames = ([cat1], [names[0]]) if auto else ([cat1, c2], list(names))
    if randoms is not None:
        randoms = concatenate_catalogs(randoms, "randoms")
        cats, cnames = cats + [randoms], cnames + ["randoms"]
    opts = dict(var_method=var_method, cross_patch_weight=cross_patch_weight, num_bootstrap=num_bootstrap, seed=seed,
                settings=how.settings(bins, letters))
    var_num = var_num_of(letters, cat1, c2)
    mode = "auto" if auto else "cross"
    if patches_in_use(cats, cnames, var_method):
        ps = how.fields_per_patch(letters, cat1, cat2, bins, f1, f2, mode=mode)
        rps = None if randoms is None else how.fields_per_patch(letters, randoms, c2, bins, np.ones(randoms.nobj), f2)
        return cls.from_sums(bins, ps.total(), var_num=var_num, random_sums=None if rps is None else rps.total(),
                             patch_sums=ps, random_patch_sums=rps, **opts)
    sums = how.fields(letters, cat1, cat2, bins, f1, f2)
    rs = None if randoms is None else how.fields(letters, randoms, c2, bins, np.ones(randoms.nobj), f2)
    return cls.from_sums(bins, sums, var_num=var_num, random_sums=rs, **opts)


_COMMON_DOC = """
    bins : Bins, optional
        Or give ``min_sep``, ``max_sep`` (arcmin), ``nbins`` and ``spacing``.
    backend : {"numpy", "julia", "auto"}, optional
        (The Julia module has no kernel for these sums: they run on the NumPy kernel.)
    var_method : {"shot", "jackknife", "sample", "bootstrap", "marked_bootstrap"}
        How ``cov`` / ``varxi`` are estimated (TreeCorr's meanings, on the same patches; see
        :mod:`cosmocorr.estimators.covariance`). All but ``"shot"`` need catalogs with patches.
    cross_patch_weight : {"simple", "mean", "match", "geom"}
    num_bootstrap : int
    seed : int or Generator, optional
        Seed of the bootstrap draws.
    method : {"exact", "tree"}
        ``"exact"`` (default): every pair; ``"tree"``: TreeCorr's tree (its NGCorrelation etc.)
        with ``bin_slop``, ``angle_slop`` (``approx_tol``), as :func:`cosmocorr.estimators.shear_shear`.
"""


def count_shear(lenses, sources, bins=None, *, randoms=None, min_sep=None, max_sep=None, nbins=None, spacing=None,
                backend=None, var_method="shot", cross_patch_weight="simple", num_bootstrap=500, seed=None, method="exact", bin_slop=None, angle_slop=None,
                approx_tol=None):
    """Tangential and cross shear of ``sources`` around ``lenses`` (TreeCorr's ``NGCorrelation``).

    .. math:: \\hat\\gamma_t(\\theta) + i\\,\\hat\\gamma_\\times(\\theta)
              = \\frac{\\sum_{ij} w_i w_j\\, g_j'}{\\sum_{ij} w_i w_j}

    over lens-source pairs in each bin, g_j' the source shear in the frame of the great circle
    joining the pair (the projection of paper eq. 8), with TreeCorr's sign: positive gamma_t for
    a tangential (lensing) pattern.

    Parameters
    ----------
    lenses : Catalog
        Positions (and weights).
    sources : Catalog
        Objects with shears (``g1``, ``g2``).
    randoms : Catalog or list of Catalog, optional
        Random points of the lenses' footprint: ``xi = DG - RG`` (TreeCorr's ``calculateXi(rg=)``);
        a list is concatenated with each catalog's own weights.
    %(common)s
    Returns
    -------
    CountShearResult
        ``xi`` (gamma_t), ``xi_im`` (gamma_x), ``npairs``, ``weight``, ``meanr``, ``varxi``, ...
    """
    return _correlate(CountShearResult, lenses, sources, bins, randoms=randoms, backend=backend,
                      var_method=var_method, cross_patch_weight=cross_patch_weight, num_bootstrap=num_bootstrap,
                      seed=seed, names=("lenses", "sources"), min_sep=min_sep, max_sep=max_sep, nbins=nbins,
                      spacing=spacing,
                      method=method, bin_slop=bin_slop, angle_slop=angle_slop, approx_tol=approx_tol)


def count_scalar(lenses, cat, bins=None, *, randoms=None, min_sep=None, max_sep=None, nbins=None, spacing=None,
                 backend=None, var_method="shot", cross_patch_weight="simple", num_bootstrap=500, seed=None,
                 method="exact", bin_slop=None, angle_slop=None, approx_tol=None):
    """Mean scalar field around positions, <kappa>(theta) (TreeCorr's ``NKCorrelation``).

    .. math:: \\hat\\xi(\\theta) = \\frac{\\sum_{ij} w_i w_j k_j}{\\sum_{ij} w_i w_j}

    Parameters
    ----------
    lenses : Catalog
        Positions.
    cat : Catalog
        Objects with a scalar field (``Catalog(..., k=)``).
    randoms : Catalog or list of Catalog, optional
        ``xi = DK - RK`` (TreeCorr's ``calculateXi(rk=)``).
    %(common)s
    Returns
    -------
    CountScalarResult
    """
    return _correlate(CountScalarResult, lenses, cat, bins, randoms=randoms, backend=backend, var_method=var_method,
                      cross_patch_weight=cross_patch_weight, num_bootstrap=num_bootstrap, seed=seed,
                      names=("lenses", "cat"), min_sep=min_sep, max_sep=max_sep, nbins=nbins, spacing=spacing,
                      method=method, bin_slop=bin_slop, angle_slop=angle_slop, approx_tol=approx_tol)


def scalar_scalar(cat1, cat2=None, bins=None, *, min_sep=None, max_sep=None, nbins=None, spacing=None,
                  backend=None, var_method="shot", cross_patch_weight="simple", num_bootstrap=500, seed=None,
                  method="exact", bin_slop=None, angle_slop=None, approx_tol=None):
    """Scalar-scalar correlation <k_i k_j>(theta) (TreeCorr's ``KKCorrelation``), auto or cross.

    .. math:: \\hat\\xi(\\theta) = \\frac{\\sum_{ij} w_i w_j k_i k_j}{\\sum_{ij} w_i w_j}

    Parameters
    ----------
    cat1 : Catalog
        Objects with a scalar field ``k``.
    cat2 : Catalog, optional
        Second catalog (all pairs i in 1, j in 2); default the auto-correlation of ``cat1``
        (each pair once, no self-pairs).
    %(common)s
    Returns
    -------
    ScalarScalarResult
    """
    return _correlate(ScalarScalarResult, cat1, cat2, bins, backend=backend, var_method=var_method,
                      cross_patch_weight=cross_patch_weight, num_bootstrap=num_bootstrap, seed=seed,
                      min_sep=min_sep, max_sep=max_sep, nbins=nbins, spacing=spacing,
                      method=method, bin_slop=bin_slop, angle_slop=angle_slop, approx_tol=approx_tol)


def scalar_shear(cat1, cat2, bins=None, *, min_sep=None, max_sep=None, nbins=None, spacing=None, backend=None,
                 var_method="shot", cross_patch_weight="simple", num_bootstrap=500, seed=None, method="exact",
                 bin_slop=None, angle_slop=None, approx_tol=None):
    """Scalar-shear correlation <k gamma_t>(theta) (TreeCorr's ``KGCorrelation``).

    .. math:: \\hat\\xi(\\theta) = \\frac{\\sum_{ij} w_i w_j k_i g_j'}{\\sum_{ij} w_i w_j}

    g_j' as in :func:`count_shear` (``xi`` its real part, ``xi_im`` the imaginary).

    Parameters
    ----------
    cat1 : Catalog
        Objects with a scalar field ``k``.
    cat2 : Catalog
        Objects with shears.
    %(common)s
    Returns
    -------
    ScalarShearResult
    """
    return _correlate(ScalarShearResult, cat1, cat2, bins, backend=backend, var_method=var_method,
                      cross_patch_weight=cross_patch_weight, num_bootstrap=num_bootstrap, seed=seed,
                      min_sep=min_sep, max_sep=max_sep, nbins=nbins, spacing=spacing,
                      method=method, bin_slop=bin_slop, angle_slop=angle_slop, approx_tol=approx_tol)


for _fn in (count_shear, count_scalar, scalar_scalar, scalar_shear):
    _fn.__doc__ = _fn.__doc__.replace("%(common)s", _COMMON_DOC.strip("\n").lstrip())
del _fn
