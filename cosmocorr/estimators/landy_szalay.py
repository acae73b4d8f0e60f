"""Landy-Szalay omega(theta) (paper eq. 1) over all pairs, and its result type.

Counts are normalised as in TreeCorr; a bin where RR is empty holds NaN.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..io import ResultIO
from ..sky.bins import Bins
from .covariance import check_cross_patch_weight, check_var_method, estimate_multi_cov
from .pair_sums import check_addable, check_catalog, naive_pair_sums, patch_pair_sums, patches_in_use, sums_from_means
from .pair_sums import ratio as _ratio

__all__ = ["LandySzalayResult", "landy_szalay"]


@dataclass
class LandySzalayResult(ResultIO):
    """Landy-Szalay position-position correlation (paper eq. 1).

    ``xi = (DD - 2 DR + RR) / RR`` with each count normalised by its total pair weight as in
    TreeCorr: DD by sum(w_d)^2 / 2, RR by sum(w_r)^2 / 2 and DR by sum(w_d) sum(w_r).

    Attributes
    ----------
    xi : ndarray
        omega(theta); NaN where RR is empty.
    meanr : ndarray
        Weighted mean separation of the DD pairs (arcmin); NaN where DD is empty.
    dd, dr, rr : ndarray
        Raw weighted pair counts (sums of w_i w_j).
    dd_npairs, dr_npairs, rr_npairs : ndarray
        Pair numbers.
    dd_tot, dr_tot, rr_tot : float
        The normalisations.
    meanlogr : ndarray
        Weighted mean ln(r / arcmin) of the DD pairs; NaN where DD is empty.
    varxi : ndarray
        Variance estimate of xi, the diagonal of ``cov``; NaN where RR is empty.
    cov : ndarray (nbins, nbins)
        Covariance of xi by ``var_method`` (TreeCorr's ``NNCorrelation.calculateXi(rr=, dr=)``
        conventions). ``"shot"``: TreeCorr's semi-empirical Poisson term
        ``ddw (1 + 2 drf drw/ddw + rrf rrw/ddw)^2 / (RR rrf)`` on the diagonal (``ddw`` etc. the
        mean pair weights, ``rrf = dd_tot/rr_tot``, ``drf = dd_tot/dr_tot``).
    var_method, cross_patch_weight : str
    npatch : int
    dd_patch, dr_patch, rr_patch : PatchPairSums or None
        Per-patch-pair sums (None without patches).
    """

    bins: Bins
    xi: np.ndarray
    meanr: np.ndarray
    dd: np.ndarray
    dr: np.ndarray
    rr: np.ndarray
    dd_npairs: np.ndarray
    dr_npairs: np.ndarray
    rr_npairs: np.ndarray
    dd_tot: float
    dr_tot: float
    rr_tot: float
    extra: dict = field(default_factory=dict, repr=False)
    meanlogr: np.ndarray = None
    varxi: np.ndarray = None
    cov: np.ndarray = field(default=None, repr=False)
    var_method: str = "shot"
    cross_patch_weight: str = "simple"
    npatch: int = 1
    dd_patch: object = field(default=None, repr=False)
    dr_patch: object = field(default=None, repr=False)
    rr_patch: object = field(default=None, repr=False)

    @property
    def rnom(self):
        return self.bins.rnom

    @property
    def npairs(self):
        return self.dd_npairs

    # --- covariance interface (cosmocorr.estimators.covariance) ---------------------------
    @property
    def patch_sums(self):
        return self.dd_patch

    def _patch_ok(self):
        # TreeCorr adds every RR and DR patch pair to DD's results: DD's pairs are all (p, q)
        return np.ones_like(self.dd_patch.ok)

    def _empty_mask(self):
        return np.asarray(self.rr) == 0

    def _shot_diag(self):
        """TreeCorr's NN shot noise (calculateXi with rr and dr): var_num / (RR rrf)."""
        def mean_w(weight, npairs):
            m = np.mean(npairs)
            return 1.0 if m == 0 else np.mean(weight) / m
        ddw, drw, rrw = (mean_w(self.dd, self.dd_npairs), mean_w(self.dr, self.dr_npairs),
                         mean_w(self.rr, self.rr_npairs))
        rrf, drf = self.dd_tot / self.rr_tot, self.dd_tot / self.dr_tot
        var_num = ddw * (1.0 + 2.0 * drf * drw / ddw + rrf * rrw / ddw) ** 2
        den = self.rr * rrf
        out = np.zeros_like(den)
        np.divide(var_num, den, out=out, where=den != 0)
        return out

    def _design_rows(self, W):
        """xi of each design row: DD, DR, RR and their totals weighted by W (TreeCorr's
        ``NNCorrelation._calculate_xi_from_pairs``)."""
        def part(ps, Wk):
            return np.einsum("rpq,pqb->rb", Wk, ps.sums["weight"]), np.einsum("rpq,pq->r", Wk, ps.tot)
        dd, ddt = part(self.dd_patch, W)
        rr, rrt = part(self.rr_patch, W * self.rr_patch.ok)
        dr, drt = part(self.dr_patch, W * self.dr_patch.ok)
        with np.errstate(divide="ignore", invalid="ignore"):
            rrf, drf = (ddt / rrt)[:, None], (ddt / drt)[:, None]
            denom = rr * rrf
            xi = dd - 2.0 * dr * drf + denom
            denom = np.where(denom == 0, 1.0, denom)
            return xi / denom, denom.sum(axis=1)

    def estimate_cov(self, method, *, cross_patch_weight="simple", num_bootstrap=500, seed=None):
        """Covariance of xi by ``method`` (TreeCorr's ``estimate_cov``; ``"shot"``: 1-d diagonal)."""
        return estimate_multi_cov([self], method, cross_patch_weight=cross_patch_weight,
                                  num_bootstrap=num_bootstrap, seed=seed)

    def _set_covariance(self, var_method="shot", cross_patch_weight="simple", num_bootstrap=500, seed=None):
        self.var_method, self.cross_patch_weight = var_method, cross_patch_weight
        if var_method == "shot":
            cov = np.diag(estimate_multi_cov([self], "shot"))
        else:
            cov = estimate_multi_cov([self], var_method, cross_patch_weight=cross_patch_weight,
                                     num_bootstrap=num_bootstrap, seed=seed)
        self.cov, self.varxi = cov, np.diagonal(cov).copy()
        return self

    @classmethod
    def from_sums(cls, bins, dd, dr, rr, sumw_d, sumw_r, *, patches=None, var_method="shot",
                  cross_patch_weight="simple", num_bootstrap=500, seed=None, totals=None, **extra):
        """A result from the DD, DR, RR sums (``patches``: their PatchPairSums, for the patch
        covariance methods). ``totals`` (dd_tot, dr_tot, rr_tot) replaces the normalisations
        from ``sumw_d``/``sumw_r`` (sums of chunks, :meth:`add`)."""
        dd_tot, rr_tot, dr_tot = 0.5 * sumw_d**2, 0.5 * sumw_r**2, sumw_d * sumw_r
        if totals is not None:
            dd_tot, dr_tot, rr_tot = totals
        ddn = dd["weight"] / dd_tot
        drn = dr["weight"] / dr_tot
        rrn = rr["weight"] / rr_tot
        dd_p, dr_p, rr_p = (None, None, None) if patches is None else patches
        out = cls(
            bins=bins,
            xi=_ratio(ddn - 2.0 * drn + rrn, rrn),
            meanr=_ratio(dd["wr"], dd["weight"]),
            dd=np.asarray(dd["weight"], float), dr=np.asarray(dr["weight"], float), rr=np.asarray(rr["weight"], float),
            dd_npairs=np.asarray(dd["npairs"], float), dr_npairs=np.asarray(dr["npairs"], float),
            rr_npairs=np.asarray(rr["npairs"], float),
            dd_tot=float(dd_tot), dr_tot=float(dr_tot), rr_tot=float(rr_tot),
            extra=dict(extra),
            meanlogr=_ratio(dd["wlogr"], dd["weight"]) if "wlogr" in dd else np.full(bins.nbins, np.nan),
            npatch=1 if dd_p is None else dd_p.npatch,
            dd_patch=dd_p, dr_patch=dr_p, rr_patch=rr_p,
        )
        return out._set_covariance(var_method, cross_patch_weight, num_bootstrap, seed)

    # --- sums of chunks (TreeCorr's +=) ------------------------------------------------------
    def add(self, other):
        """The result over the pairs of both (TreeCorr's ``+=`` on the DD, DR and RR
        correlations, then ``calculateXi``): DD, DR, RR, their pair numbers and their
        normalisations (``dd_tot``, ``dr_tot``, ``rr_tot``) add; ``xi`` (eq. 1), ``meanr``,
        ``meanlogr`` and the shot noise are recomputed. ``other``: a LandySzalayResult on the
        same bins, without patches (TypeError / ValueError otherwise).

        Returns
        -------
        LandySzalayResult
        """
        check_addable(self, other, LandySzalayResult)

        def part(r):
            means = {"wr": r.meanr} if r.meanlogr is None else {"wr": r.meanr, "wlogr": r.meanlogr}
            dd = {**sums_from_means(r.dd, means), "weight": r.dd, "npairs": r.dd_npairs}
            return dd, {"weight": r.dr, "npairs": r.dr_npairs}, {"weight": r.rr, "npairs": r.rr_npairs}

        summed = [{k: np.asarray(x[k], float) + np.asarray(y[k], float) for k in x if k in y}
                  for x, y in zip(part(self), part(other))]
        totals = (self.dd_tot + other.dd_tot, self.dr_tot + other.dr_tot, self.rr_tot + other.rr_tot)
        return LandySzalayResult.from_sums(self.bins, *summed, 0.0, 0.0, totals=totals)

    def __add__(self, other):
        return self.add(other)

    def __radd__(self, other):
        return self if isinstance(other, int) and other == 0 else self.add(other)   # sum([...]) starts at 0

    # to_dict / to_json / write / read / to_table: cosmocorr.io.ResultIO (complete and lossless)


def landy_szalay(data, randoms, bins=None, *, min_sep=None, max_sep=None, nbins=None, spacing=None,
                 backend=None, var_method="shot", cross_patch_weight="simple", num_bootstrap=500, seed=None):
    """Landy-Szalay estimator of the angular correlation omega(theta) over all pairs (paper eq. 1).

    Parameters
    ----------
    data, randoms : Catalog
        The data catalog and a random catalog covering the same footprint.
    bins : Bins, optional
        Or ``min_sep``, ``max_sep``, ``nbins``, ``spacing``.
    backend : {"numpy", "julia", "auto"}, optional
    var_method, cross_patch_weight, num_bootstrap, seed :
        Error bars (``varxi``, ``cov``), as for :func:`cosmocorr.estimators.shear_shear`; the patch
        methods need ``data`` and ``randoms`` with the same patches (build the randoms with
        ``patch_centers=data.patch_centers``).

    Returns
    -------
    LandySzalayResult
    """
    data = check_catalog(data, "data")
    randoms = check_catalog(randoms, "randoms")
    var_method = check_var_method(var_method)
    cross_patch_weight = check_cross_patch_weight(cross_patch_weight, var_method)
    bins = Bins.coerce(bins, min_sep=min_sep, max_sep=max_sep, nbins=nbins, spacing=spacing)
    opts = dict(var_method=var_method, cross_patch_weight=cross_patch_weight, num_bootstrap=num_bootstrap, seed=seed)
    if patches_in_use([data, randoms], ["data", "randoms"], var_method):
        ps = (patch_pair_sums(data, None, bins, shear=False, mode="auto", backend=backend),
              patch_pair_sums(data, randoms, bins, shear=False, mode="cross", backend=backend),
              patch_pair_sums(randoms, None, bins, shear=False, mode="auto", backend=backend))
        dd, dr, rr = (p.total() for p in ps)
        return LandySzalayResult.from_sums(bins, dd, dr, rr, data.sumw, randoms.sumw, patches=ps, **opts)
    dd = naive_pair_sums(data, None, bins, shear=False, backend=backend)
    rr = naive_pair_sums(randoms, None, bins, shear=False, backend=backend)
    dr = naive_pair_sums(data, randoms, bins, shear=False, backend=backend)
    return LandySzalayResult.from_sums(bins, dd, dr, rr, data.sumw, randoms.sumw, **opts)
