"""Naive (all-pairs) two-point estimators: shear-shear xi+/xi- and Landy-Szalay omega(theta).

"Naive" is meant as in Jarvis et al. (2004) and the paper's sec. 5: every pair is used, no
clustering approximation. Results follow TreeCorr's conventions and attribute names, and agree
with TreeCorr's ``brute=True``, ``metric="Arc"`` results to floating-point precision.

Bins that receive no pair hold ``NaN`` in every averaged quantity (``meanr``, ``xip``, ``xi``,
...), with ``npairs == 0``: NaN means "no pair at this separation", not a numerical failure.
With ``n_clusters=`` these functions run the paper's Algorithm 1 instead (see
:mod:`cosmocorr.probabilistic`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .backend import get_kernels
from .bins import Bins
from .catalog import Catalog

__all__ = ["ShearShearResult", "LandySzalayResult", "shear_shear", "landy_szalay", "naive_pair_sums"]


def _ratio(num, den):
    """num / den with NaN where den == 0 (empty bins)."""
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


@dataclass
class ShearShearResult:
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

    @property
    def rnom(self):
        return self.bins.rnom

    @classmethod
    def from_sums(cls, bins, sums, **extra):
        w = sums["weight"]
        return cls(
            bins=bins,
            meanr=_ratio(sums["wr"], w),
            xip=_ratio(sums["xip"], w),
            xim=_ratio(sums["xim"], w),
            xip_im=_ratio(sums["xip_im"], w),
            xim_im=_ratio(sums["xim_im"], w),
            npairs=np.asarray(sums["npairs"], dtype=float),
            weight=np.asarray(w, dtype=float),
            extra=dict(extra),
        )

    def to_dict(self):
        d = {"bins": self.bins.to_dict(), "rnom": self.rnom.tolist()}
        for k in ("meanr", "xip", "xim", "xip_im", "xim_im", "npairs", "weight"):
            d[k] = [None if not np.isfinite(v) else float(v) for v in getattr(self, k)]
        return d


@dataclass
class LandySzalayResult:
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

    @property
    def rnom(self):
        return self.bins.rnom

    @property
    def npairs(self):
        return self.dd_npairs

    @classmethod
    def from_sums(cls, bins, dd, dr, rr, sumw_d, sumw_r, **extra):
        dd_tot, rr_tot, dr_tot = 0.5 * sumw_d**2, 0.5 * sumw_r**2, sumw_d * sumw_r
        ddn = dd["weight"] / dd_tot
        drn = dr["weight"] / dr_tot
        rrn = rr["weight"] / rr_tot
        return cls(
            bins=bins,
            xi=_ratio(ddn - 2.0 * drn + rrn, rrn),
            meanr=_ratio(dd["wr"], dd["weight"]),
            dd=np.asarray(dd["weight"], float), dr=np.asarray(dr["weight"], float), rr=np.asarray(rr["weight"], float),
            dd_npairs=np.asarray(dd["npairs"], float), dr_npairs=np.asarray(dr["npairs"], float),
            rr_npairs=np.asarray(rr["npairs"], float),
            dd_tot=float(dd_tot), dr_tot=float(dr_tot), rr_tot=float(rr_tot),
            extra=dict(extra),
        )

    def to_dict(self):
        d = {"bins": self.bins.to_dict(), "rnom": self.rnom.tolist()}
        for k in ("xi", "meanr", "dd", "dr", "rr", "dd_npairs", "dr_npairs", "rr_npairs"):
            d[k] = [None if not np.isfinite(v) else float(v) for v in getattr(self, k)]
        return d


def _check_catalog(cat, name):
    if not isinstance(cat, Catalog):
        raise TypeError(f"{name} must be a cosmocorr.Catalog, got {type(cat).__name__}")
    return cat


def naive_pair_sums(cat1, cat2=None, bins=None, *, shear=True, backend=None, g1=None, g2=None):
    """All-pairs bin sums between two catalogs (auto when ``cat2`` is None), on ``backend``.

    ``g1``/``g2`` override the catalogs' own shears (complex arrays), which is how the rho
    statistics correlate derived fields at the same positions.
    """
    auto = cat2 is None
    c2 = cat1 if auto else cat2
    if shear:
        same = auto and g1 is g2  # one field with itself (the catalog's own shear, or one given array)
        g1 = cat1.g if g1 is None else np.asarray(g1, dtype=complex)
        g2 = g1 if same else (c2.g if g2 is None else np.asarray(g2, dtype=complex))
    else:
        g1 = g2 = None
    sums = get_kernels(backend).pair_sums(
        cat1.xyz, cat1.w, g1, c2.xyz, c2.w, g2,
        bins.min_sep, bins.max_sep, bins.nbins, bins.spacing == "log", auto,
    )
    if shear and auto and same:
        # Im(g_i g_j^*) is odd under exchanging the pair, so over unordered pairs of one field
        # it is not defined by the data; by symmetry it is 0.
        sums["xip_im"] = np.zeros_like(sums["xip_im"])
    return sums


def shear_shear(cat1, cat2=None, bins=None, *, min_sep=None, max_sep=None, nbins=None, spacing="linear",
                backend=None, n_clusters=None, assignment="sample", n_samples=10, seed=None,
                fuzziness=2.0, progress=False):
    """Shear-shear correlation xi+(theta), xi-(theta) (paper eqs. 7-8).

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
    n_clusters, assignment, n_samples, seed, fuzziness, progress :
        With ``n_clusters`` set, run the probabilistic estimator of Algorithm 1
        (:func:`cosmocorr.probabilistic.clustered_shear_shear`); otherwise the naive estimator.

    Returns
    -------
    ShearShearResult
    """
    cat1 = _check_catalog(cat1, "cat1")
    cat1.require_shear("cat1")
    if cat2 is not None:
        _check_catalog(cat2, "cat2").require_shear("cat2")
    bins = Bins.coerce(bins, min_sep=min_sep, max_sep=max_sep, nbins=nbins, spacing=spacing)
    if n_clusters is not None:
        from .probabilistic import clustered_shear_shear

        return clustered_shear_shear(
            cat1, cat2, bins, n_clusters=n_clusters, assignment=assignment, n_samples=n_samples,
            seed=seed, fuzziness=fuzziness, backend=backend, progress=progress,
        )
    return ShearShearResult.from_sums(bins, naive_pair_sums(cat1, cat2, bins, backend=backend))


def landy_szalay(data, randoms, bins=None, *, min_sep=None, max_sep=None, nbins=None, spacing="linear",
                 backend=None, n_clusters=None, assignment="sample", n_samples=10, seed=None,
                 fuzziness=2.0, progress=False):
    """Landy-Szalay estimator of the angular correlation omega(theta) (paper eq. 1).

    Parameters
    ----------
    data, randoms : Catalog
        The data catalog and a random catalog covering the same footprint.
    bins : Bins, optional
        Or ``min_sep``, ``max_sep``, ``nbins``, ``spacing``.
    n_clusters, ... :
        With ``n_clusters`` set, run Algorithm 1 on both catalogs
        (:func:`cosmocorr.probabilistic.clustered_landy_szalay`).

    Returns
    -------
    LandySzalayResult
    """
    data = _check_catalog(data, "data")
    randoms = _check_catalog(randoms, "randoms")
    bins = Bins.coerce(bins, min_sep=min_sep, max_sep=max_sep, nbins=nbins, spacing=spacing)
    if n_clusters is not None:
        from .probabilistic import clustered_landy_szalay

        return clustered_landy_szalay(
            data, randoms, bins, n_clusters=n_clusters, assignment=assignment, n_samples=n_samples,
            seed=seed, fuzziness=fuzziness, backend=backend, progress=progress,
        )
    dd = naive_pair_sums(data, None, bins, shear=False, backend=backend)
    rr = naive_pair_sums(randoms, None, bins, shear=False, backend=backend)
    dr = naive_pair_sums(data, randoms, bins, shear=False, backend=backend)
    return LandySzalayResult.from_sums(bins, dd, dr, rr, data.sumw, randoms.sumw)
