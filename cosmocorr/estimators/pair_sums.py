"""All-pairs bin sums on a backend: the one entry from the estimators into the kernels.

"Naive" is meant as in Jarvis et al. (2004) and the paper's sec. 5: every pair is used, no
clustering approximation. The sums (``npairs``, ``weight``, ``wr`` and, for shears, the four
projected shear products of eq. 8) come from :func:`cosmocorr.backends.get_kernels`, so this
module never needs to know which backend runs them. ``wlogr`` (the sum of w_i w_j ln(r/arcmin),
for TreeCorr's ``meanlogr``) is added here by a positions-only pass (:func:`logr_sums`).

With patches (``Catalog(..., patch=...)`` or ``npatch=``) the same sums are taken once per pair
of patches (:func:`patch_pair_sums`): the kernel runs once on each pair (auto: p <= q; cross: all
p, q), pairs of patches farther apart than ``max_sep`` are skipped, and the full result is their
total. Every covariance method (:mod:`.covariance`) then reuses these sums; nothing is recomputed
per left-out patch. With a Dask client configured (``client=``, ``set_executor``,
``COSMOCORR_SCHEDULER``) and more than one patch pair in range, each patch pair is one task on
the cluster (the NumPy kernel, single-threaded; each patch's arrays scattered once:
:func:`cosmocorr.backends.distributed.map_patch_pairs`); the sums equal the local ones to
rounding. A patch pair of more than ``distributed.MAX_TASK_PAIRS`` pairs is cut into tiles instead.

``method="tree"`` takes the same sums, in the same layout, from TreeCorr's tree
(:func:`tree_pair_sums`, :func:`tree_patch_pair_sums`; the TreeCorr calls live in
:mod:`cosmocorr.backends.tree`). :func:`pair_sum_method` is the one place where the estimators'
``method`` is told apart: it returns an object (:class:`ExactSums` or :class:`TreeSums`) whose
``all_pairs``, ``per_patch`` and ``field_pairs`` give the sums either way.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._parallel import resolve_client
from .._validate import check_choice, check_real
from ..backends import distributed, get_kernels, tree
from ..sky.catalog import Catalog
from ..sky.geometry import ARCMIN

__all__ = ["naive_pair_sums", "field_pair_sums", "check_catalog", "ratio", "logr_sums", "field_variance",
           "patch_pair_sums", "PatchPairSums", "sum_both_orders", "check_same_patches", "patches_in_use",
           "tree_pair_sums", "tree_patch_pair_sums", "tree_kind_pair_sums", "tree_kind_patch_pair_sums",
           "pair_sum_method", "ExactSums", "TreeSums", "METHODS", "check_method", "check_slop", "check_addable",
           "sums_from_means", "combined_variance", "PairSumSettings", "ApproximationFields"]


def ratio(num, den):
    """num / den with NaN where den == 0 (empty bins)."""
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def check_catalog(cat, name):
    """``cat`` if it is a :class:`~cosmocorr.sky.catalog.Catalog`, else a TypeError naming ``name``."""
    if not isinstance(cat, Catalog):
        raise TypeError(f"{name} must be a cosmocorr.Catalog, got {type(cat).__name__}")
    return cat


def field_variance(z, w):
    """TreeCorr's shape-noise variance per component of a complex field (``Catalog.varg``):
    ``(var1 + var2) / 2`` with ``var = sum w^2 (x - <x>_w)^2 / sum w`` for the real and
    imaginary parts, ``<x>_w = sum w x / sum w``."""
    z = np.asarray(z, dtype=complex)
    w = np.asarray(w, dtype=float)
    sw = w.sum()
    out = 0.0
    for x in (z.real, z.imag):
        m = np.sum(w * x) / sw
        out += np.sum(w**2 * (x - m) ** 2) / sw
    return out / 2.0


def logr_sums(xyz1, w1, xyz2, w2, bins, auto, block_pairs=1 << 18):
    """Per-bin sums of w_i w_j ln(r_ij / arcmin) over the pairs the kernels count.

    The separation and bin are computed exactly as the NumPy kernel does (Vincenty in vector
    form, atan2(``|a x b|``, a . b); :meth:`Bins.index`), so each pair lands in the same bin.
    ``auto``: unordered pairs i < j of one catalog.
    """
    xyz1 = np.ascontiguousarray(xyz1, dtype=float)
    xyz2 = np.ascontiguousarray(xyz2, dtype=float)
    w1 = np.asarray(w1, dtype=float)
    w2 = np.asarray(w2, dtype=float)
    n1, n2 = xyz1.shape[1], xyz2.shape[1]
    out = np.zeros(bins.nbins)
    if n1 == 0 or n2 == 0:
        return out
    cos_hi = np.cos(min(bins.min_sep * ARCMIN, np.pi)) + 1e-9
    cos_lo = np.cos(min(bins.max_sep * ARCMIN, np.pi)) - 1e-9
    rows = max(1, int(block_pairs) // n2)
    for i0 in range(0, n1, rows):
        i1 = min(n1, i0 + rows)
        j0 = i0 + 1 if auto else 0
        if j0 >= n2:
            break
        dot = xyz1[:, i0:i1].T @ xyz2[:, j0:]
        cand = (dot >= cos_lo) & (dot <= cos_hi)
        if auto:
            cand &= np.arange(j0, n2)[None, :] > np.arange(i0, i1)[:, None]
        ii, jj = np.nonzero(cand)
        if ii.size == 0:
            continue
        d = dot[ii, jj]
        ii += i0
        jj += j0
        ax, ay, az = xyz1[:, ii]
        bx, by, bz = xyz2[:, jj]
        cx = ay * bz - az * by
        cy = az * bx - ax * bz
        cz = ax * by - ay * bx
        r = np.arctan2(np.sqrt(cx * cx + cy * cy + cz * cz), d) / ARCMIN
        k = bins.index(r)
        m = k >= 0
        if np.any(m):
            out += np.bincount(k[m], weights=w1[ii[m]] * w2[jj[m]] * np.log(r[m]), minlength=bins.nbins)
    return out


def _field_kernel_sums(kernels, xyz1, w1, f1, xyz2, w2, f2, bins, auto, logr, field_kind):
    """The NK/KK/NG/KG sums (``xi``, ``xi_im``) of ``kernels.field_pair_sums`` (NumPy, or the
    Julia module's once its ``field_pair_sums`` self-test family passed; see
    :func:`cosmocorr.backends.get_kernels`)."""
    client = resolve_client()
    args = (bins.min_sep, bins.max_sep, bins.nbins, bins.spacing == "log")
    names = ("npairs", "weight", "wr") + (("wlogr",) if logr else ()) + ("xi", "xi_im")
    if client is not None and distributed.worth_distributing(xyz1.shape[1], xyz2.shape[1], auto):
        total = distributed.map_tiles(client, _field_tile, args + (field_kind, logr), xyz1, w1, f1, xyz2, w2, f2,
                                      bins.max_sep, auto)
        return {k: np.zeros(bins.nbins) if total is None else total[q].copy() for q, k in enumerate(names)}
    fn = getattr(kernels, "field_pair_sums", None) or get_kernels("numpy").field_pair_sums
    sums = fn(xyz1, w1, f1, xyz2, w2, f2, field_kind, *args, auto, logr=logr)
    return {k: np.asarray(sums[k], dtype=float) for k in names}


def _field_tile(a, b, min_sep, max_sep, nbins, log, field_kind, logr, auto):
    """:func:`_field_kernel_sums` of one tile of the pair matrix (a Dask task, NumPy kernel)."""
    sums = get_kernels("numpy").field_pair_sums(*a, *b, field_kind, min_sep, max_sep, nbins, log, auto, logr=logr)
    return np.array(list(sums.values()))


def _kernel_sums(kernels, xyz1, w1, g1, xyz2, w2, g2, bins, auto, same_field, logr, field_kind=None):
    if field_kind is not None:
        return _field_kernel_sums(kernels, xyz1, w1, g1, xyz2, w2, g2, bins, auto, logr, field_kind)
    client = resolve_client()
    remote = client is not None and distributed.worth_distributing(xyz1.shape[1], xyz2.shape[1], auto)
    if remote:
        # a Dask client is configured (client=, set_executor, COSMOCORR_SCHEDULER): tiles of the
        # pair matrix as tasks on the NumPy kernel, partial sums reduced on the workers
        sums = distributed.pair_sums(client, xyz1, w1, g1, xyz2, w2, g2, bins.min_sep, bins.max_sep, bins.nbins,
                                     bins.spacing == "log", auto, logr=logr)
    else:
        # the NumPy kernel sums w log r in the same pass; a kernel without that option (Julia)
        # gets the separate positions-only pass below
        one_pass = {"logr": True} if logr and getattr(kernels, "PAIR_SUMS_LOGR", False) else {}
        sums = kernels.pair_sums(xyz1, w1, g1, xyz2, w2, g2, bins.min_sep, bins.max_sep, bins.nbins,
                                 bins.spacing == "log", auto, **one_pass)
    sums = {k: np.asarray(v, dtype=float) for k, v in sums.items()}
    if g1 is not None and auto and same_field:
        # Im(g_i g_j^*) is odd under exchanging the pair, so over unordered pairs of one field
        # it is not defined by the data; by symmetry it is 0.
        sums["xip_im"] = np.zeros_like(sums["xip_im"])
    if logr and remote and "wlogr" not in sums:
        total = distributed.map_tiles(client, _logr_tile, (bins,), xyz1, w1, None, xyz2, w2, None, bins.max_sep, auto)
        sums["wlogr"] = np.zeros(bins.nbins) if total is None else total
    elif logr and "wlogr" not in sums:
        sums["wlogr"] = logr_sums(xyz1, w1, xyz2, w2, bins, auto)
    return sums


def _logr_tile(a, b, bins, auto):
    """:func:`logr_sums` of one tile of the pair matrix (a Dask task)."""
    return logr_sums(a[0], a[1], b[0], b[1], bins, auto)


def naive_pair_sums(cat1, cat2=None, bins=None, *, shear=True, backend=None, g1=None, g2=None, logr=True):
    """All-pairs bin sums between two catalogs (auto when ``cat2`` is None), on ``backend``.

    ``g1``/``g2`` override the catalogs' own shears (complex arrays), which is how the rho
    statistics correlate derived fields at the same positions. With ``logr`` (default) the sums
    include ``wlogr`` = sum of w_i w_j ln(r / arcmin) (for ``meanlogr``).
    """
    auto = cat2 is None
    c2 = cat1 if auto else cat2
    same = False
    if shear:
        same = auto and g1 is g2  # one field with itself (the catalog's own shear, or one given array)
        g1 = cat1.g if g1 is None else np.asarray(g1, dtype=complex)
        g2 = g1 if same else (c2.g if g2 is None else np.asarray(g2, dtype=complex))
    else:
        g1 = g2 = None
    return _kernel_sums(get_kernels(backend), cat1.xyz, cat1.w, g1, c2.xyz, c2.w, g2, bins, auto, same, logr)


def field_pair_sums(cat1, cat2, bins, f1, f2, field_kind, *, backend=None, logr=True):
    """All-pairs NK/KK/NG/KG bin sums: sum w_i w_j a_i b_j' (``xi``, ``xi_im``) with the pair counts.

    ``cat2`` None: a scalar field ``f1`` with itself (unordered pairs); ``f1`` (ones for counts)
    and ``f2`` are the fields of ``cat1`` and ``cat2``; ``field_kind`` "scalar" (b' = b) or
    "spin2" (b' = the shear in the pair's frame, Re b' = gamma_t) as
    :func:`cosmocorr.backends.numpy_kernels.field_pair_sums`.
    """
    auto = cat2 is None
    c2 = cat1 if auto else cat2
    return _field_kernel_sums(get_kernels(backend), cat1.xyz, cat1.w, np.asarray(f1, complex), c2.xyz, c2.w,
                              np.asarray(f1 if auto else f2, complex), bins, auto, logr, field_kind)


def check_addable(a, b, base):
    """Raise unless the results ``a`` and ``b`` can be added as sums over disjoint sets of pairs
    (TreeCorr's ``+=``): both plain all-pairs results of class ``base`` (not Algorithm 1's sample
    means), the same bins, shot-noise errors (per-patch sums and patch covariances do not add)."""
    for r, name in ((a, "self"), (b, "other")):
        if type(r) is not base:
            raise TypeError(f"{name}: only {base.__name__} results of the exact estimator can be added, got "
                            f"{type(r).__name__}")
        if r.var_method != "shot" or getattr(r, "npatch", 1) != 1:
            raise ValueError(f"{name}: results with patches (var_method={r.var_method!r}, npatch={r.npatch}) cannot be "
                             f"added; compute the chunks without patches (the chunks are the patches)")
    if a.bins != b.bins:
        raise ValueError(f"other: different bins ({b.bins!r} vs {a.bins!r}); only results on the same bins add")


def sums_from_means(weight, means):
    """Bin sums back from a result's weighted means (mean x weight; 0 in empty bins, whose means
    are NaN)."""
    w = np.asarray(weight, dtype=float)
    return {k: np.where(w != 0, np.asarray(v, dtype=float) * w, 0.0) for k, v in means.items()}


def combined_variance(mine, theirs, given, name):
    """The field variance of the sum of two results: ``given`` when given, else the results' own
    when they agree (the same field), else a ValueError asking for it (chunks of a catalog each
    carry their own field's variance; the sum needs the whole catalog's)."""
    if given is not None:
        from .._validate import check_real

        return check_real(given, name, low=0.0)
    if (np.isnan(mine) and np.isnan(theirs)) or np.isclose(mine, theirs, rtol=1e-12, atol=0.0):
        return mine
    raise ValueError(f"{name}: the two results' fields have different variances ({mine:.6g} and {theirs:.6g}), as "
                     f"chunks of one catalog do; the sum's shot noise needs the whole catalog's: "
                     f"a.add(b, {name}=...) (cosmocorr.estimators.pair_sums.field_variance of all its objects)")


def sum_both_orders(s_ab, s_ba):
    """Ordered-pair sums from the two unordered passes: Re/Im of z_a z_b^* taken (i,j) and (j,i)."""
    out = {}
    for k in s_ab:
        if k == "xip_im":
            # z_b(i) z_a(j)^* is the conjugate of z_a(j) z_b(i)^*
            out[k] = s_ab[k] - s_ba[k]
        else:
            out[k] = s_ab[k] + s_ba[k]
    return out


@dataclass
class PatchPairSums:
    """Bin sums for every pair of patches (p of the first catalog, q of the second).

    Attributes
    ----------
    sums : dict of ndarray (npatch, npatch, nbins)
        The kernel's sums (``npairs``, ``weight``, ``wr``, ``wlogr`` and the shear products) of the
        pairs with one object in patch p and the other in q. Auto-correlations fill p <= q only.
    ok : bool ndarray (npatch, npatch)
        The patch pairs TreeCorr keeps in its ``results`` (auto: p <= q, cross: all; for shear
        fields only pairs with non-zero weight besides p == q). The covariance methods select
        among these exactly as TreeCorr does.
    tot : ndarray (npatch, npatch)
        sum(w_p) sum(w_q) (auto: 0.5 sum(w_p)^2 on the diagonal, upper triangle only): the
        pair-count normalisation of each patch pair (used by Landy-Szalay).
    auto : bool
    """

    sums: dict
    ok: np.ndarray
    tot: np.ndarray
    auto: bool

    @property
    def npatch(self):
        """Number of patches."""
        return self.ok.shape[0]

    def total(self):
        """The all-pairs sums: the total over patch pairs (dict of (nbins,) arrays)."""
        return {k: v.sum(axis=(0, 1)) for k, v in self.sums.items()}


def check_same_patches(cats, names):
    """The common ``npatch`` of catalogs that all carry patches, or a ValueError naming the odd one."""
    first = cats[0]
    for cat, name in zip(cats, names):
        if cat.patch is None:
            raise ValueError(f"{name} has no patches: build it with Catalog(..., patch=labels) or npatch=K "
                             f"(and patch_centers= for the other catalogs) to use a patch-based var_method")
        if cat.npatch != first.npatch:
            raise ValueError(f"{name} has {cat.npatch} patches but {names[0]} has {first.npatch}; "
                             f"they must use the same patches (give patch_centers={names[0]}.patch_centers)")
    return first.npatch


def patches_in_use(cats, names, var_method):
    """Whether the estimator takes its sums per patch pair.

    A patch-based ``var_method`` requires every catalog to carry the same patches (ValueError
    naming the catalog otherwise); with ``"shot"`` patches are used when all catalogs have the
    same ones (so that any method can be asked for later) and ignored otherwise.
    """
    if var_method != "shot":
        return check_same_patches(cats, names) > 1
    npatch = {c.npatch if c.patch is not None else None for c in cats}
    return len(npatch) == 1 and None not in npatch and npatch.pop() > 1


def _patch_geometry(cat, npatch):
    """Unit-vector centres (3, npatch) and angular radii (radians) of each patch (radius -1: empty)."""
    xyz = cat.xyz
    v = np.stack([np.bincount(cat.patch, weights=xyz[c], minlength=npatch) for c in range(3)])
    norm = np.linalg.norm(v, axis=0)
    centers = v / np.where(norm > 0, norm, 1.0)
    cosang = np.sum(xyz * centers[:, cat.patch], axis=0)
    ang = np.arccos(np.clip(cosang, -1.0, 1.0))
    radius = np.full(npatch, -1.0)
    np.maximum.at(radius, cat.patch, ang)
    return centers, radius


def patch_pair_sums(cat1, cat2, bins, *, shear=True, g1=None, g2=None, mode="auto", backend=None, logr_cache=None,
                    field_kind=None):
    """Bin sums of every pair of patches (:class:`PatchPairSums`), the kernel run once per pair.

    Parameters
    ----------
    cat1, cat2 : Catalog
        Catalogs with the same number of patches (``cat2`` None for ``mode="auto"`` and
        ``"ordered"``, which use ``cat1``'s positions twice).
    shear : bool
        Include the projected shear products (of ``g1`` with ``g2``; default the catalogs' own).
    mode : {"auto", "cross", "ordered"}
        ``"auto"``: one field with itself, unordered pairs (patch pairs p <= q);
        ``"cross"``: two catalogs, all pairs (all p, q);
        ``"ordered"``: two fields ``g1``, ``g2`` at the same positions, every ordered pair i != j
        (all p, q; the rho statistics rho2, rho4, rho5).
    logr_cache : dict, optional
        Shared between calls on the same positions (``mode`` "auto"/"ordered"): the positions-only
        ``wlogr`` sums of each patch pair are then computed once for all fields.
    field_kind : {"scalar", "spin2"}, optional
        The NK/KK/NG/KG sums of :func:`field_pair_sums` instead (``g1``, ``g2``: the two fields,
        required; ``mode`` "cross", or "auto" for a scalar with itself).
    """
    kernels = get_kernels(backend)
    c2 = cat1 if cat2 is None else cat2
    npatch = cat1.npatch
    if field_kind is not None:
        shear = True                           # two fields: g1, g2 carry them (TreeCorr's kept pairs)
    elif shear:
        g1 = cat1.g if g1 is None else np.asarray(g1, dtype=complex)
        g2 = (g1 if mode == "auto" else c2.g) if g2 is None else np.asarray(g2, dtype=complex)
    members1 = [np.flatnonzero(cat1.patch == p) for p in range(npatch)]
    members2 = members1 if c2 is cat1 else [np.flatnonzero(c2.patch == p) for p in range(npatch)]
    cen1, rad1 = _patch_geometry(cat1, npatch)
    cen2, rad2 = (cen1, rad1) if c2 is cat1 else _patch_geometry(c2, npatch)
    cen_sep = np.arccos(np.clip(cen1.T @ cen2, -1.0, 1.0))
    reach = bins.max_sep * ARCMIN
    sumw1 = np.bincount(cat1.patch, weights=cat1.w, minlength=npatch)
    sumw2 = np.bincount(c2.patch, weights=c2.w, minlength=npatch)
    xyz1, xyz2 = cat1.xyz, c2.xyz

    sums = None
    upper = mode == "auto"
    cache = logr_cache if (c2 is cat1 and mode in ("auto", "ordered")) else None
    tot = _patch_tot(sumw1, sumw2, upper)
    # the patch pairs in range, in loop order; ``have``: its wlogr comes from the cache (filled by
    # an earlier call, or by an earlier pair of this call with the same unordered key)
    jobs = []
    claimed = set() if cache is None else set(cache)
    for p in range(npatch):
        if members1[p].size == 0:
            continue
        for q in range(p if upper else 0, npatch):
            if members2[q].size == 0:
                continue
            if cen_sep[p, q] - rad1[p] - rad2[q] > reach + 1e-9:
                continue                       # no pair of these patches can be in range
            kind = "auto" if p == q and mode == "auto" else "ordered" if p == q and mode == "ordered" else "cross"
            key = None if cache is None else ((p, p, "auto") if p == q else (min(p, q), max(p, q), "cross"))
            have = cache is not None and key in claimed
            if cache is not None:
                claimed.add(key)
            jobs.append((p, q, kind, key, have))
    zero_im = mode == "auto" and shear and field_kind is None   # one spin-2 field: Im part 0 by symmetry

    def record(job, out):
        nonlocal sums
        p, q, kind, key, have = job
        s, fresh = out
        if cache is not None:
            if have:
                # "ordered": both orders of the unordered pairs, wlogr twice
                s["wlogr"] = cache[key] + cache[key] if kind == "ordered" else cache[key]
            else:
                cache[key] = fresh
        if sums is None:
            sums = {k: np.zeros((npatch, npatch, bins.nbins)) for k in s}
        for k, v in s.items():
            sums[k][p, q] = v

    def local(job):
        p, q, kind, _, have = job
        i, j = members1[p], members2[q]
        a = (xyz1[:, i], cat1.w[i], None if not shear else g1[i])
        if kind == "ordered":
            b = (xyz1[:, i], cat1.w[i], g2[i])      # the second field at the same positions
        else:
            b = (xyz2[:, j], c2.w[j], None if not shear else g2[j])
        return _patch_pair(kernels, a, b, kind, bins, not have, zero_im, field_kind)

    client = resolve_client()
    if client is not None and len(jobs) > 1 and (mode != "ordered" or c2 is cat1):
        # a Dask client is configured: one task per patch pair (NumPy kernel, one thread each) on
        # each patch's arrays scattered once; a very large patch pair is cut into tiles instead
        def size(job):
            n1, n2 = members1[job[0]].size, members2[job[1]].size
            return n1 * (n1 - 1) / 2 if job[2] == "auto" else n1 * (n1 - 1) if job[2] == "ordered" else n1 * n2
        small = [n for n, job in enumerate(jobs) if size(job) <= distributed.MAX_TASK_PAIRS]
        outs = dict(zip(small, _remote_patch_pairs(client, [jobs[n] for n in small], cat1, c2, members1, members2,
                                                   g1, g2, shear, bins, zero_im, field_kind)))
        for n, job in enumerate(jobs):
            record(job, outs[n] if n in outs else local(job))
    else:
        for job in jobs:
            record(job, local(job))
    if sums is None:
        names = ("npairs", "weight", "wr", "wlogr") + (("xi", "xi_im") if field_kind is not None else
                                                       ("xip", "xip_im", "xim", "xim_im") if shear else ())
        sums = {k: np.zeros((npatch, npatch, bins.nbins)) for k in names}
    if shear:
        ok = np.any(sums["weight"] != 0, axis=2)
        ok[np.diag_indices(npatch)] = True
    else:
        ok = np.ones((npatch, npatch), dtype=bool)
    if upper:
        ok = np.triu(ok)
    return PatchPairSums(sums=sums, ok=ok, tot=tot, auto=upper)


def _patch_tot(sumw1, sumw2, upper):
    """sum(w_p) sum(w_q) per patch pair (auto, ``upper``: upper triangle, 0.5 sum(w_p)^2 on the diagonal)."""
    tot = np.outer(sumw1, sumw2)
    if upper:
        tot = np.triu(tot)
        tot[np.diag_indices(len(sumw1))] = 0.5 * sumw1**2
    return tot


def _patch_pair(kernels, a, b, kind, bins, logr, zero_im, field_kind=None):
    """The sums of one patch pair and the wlogr to cache (that of its unordered pairs).

    ``a``, ``b``: (xyz, w, g) of the two patches; ``kind`` "auto" (a patch with itself, one
    field: ``b`` unused), "ordered" (a patch with itself, ``b`` the second field at ``a``'s
    positions: both orders of each pair) or "cross" (all pairs of a and b; ``zero_im`` sets
    ``xip_im`` to 0). Without ``logr`` the sums have no ``wlogr`` (it comes from the cache).
    ``field_kind``: the NK/KK/NG/KG sums (:func:`_field_kernel_sums`) of kind "auto" or "cross".
    """
    if kind == "auto":
        s = _kernel_sums(kernels, *a, *a, bins, True, True, logr, field_kind)
        return s, s.get("wlogr")
    if kind == "ordered":
        s_ab = _kernel_sums(kernels, *a, *b, bins, True, False, logr)
        s_ba = _kernel_sums(kernels, *b, *a, bins, True, False, False)
        if logr:
            s_ba["wlogr"] = s_ab["wlogr"]
        return sum_both_orders(s_ab, s_ba), s_ab.get("wlogr")   # wlogr of the unordered pairs twice
    s = _kernel_sums(kernels, *a, *b, bins, False, False, logr, field_kind)
    if zero_im:
        s["xip_im"] = np.zeros_like(s["xip_im"])
    return s, s.get("wlogr")


def _patch_pair_task(a, b, kind, logr, zero_im, bins, field_kind=None):
    """:func:`_patch_pair` on the NumPy kernel (one Dask task; single-threaded on the worker)."""
    return _patch_pair(get_kernels("numpy"), a, b, kind, bins, logr, zero_im, field_kind)


def _remote_patch_pairs(client, jobs, cat1, c2, members1, members2, g1, g2, shear, bins, zero_im, field_kind=None):
    """The (sums, wlogr) of ``jobs`` as one Dask task each (``c2`` is ``cat1`` for "ordered").

    Each patch's positions, weights and shears are cut out once, as in the local loop; the same
    objects serve both sides when they are the same data, so that
    :func:`cosmocorr.backends.distributed.map_patch_pairs` scatters each of them once.
    """
    cut = {}

    def part(cat, members, g, k):
        pos = cut.get((id(cat), k))
        if pos is None:
            pos = cut[(id(cat), k)] = (cat.xyz[:, members[k]], cat.w[members[k]])
        if not shear:
            return pos + (None,)
        field = cut.get((id(cat), id(g), k))     # the same field array on two catalogs: two cuts
        if field is None:
            field = cut[(id(cat), id(g), k)] = g[members[k]]
        return pos + (field,)

    npatch = len(members1)
    parts1, parts2 = [None] * npatch, [None] * npatch
    for p, q, _, _, _ in jobs:
        if parts1[p] is None:
            parts1[p] = part(cat1, members1, g1, p)
        if parts2[q] is None:
            parts2[q] = part(c2, members2, g2, q)
    tasks = [(p, q, (kind, not have, zero_im)) for p, q, kind, _, have in jobs]
    return distributed.map_patch_pairs(client, _patch_pair_task, (bins, field_kind), parts1, parts2, tasks)


# ------------------------------------------------------------------------------ the tree engine
def _field_of(cat, letter):
    """A catalog's own field for a TreeCorr letter: its shear (G), scalar ``k`` (K) or none (N)."""
    if letter == "G":
        return cat.g
    if letter == "K":
        return getattr(cat, "k", None)
    return None


def _tree_run(kind, cat1, cat2, bins, f1, f2, bin_slop, angle_slop, patches, cache=None):
    """TreeCorr's ``kind`` correlation of the catalogs (fields ``f1``, ``f2`` overriding their own),
    processed, not finalized; and whether it is one field with itself (an auto-correlation).

    ``cache``: a dict shared by several runs on the same catalogs and field arrays (the rho
    statistics), so that each TreeCorr catalog, and the tree TreeCorr builds on it, is made once.
    """
    letters = tree.KINDS[kind].letters
    if cat2 is None:
        if letters[0] != letters[1]:
            raise ValueError(f"cat2: a {kind} correlation needs two catalogs (cat2=None is an auto-correlation)")
        if f2 is not None and f2 is not f1:
            raise ValueError("g2: a tree auto-correlation (cat2=None) correlates one field with itself; to correlate "
                             "two fields at the same positions over every ordered pair give cat2=cat1")
    tcats = []
    for cat, f, letter, name in ((cat1, f1, letters[0], "cat1"), (cat2, f2, letters[1], "cat2")):
        if cat is None:
            break
        own = f is None
        f = _field_of(cat, letter) if f is None and letter != "N" else f
        if letter != "N" and f is None:
            raise ValueError(f"{name} has no {'shear' if letter == 'G' else 'scalar field k'} for a {kind} correlation")
        # the cache holds the catalog and field objects themselves, so their ids stay theirs; a
        # catalog's own field (f None) is keyed as such, as its property makes a new array per access
        key = (id(cat), None if letter == "N" else "own" if own else id(f), letter, patches)
        hit = None if cache is None else cache.get(key)
        if hit is None:
            field = None if letter == "N" else np.asarray(f, dtype=complex if letter == "G" else float)
            hit = (cat, f, tree.tree_catalog(cat.ra, cat.dec, cat.w, letter=letter, field=field,
                                             patch=cat.patch if patches else None))
            if cache is not None:
                cache[key] = hit
        tcats.append(hit[2])
    corr = tree.make_correlation(kind, bins.min_sep, bins.max_sep, bins.nbins, bins.spacing == "log",
                                 bin_slop=bin_slop, angle_slop=angle_slop)
    return tree.run(corr, *tcats), cat2 is None


def _zero_by_symmetry(kind, sums, one_field):
    """As on the exact path: the sums that vanish by symmetry in an auto-correlation of one field."""
    if one_field:
        for key in tree.KINDS[kind].auto_zeros:
            sums[key] = np.zeros_like(sums[key])
    return sums


def tree_kind_pair_sums(kind, cat1, cat2, bins, f1=None, f2=None, *, bin_slop=None, angle_slop=None, cache=None):
    """All-pairs bin sums of any registered TreeCorr correlation ``kind``
    (:data:`cosmocorr.backends.tree.KINDS`: ``"GG"``, ``"NN"``, and those added with
    :func:`~cosmocorr.backends.tree.register_kind`), by TreeCorr's tree.

    ``f1``, ``f2`` override the catalogs' fields (complex for a "G" catalog, real for "K");
    ``cat2`` None: an auto-correlation of one field. Returns the dict of :func:`tree_pair_sums`
    with the kind's own keys. ``cache``: a dict shared by calls on the same catalogs and field
    arrays (each TreeCorr catalog and its tree are then built once).
    """
    corr, one_field = _tree_run(kind, cat1, cat2, bins, f1, f2, bin_slop, angle_slop, False, cache)
    return _zero_by_symmetry(kind, tree.total_sums(corr, kind), one_field)


def tree_kind_patch_pair_sums(kind, cat1, cat2, bins, f1=None, f2=None, *, mode="auto", bin_slop=None,
                              angle_slop=None, cache=None):
    """:func:`tree_kind_pair_sums` per patch pair (:class:`PatchPairSums`, the layout of
    :func:`patch_pair_sums`): TreeCorr's per-patch-pair results on catalogs carrying the same
    patch labels (``Catalog.patch``).

    ``mode``: ``"auto"`` (one field with itself, patch pairs p <= q), ``"cross"`` (``cat1`` with
    ``cat2``, all p, q) or ``"ordered"`` (``f1`` with ``f2`` at ``cat1``'s positions: a TreeCorr
    cross-correlation, all p, q). ``ok`` holds the patch pairs TreeCorr keeps in its ``results``;
    ``tot`` is computed as on the exact path; ``cache`` as :func:`tree_kind_pair_sums`.
    """
    check_choice(mode, "mode", ("auto", "cross", "ordered"))
    c2 = cat1 if mode in ("auto", "ordered") else cat2
    if c2 is not cat1 and cat1.patch.max() != c2.patch.max():
        # TreeCorr counts a catalog's patches as its highest label + 1 and refuses a cross
        # correlation of catalogs whose counts differ
        short, name = (cat1, "cat1") if cat1.patch.max() < c2.patch.max() else (c2, "cat2")
        empty = np.flatnonzero(np.bincount(short.patch, minlength=cat1.npatch) == 0)
        raise ValueError(f"{name} has no object in patch(es) {', '.join(map(str, empty))} (among the highest labels), "
                         f"which TreeCorr's patch-based cross-correlation (method='tree') cannot handle; use "
                         f"method='exact', fewer patches, or a catalog covering every patch")
    corr, one_field = _tree_run(kind, cat1, None if mode == "auto" else c2, bins, f1, f2, bin_slop, angle_slop, True,
                                cache)
    npatch = cat1.npatch
    sums, ok = tree.patch_sums(corr, kind, npatch)
    sums = _zero_by_symmetry(kind, sums, one_field)
    sumw1 = np.bincount(cat1.patch, weights=cat1.w, minlength=npatch)
    sumw2 = np.bincount(c2.patch, weights=c2.w, minlength=npatch)
    upper = mode == "auto"
    return PatchPairSums(sums=sums, ok=np.triu(ok) if upper else ok, tot=_patch_tot(sumw1, sumw2, upper), auto=upper)


def tree_pair_sums(cat1, cat2=None, bins=None, *, shear=True, bin_slop=None, angle_slop=None, g1=None, g2=None):
    """All-pairs bin sums by TreeCorr's tree (:mod:`cosmocorr.backends.tree`): the same dict, keys,
    meaning and units as :func:`naive_pair_sums` (``npairs``, ``weight``, ``wr`` in arcmin,
    ``wlogr``; for shear ``xip``, ``xip_im``, ``xim``, ``xim_im`` as sums of w_i w_j times the
    projected products of paper eq. 8), with each pair's separation and projection those of the
    tree cells that stand for it.

    Parameters
    ----------
    cat1, cat2 : Catalog
        ``cat2`` None: auto-correlation (each unordered pair once, no self pairs; TreeCorr's
        ``process(cat)``). ``cat2=cat1`` with two fields ``g1``, ``g2``: every ordered pair
        i != j (the rho statistics' cross-correlations at the same positions).
    bins : Bins
    shear : bool
        Shear-shear (TreeCorr's GGCorrelation) or positions only (NNCorrelation).
    bin_slop, angle_slop : float, optional
        TreeCorr's meanings; None: TreeCorr's defaults (``bin_slop`` with ``bin_slop * bin_size
        <= 0.1``, at most 1; ``angle_slop = 0.1``). 0 and 0: every pair at its own separation
        and angle (the exact sums, to TreeCorr's single-precision cell sums, ~1e-7 relative).
    g1, g2 : complex ndarray, optional
        Fields overriding the catalogs' shears.

    Returns
    -------
    dict of ndarray (nbins,)
    """
    return tree_kind_pair_sums("GG" if shear else "NN", cat1, cat2, bins, g1 if shear else None,
                               g2 if shear else None, bin_slop=bin_slop, angle_slop=angle_slop)


def tree_patch_pair_sums(cat1, cat2, bins, *, shear=True, g1=None, g2=None, mode="auto", bin_slop=None,
                         angle_slop=None):
    """:func:`patch_pair_sums` by TreeCorr's tree: a :class:`PatchPairSums` whose sums per patch
    pair are TreeCorr's per-patch-pair results on catalogs carrying the same patch labels
    (``Catalog.patch``), so covariances of the two methods are comparable.

    ``mode`` as :func:`patch_pair_sums` (``"auto"``: TreeCorr auto-correlation, patch pairs
    p <= q; ``"cross"``: ``cat1`` with ``cat2``; ``"ordered"``: ``g1`` with ``g2`` at ``cat1``'s
    positions, a TreeCorr cross-correlation). ``ok`` holds the patch pairs TreeCorr keeps in its
    ``results``; ``tot`` is computed as on the exact path.
    """
    return tree_kind_patch_pair_sums("GG" if shear else "NN", cat1, cat2, bins, g1 if shear else None,
                                     g2 if shear else None, mode=mode, bin_slop=bin_slop, angle_slop=angle_slop)


# ------------------------------------------------------------- the one choice of method="exact"|"tree"
METHODS = ("exact", "tree")


def check_method(method, name="method"):
    """``method`` if it is ``"exact"`` or ``"tree"`` (TypeError / ValueError naming it otherwise)."""
    if not isinstance(method, str):
        raise TypeError(f"{name} must be a string, one of {METHODS}; got {type(method).__name__}")
    return check_choice(method, name, METHODS)


def check_slop(value, name):
    """None (TreeCorr's default) or a finite real >= 0, as a float."""
    if value is None:
        return None
    return check_real(value, name, low=0.0)


#: how the second catalog's field enters the exact kernel (field_pair_sums' kind), by TreeCorr letter
_FIELD_KIND = {"K": "scalar", "G": "spin2"}


def _tree_field(letter, f):
    """A field as TreeCorr takes it: none for counts (N), real for a scalar (K), complex for G."""
    if letter == "N":
        return None
    if letter == "K":
        return np.real(np.asarray(f)).astype(float)
    return np.asarray(f, dtype=complex)


def _tree_fields(kind, cat2, f1, f2):
    """Both fields as TreeCorr takes them; an auto-correlation (``cat2`` None) gets one object twice."""
    a = _tree_field(kind[0], f1)
    return a, (a if cat2 is None else _tree_field(kind[1], f2))


class ExactSums:
    """``method="exact"``: every pair on a backend's kernels (:func:`naive_pair_sums`,
    :func:`patch_pair_sums`)."""

    method = "exact"

    def __init__(self, backend=None):
        self.backend = backend

    def settings(self, bins, kind="GG"):
        """What the result records: the method, and no slop (each pair at its own separation)."""
        return {"method": "exact", "bin_slop": 0.0, "angle_slop": 0.0}

    def all_pairs(self, cat1, cat2, bins, *, shear=True, g1=None, g2=None):
        """All-pairs sums on the backend's exact kernels (:func:`naive_pair_sums`)."""
        return naive_pair_sums(cat1, cat2, bins, shear=shear, backend=self.backend, g1=g1, g2=g2)

    def per_patch(self, cat1, cat2, bins, *, shear=True, g1=None, g2=None, mode="auto", logr_cache=None):
        """Per-patch-pair sums on the exact kernels (:func:`patch_pair_sums`)."""
        return patch_pair_sums(cat1, cat2, bins, shear=shear, g1=g1, g2=g2, mode=mode, backend=self.backend,
                               logr_cache=logr_cache)

    def fields(self, kind, cat1, cat2, bins, f1, f2):
        """NG/NK/KK/KG sums (``kind``) of the fields ``f1``, ``f2`` (:func:`field_pair_sums`;
        ``cat2`` None: a scalar with itself)."""
        return field_pair_sums(cat1, cat2, bins, f1, f2, _FIELD_KIND[kind[1]], backend=self.backend)

    def fields_per_patch(self, kind, cat1, cat2, bins, f1, f2, mode="cross"):
        """:meth:`fields` per patch pair (:func:`patch_pair_sums` with ``field_kind``)."""
        return patch_pair_sums(cat1, cat2, bins, g1=f1, g2=f2, mode=mode, backend=self.backend,
                               field_kind=_FIELD_KIND[kind[1]])

    def field_pairs(self, cat, fields, pairs, bins):
        """Sums of several pairs of fields at the same positions (dict name -> sums): ``pairs``
        maps a name to (a, b), keys of ``fields``; a == b: auto-correlation of the field, else
        every ordered pair i != j of a_i with b_j."""
        multi = getattr(get_kernels(self.backend), "pair_sums_fields", None)
        if multi is not None:
            # one pass over the pair geometry (separations, bins, projections) for all pairs of fields
            names = sorted({k for ab in pairs.values() for k in ab})
            at = {k: q for q, k in enumerate(names)}
            sums = multi(cat.xyz, cat.w, [fields[k] for k in names], [(at[a], at[b]) for a, b in pairs.values()],
                         bins.min_sep, bins.max_sep, bins.nbins, bins.spacing == "log", logr=True)
            return dict(zip(pairs, sums))
        wlogr = logr_sums(cat.xyz, cat.w, cat.xyz, cat.w, bins, True)   # positions only: once for all
        out = {}
        for name, (a, b) in pairs.items():
            if a == b:
                out[name] = naive_pair_sums(cat, None, bins, backend=self.backend, g1=fields[a], g2=fields[a],
                                            logr=False)
                out[name]["wlogr"] = wlogr.copy()
            else:
                # cross-correlation of two fields at the same positions: all ordered pairs i != j
                # = the auto-correlation's unordered pairs taken in both orders
                s_ab = naive_pair_sums(cat, None, bins, backend=self.backend, g1=fields[a], g2=fields[b], logr=False)
                s_ba = naive_pair_sums(cat, None, bins, backend=self.backend, g1=fields[b], g2=fields[a], logr=False)
                out[name] = sum_both_orders(s_ab, s_ba)
                out[name]["wlogr"] = 2.0 * wlogr
        return out


class TreeSums:
    """``method="tree"``: TreeCorr's tree with ``bin_slop`` and ``angle_slop``
    (:func:`tree_pair_sums`, :func:`tree_patch_pair_sums`)."""

    method = "tree"

    def __init__(self, bin_slop=None, angle_slop=None, approx_tol=None, cache=None):
        self.bin_slop = bin_slop
        self.angle_slop = angle_slop
        self.approx_tol = approx_tol
        #: optional dict shared by engines run on the same catalogs (TreeCorr catalogs made once)
        self.cache = cache

    def settings(self, bins, kind="GG"):
        """What the result records: the method and the slops TreeCorr uses for ``bins`` and the
        correlation ``kind`` (:data:`cosmocorr.backends.tree.KINDS`; its defaults resolved)."""
        corr = tree.make_correlation(kind, bins.min_sep, bins.max_sep, bins.nbins, bins.spacing == "log",
                                     bin_slop=self.bin_slop, angle_slop=self.angle_slop, quiet=True)
        return {"method": "tree", **tree.settings_used(corr)}

    def all_pairs(self, cat1, cat2, bins, *, shear=True, g1=None, g2=None):
        """All-pairs sums from TreeCorr's tree (:func:`tree_pair_sums`)."""
        if self.cache is not None:
            return tree_kind_pair_sums("GG" if shear else "NN", cat1, cat2, bins, g1 if shear else None,
                                       g2 if shear else None, bin_slop=self.bin_slop, angle_slop=self.angle_slop,
                                       cache=self.cache)
        return tree_pair_sums(cat1, cat2, bins, shear=shear, g1=g1, g2=g2, bin_slop=self.bin_slop,
                              angle_slop=self.angle_slop)

    def per_patch(self, cat1, cat2, bins, *, shear=True, g1=None, g2=None, mode="auto", logr_cache=None):
        """``logr_cache``: the dict the exact path shares between the rho statistics; here it
        keeps the TreeCorr catalogs (and trees) of the fields for the next statistic."""
        kind = "GG" if shear else "NN"
        return tree_kind_patch_pair_sums(kind, cat1, cat2, bins, g1 if shear else None, g2 if shear else None,
                                         mode=mode, bin_slop=self.bin_slop, angle_slop=self.angle_slop,
                                         cache=logr_cache)

    def fields(self, kind, cat1, cat2, bins, f1, f2):
        """As :meth:`ExactSums.fields`, by TreeCorr's tree (:func:`tree_kind_pair_sums`)."""
        a, b = _tree_fields(kind, cat2, f1, f2)
        return tree_kind_pair_sums(kind, cat1, cat2, bins, a, b, bin_slop=self.bin_slop, angle_slop=self.angle_slop,
                                   cache=self.cache)

    def fields_per_patch(self, kind, cat1, cat2, bins, f1, f2, mode="cross"):
        """As :meth:`ExactSums.fields_per_patch`, by TreeCorr's tree."""
        a, b = _tree_fields(kind, cat2, f1, f2)
        return tree_kind_patch_pair_sums(kind, cat1, cat2, bins, a, b, mode=mode, bin_slop=self.bin_slop,
                                         angle_slop=self.angle_slop)

    def field_pairs(self, cat, fields, pairs, bins):
        """As :meth:`ExactSums.field_pairs`: a == b a TreeCorr auto-correlation, else a TreeCorr
        cross-correlation of the two fields at the same positions (one TreeCorr catalog and tree
        per field)."""
        cache = {}
        return {name: tree_kind_pair_sums("GG", cat, None if a == b else cat, bins, fields[a], fields[b],
                                          bin_slop=self.bin_slop, angle_slop=self.angle_slop, cache=cache)
                for name, (a, b) in pairs.items()}


_ENGINES = {"exact": ExactSums, "tree": TreeSums}


@dataclass(kw_only=True)
class PairSumSettings:
    """Fields every result shares about how its pair sums were taken (keyword-only).

    Attributes
    ----------
    method : str
        ``"exact"`` (every pair) or ``"tree"`` (TreeCorr's tree).
    bin_slop, angle_slop : float
        The tree's slops used (0 for ``"exact"``).
    approx_info : dict or None
        How the tree's approximation error was measured
        (:mod:`cosmocorr.estimators.approximation_error`); None when it was not.
    """

    method: str = "exact"
    bin_slop: float = 0.0
    angle_slop: float = 0.0
    approx_info: dict = None


@dataclass(kw_only=True)
class ApproximationFields(PairSumSettings):
    """:class:`PairSumSettings` plus the measured approximation error of a tree result, per bin
    as a dict of the result's statistics (e.g. {"xip": ..., "xim": ...}); None otherwise.

    Attributes
    ----------
    approx_error, approx_error_err : dict or None
        The systematic part (tree - exact, signed) and its standard error.
    approx_sigma, approx_sigma_err : dict or None
        The random part (spread over random rotations of the sky) and its standard error.
    """

    approx_error: dict = None
    approx_error_err: dict = None
    approx_sigma: dict = None
    approx_sigma_err: dict = None


def pair_sum_method(method="exact", *, backend=None, bin_slop=None, angle_slop=None, approx_tol=None):
    """How the estimators take their pair sums: the one place where ``method`` is told apart.

    Parameters
    ----------
    method : {"exact", "tree"}
        ``"exact"``: every pair on ``backend``'s kernels; ``"tree"``: TreeCorr's tree.
    backend : {"numpy", "julia", "auto"}, optional
        Exact kernels only; ``method="tree"`` with ``backend="julia"`` is a ValueError (the tree
        runs in TreeCorr's C++).
    bin_slop, angle_slop : float >= 0, optional
        ``method="tree"`` only (TreeCorr's meanings; None: its defaults); given with
        ``method="exact"`` they are a ValueError rather than silently unused.
    approx_tol : float > 0, optional
        ``method="tree"`` only: tolerated approximation error in units of the statistical sigma
        of each bin (used by ``bin_slop="auto"``).

    Returns
    -------
    ExactSums or TreeSums
        With ``all_pairs``, ``per_patch``, ``field_pairs`` (the sums) and ``settings(bins)``
        (``method``, ``bin_slop``, ``angle_slop`` to record on the result).
    """
    method = check_method(method)
    bin_slop = check_slop(bin_slop, "bin_slop")
    angle_slop = check_slop(angle_slop, "angle_slop")
    if approx_tol is not None:
        approx_tol = check_real(approx_tol, "approx_tol", low=0.0, low_open=True)
    if method == "exact":
        for name, v in (("bin_slop", bin_slop), ("angle_slop", angle_slop), ("approx_tol", approx_tol)):
            if v is not None:
                raise ValueError(f"{name} is a setting of method='tree'; method='exact' counts every pair "
                                 f"(give method='tree' to use {name})")
        return _ENGINES[method](backend)
    if isinstance(backend, str) and backend.strip().lower() == "julia":
        raise ValueError("backend='julia' runs the exact kernels; method='tree' runs TreeCorr's tree (give "
                         "backend=None, or method='exact' for the Julia kernels)")
    return _ENGINES[method](bin_slop, angle_slop, approx_tol)
