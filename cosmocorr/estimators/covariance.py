"""Covariances of two-point results from patch-pair sums, with TreeCorr's methods and conventions.

Every method works on the per-patch-pair sums that the estimator computed once
(:class:`~cosmocorr.estimators.pair_sums.PatchPairSums`): a resampled estimate is a weighted sum
of those sums, ``sum_pq W_pq S_pq``, so no pair is ever recounted. The weights ``W`` are TreeCorr's
(``corr2base.py``: ``JackknifePairIterator``, ``SamplePairIterator``, ``BootstrapPairIterator``,
``MarkedPairIterator``, ``_keep_ok``), and so are the formulas:

``"shot"``
    Shape / Poisson noise only, the diagonal ``var_num / weight`` (shear: ``var_num =
    2 varg1 varg2``; Landy-Szalay: TreeCorr's semi-empirical ``ddw (1 + 2 drf drw/ddw + rrf
    rrw/ddw)^2`` over ``RR rrf``). Returned as a 1-d diagonal by :func:`estimate_multi_cov`.
``"jackknife"``
    v_k = the estimate without patch k; ``C = (1 - 1/K) sum_k (v_k - <v>)(v_k - <v>)^T``.
``"sample"``
    v_k = the estimate from the pairs whose first object is in patch k (auto: the patch pairs
    (k, q), q >= k); ``C = 1/(K - 1) sum_k f_k (v_k - <v>)(v_k - <v>)^T``, f_k the fraction of
    the total weight in row k.
``"bootstrap"``
    K patches drawn with replacement (counts c_p); auto pairs (p, p) weighted c_p, cross pairs
    (p, q) c_p c_q; ``C = 1/(B - 1) sum_b (v_b - <v>)(v_b - <v>)^T``.
``"marked_bootstrap"``
    Loh (2008): only the first patch of each pair is resampled, (p, q) weighted c_p.

``cross_patch_weight`` (Mohammad & Percival 2022) decides the weight of pairs between a kept and
a removed patch: ``"simple"`` (0; every method), ``"mean"`` (1/2; jackknife, sample, bootstraps),
``"match"`` (1 - K / (2 + sqrt(2) (K - 1)); jackknife only) and ``"geom"`` (sqrt(c_p c_q);
bootstrap only).

Within a resampled estimate a bin that loses all its pairs counts as 0 (as in TreeCorr); bins that
are empty in the full estimate hold NaN in every covariance row and column.
"""
from __future__ import annotations

import numpy as np

from .._validate import check_choice, check_positive_int

__all__ = ["VAR_METHODS", "CROSS_PATCH_WEIGHTS", "estimate_multi_cov", "check_var_method", "LazyShotCov", "XiCovariance", "JointStatistics",
           "check_dense_cov_size", "MAX_DENSE_COV_BYTES",
           "check_cross_patch_weight", "pair_weights", "covariance_from_rows", "design_matrix"]

VAR_METHODS = ("shot", "jackknife", "sample", "bootstrap", "marked_bootstrap")
CROSS_PATCH_WEIGHTS = ("simple", "mean", "match", "geom")
_VALID_CPW = {
    "shot": CROSS_PATCH_WEIGHTS,
    "jackknife": ("simple", "mean", "match"),
    "sample": ("simple", "mean"),
    "bootstrap": ("simple", "mean", "geom"),
    "marked_bootstrap": ("simple", "mean"),
}


#: the largest dense covariance matrix built (1 GiB of float64: 2 nbins up to ~11,585)
MAX_DENSE_COV_BYTES = 2**30


def check_dense_cov_size(n, what="cov"):
    """ValueError naming ``what`` when an (n, n) float64 matrix would exceed
    :data:`MAX_DENSE_COV_BYTES`; say that the variances (vectors) are always available."""
    nbytes = 8 * int(n) ** 2
    if nbytes > MAX_DENSE_COV_BYTES:
        raise ValueError(f"{what}: a dense ({n}, {n}) covariance needs {nbytes / 2**30:.1f} GiB (limit "
                         f"{MAX_DENSE_COV_BYTES / 2**30:.0f} GiB); use fewer bins, or the variances "
                         "(varxip/varxim/varxi), which are kept as vectors for any nbins")


class LazyShotCov:
    """The ``cov`` field of a two-point result: for ``var_method="shot"`` the covariance is
    diagonal, so only the variance vectors are stored (memory ~ nbins) and the dense matrix is
    built when ``cov`` is read (memory ~ nbins^2, bounded by :func:`check_dense_cov_size`).
    Any other method stores its (dense by nature) matrix as given."""

    def __init__(self, name="cov"):
        self.key = f"_{name}_stored"

    def __get__(self, obj, owner=None):
        if obj is None:
            return None
        value = obj.__dict__.get(self.key)
        if value is None and getattr(obj, "var_method", None) == "shot":
            diag = obj._shot_variances()
            if diag is not None:
                check_dense_cov_size(diag.size)
                return np.diag(diag)
        return value

    def __set__(self, obj, value):
        obj.__dict__[self.key] = None if value is self else value

    def stored(self, obj):
        """What is stored (None: the shot-noise diagonal, built on reading ``cov``)."""
        return obj.__dict__.get(self.key)


class XiCovariance:
    """Covariance interface of a result with one ``xi`` per bin (Landy-Szalay, NG/NK/KK/KG):
    ``estimate_cov`` and the ``var_method`` set at construction (``cov``, ``varxi``; the shot
    noise kept as the vector ``varxi``, see :class:`LazyShotCov`)."""

    def estimate_cov(self, method, *, cross_patch_weight="simple", num_bootstrap=500, seed=None):
        """Covariance of ``xi`` by ``method`` (TreeCorr's ``estimate_cov``; ``"shot"``: 1-d diagonal)."""
        return estimate_multi_cov([self], method, cross_patch_weight=cross_patch_weight,
                                  num_bootstrap=num_bootstrap, seed=seed)

    def _set_covariance(self, var_method="shot", cross_patch_weight="simple", num_bootstrap=500, seed=None):
        self.var_method, self.cross_patch_weight = var_method, cross_patch_weight
        if var_method == "shot":  # diagonal: keep the vector, cov is built when read
            self.cov, self.varxi = None, estimate_multi_cov([self], "shot")
        else:
            cov = estimate_multi_cov([self], var_method, cross_patch_weight=cross_patch_weight,
                                     num_bootstrap=num_bootstrap, seed=seed)
            self.cov, self.varxi = cov, np.diagonal(cov).copy()
        return self

    def _shot_variances(self):
        """The diagonal of the shot-noise ``cov``: varxi (None when unset)."""
        return None if self.varxi is None else np.asarray(self.varxi, float)


class JointStatistics:
    """A named set of shear-shear results on the same bins (rho0..rho5, tau0/2/5): item access,
    iteration over the names, ``rnom``, the joint shot-noise diagonal and ``estimate_cov`` of all
    of them together (xi+ then xi- of each, TreeCorr's ``estimate_multi_cov`` order).
    Subclasses name the dict attribute holding them in ``_entries``."""

    _entries = None

    def _stats(self):
        return getattr(self, self._entries)

    def __getitem__(self, name):
        return self._stats()[name]

    def __iter__(self):
        return iter(self._stats())

    @property
    def rnom(self):
        """Nominal bin centres (arcmin), TreeCorr's ``rnom``."""
        return self.bins.rnom

    def _shot_variances(self):
        """The diagonal of the joint shot-noise ``cov``: each entry's varxip then varxim."""
        parts = [r._shot_variances() for r in self._stats().values()]
        return None if any(p is None for p in parts) else np.concatenate(parts)

    def estimate_cov(self, method, *, cross_patch_weight="simple", num_bootstrap=500, seed=None):
        """Joint covariance of every entry (xi+ then xi- of each) by ``method``."""
        return estimate_multi_cov(list(self._stats().values()), method, cross_patch_weight=cross_patch_weight,
                                  num_bootstrap=num_bootstrap, seed=seed)


def check_var_method(var_method, name="var_method"):
    """``var_method`` checked against :data:`VAR_METHODS`; ValueError/TypeError naming it otherwise."""
    if not isinstance(var_method, str):
        raise TypeError(f"{name} must be a string, one of {VAR_METHODS}; got {type(var_method).__name__}")
    return check_choice(var_method, name, VAR_METHODS)


def check_cross_patch_weight(cross_patch_weight, method="jackknife"):
    """``cross_patch_weight`` checked against the names valid for ``method``; ValueError naming it otherwise."""
    if not isinstance(cross_patch_weight, str):
        raise TypeError(f"cross_patch_weight must be a string, one of {CROSS_PATCH_WEIGHTS}; "
                        f"got {type(cross_patch_weight).__name__}")
    check_choice(cross_patch_weight, "cross_patch_weight", CROSS_PATCH_WEIGHTS)
    if cross_patch_weight not in _VALID_CPW[method]:
        raise ValueError(f"cross_patch_weight={cross_patch_weight!r} is not valid for var_method={method!r} "
                         f"(valid: {', '.join(_VALID_CPW[method])})")
    return cross_patch_weight


def _selections(method, npatch, num_bootstrap, rng):
    """One selection per design row: the left-out / used patch index, or bootstrap counts.

    Bootstrap draws are ``rng.choice(arange(K), size=K, replace=True)`` in row order, as TreeCorr
    draws them, so the same Generator state gives TreeCorr's rows.
    """
    if method in ("jackknife", "sample"):
        return list(range(npatch))
    out = []
    for _ in range(num_bootstrap):
        index = rng.choice(np.arange(npatch), size=npatch, replace=True)
        out.append(np.bincount(index, minlength=npatch).astype(float))
    return out


def pair_weights(method, selection, ok, cross_patch_weight="simple"):
    """TreeCorr's patch-pair weights W (npatch, npatch) of one design row, after ``_keep_ok``.

    ``selection``: the patch index (jackknife, sample) or the bootstrap counts c (length K).
    """
    k = ok.shape[0]
    cpw = cross_patch_weight
    eye = np.eye(k, dtype=bool)
    if method == "jackknife":
        i = selection
        hit = np.zeros((k, k), dtype=bool)
        hit[i, :] = True
        hit[:, i] = True
        if cpw == "simple":
            W = (~hit).astype(float)
        else:
            w = 0.5 if cpw == "mean" else 1.0 - k / (2.0 + np.sqrt(2.0) * (k - 1))
            W = np.where(hit, w, 1.0)
            W[i, i] = 0.0
    elif method == "sample":
        i = selection
        W = np.zeros((k, k))
        if cpw == "simple":
            W[i, :] = 1.0
        else:
            W[i, :] = 0.5
            W[:, i] = 0.5
            W[i, i] = 1.0
    elif method == "bootstrap":
        c = selection
        if cpw == "simple":
            W = np.outer(c, c)
            W[eye] = c
        elif cpw == "mean":
            W = 0.5 * (c[:, None] + c[None, :])
        else:  # geom
            W = np.sqrt(np.outer(c, c))
    elif method == "marked_bootstrap":
        c = selection
        if cpw == "simple":
            W = np.repeat(c[:, None], k, axis=1)
        else:
            # TreeCorr: for each drawn p and every q: (p,p,c_p); (p,q,c_p/2) if (p,q) is kept,
            # else (q,p,c_p/2) if (q,p) is
            half = 0.5 * c[:, None] * np.ones((k, k))
            W = np.where(ok & ~eye, half, 0.0)
            W += np.where((ok.T & ~ok) & ~eye, half, 0.0).T
            W[eye] = c
    else:  # pragma: no cover - checked before
        raise ValueError(f"var_method: no patch weights for {method!r}")
    return np.where(ok, W, 0.0)


def design_matrix(results, method, cross_patch_weight="simple", num_bootstrap=500, seed=None):
    """TreeCorr's design matrix: one row per resampled estimate of the joint data vector.

    Returns ``(v, w)``: rows (nrows, total length) and the total weight of each row.
    """
    npatch = _common_npatch(results, method)
    rng = np.random.default_rng(seed)
    sel = _selections(method, npatch, num_bootstrap, rng)
    rows, weights = [], []
    for r in results:
        ok = r._patch_ok()
        W = np.stack([pair_weights(method, s, ok, cross_patch_weight) for s in sel])
        v, w = r._design_rows(W)
        rows.append(v)
        weights.append(w)
    return np.concatenate(rows, axis=1), np.sum(weights, axis=0)


def covariance_from_rows(method, v, w=None):
    """The covariance of design rows ``v`` with TreeCorr's normalisation for ``method``."""
    n = v.shape[0]
    d = v - v.mean(axis=0)
    if method == "jackknife":
        return (1.0 - 1.0 / n) * d.T @ d
    if method == "sample":
        if np.any(w == 0):
            raise ValueError("var_method='sample': some patches have no pair (zero weight); "
                             "use fewer patches or another var_method")
        f = w / np.sum(w)
        return (f * d.T) @ d / (n - 1)
    return d.T @ d / (n - 1)


def _flatten(results):
    out = []
    for r in results:
        for attr in ("rho", "tau"):   # a RhoResult (rho0..rho5) or TauResult (tau0, tau2, tau5)
            if isinstance(getattr(r, attr, None), dict):
                out.extend(getattr(r, attr).values())
                break
        else:
            out.append(r)
    return out


def _common_npatch(results, method):
    n = None
    for r in results:
        k = r._patch_ok().shape[0] if r.patch_sums is not None else None
        if k is None:
            raise ValueError(f"var_method={method!r} needs patches: build the catalogs with "
                             f"Catalog(..., patch=labels) or npatch=K")
        if n is not None and k != n:
            raise ValueError(f"results: all results must use the same number of patches ({n} vs {k})")
        n = k
    return n


def estimate_multi_cov(results, method, *, cross_patch_weight="simple", num_bootstrap=500, seed=None):
    """Joint covariance of several two-point results (TreeCorr's ``estimate_multi_cov``).

    Parameters
    ----------
    results : list of results, or a RhoResult / TauResult
        ShearShearResult (contributes xi+ then xi-), LandySzalayResult (xi), an NG/NK/KK/KG result
        (:class:`~cosmocorr.estimators.FieldCorrelationResult`: xi, TreeCorr's ``getStat``), or a
        RhoResult (rho0..rho5, each xi+ then xi-) or a TauResult (tau0, tau2, tau5), concatenated in the
        order given (``[rho, tau]``: the joint covariance of the PSF-leakage fit). All must have been
        computed on catalogs with the same patches (for the patch-based methods).
    method : {"shot", "jackknife", "sample", "bootstrap", "marked_bootstrap"}
    cross_patch_weight : {"simple", "mean", "match", "geom"}
        See the module docstring (TreeCorr's default, "simple").
    num_bootstrap : int
        Bootstrap realisations (TreeCorr's default, 500).
    seed : int or Generator, optional
        Bootstrap draws (``rng.choice(K, K)`` per realisation, TreeCorr's order).

    Returns
    -------
    ndarray
        (n, n) covariance; for ``"shot"`` the 1-d diagonal (as TreeCorr). NaN in the rows and
        columns of bins that are empty in the full estimate.
    """
    method = check_var_method(method, "method")
    cross_patch_weight = check_cross_patch_weight(cross_patch_weight, method)
    if isinstance(results, (list, tuple)):
        results = _flatten(results)
    else:
        results = _flatten([results])
    if len(results) == 0:
        raise ValueError("results: give at least one result")
    for r in results:
        if not hasattr(r, "_design_rows"):
            raise TypeError(f"results: {type(r).__name__} is not a two-point result with a covariance")
    empty = np.concatenate([r._empty_mask() for r in results])
    if method == "shot":
        diag = np.concatenate([r._shot_diag() for r in results])
        return np.where(empty, np.nan, diag)
    num_bootstrap = check_positive_int(num_bootstrap, "num_bootstrap", minimum=2)
    v, w = design_matrix(results, method, cross_patch_weight, num_bootstrap, seed)
    check_dense_cov_size(v.shape[1])
    cov = covariance_from_rows(method, v, w)
    cov[empty, :] = np.nan
    cov[:, empty] = np.nan
    return cov
