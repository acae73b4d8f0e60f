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
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._parallel import resolve_client
from ..backends import distributed, get_kernels
from ..sky.catalog import Catalog
from ..sky.geometry import ARCMIN

__all__ = ["naive_pair_sums", "check_catalog", "ratio", "logr_sums", "field_variance", "patch_pair_sums",
           "PatchPairSums", "sum_both_orders", "check_same_patches", "patches_in_use", "check_addable",
           "sums_from_means", "combined_variance"]


def ratio(num, den):
    """num / den with NaN where den == 0 (empty bins)."""
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def check_catalog(cat, name):
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
    form, atan2(|a x b|, a . b); :meth:`Bins.index`), so each pair lands in the same bin.
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


def _kernel_sums(kernels, xyz1, w1, g1, xyz2, w2, g2, bins, auto, same_field, logr):
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


def patch_pair_sums(cat1, cat2, bins, *, shear=True, g1=None, g2=None, mode="auto", backend=None, logr_cache=None):
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
    """
    kernels = get_kernels(backend)
    c2 = cat1 if cat2 is None else cat2
    npatch = cat1.npatch
    if shear:
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
    tot = np.outer(sumw1, sumw2)
    if upper:
        tot = np.triu(tot)
        tot[np.diag_indices(npatch)] = 0.5 * sumw1**2
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
    zero_im = mode == "auto" and shear      # one field: Im part of the cross patch pairs 0 by symmetry

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
        return _patch_pair(kernels, a, b, kind, bins, not have, zero_im)

    client = resolve_client()
    if client is not None and len(jobs) > 1 and (mode != "ordered" or c2 is cat1):
        # a Dask client is configured: one task per patch pair (NumPy kernel, one thread each) on
        # each patch's arrays scattered once; a very large patch pair is cut into tiles instead
        def size(job):
            n1, n2 = members1[job[0]].size, members2[job[1]].size
            return n1 * (n1 - 1) / 2 if job[2] == "auto" else n1 * (n1 - 1) if job[2] == "ordered" else n1 * n2
        small = [n for n, job in enumerate(jobs) if size(job) <= distributed.MAX_TASK_PAIRS]
        outs = dict(zip(small, _remote_patch_pairs(client, [jobs[n] for n in small], cat1, c2, members1, members2,
                                                   g1, g2, shear, bins, zero_im)))
        for n, job in enumerate(jobs):
            record(job, outs[n] if n in outs else local(job))
    else:
        for job in jobs:
            record(job, local(job))
    if sums is None:
        names = ("npairs", "weight", "wr", "wlogr") + (("xip", "xip_im", "xim", "xim_im") if shear else ())
        sums = {k: np.zeros((npatch, npatch, bins.nbins)) for k in names}
    if shear:
        ok = np.any(sums["weight"] != 0, axis=2)
        ok[np.diag_indices(npatch)] = True
    else:
        ok = np.ones((npatch, npatch), dtype=bool)
    if upper:
        ok = np.triu(ok)
    return PatchPairSums(sums=sums, ok=ok, tot=tot, auto=upper)


def _patch_pair(kernels, a, b, kind, bins, logr, zero_im):
    """The sums of one patch pair and the wlogr to cache (that of its unordered pairs).

    ``a``, ``b``: (xyz, w, g) of the two patches; ``kind`` "auto" (a patch with itself, one
    field: ``b`` unused), "ordered" (a patch with itself, ``b`` the second field at ``a``'s
    positions: both orders of each pair) or "cross" (all pairs of a and b; ``zero_im`` sets
    ``xip_im`` to 0). Without ``logr`` the sums have no ``wlogr`` (it comes from the cache).
    """
    if kind == "auto":
        s = _kernel_sums(kernels, *a, *a, bins, True, True, logr)
        return s, s.get("wlogr")
    if kind == "ordered":
        s_ab = _kernel_sums(kernels, *a, *b, bins, True, False, logr)
        s_ba = _kernel_sums(kernels, *b, *a, bins, True, False, False)
        if logr:
            s_ba["wlogr"] = s_ab["wlogr"]
        return sum_both_orders(s_ab, s_ba), s_ab.get("wlogr")   # wlogr of the unordered pairs twice
    s = _kernel_sums(kernels, *a, *b, bins, False, False, logr)
    if zero_im:
        s["xip_im"] = np.zeros_like(s["xip_im"])
    return s, s.get("wlogr")


def _patch_pair_task(a, b, kind, logr, zero_im, bins):
    """:func:`_patch_pair` on the NumPy kernel (one Dask task; single-threaded on the worker)."""
    return _patch_pair(get_kernels("numpy"), a, b, kind, bins, logr, zero_im)


def _remote_patch_pairs(client, jobs, cat1, c2, members1, members2, g1, g2, shear, bins, zero_im):
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
    return distributed.map_patch_pairs(client, _patch_pair_task, (bins,), parts1, parts2, tasks)
