r"""The approximation error of a tree estimate, measured (the paper's Algorithm 1 idea, sec. 2.3).

A tree (TreeCorr's, ``method="tree"``) lets a pair of cells stand for all the pairs of their
objects when the cells are small enough (``bin_slop``, ``angle_slop``). Its estimate xi_T differs
from the exact one xi_E by an *approximation error* delta = xi_T - xi_E. This module measures
delta per bin, with an uncertainty on the measurement, in two parts (docs/tree_error.md).

**Units.** The tree runs patch by patch (the catalogs' patches, or ``spot_npatch`` k-means ones),
so every sum S of the estimator (numerator and weight of eq. 8; DD, DR, RR of eq. 1) is a sum over
*units* u = {p, q}, the pairs with one object in patch p and one in q (p <= q; only units that can
hold a pair in range): S = sum_u S_u, for the tree and the exact kernel alike. The units are put in
strata h (the diagonal p = q; off-diagonal units by thirds of the separation of the patch centres)
and n_h of the N_h units of each stratum are drawn without replacement (seeded Generator); unit u
of stratum h carries the Horvitz-Thompson weight N_h / n_h.

**Random part, by randomised clustering** (Algorithm 1's idea applied to the tree: make the
clustering random and measure the spread). The exact estimator is invariant under a rotation R of
the sphere (positions rotated, spin-2 fields turned by the local frame angle:
:mod:`cosmocorr.sky.rotations`); the tree is not, as its cells are cut along the Cartesian axes.
Each drawn unit is run by the tree on M rotations drawn uniformly on SO(3). With X_u^m the change of
the statistic f (xi+, xi-, w, ...) when unit u's sums move from their rotation mean T_u to their
value on rotation m, and C_uv the covariance of X_u and X_v over the rotations,

.. math::
    \sigma_{\rm approx}^2 = \sum_{u, v \in s,\ u \sim v} \frac{C_{uv}}{\pi_{uv}},

the Horvitz-Thompson estimate of the variance of xi_T over rotations, Var(sum_u X_u), where u ~ v
when the units share a patch (they then use the same tree cells of that patch; units sharing no
patch share no cell and are taken as uncorrelated), pi_uu = n_h / N_h and pi_uv the probability
that both are drawn (n_h (n_h - 1) / (N_h (N_h - 1)) in one stratum, n_h n_g / (N_h N_g) across
two). A total below its diagonal (independent units) part, which the noise of M rotations can
give, is floored there. ``approx_sigma`` is the epistemic (clustering) error of one tree
estimate, the paper's sigma_epistemic of sec. 2.3.

**Systematic part, by exact spot checks.** Each drawn unit's exact sums E_u are computed once (they
do not depend on the rotation, nor on ``bin_slop``); with D_u = T_u - E_u,

.. math::
    \hat D = \sum_h \frac{N_h}{n_h} \sum_{u \in s_h} D_u, \qquad
    \widehat{\rm approx\_error} = f(S_T) - f(S_T - \hat D),

D_hat is unbiased for D = sum_u D_u (each unit of stratum h is drawn with probability n_h / N_h),
S_T are the result's own tree sums, and approx_error is the ratio effect of the estimated
difference on every bin. The standard errors of approx_error and approx_sigma are stratified
delete-one jackknife ones over the drawn units (no linearisation of f needed),

.. math::
    v_J = \sum_h \Big(1 - \frac{n_h}{N_h}\Big) \frac{n_h - 1}{n_h}
          \sum_{u \in s_h} \big(\theta_{(hu)} - \bar\theta_h\big)^2,

theta_(hu) the estimate with unit u left out (its stratum's other units weighted N_h / (n_h - 1)).
At least :data:`SPOT_MIN_UNITS` units are drawn per stratum, so that every stratum gives the
jackknife a few degrees of freedom. approx_error_err also holds the covariance over rotations of the
drawn units sharing a patch, divided by M (their rotation means are correlated), and
approx_sigma_err the chi-square uncertainty of a variance from M rotations.

**Coverage.** The result's xi_T is one orientation, delta = b + e with b the systematic part and e
of spread sigma_approx, so ``|delta - approx_error| <= z sqrt(approx_error_err^2 +
approx_sigma^2)`` at about the normal level of z (z = 2: 95 %); :func:`approximation_bound` gives
``|approx_error| + z sqrt(approx_error_err^2 + approx_sigma^2)``, an upper bound on ``|delta|`` at that
level, which ``bin_slop="auto"`` (:func:`choose_bin_slop`) keeps below ``approx_tol`` times the
statistical sigma of every bin, lowering bin_slop and then, at bin_slop 0, angle_slop
(:func:`slop_rungs`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from types import SimpleNamespace

import numpy as np

from .._parallel import using_threads
from .._progress import progress_bar
from .._validate import check_positive_int, check_real, check_seed
from .._warnings import emit_warning
from ..sky.geometry import ARCMIN
from ..sky.patches import assign_patches, kmeans_patches
from ..sky.rotations import random_rotations, rotate_catalog, rotate_stars
from ..sky.stars import StarCatalog
from .pair_sums import _patch_geometry, ratio

__all__ = ["ApproximationError", "Problem", "FIELD_KINDS", "shear_problem", "counts_problem", "rho_problem", "SpotChecks",
           "choose_bin_slop", "approximation_bound", "DEFAULT_LADDER", "DEFAULT_ANGLE_LADDER", "slop_rungs",
           "check_ladder", "check_approx_settings", "Z_COVERAGE"]

#: the bin_slop values ``bin_slop="auto"`` tries, largest first
DEFAULT_LADDER = (2.0, 1.0, 0.5, 0.25, 0.1, 0.05, 0.02, 0.01, 0.0)
#: the angle_slop values ``bin_slop="auto"`` tries at bin_slop 0 when angle_slop is not given
DEFAULT_ANGLE_LADDER = (0.05, 0.03, 0.02, 0.01, 0.0)
#: the fewest units drawn per stratum (all when it has fewer): the stratified jackknife needs a few
#: degrees of freedom per stratum, and the diagonal stratum alone holds most pairs of the smallest bins
SPOT_MIN_UNITS = 6
#: the normal quantile of the stated coverage (2: about 95 %)
Z_COVERAGE = 2.0


# ----------------------------------------------------------------------------- what is correlated
@dataclass
class Problem:
    """One estimator's inputs, seen by the approximation-error machinery.

    Attributes
    ----------
    kind : {"shear", "counts", "rho", "tau", "NG", "NK", "KK", "KG"}
    inputs : tuple
        The catalogs: ``(cat1, cat2)`` (``cat2`` None for an auto-correlation), ``(data,
        randoms)``, ``(stars,)``, ``(galaxies, stars)`` or, for the field kinds, ``(cat1, cat2,
        randoms)`` (None entries: absent).
    bins : Bins
    run : callable
        ``run(inputs, bin_slop)`` -> the estimator's result on ``inputs`` with the tree at
        ``bin_slop`` (the same settings otherwise: angle_slop, var_method, patches).
    """

    kind: str
    inputs: tuple
    bins: object
    run: object

    def rotated(self, R):
        """The inputs moved by the rotation R (positions, spin-2 fields turned, scalars carried;
        patches kept)."""
        return tuple(_turn(c, R) for c in self.inputs)

    def catalogs(self, inputs=None):
        """The position catalogs of ``inputs`` (default: the problem's own), None entries dropped."""
        inputs = self.inputs if inputs is None else inputs
        return [_positions(c) for c in inputs if c is not None]

    def values(self, result):
        """The statistics of a result, flat: name -> per-bin array (``xip``, ``xim``; ``xi``;
        ``rho1.xip`` ...)."""
        return _flat(result, self.kind, "value")

    def sigmas(self, result):
        """The statistical sigma of each statistic of a result (sqrt of its variance)."""
        return _flat(result, self.kind, "sigma")

    def statistics(self, sums):
        """The statistics (flat, as :meth:`values`) from a dict of sum sets."""
        if self.kind in FIELD_KINDS:
            return _field_statistics(self.kind, sums)
        if self.kind == "counts":
            from .landy_szalay import LandySzalayResult   # the estimator's own formula (eq. 1)

            data, randoms = self.inputs
            full = {k: {"npairs": 0.0, "wr": 0.0, **sums[k]} for k in ("dd", "dr", "rr")}  # xi needs weights only
            r = LandySzalayResult.from_sums(self.bins, full["dd"], full["dr"], full["rr"], data.sumw, randoms.sumw)
            return {"xi": r.xi}
        out = {}
        for name, s in sums.items():
            prefix = "" if self.kind == "shear" else name + "."
            out[prefix + "xip"] = ratio(s["xip"], s["weight"])
            out[prefix + "xim"] = ratio(s["xim"], s["weight"])
        return out

    def unit_sums(self, engine, parts, p, q):
        """Sums of every sum set over the pairs of unit {p, q} (p <= q) by ``engine``.

        ``parts[k][p]`` is input k's objects of patch p (a Catalog / StarCatalog, or None when
        the patch holds none of them).
        """
        bins = self.bins
        if self.kind in FIELD_KINDS:
            return _field_unit_sums(self.kind, engine, parts, p, q, bins)
        if self.kind == "tau":
            return _tau_unit_sums(engine, parts, p, q, bins)
        if self.kind == "shear":
            a, b = parts[0], parts[1] if parts[1] is not None else parts[0]
            return {"gg": _pairs(engine, a, b, p, q, bins, shear=True, auto=parts[1] is None)}
        if self.kind == "counts":
            d, r = parts
            return {"dd": _pairs(engine, d, d, p, q, bins, shear=False, auto=True),
                    "dr": _pairs(engine, d, r, p, q, bins, shear=False, auto=False),
                    "rr": _pairs(engine, r, r, p, q, bins, shear=False, auto=True)}
        from .rho import RHO_FIELDS

        stars = parts[0]
        sp, sq = stars[p], stars[q]
        if sp is None or sq is None:
            return None
        if p == q:
            return engine.field_pairs(sp.catalog, sp.fields(), RHO_FIELDS, bins)
        fp, fq = sp.fields(), sq.fields()
        out = {}
        for name, (x, y) in RHO_FIELDS.items():
            s = engine.all_pairs(sp.catalog, sq.catalog, bins, g1=fp[x], g2=fq[y])
            if x != y:   # ordered pairs: x at p with y at q, and x at q with y at p
                s = _add(s, engine.all_pairs(sq.catalog, sp.catalog, bins, g1=fq[x], g2=fp[y]))
            out[name] = s
        return out


def _turn(obj, R):
    """``obj`` (Catalog, StarCatalog or None) moved by R (:mod:`cosmocorr.sky.rotations`)."""
    if obj is None:
        return None
    return rotate_stars(obj, R) if isinstance(obj, StarCatalog) else rotate_catalog(obj, R)


def _positions(obj):
    """The position Catalog of a Catalog or StarCatalog."""
    return obj.catalog if isinstance(obj, StarCatalog) else obj


#: the NG/NK/KK/KG kinds: (letters, has an imaginary part xi_im)
FIELD_KINDS = {"NG": ("NG", True), "NK": ("NK", False), "KK": ("KK", False), "KG": ("KG", True)}


def _field_values(kind, sums):
    """xi (and xi_im) of one sum set: numerator / weight (0 where no pair, as the randoms' term)."""
    w = np.asarray(sums["weight"], dtype=float)
    keys = ("xi", "xi_im") if FIELD_KINDS[kind][1] else ("xi",)
    with np.errstate(divide="ignore", invalid="ignore"):
        return {k: np.where(w > 0, np.asarray(sums[k], dtype=float) / np.where(w > 0, w, 1.0), 0.0) for k in keys}


def _field_statistics(kind, sums):
    """xi = D / W_D - R / W_R (TreeCorr's DG - RG; no R term without randoms), NaN where W_D = 0."""
    d = _field_values(kind, sums["d"])
    empty = np.asarray(sums["d"]["weight"], dtype=float) <= 0
    r = _field_values(kind, sums["r"]) if "r" in sums else None
    return {k: np.where(empty, np.nan, v - (0.0 if r is None else r[k])) for k, v in d.items()}


def _field_unit_sums(kind, engine, parts, p, q, bins):
    """NG/NK/KK/KG sums of unit {p, q}: ``d`` (cat1 with cat2; cat2 None: KK auto) and ``r``
    (randoms with cat2) when there are randoms. ``parts`` follows the inputs (cat1, cat2, randoms)."""
    from .field_correlations import field_of

    letters = FIELD_KINDS[kind][0]
    a, b, r = parts
    auto = b is None
    b = a if auto else b

    def cross(x, y):
        if x is None or y is None:
            return None
        return engine.fields(letters, x, y, bins, field_of(x, letters[0], "cat1"), field_of(y, letters[1], "cat2"))

    def unit(pa, pb):
        if auto:
            if p == q:
                c = pa[p]
                return None if c is None or c.nobj < 2 else engine.fields(letters, c, None, bins,
                                                                          field_of(c, "K", "cat1"), field_of(c, "K", "cat1"))
            return cross(pa[p], pa[q])
        s = cross(pa[p], pb[q])
        if p != q:
            t = cross(pa[q], pb[p])
            s = t if s is None else (s if t is None else _add(s, t))
        return s

    out = {}
    for name, pa in (("d", a), ("r", r)):
        if pa is None:
            continue
        s = unit(pa, b)
        if s is not None:
            out[name] = {k: np.asarray(s[k], dtype=float) for k in ("weight", "xi", "xi_im") if k in s}
    return out


def _tau_unit_sums(engine, parts, p, q, bins):
    """tau0, tau2, tau5 sums of unit {p, q}: galaxies at p with star fields at q, and (p != q)
    galaxies at q with star fields at p (:data:`cosmocorr.estimators.tau.TAU_FIELDS`)."""
    from .tau import TAU_FIELDS

    gal, stars = parts
    out = {}
    pairs = [(p, q)] if p == q else [(p, q), (q, p)]
    for name, key in TAU_FIELDS.items():
        s = None
        for i, j in pairs:
            g, st = gal[i], stars[j]
            if g is None or st is None:
                continue
            t = engine.all_pairs(g, st.catalog, bins, g1=g.g, g2=st.fields()[key])
            s = t if s is None else _add(s, t)
        if s is not None:
            out[name] = s
    return out


def _flat(result, kind, what):
    def get(r, name):
        if what == "value":
            return np.asarray(getattr(r, name), dtype=float)
        v = getattr(r, "var" + name, None)
        return np.full(r.bins.nbins, np.nan) if v is None else np.sqrt(np.asarray(v, dtype=float))

    if kind == "counts":
        return {"xi": get(result, "xi")}
    if kind in FIELD_KINDS:
        return {k: get(result, k) for k in (("xi", "xi_im") if FIELD_KINDS[kind][1] else ("xi",))}
    if kind == "tau":
        return {f"{n}.{s}": get(result[n], s) for n in result.tau for s in ("xip", "xim")}
    if kind == "shear":
        return {"xip": get(result, "xip"), "xim": get(result, "xim")}
    return {f"{n}.{s}": get(result[n], s) for n in result.rho for s in ("xip", "xim")}


def _add(a, b):
    return {k: a[k] + b[k] for k in a}


def _pairs(engine, parts_a, parts_b, p, q, bins, *, shear, auto):
    """Sums over pairs with one object of ``parts_a[p]`` and one of ``parts_b[q]`` (and, for
    two catalogs and p != q, one of ``parts_a[q]`` with one of ``parts_b[p]``). ``auto``: one
    catalog, so unit {p, p} is its auto-correlation and {p, q} a cross-correlation."""
    def cross(x, y):
        if x is None or y is None:
            return None
        return engine.all_pairs(x, y, bins, shear=shear)

    if auto:
        if p == q:
            return None if parts_a[p] is None or parts_a[p].nobj < 2 else engine.all_pairs(parts_a[p], None, bins,
                                                                                             shear=shear)
        return cross(parts_a[p], parts_a[q])
    s = cross(parts_a[p], parts_b[q])
    if p != q:
        t = cross(parts_a[q], parts_b[p])
        s = t if s is None else (s if t is None else _add(s, t))
    return s


def shear_problem(cat1, cat2, bins, run):
    """A shear-shear problem (``cat2`` None: auto-correlation)."""
    return Problem("shear", (cat1, cat2), bins, run)


def counts_problem(data, randoms, bins, run):
    """A Landy-Szalay problem (DD, DR, RR)."""
    return Problem("counts", (data, randoms), bins, run)


def rho_problem(stars, bins, run):
    """A rho-statistics problem (rho1..rho5 of one StarCatalog)."""
    return Problem("rho", (stars,), bins, run)


# ----------------------------------------------------------------------------- spot checks
@dataclass
class SpotChecks:
    """The drawn units and their exact sums (computed once, shared by every bin_slop).

    Attributes
    ----------
    npatch : int
        Patches of the spot checks (the catalogs' own, or k-means ones).
    units : ndarray (n, 2)
        The drawn units (p, q), p <= q.
    strata : ndarray (n,)
        Stratum of each drawn unit (0: p == q; 1-3: off-diagonal, by thirds of the separation of
        the patch centres).
    N_h, n_h : ndarray (4,)
        Units in range and units drawn, per stratum.
    exact : list of dict
        Exact sums of each drawn unit (dict of sum sets; empty: no pair).
    parts : list
        ``parts[k][p]``: input k's objects in patch p (None for a patch no drawn unit uses).
    seconds : float
        CPU time of the exact sums of the drawn units.
    """

    npatch: int
    units: np.ndarray
    strata: np.ndarray
    N_h: np.ndarray
    n_h: np.ndarray
    exact: list = field(default_factory=list)
    parts: list = field(default_factory=list)
    seconds: float = 0.0

    @property
    def n_units(self):
        """Number of units (patch pairs) in all strata."""
        return int(self.N_h.sum())

    @property
    def weights(self):
        """Horvitz-Thompson weight N_h / n_h of each drawn unit."""
        return np.array([self.N_h[h] / self.n_h[h] for h in self.strata], dtype=float)


def _spot_labels(problem, npatch, rng):
    """Patch labels for the spot checks: the inputs' own (all must have the same patches), or
    k-means patches of the first catalog with the others assigned to the same centres."""
    cats = problem.catalogs()
    if all(c.patch is not None for c in cats) and len({c.npatch for c in cats}) == 1:
        return [np.asarray(c.patch) for c in cats], cats[0].npatch
    npatch = min(npatch, cats[0].nobj)
    labels, centers = kmeans_patches(cats[0].ra, cats[0].dec, npatch, seed=rng)
    return [labels] + [assign_patches(c.ra, c.dec, centers) for c in cats[1:]], npatch


def draw_spot_checks(problem, exact_engine, fraction, npatch, rng, progress=False):
    """Draw the units of the spot checks (stratified, without replacement) and compute their exact
    sums (module docstring). Returns a :class:`SpotChecks`."""
    labels, npatch = _spot_labels(problem, npatch, rng)
    cats = problem.catalogs()
    # units in range: patch pairs some pair of which can be closer than max_sep
    geo = [_patch_geometry(SimpleNamespace(xyz=cat.xyz, patch=lab), npatch) for cat, lab in zip(cats, labels)]
    reach = problem.bins.max_sep * ARCMIN
    cen = geo[0][0]
    rad = np.max([g[1] for g in geo], axis=0)
    sep = np.arccos(np.clip(cen.T @ cen, -1.0, 1.0))
    p, q = np.triu_indices(npatch)
    keep = (sep[p, q] - rad[p] - rad[q] <= reach + 1e-9) & (rad[p] >= 0) & (rad[q] >= 0)
    p, q = p[keep], q[keep]
    d = sep[p, q]
    off = p != q
    strata = np.zeros(p.size, dtype=int)
    if np.any(off):
        edges = np.quantile(d[off], [1 / 3, 2 / 3])
        strata[off] = 1 + np.searchsorted(edges, d[off], side="right")
    N_h = np.bincount(strata, minlength=4)
    n_h = np.where(N_h > 0, np.minimum(N_h, np.maximum(SPOT_MIN_UNITS, np.ceil(fraction * N_h).astype(int))), 0)
    chosen = [np.sort(rng.choice(np.flatnonzero(strata == h), size=n_h[h], replace=False))
              for h in range(4) if n_h[h]]
    chosen = np.concatenate(chosen) if chosen else np.zeros(0, dtype=int)
    units = np.column_stack([p[chosen], q[chosen]])
    needed = np.unique(units)
    parts = []      # aligned with the inputs (None for an absent input)
    labels_left = iter(labels)
    for obj in problem.inputs:
        if obj is None:
            parts.append(None)
            continue
        lab = next(labels_left)
        members = {k: np.flatnonzero(lab == k) for k in needed}
        parts.append([obj.subset(members[k]) if k in members and members[k].size else None for k in range(npatch)])
    spots = SpotChecks(npatch, units, strata[chosen], N_h, n_h, parts=parts)
    t0 = time.process_time()
    with progress_bar(len(units), desc="exact spot checks", progress=progress) as bar:
        for a, b in units:
            spots.exact.append(problem.unit_sums(exact_engine, parts, int(a), int(b)) or {})
            bar.update()
    spots.seconds = time.process_time() - t0
    return spots


def _rotated_parts(problem, parts, R):
    """The spot checks' patch subsets moved by R (the same rotation for every patch)."""
    return [None if ps is None else [_turn(c, R) for c in ps] for ps in parts]


# ----------------------------------------------------------------------------- the estimate
@dataclass
class ApproximationError:
    """The approximation error of a tree estimate at one ``bin_slop`` (module docstring).

    Every dict attribute maps a statistic (``xip``, ``xim`` for shear; ``xi`` for
    Landy-Szalay; ``xi`` and ``xi_im`` for NG/NK/KK/KG; ``rho1.xip`` ..., ``tau0.xip`` ... for
    the rho and tau statistics) to a per-bin array.

    Attributes
    ----------
    bin_slop : float
    approx_error, approx_error_err : dict
        Systematic error (signed, tree - exact) and its standard error.
    approx_sigma, approx_sigma_err : dict
        Spread of the tree estimate over random rotations and its standard error.
    sigma_stat : dict
        Statistical sigma of each bin (the result's own variance).
    n_rotations, n_units, n_spot : int
        Rotations; units in range; units checked exactly.
    seconds : float
        CPU time of this bin_slop's tree runs on the units.
    unit_runs : list
        The tree sums of every drawn unit on every rotation (kept to re-evaluate the estimate on
        another base result).
    angle_slop : float
        The angle_slop of the runs (set by :func:`choose_bin_slop`).
    """

    bin_slop: float
    approx_error: dict
    approx_error_err: dict
    approx_sigma: dict
    approx_sigma_err: dict
    sigma_stat: dict
    n_rotations: int
    n_units: int
    n_spot: int
    seconds: float = 0.0
    unit_runs: list = field(default=None, repr=False)
    angle_slop: float = None

    def bound(self, z=Z_COVERAGE):
        """:func:`approximation_bound` of this estimate (dict statistic -> per-bin array)."""
        return approximation_bound(self.approx_error, self.approx_error_err, self.approx_sigma, z)

    def worst_ratio(self, z=Z_COVERAGE):
        """max over bins and statistics of bound / sigma_stat (NaN bins skipped; inf if sigma is 0)."""
        worst = 0.0
        for k, b in self.bound(z).items():
            s = self.sigma_stat[k]
            ok = np.isfinite(b) & np.isfinite(s)
            if np.any(ok):
                with np.errstate(divide="ignore", invalid="ignore"):
                    r = np.where(s[ok] > 0, b[ok] / s[ok], np.where(b[ok] > 0, np.inf, 0.0))
                worst = max(worst, float(np.max(r)))
        return worst


def approximation_bound(approx_error, approx_error_err, approx_sigma, z=Z_COVERAGE):
    """``|approx_error| + z sqrt(approx_error_err^2 + approx_sigma^2)``: an upper bound on the
    approximation error ``|xi_T - xi_E|`` of one tree estimate at about the normal level of ``z``."""
    return {k: np.abs(approx_error[k]) + z * np.hypot(approx_error_err[k], approx_sigma[k]) for k in approx_error}


def _plus(S, terms, weights):
    """S + sum_u weights[u] terms[u], over S's sum sets and keys (a term may lack a set: no pair)."""
    out = {name: {k: np.array(v, dtype=float) for k, v in s.items()} for name, s in S.items()}
    for t, w in zip(terms, weights):
        if w == 0:
            continue
        for name, s in t.items():
            for k in out.get(name, {}):
                out[name][k] += w * s[k]
    return out


def _sub(a, b):
    """a - b for dicts of sum sets (a set missing on one side counts as zero)."""
    out = {}
    for name in set(a) | set(b):
        x, y = a.get(name), b.get(name)
        keys = (x or y).keys()
        out[name] = {k: (0.0 if x is None else x[k]) - (0.0 if y is None else y[k]) for k in keys}
    return out


def _mean(sets):
    out = {}
    for s in sets:
        for name, v in s.items():
            acc = out.setdefault(name, {k: np.zeros_like(np.asarray(x, dtype=float)) for k, x in v.items()})
            for k, x in v.items():
                acc[k] += x / len(sets)
    return out


def run_units(problem, tree_engine, spots, rotations, progress=False, desc="rotations", rotated=None, start=0):
    """The tree sums of every drawn unit on every rotation: list (unit) of list (rotation).

    Parameters
    ----------
    problem : Problem
    tree_engine : TreeSums
        The tree at one slop.
    spots : SpotChecks
    rotations : ndarray (M, 3, 3)
    progress : bool
    desc : str
        Progress bar label.
    rotated : list, optional
        A list shared by calls with the same rotations: it keeps the units' rotated patch subsets
        (made on the first call), so that the next slop reuses them, and with them the TreeCorr
        catalogs the engine's ``cache`` keeps.
    start : int
        Index of ``rotations[0]`` in the list ``rotated`` follows.

    Returns
    -------
    list of list of dict
    """
    out = [[] for _ in range(len(spots.units))]
    # each unit is small: one thread per TreeCorr call (no OpenMP start-up per call)
    with using_threads(1), progress_bar(len(rotations), desc=desc, progress=progress) as bar:
        for m, R in enumerate(rotations, start):
            if rotated is not None and m < len(rotated):
                parts = rotated[m]
            else:
                parts = _rotated_parts(problem, spots.parts, R)
                if rotated is not None:
                    rotated.append(parts)
            for u, (a, b) in enumerate(spots.units):
                out[u].append(problem.unit_sums(tree_engine, parts, int(a), int(b)) or {})
            bar.update()
    return out


def _inverse_inclusion(strata, n_h, N_h):
    """1 / pi_uv for every pair of drawn units (pi_uu = n_h / N_h; two units of stratum h:
    n_h (n_h - 1) / (N_h (N_h - 1)); of strata h != g: n_h n_g / (N_h N_g)), stratum counts ``n_h``."""
    w = N_h[strata] / n_h[strata]
    inv = np.outer(w, w)
    same = strata[:, None] == strata[None, :]
    n, N = n_h[strata].astype(float), N_h[strata].astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        pair = np.where(n > 1, N * (N - 1) / (n * np.maximum(n - 1, 1)), 0.0)
    inv[same] = np.broadcast_to(pair[:, None], inv.shape)[same]
    np.fill_diagonal(inv, w)
    return inv


def shared_patches(units):
    """Boolean matrix of the drawn units that have a patch in common (the diagonal included):
    their tree sums use the same cells, so their rotation errors are correlated."""
    u = np.asarray(units)
    a, b = u[:, 0], u[:, 1]
    return ((a[:, None] == a[None, :]) | (a[:, None] == b[None, :]) | (b[:, None] == a[None, :])
            | (b[:, None] == b[None, :]))


def summarize(problem, bin_slop, unit_runs, spots, base, seconds=0.0, angle_slop=None):
    """:class:`ApproximationError` from the units' tree runs, their exact sums and a base result
    (the tree estimate whose sums set the ratio effect, and whose variance is sigma_stat).

    Parameters
    ----------
    problem : Problem
    bin_slop : float
        The slop of the runs (recorded).
    unit_runs : list of list of dict
        :func:`run_units`' output: each drawn unit's tree sums on each rotation.
    spots : SpotChecks
    base : result
        The estimator's tree result.
    seconds : float
        CPU time to record.
    angle_slop : float, optional
        The angle_slop of the runs (recorded).

    Returns
    -------
    ApproximationError
    """
    S = _result_sums(problem, base)
    f0 = problem.statistics(S)
    names = list(f0)
    nb = problem.bins.nbins
    M = len(unit_runs[0]) if unit_runs else 0
    n = len(unit_runs)
    T_mean = [_mean(runs) for runs in unit_runs]
    D = [_sub(t, e) for t, e in zip(T_mean, spots.exact)]
    # X[k][u, m]: effect on statistic k of unit u's deviation from its rotation mean on rotation m
    X = {k: np.zeros((n, M, nb)) for k in names}
    for u, (runs, tm) in enumerate(zip(unit_runs, T_mean)):
        for m, r in enumerate(runs):
            e = problem.statistics(_plus(S, [_sub(r, tm)], [1.0]))
            for k in names:
                X[k][u, m] = e[k] - f0[k]
    # covariances over rotations of the units' effects; only units sharing a patch (hence tree
    # cells) are correlated: the others' covariance is taken as 0 (module docstring)
    share = shared_patches(spots.units) if n else np.zeros((0, 0), bool)
    C = {}
    for k in names:
        Xc = X[k] - X[k].mean(axis=1, keepdims=True)
        C[k] = np.einsum("umb,vmb->uvb", Xc, Xc) / (M - 1) if M > 1 else np.zeros((n, n, nb))
        C[k] = np.where(share[:, :, None], C[k], 0.0)
    strata = np.asarray(spots.strata, dtype=int)
    N_h = np.asarray(spots.N_h)

    def estimate(keep):
        n_h = np.bincount(strata[keep], minlength=len(N_h))
        w = np.where(keep, N_h[strata] / np.maximum(n_h[strata], 1), 0.0)
        f_exact = problem.statistics(_plus(S, D, -w))
        b = {k: f0[k] - f_exact[k] for k in names}
        inv = _inverse_inclusion(strata, np.maximum(n_h, 1), N_h) * np.outer(keep, keep)
        # the pairwise terms come from M rotations and are noisy: a total below the diagonal
        # (independent units) value is floored there
        v = {k: np.maximum(np.einsum("uv,uvb->b", inv, C[k]), np.einsum("uu,uub->b", inv, C[k])) for k in names}
        return b, {k: np.sqrt(np.maximum(v[k], 0.0)) for k in names}, w

    everything = np.ones(n, dtype=bool)
    b, sig, w = estimate(everything)
    var_b = {k: np.zeros(nb) for k in names}
    var_s = {k: np.zeros(nb) for k in names}
    for h in range(len(N_h)):
        members = np.flatnonzero(strata == h)
        nh, Nh = spots.n_h[h], N_h[h]
        if nh < 2 or nh >= Nh:
            continue           # a census stratum has no sampling variance
        reps = []
        for u in members:
            keep = everything.copy()
            keep[u] = False
            reps.append(estimate(keep))
        factor = (1 - nh / Nh) * (nh - 1) / nh
        for k in names:
            for acc, j in ((var_b, 0), (var_s, 1)):
                t = np.array([r[j][k] for r in reps])
                acc[k] += factor * np.sum((t - t.mean(axis=0)) ** 2, axis=0)
    for k in names:
        if M > 1:
            # the rotation means of correlated units are correlated: the off-diagonal part of
            # Var(D_hat | units) = Var_m(sum_u w_u X_u) / M (the jackknife holds the diagonal)
            off = np.einsum("u,v,uvb->b", w, w, C[k]) - np.einsum("u,ub->b", w ** 2, np.einsum("uub->ub", C[k]))
            var_b[k] = np.maximum(var_b[k] + off / M, 0.0)
            # and sigma^2 is estimated from M rotations (chi-square with M - 1 dof)
            var_s[k] = var_s[k] + sig[k] ** 2 / (2 * (M - 1))
    sigma_stat = problem.sigmas(base)
    return ApproximationError(
        bin_slop=float(bin_slop), approx_error=b, approx_error_err={k: np.sqrt(var_b[k]) for k in names},
        approx_sigma=sig, approx_sigma_err={k: np.sqrt(var_s[k]) for k in names}, sigma_stat=sigma_stat,
        n_rotations=M, n_units=spots.n_units, n_spot=len(spots.units), seconds=seconds, unit_runs=unit_runs,
        angle_slop=None if angle_slop is None else float(angle_slop))


def _result_sums(problem, r):
    """The sum sets of a result (weights and numerators of each statistic)."""
    def gg(e):
        w = np.asarray(e.weight, float)
        return {"weight": w, "xip": np.where(w > 0, e.xip * w, 0.0), "xim": np.where(w > 0, e.xim * w, 0.0)}

    if problem.kind == "shear":
        return {"gg": gg(r)}
    if problem.kind == "counts":
        return {"dd": {"weight": np.asarray(r.dd, float)}, "dr": {"weight": np.asarray(r.dr, float)},
                "rr": {"weight": np.asarray(r.rr, float)}}
    if problem.kind in FIELD_KINDS:
        w = np.asarray(r.weight, float)
        keys = ("xi", "xi_im") if FIELD_KINDS[problem.kind][1] else ("xi",)
        raw = {k: getattr(r, "raw_" + k, None) if r.random_sums is not None else getattr(r, k) for k in keys}
        out = {"d": {"weight": w, **{k: np.where(w > 0, np.nan_to_num(raw[k]) * w, 0.0) for k in keys}}}
        if r.random_sums is not None:
            out["r"] = {"weight": np.asarray(r.random_sums["weight"], float),
                        **{k: np.asarray(r.random_sums[k], float) for k in keys}}
        return out
    entries = r.tau if problem.kind == "tau" else r.rho
    return {n: gg(e) for n, e in entries.items()}


# ----------------------------------------------------------------------------- bin_slop="auto"
def check_ladder(ladder):
    """The bin_slop ladder as a tuple of floats >= 0, largest first (ValueError naming it)."""
    if isinstance(ladder, (str, bytes)) or not hasattr(ladder, "__iter__"):
        raise TypeError(f"bin_slop_ladder must be a sequence of numbers >= 0, got {type(ladder).__name__}")
    vals = [check_real(v, "bin_slop_ladder entry", low=0.0) for v in ladder]
    if not vals:
        raise ValueError("bin_slop_ladder is empty: give at least one bin_slop to try")
    return tuple(sorted(set(vals), reverse=True))


def check_approx_settings(n_rotations, spot_fraction, spot_npatch, approx_tol, seed):
    """Validate the approximation-error settings (each error names its argument)."""
    n_rotations = check_positive_int(n_rotations, "n_rotations", minimum=2)
    spot_fraction = check_real(spot_fraction, "spot_fraction", low=0.0, high=1.0, low_open=True)
    spot_npatch = check_positive_int(spot_npatch, "spot_npatch", minimum=2)
    approx_tol = check_real(approx_tol, "approx_tol", low=0.0, low_open=True)
    check_seed(seed)
    return n_rotations, spot_fraction, spot_npatch, approx_tol


def _seeds(seed):
    """Two independent streams (rotations; patches and units) from ``seed``."""
    if isinstance(seed, np.random.SeedSequence):
        ss = seed
    elif isinstance(seed, np.random.Generator):
        ss = np.random.SeedSequence(int(seed.integers(2**63)))
    else:
        ss = np.random.SeedSequence(seed)
    return ss.spawn(2)


def _next_slops(slops, s, ratio, approx_tol, power=1.0):
    """The ladder below ``s`` without the entries a failed step makes hopeless: assuming the
    bound grows at least like slop**power, a slop above s (approx_tol / ratio)**(1 / power)
    cannot pass; the smallest entry is always kept."""
    rest = [x for x in slops if x < s]
    if not rest or not np.isfinite(ratio) or ratio <= 0:
        return rest
    limit = s * (approx_tol / ratio) ** (1.0 / power)
    keep = [x for x in rest if x <= limit]
    return keep if keep else rest[-1:]


def _worst_systematic(est, z):
    """max over bins of (|approx_error| + z approx_error_err) / sigma_stat: the bound without its
    random part (a lower bound on :meth:`ApproximationError.worst_ratio`)."""
    return replace(est, approx_sigma={k: np.zeros_like(v) for k, v in est.approx_sigma.items()}).worst_ratio(z)


def _worst_raised(est, z):
    """:meth:`ApproximationError.worst_ratio` with approx_sigma raised to approx_sigma + z
    approx_sigma_err (a random part that few rotations could have underestimated)."""
    raised = {k: est.approx_sigma[k] + z * est.approx_sigma_err[k] for k in est.approx_sigma}
    return replace(est, approx_sigma=raised).worst_ratio(z)


def slop_rungs(ladder, angle_slop, angle_ladder=()):
    """The (bin_slop, angle_slop) pairs ``bin_slop="auto"`` tries, in order.

    Parameters
    ----------
    ladder : sequence of float
        bin_slop values, largest first, each tried at ``angle_slop``.
    angle_slop : float
        TreeCorr's angle_slop of the bin_slop rungs.
    angle_ladder : sequence of float
        angle_slop values tried at bin_slop 0 (those below ``angle_slop``, largest first), when
        ``ladder`` ends at 0.

    Returns
    -------
    list of (float, float)
    """
    rungs = [(float(b), float(angle_slop)) for b in ladder]
    if angle_ladder and rungs[-1][0] == 0.0:
        rungs += [(0.0, float(x)) for x in sorted(set(angle_ladder), reverse=True) if x < angle_slop]
    return rungs


#: how fast the bound is assumed to grow at least with the slop being lowered (bound ~ slop**power):
#: pairs put in the wrong bin add a noise-like error, and their fraction is about proportional to
#: bin_slop, so in noise-dominated bins the error grows like sqrt(bin_slop); the projection error
#: grows about linearly with angle_slop (docs/tree_error.md, "What a measured bound costs"). A power
#: above the true one skips fewer rungs (more are tried); one below it may skip a rung that would
#: have passed (a finer, costlier slop is then chosen, never a less accurate one).
BIN_SLOP_POWER, ANGLE_SLOP_POWER = 0.5, 1.0


def _next_rungs(rungs, failed, ratio, approx_tol):
    """The rungs after a failed one, without those :func:`_next_slops` makes hopeless: the slop
    the ladder is lowering (bin_slop while angle_slop stays, then angle_slop at bin_slop 0) is
    assumed to move the bound at least like bin_slop**:data:`BIN_SLOP_POWER` or
    angle_slop**:data:`ANGLE_SLOP_POWER`."""
    b, a = failed
    rest = rungs[rungs.index(failed) + 1:]
    same = [r for r in rest if r[1] == a]          # lowering bin_slop at this angle_slop
    lower = [r for r in rest if r[1] < a]          # lowering angle_slop at bin_slop 0
    if b > 0:
        same = [(x, a) for x in _next_slops([r[0] for r in same] + [b], b, ratio, approx_tol, BIN_SLOP_POWER)]
        return same + lower
    return [(0.0, x) for x in _next_slops([r[1] for r in lower] + [a], a, ratio, approx_tol, ANGLE_SLOP_POWER)]


def choose_bin_slop(problem, make_tree_engine, exact_engine, *, bin_slop="auto", ladder=DEFAULT_LADDER,
                    angle_slop=0.1, angle_ladder=(), approx_tol=0.1, n_rotations=8, spot_fraction=0.1,
                    spot_npatch=20, seed=None, z=Z_COVERAGE, progress=False, cache_limit=4_000_000):
    """The tree result with its approximation error, at ``bin_slop`` or (``"auto"``) at the
    first rung of the ladder (:func:`slop_rungs`) whose error bound stays below ``approx_tol``
    statistical sigmas.

    ``"auto"`` tries the rungs in order (bin_slop from the largest down at ``angle_slop``, then,
    at bin_slop 0, ``angle_ladder``) and stops at the first that passes
    (:func:`approximation_bound` <= ``approx_tol`` times the result's sigma in every bin of every
    statistic). After a failed rung, rungs :func:`_next_rungs` finds hopeless are skipped. If
    none passes, the last rung tried is used and a warning emitted. The rotations and the drawn
    units are the same for every rung; the exact sums of the units are computed once, and the
    rotated units (with their TreeCorr catalogs) are kept for the next rung when the catalogs
    are small enough (``cache_limit`` objects over all rotations). A rung with bin_slop = 0 and
    angle_slop = 0 lets no cell stand for its pairs: its result does not depend on the rotation
    (no random part) and one orientation is checked.

    Parameters
    ----------
    problem : Problem
        ``problem.run(inputs, bin_slop, angle_slop)`` gives the estimator's tree result.
    make_tree_engine : callable
        ``make_tree_engine(bin_slop, angle_slop)`` -> the tree's pair-sum engine.
    exact_engine : object
        The exact pair sums (``all_pairs``, ``field_pairs``).
    bin_slop : float or "auto"
    ladder : sequence of float
        bin_slop values ``"auto"`` may choose (largest first).
    angle_slop : float
        The angle_slop of the bin_slop rungs (and of a fixed ``bin_slop``).
    angle_ladder : sequence of float
        angle_slop values tried at bin_slop 0 after the bin_slop rungs (empty: angle_slop fixed).
    approx_tol : float > 0
    n_rotations : int >= 2
        M, the random rotations of the randomised clustering.
    spot_fraction : float in (0, 1]
        Fraction of the units of each stratum checked exactly (at least 2 per stratum).
    spot_npatch : int
        Patches made for the spot checks when the catalogs have none.
    seed : int, SeedSequence or Generator, optional
        Seeds the rotations, the patches and the draw of units (spawned streams).
    z : float
        Normal quantile of the bound.
    progress : bool
    cache_limit : int
        Most objects (summed over rotations) whose rotated copies are kept between rungs.

    Returns
    -------
    result :
        The estimator's tree result at the chosen rung.
    chosen : ApproximationError
        Its approximation error (re-evaluated on ``result``).
    tried : list of ApproximationError
        Every rung tried, in order (each evaluated on the result at the first rung).
    spots : SpotChecks
    """
    s_rot, s_spot = _seeds(seed)
    rotations = random_rotations(n_rotations, s_rot)
    auto = isinstance(bin_slop, str)
    rungs = slop_rungs(ladder, angle_slop, angle_ladder) if auto else [(bin_slop, angle_slop)]
    todo = list(rungs)
    base = problem.run(problem.inputs, *todo[0])
    spots = draw_spot_checks(problem, exact_engine, spot_fraction, spot_npatch, np.random.default_rng(s_spot),
                             progress=progress)
    size = sum(_positions(c).nobj for ps in spots.parts if ps is not None for c in ps if c is not None)
    keep = auto and len(todo) > 1 and size * n_rotations <= cache_limit
    rotated, cache = ([], {}) if keep else (None, None)
    tried = []
    while todo:
        rung = todo.pop(0)
        t0 = time.process_time()
        rots = rotations[:1] if rung == (0.0, 0.0) else rotations
        engine = make_tree_engine(*rung)
        engine.cache = cache
        desc = f"rotations (bin_slop={rung[0]:g}, angle_slop={rung[1]:g})"
        # "auto": half the rotations first. A rung whose systematic part alone (|approx_error| +
        # z approx_error_err, no random part) already exceeds approx_tol cannot pass: stop there;
        # one that passes even with approx_sigma raised by z times its own standard error (from
        # the M/2 rotations) needs no more rotations; otherwise the other half is run.
        half = len(rots) // 2 if auto and len(rots) >= 4 else len(rots)
        runs = run_units(problem, engine, spots, rots[:half], progress=progress, desc=desc, rotated=rotated)
        if half < len(rots):
            est = summarize(problem, rung[0], runs, spots, base, angle_slop=rung[1])
            hopeless = bool(todo) and _worst_systematic(est, z) > approx_tol
            if not hopeless and _worst_raised(est, z) > approx_tol:
                more = run_units(problem, engine, spots, rots[half:], progress=progress, desc=desc,
                                 rotated=rotated, start=half)
                runs = [a + b for a, b in zip(runs, more)]
        est = summarize(problem, rung[0], runs, spots, base, seconds=time.process_time() - t0, angle_slop=rung[1])
        tried.append(est)
        ratio = est.worst_ratio(z)
        if not auto or ratio <= approx_tol:
            break
        todo = _next_rungs(rungs, rung, ratio, approx_tol) if todo else []
    else:
        emit_warning(f"bin_slop='auto': no (bin_slop, angle_slop) tried ("
                     f"{', '.join(f'({e.bin_slop:g}, {e.angle_slop:g})' for e in tried)}) keeps the approximation "
                     f"error bound below approx_tol={approx_tol} statistical sigma in every bin (last: "
                     f"{tried[-1].worst_ratio(z):.3g} sigma); using bin_slop={tried[-1].bin_slop:g}, "
                     f"angle_slop={tried[-1].angle_slop:g}")
    chosen = tried[-1]
    if auto and len(rungs) > 1 and (chosen.bin_slop, chosen.angle_slop) == (0.0, 0.0):
        emit_warning(f"bin_slop='auto' needed bin_slop = angle_slop = 0 (the exact tree) to keep the approximation "
                     f"error below approx_tol={approx_tol} statistical sigma: at this size the tree is then about "
                     f"as costly as method='exact', which gives the same result without the error measurement")
    result = base
    if (chosen.bin_slop, chosen.angle_slop) != (tried[0].bin_slop, tried[0].angle_slop):
        result = problem.run(problem.inputs, chosen.bin_slop, chosen.angle_slop)
        chosen = summarize(problem, chosen.bin_slop, chosen.unit_runs, spots, result, chosen.seconds,
                           chosen.angle_slop)
    return result, chosen, tried, spots


# ----------------------------------------------------------------------------- the estimators' entry
def _with_patches(cat, labels, npatch):
    """A copy of ``cat`` (Catalog or StarCatalog) carrying the given patch labels."""
    out = cat.subset(np.arange(len(cat)))
    target = out.catalog if isinstance(out, StarCatalog) else out
    target.patch, target.npatch, target._patch_centers = np.asarray(labels), npatch, None
    return out


def _attach(kind, result, est, info):
    """Set the approximation-error fields on a result (per statistic dicts; rho: on each entry)."""
    fields = ("approx_error", "approx_error_err", "approx_sigma", "approx_sigma_err")
    if kind in ("rho", "tau"):
        for name, entry in getattr(result, kind).items():
            for f in fields:
                setattr(entry, f, {s: getattr(est, f)[f"{name}.{s}"] for s in ("xip", "xim")})
            entry.approx_info = info
    else:
        for f in fields:
            setattr(result, f, dict(getattr(est, f)))
    result.approx_info = info
    return result


def _field_estimator(name):
    """The NG/NK/KK/KG estimator on inputs (cat1, cat2, randoms) (randoms: NG, NK only)."""
    def run(cat1, cat2, randoms, bins, **kw):
        from . import field_correlations as fc

        if randoms is not None:
            kw["randoms"] = randoms
        return getattr(fc, name)(cat1, cat2, bins, **kw)
    return run


def _import(module, name):
    def get():
        import importlib

        return getattr(importlib.import_module(f"{__package__}.{module}"), name)
    return get


#: the estimator of each kind (imported when used: the estimators import this module's settings)
_ESTIMATORS = {"shear": _import("shear_shear", "shear_shear"), "counts": _import("landy_szalay", "landy_szalay"),
               "rho": _import("rho", "rho_statistics"), "tau": _import("tau", "tau_statistics"),
               "NG": lambda: _field_estimator("count_shear"), "NK": lambda: _field_estimator("count_scalar"),
               "KK": lambda: _field_estimator("scalar_scalar"), "KG": lambda: _field_estimator("scalar_shear")}


def tree_with_error(kind, inputs, bins, *, bin_slop=None, angle_slop=None, approx_tol=None, n_rotations=8,
                    spot_fraction=0.1, spot_npatch=20, bin_slop_ladder=None, seed=None, progress=False,
                    **estimator_kwargs):
    """A ``method="tree"`` result carrying its measured approximation error (module docstring).

    Parameters
    ----------
    kind : {"shear", "counts", "rho", "tau", "NG", "NK", "KK", "KG"}
        :func:`cosmocorr.estimators.shear_shear` (``inputs = (cat1, cat2)``),
        :func:`~cosmocorr.estimators.landy_szalay` (``(data, randoms)``),
        :func:`~cosmocorr.estimators.rho_statistics` (``(stars,)``),
        :func:`~cosmocorr.estimators.tau_statistics` (``(galaxies, stars)``) or
        :func:`~cosmocorr.estimators.count_shear` etc. (``(cat1, cat2, randoms)``; ``cat2`` None:
        KK auto-correlation; ``randoms`` one Catalog or None, NG and NK only).
    inputs : tuple
    bins : Bins
    bin_slop : float >= 0, None or "auto"
        None: TreeCorr's default. ``"auto"``: :func:`choose_bin_slop` on ``bin_slop_ladder``
        (default: :data:`DEFAULT_LADDER` entries up to TreeCorr's default slop for these bins).
    angle_slop : float, optional
        TreeCorr's (None: its default, 0.1). Given, it is the same at every slop ``"auto"``
        tries; None with ``"auto"``: after the bin_slop ladder reaches 0, angle_slop is lowered
        along :data:`DEFAULT_ANGLE_LADDER` (0.05, 0.03, 0.02, 0.01, 0), so that ``"auto"`` controls the
        whole approximation. bin_slop = angle_slop = 0 is the exact tree, which has no random
        part (one orientation is checked).
    approx_tol : float > 0, optional
        ``"auto"``'s tolerance in statistical sigmas (default 0.1).
    n_rotations, spot_fraction, spot_npatch, seed, progress :
        As :func:`choose_bin_slop`.
    **estimator_kwargs :
        The estimator's other settings (``var_method``, ...).

    The tree runs patch by patch (TreeCorr's patch processing) on the catalogs' own patches, or,
    when they have none, on ``spot_npatch`` k-means patches given to copies of the catalogs, so
    that the drawn units are exactly parts of the result's own sums.

    Returns
    -------
    The estimator's result with ``approx_error``, ``approx_error_err``, ``approx_sigma``,
    ``approx_sigma_err`` (dicts statistic -> per-bin array) and ``approx_info`` (settings, the
    ladder tried with each slop's worst bound / sigma) set; ``bin_slop`` is the slop used.
    """
    from .pair_sums import check_slop, pair_sum_method

    auto = isinstance(bin_slop, str)
    if auto and bin_slop != "auto":
        raise TypeError(f"bin_slop must be a number >= 0, None or 'auto'; got {bin_slop!r}")
    if not auto:
        bin_slop = check_slop(bin_slop, "bin_slop")
    approx_tol = 0.1 if approx_tol is None else approx_tol
    n_rotations, spot_fraction, spot_npatch, approx_tol = check_approx_settings(n_rotations, spot_fraction,
                                                                                spot_npatch, approx_tol, seed)
    angle_slop = check_slop(angle_slop, "angle_slop")
    s_patch, s_rest = _seeds(seed)
    probe = Problem(kind, inputs, bins, None)
    cats = probe.catalogs()
    if not (all(c.patch is not None for c in cats) and len({c.npatch for c in cats}) == 1):
        labels, npatch = _spot_labels(probe, spot_npatch, np.random.default_rng(s_patch))
        objs = [c for c in inputs if c is not None]
        moved = iter(_with_patches(o, lab, npatch) for o, lab in zip(objs, labels))
        inputs = tuple(None if c is None else next(moved) for c in inputs)
    estimator = _ESTIMATORS[kind]()
    default = pair_sum_method("tree").settings(bins, FIELD_KINDS[kind][0] if kind in FIELD_KINDS else
                                               "NN" if kind == "counts" else "GG")
    default, angle0 = default["bin_slop"], default["angle_slop"]      # TreeCorr's defaults for these bins
    # "auto" controls the whole approximation: with angle_slop not given, it is lowered along
    # DEFAULT_ANGLE_LADDER at bin_slop 0 when lowering bin_slop alone does not pass
    angle_ladder = DEFAULT_ANGLE_LADDER if auto and angle_slop is None else ()
    angle_slop = angle0 if angle_slop is None else angle_slop

    def run(args, slop, angle):
        return estimator(*args, bins, method="tree", bin_slop=slop, angle_slop=angle, **estimator_kwargs)

    problem = Problem(kind, inputs, bins, run)
    if not auto and bin_slop is None:
        bin_slop = default
    if auto:
        if bin_slop_ladder is None:
            ladder = tuple(x for x in DEFAULT_LADDER if x <= default + 1e-12)
            ladder = ladder if default in ladder else (default,) + ladder
        else:
            ladder = check_ladder(bin_slop_ladder)
    else:
        ladder = None
        if bin_slop_ladder is not None:
            raise ValueError("bin_slop_ladder is used only with bin_slop='auto'")
    backend = estimator_kwargs.get("backend")
    t0 = time.process_time()
    result, chosen, tried, spots = choose_bin_slop(
        problem, lambda s, a: pair_sum_method("tree", bin_slop=s, angle_slop=a), pair_sum_method(
            "exact", backend=backend), bin_slop="auto" if auto else bin_slop, ladder=ladder or DEFAULT_LADDER,
        angle_slop=angle_slop, angle_ladder=angle_ladder, approx_tol=approx_tol, n_rotations=n_rotations,
        spot_fraction=spot_fraction, spot_npatch=spot_npatch, seed=s_rest, progress=progress)
    info = {"bin_slop_auto": auto, "bin_slop_tried": [e.bin_slop for e in tried],
            "angle_slop_tried": [e.angle_slop for e in tried], "angle_slop": chosen.angle_slop,
            "seconds_tried": [e.seconds for e in tried], "rotations_tried": [e.n_rotations for e in tried],
            "seconds_spot_checks": spots.seconds, "seconds_total": time.process_time() - t0,
            "worst_bound_over_sigma": [e.worst_ratio() for e in tried], "approx_tol": approx_tol,
            "z": Z_COVERAGE, "n_rotations": n_rotations, "spot_fraction": spot_fraction, "npatch": spots.npatch,
            "n_units": spots.n_units, "n_spot": len(spots.units),
            "seed": None if seed is None or not isinstance(seed, (int, np.integer)) else int(seed)}
    return _attach(kind, result, chosen, info)
