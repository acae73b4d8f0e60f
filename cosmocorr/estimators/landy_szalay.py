"""Landy-Szalay omega(theta) (paper eq. 1) over all pairs, and its result type.

Counts are normalised as in TreeCorr; a bin where the estimator's denominator (RR, or DR for
Davis-Peebles) is empty holds NaN. Besides the auto-correlation, the cross-correlation of two
samples with their randoms, ``(D1D2 - D1R2 - R1D2 + R1R2) / R1R2``, and the natural (DD/RR - 1)
and Davis-Peebles (DD/DR - 1) estimators (``estimator=``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..io import ResultIO
from ..sky.bins import Bins
from ..sky.catalog import concatenate_catalogs
from .._validate import check_choice
from .covariance import LazyShotCov, XiCovariance, check_cross_patch_weight, check_var_method
from .pair_sums import ApproximationFields
from .pair_sums import check_addable, check_catalog, pair_sum_method, patches_in_use, sums_from_means
from .pair_sums import ratio as _ratio

__all__ = ["LandySzalayResult", "landy_szalay", "ESTIMATORS"]

#: the estimators of ``landy_szalay(estimator=)``
ESTIMATORS = ("landy_szalay", "natural", "davis_peebles")


def _xi_counts(estimator, dd, rr, dr, rd, ddt, rrt, drt, rdt):
    """Numerator and denominator of xi from weighted counts and their totals (TreeCorr's
    ``NNCorrelation.calculateXi`` normalisations: each count scaled by dd_tot / its tot)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        rrf = None if rr is None else ddt / rrt
        drf = None if dr is None else ddt / drt
        rdf = None if rd is None else ddt / rdt
        if estimator == "davis_peebles":
            den = dr * drf
            return dd - den, den
        den = rr * rrf
        if estimator == "natural":
            return dd - den, den
        if rd is None:
            return dd - 2.0 * dr * drf + den, den
        return dd - dr * drf - rd * rdf + den, den


@dataclass
class LandySzalayResult(XiCovariance, ResultIO, ApproximationFields):
    """Landy-Szalay position-position correlation (paper eq. 1), auto or cross.

    ``xi = (DD - 2 DR + RR) / RR`` with each count normalised by its total pair weight as in
    TreeCorr: DD by sum(w_d)^2 / 2, RR by sum(w_r)^2 / 2 and DR by sum(w_d) sum(w_r). Cross
    (two samples): ``(D1D2 - D1R2 - R1D2 + R1R2) / R1R2``, totals the products of the two sums of
    weights. ``estimator="natural"``: DD/RR - 1; ``"davis_peebles"``: DD/DR - 1.

    Attributes
    ----------
    xi : ndarray
        omega(theta); NaN where RR is empty.
    meanr : ndarray
        Weighted mean separation of the DD pairs (arcmin); NaN where DD is empty.
    dd, dr, rr, rd : ndarray
        Raw weighted pair counts (sums of w_i w_j); ``rd`` (R1D2) only for a cross-correlation.
    dd_npairs, dr_npairs, rr_npairs : ndarray
        Pair numbers.
    dd_tot, dr_tot, rr_tot, rd_tot : float
        The normalisations.
    estimator : str
        ``"landy_szalay"``, ``"natural"`` or ``"davis_peebles"``.
    meanlogr : ndarray
        Weighted mean ln(r / arcmin) of the DD pairs; NaN where DD is empty.
    varxi : ndarray
        Variance estimate of xi, the diagonal of ``cov``; NaN where RR is empty.
    cov : ndarray (nbins, nbins)
        Covariance of xi by ``var_method`` (TreeCorr's ``NNCorrelation.calculateXi(rr=, dr=)``
        conventions). ``"shot"``: TreeCorr's semi-empirical Poisson term
        ``ddw (1 + 2 drf drw/ddw + rrf rrw/ddw)^2 / (RR rrf)`` on the diagonal (``ddw`` etc. the
        mean pair weights, ``rrf = dd_tot/rr_tot``, ``drf = dd_tot/dr_tot``); cross: the factor
        ``1 + drf drw/ddw + rdf rdw/ddw + rrf rrw/ddw``; natural: ``1 + rrf rrw/ddw`` (TreeCorr's
        ``calculateXi`` for each set of randoms). Davis-Peebles (not a TreeCorr option): the
        same pattern, ``ddw (1 + drf drw/ddw)^2 / (DR drf)``.
    var_method, cross_patch_weight : str
    npatch : int
    dd_patch, dr_patch, rr_patch : PatchPairSums or None
        Per-patch-pair sums (None without patches).
    method : {"exact", "tree"}
        How the pair counts were taken (every pair, or TreeCorr's tree).
    bin_slop, angle_slop : float
        The tree's slop values used (TreeCorr's NN defaults resolved); 0 for ``method="exact"``.
    approx_error, approx_error_err : dict or None
        ``cosmocorr.landy_szalay(method="tree")``: the measured approximation error
        (:mod:`cosmocorr.estimators.approximation_error`), systematic part (tree - exact, signed)
        per bin as {"xi": ...} and its standard error; None otherwise.
    approx_sigma, approx_sigma_err : dict or None
        Its random part: the spread of the tree estimate over random rotations of the sky, and
        the standard error of that spread.
    approx_info : dict or None
        How they were measured (rotations, units checked exactly, the ``bin_slop`` values tried
        by ``bin_slop="auto"`` and each one's worst error bound in statistical sigmas).
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
    cov: np.ndarray = field(default=LazyShotCov("cov"), repr=False)
    var_method: str = "shot"
    cross_patch_weight: str = "simple"
    npatch: int = 1
    dd_patch: object = field(default=None, repr=False)
    dr_patch: object = field(default=None, repr=False)
    rr_patch: object = field(default=None, repr=False)
    rd: np.ndarray = None
    rd_npairs: np.ndarray = None
    rd_tot: float = None
    rd_patch: object = field(default=None, repr=False)
    estimator: str = "landy_szalay"

    @property
    def rnom(self):
        """Nominal bin centres (arcmin), TreeCorr's ``rnom``."""
        return self.bins.rnom

    @property
    def npairs(self):
        """Number of data-data pairs per bin (TreeCorr's ``npairs``)."""
        return self.dd_npairs

    # --- covariance interface (cosmocorr.estimators.covariance) ---------------------------
    @property
    def patch_sums(self):
        """The data-data patch-pair sums the covariances reweight (None without patches)."""
        return self.dd_patch

    def _uses(self):
        """Which random counts the estimator uses: (rr, dr, rd)."""
        if self.estimator == "natural":
            return True, False, False
        if self.estimator == "davis_peebles":
            return False, True, False
        return True, True, self.rd is not None

    def _patch_ok(self):
        # TreeCorr adds the RR, DR (and RD) patch pairs to DD's results: with DR that is every (p, q)
        use_rr, use_dr, use_rd = self._uses()
        ok = self.dd_patch.ok.copy()
        for use, ps in ((use_rr, self.rr_patch), (use_dr, self.dr_patch), (use_rd, self.rd_patch)):
            if use:
                ok |= np.ones_like(ok) if ps is self.dr_patch or ps is self.rd_patch else ps.ok
        return ok

    def _empty_mask(self):
        return np.asarray(self.dr if self.estimator == "davis_peebles" else self.rr) == 0

    def _shot_diag(self):
        """TreeCorr's NN shot noise (calculateXi with rr and dr): var_num / (RR rrf)."""
        def mean_w(weight, npairs):
            m = np.mean(npairs)
            return 1.0 if m == 0 else np.mean(weight) / m
        ddw, drw, rrw = (mean_w(self.dd, self.dd_npairs), mean_w(self.dr, self.dr_npairs),
                         mean_w(self.rr, self.rr_npairs))
        rrf, drf = self.dd_tot / self.rr_tot, self.dd_tot / self.dr_tot
        if self.estimator == "natural":
            factor, den = 1.0 + rrf * rrw / ddw, self.rr * rrf
        elif self.estimator == "davis_peebles":
            factor, den = 1.0 + drf * drw / ddw, self.dr * drf
        elif self.rd is None:
            factor, den = 1.0 + 2.0 * drf * drw / ddw + rrf * rrw / ddw, self.rr * rrf
        else:
            rdw, rdf = mean_w(self.rd, self.rd_npairs), self.dd_tot / self.rd_tot
            factor = 1.0 + drf * drw / ddw + rdf * rdw / ddw + rrf * rrw / ddw
            den = self.rr * rrf
        var_num = ddw * factor**2
        out = np.zeros_like(den)
        np.divide(var_num, den, out=out, where=den != 0)
        return out

    def _design_rows(self, W):
        """xi of each design row: DD, DR, RR (RD) and their totals weighted by W (TreeCorr's
        ``NNCorrelation._calculate_xi_from_pairs``)."""
        def part(ps, use):
            if ps is None or not use:
                return None, None
            Wk = W * ps.ok
            return np.einsum("rpq,pqb->rb", Wk, ps.sums["weight"]), np.einsum("rpq,pq->r", Wk, ps.tot)[:, None]
        use_rr, use_dr, use_rd = self._uses()
        dd, ddt = part(self.dd_patch, True)
        rr, rrt = part(self.rr_patch, use_rr)
        dr, drt = part(self.dr_patch, use_dr)
        rd, rdt = part(self.rd_patch, use_rd)
        xi, denom = _xi_counts(self.estimator, dd, rr, dr, rd, ddt, rrt, drt, rdt)
        denom = np.where(denom == 0, 1.0, denom)
        return xi / denom, denom.sum(axis=1)

    @classmethod
    def from_sums(cls, bins, dd, dr, rr, sumw_d, sumw_r, *, patches=None, var_method="shot",
                  cross_patch_weight="simple", num_bootstrap=500, seed=None, rd=None, sumw=None,
                  estimator="landy_szalay", settings=None, totals=None, **extra):
        """A result from the DD, DR, RR sums (``patches``: their PatchPairSums, for the patch
        covariance methods: (dd, dr, rr) or, cross, (dd, dr, rr, rd)).

        Cross-correlation: ``rd`` (R1D2 sums) and ``sumw`` = (sum w_d1, sum w_d2, sum w_r1,
        sum w_r2); ``sumw_d``/``sumw_r`` are then unused. ``settings``: ``method``, ``bin_slop``,
        ``angle_slop`` (default exact). ``totals`` (dd_tot, dr_tot, rr_tot) replaces the auto
        normalisations from ``sumw_d``/``sumw_r`` (sums of chunks, :meth:`add`)."""
        if sumw is None:
            dd_tot, rr_tot, dr_tot, rd_tot = 0.5 * sumw_d**2, 0.5 * sumw_r**2, sumw_d * sumw_r, None
            if totals is not None:
                dd_tot, dr_tot, rr_tot = totals
        else:
            d1, d2, r1, r2 = sumw
            dd_tot, rr_tot, dr_tot, rd_tot = d1 * d2, r1 * r2, d1 * r2, r1 * d2
        num, den = _xi_counts(estimator, np.asarray(dd["weight"], float), np.asarray(rr["weight"], float),
                              np.asarray(dr["weight"], float), None if rd is None else np.asarray(rd["weight"], float),
                              dd_tot, rr_tot, dr_tot, rd_tot)
        patches = (None,) * 4 if patches is None else tuple(patches) + (None,) * (4 - len(patches))
        dd_p, dr_p, rr_p, rd_p = patches
        out = cls(
            bins=bins,
            xi=_ratio(num, den),
            meanr=_ratio(dd["wr"], dd["weight"]),
            dd=np.asarray(dd["weight"], float), dr=np.asarray(dr["weight"], float), rr=np.asarray(rr["weight"], float),
            dd_npairs=np.asarray(dd["npairs"], float), dr_npairs=np.asarray(dr["npairs"], float),
            rr_npairs=np.asarray(rr["npairs"], float),
            dd_tot=float(dd_tot), dr_tot=float(dr_tot), rr_tot=float(rr_tot),
            extra=dict(extra),
            meanlogr=_ratio(dd["wlogr"], dd["weight"]) if "wlogr" in dd else np.full(bins.nbins, np.nan),
            npatch=1 if dd_p is None else dd_p.npatch,
            dd_patch=dd_p, dr_patch=dr_p, rr_patch=rr_p, rd_patch=rd_p, estimator=estimator,
            rd=None if rd is None else np.asarray(rd["weight"], float),
            rd_npairs=None if rd is None else np.asarray(rd["npairs"], float),
            rd_tot=None if rd is None else float(rd_tot),
            **({} if settings is None else settings),
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
        for r, name in ((self, "self"), (other, "other")):
            if r.rd is not None or r.estimator != "landy_szalay":
                raise ValueError(f"{name}: only auto Landy-Szalay results add (estimator={r.estimator!r}, "
                                 f"cross={r.rd is not None}); cross and other estimators need the four counts of "
                                 "the whole catalogs")

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


def landy_szalay(data, randoms, bins=None, *, data2=None, randoms2=None, estimator="landy_szalay", min_sep=None,
                 max_sep=None, nbins=None, spacing=None, backend=None, var_method="shot", cross_patch_weight="simple",
                 num_bootstrap=500, seed=None, method="exact", bin_slop=None, angle_slop=None, approx_tol=None):
    """Landy-Szalay estimator of the angular correlation omega(theta) over all pairs, or by a tree
    (paper eq. 1).

    Auto: ``(DD - 2 DR + RR) / RR``. Cross (``data2`` given): ``(D1D2 - D1R2 - R1D2 + R1R2) /
    R1R2`` (Landy & Szalay 1993; TreeCorr's ``calculateXi(rr=, dr=, rd=)``), ``randoms2``
    defaulting to ``randoms``. Each count is normalised by its total pair weight as TreeCorr does.

    Parameters
    ----------
    data, randoms : Catalog
        The data catalog and a random catalog covering the same footprint; ``randoms`` may be a
        list of catalogs (concatenated, each with its own weights, as TreeCorr's lists).
    bins : Bins, optional
        Or ``min_sep``, ``max_sep``, ``nbins``, ``spacing``.
    data2, randoms2 : Catalog (or list for ``randoms2``), optional
        The second sample of a cross-correlation and its randoms.
    estimator : {"landy_szalay", "natural", "davis_peebles"}
        ``"natural"``: DD / RR - 1 (TreeCorr's ``calculateXi(rr=)``); ``"davis_peebles"``:
        DD / DR - 1 (D1R2 for a cross-correlation; Davis & Peebles 1983); RR or DR is then not
        computed when not needed.
    backend : {"numpy", "julia", "auto"}, optional
    var_method, cross_patch_weight, num_bootstrap, seed :
        Error bars (``varxi``, ``cov``), as for :func:`cosmocorr.estimators.shear_shear`; the patch
        methods need every catalog with the same patches (build the randoms with
        ``patch_centers=data.patch_centers``).
    method, bin_slop, angle_slop, approx_tol :
        ``"exact"`` (default) or ``"tree"`` (TreeCorr's NNCorrelation on DD, DR, RR) and the
        tree's settings, as for :func:`cosmocorr.estimators.shear_shear`.

    Returns
    -------
    LandySzalayResult
    """
    data = check_catalog(data, "data")
    randoms = concatenate_catalogs(randoms, "randoms")
    check_choice(estimator, "estimator", ESTIMATORS)
    cross = data2 is not None
    cats, names = [data, randoms], ["data", "randoms"]
    if cross:
        data2 = check_catalog(data2, "data2")
        randoms2 = randoms if randoms2 is None else concatenate_catalogs(randoms2, "randoms2")
        cats, names = cats + [data2, randoms2], names + ["data2", "randoms2"]
    elif randoms2 is not None:
        raise ValueError("randoms2 is for a cross-correlation: give data2 as well")
    var_method = check_var_method(var_method)
    cross_patch_weight = check_cross_patch_weight(cross_patch_weight, var_method)
    bins = Bins.coerce(bins, min_sep=min_sep, max_sep=max_sep, nbins=nbins, spacing=spacing)
    how = pair_sum_method(method, backend=backend, bin_slop=bin_slop, angle_slop=angle_slop, approx_tol=approx_tol)
    opts = dict(var_method=var_method, cross_patch_weight=cross_patch_weight, num_bootstrap=num_bootstrap, seed=seed,
                estimator=estimator, settings=how.settings(bins, "NN"))
    use_rr = estimator != "davis_peebles"          # DR is kept for every estimator (a result field)
    d2, r2 = (data2, randoms2) if cross else (None, None)
    # (first catalog, second or None for an auto pair count, needed)
    jobs = {"dd": (data, d2, True), "dr": (data, randoms2 if cross else randoms, True),
            "rr": (randoms, r2, use_rr), "rd": (randoms, data2, cross and estimator == "landy_szalay")}
    if patches_in_use(cats, names, var_method):
        ps = {k: how.per_patch(a, b, bins, shear=False, mode="auto" if b is None else "cross")
              if need else None for k, (a, b, need) in jobs.items()}
        sums = {k: None if p is None else p.total() for k, p in ps.items()}
        patches = (ps["dd"], ps["dr"], ps["rr"], ps["rd"])
    else:
        sums = {k: how.all_pairs(a, b, bins, shear=False) if need else None
                for k, (a, b, need) in jobs.items()}
        patches = None
    zero = {"weight": np.zeros(bins.nbins), "npairs": np.zeros(bins.nbins)}
    rr = sums["rr"] if sums["rr"] is not None else zero      # not needed by the estimator: 0
    dr = sums["dr"] if sums["dr"] is not None else zero
    extra = {}
    if cross:
        extra = dict(rd=sums["rd"], sumw=(data.sumw, data2.sumw, randoms.sumw, randoms2.sumw))
    return LandySzalayResult.from_sums(bins, sums["dd"], dr, rr, data.sumw, randoms.sumw, patches=patches,
                                       **extra, **opts)
