"""Exact all-pairs bin sums as Dask tasks (paper eqs. 1, 7-8 on a cluster).

The pair matrix of catalogs 1 x 2 is cut into tiles of ``block`` x ``block`` objects. Each tile is
one task calling the NumPy reference kernel :func:`cosmocorr.backends.numpy_kernels.pair_sums`
on its two row blocks (``auto=True`` on the diagonal tiles of an auto-correlation, so each
unordered pair is counted once and no object with itself; cross tiles otherwise; the tiles
below the diagonal of an auto-correlation are not computed). The catalogs are ordered along a
k-d tree first so that each block is compact on the sky (for one field with itself this changes
only the orientation of pairs, i.e. the sign of the undefined Im(g_i g_j^*) sums, which the
estimators set to 0), and a tile whose two blocks are
farther apart than ``max_sep`` is never submitted. The blocks are scattered to the workers once;
partial sums are added on the workers in a tree of reduction tasks and only the final
(n_sums, nbins) array is gathered. The result equals the local kernel's to rounding (only the
order of the sums differs). A task lost with its worker is recomputed by Dask.

With patches (the jackknife and other patch covariances), :func:`map_patch_pairs` instead sends
one task per pair of patches: each patch's arrays (positions, weights, shears) are scattered once
and every task returns that patch pair's sums, which are gathered as they are (the covariances
need each pair's sums, not only their total). A patch pair of more than :data:`MAX_TASK_PAIRS`
pairs is left to the tiles above by the caller.

Nothing here imports dask at module level; the functions take a ``dask.distributed.Client``.
"""
from __future__ import annotations

import math
import os

import numpy as np

from .._parallel import _single_threaded, scatter
from ..sky.geometry import ARCMIN
from . import numpy_kernels

__all__ = ["pair_sums", "map_tiles", "map_patch_pairs", "default_block", "plan_tiles", "worth_distributing",
           "MIN_PAIRS", "MAX_TASK_PAIRS", "PATCH_PAIR_KEY"]

#: fan-in of the reduction tree of partial sums on the workers
REDUCE_FAN_IN = 8
#: below this many pairs the sums run locally even when a client is configured (a task costs
#: ~1 ms of scheduling; 4e6 pairs take ~0.1 s on one core); Algorithm 1's draws, which are
#: small, are distributed as whole tasks instead
MIN_PAIRS = 4_000_000
#: a patch pair of more pairs than this is cut into tiles rather than sent as one task (about
#: 2.5 s of one core; the usual jackknife patches, npatch 20-100, are far below it)
MAX_TASK_PAIRS = 100_000_000
#: key prefix of the per-patch-pair tasks (``<prefix>-<p>-<q>-<token>``)
PATCH_PAIR_KEY = "cosmocorr-patch-pair"


def worth_distributing(n1, n2, auto):
    """Whether an n1 x n2 pair computation is large enough to send to the cluster."""
    pairs = n1 * (n1 - 1) / 2 if auto else n1 * n2
    return pairs >= MIN_PAIRS


def default_block(n1, n2, n_workers):
    """Objects per block: about 4 tiles per worker thread at least, and at most 20,000 objects
    (a 20,000 x 20,000 tile is ~4e8 pairs, tens of seconds for one core)."""
    n = max(n1, n2)
    per_side = max(1, math.ceil(math.sqrt(8 * max(1, n_workers))))
    return int(min(20_000, max(1_024, math.ceil(n / per_side))))


def _order(xyz, block):
    """A permutation making consecutive ``block``-sized runs compact on the sky (k-d order)."""
    from scipy.spatial import cKDTree

    n = xyz.shape[1]
    if n <= block:
        return np.arange(n)
    return cKDTree(xyz.T, leafsize=max(16, block // 4)).indices


def _caps(xyz, starts, n):
    """Centre (unit vector) and angular radius of each block's bounding cap."""
    ends = np.append(starts[1:], n)
    centres, radii = [], []
    for s, e in zip(starts, ends):
        v = xyz[:, s:e].sum(axis=1)
        norm = np.linalg.norm(v)
        v = v / norm if norm > 0 else xyz[:, s]
        cosang = np.clip(v @ xyz[:, s:e], -1.0, 1.0)
        centres.append(v)
        radii.append(float(np.arccos(cosang.min())) if e > s else 0.0)
    return np.array(centres), np.array(radii) * (1 + 1e-9) + 1e-12


def plan_tiles(xyz1, xyz2, block, max_sep_arcmin, auto, reorder=True):
    """(blocks of 1, blocks of 2, tiles): tiles (i, j) whose caps come closer than ``max_sep``.

    ``reorder=False`` keeps the catalog order (needed when an auto-correlation of two different
    fields must count each pair with the lower index first, as the kernel does)."""
    n1, n2 = xyz1.shape[1], xyz2.shape[1]
    o1 = _order(xyz1, block) if reorder else np.arange(n1)
    o2 = o1 if auto else (_order(xyz2, block) if reorder else np.arange(n2))
    s1, s2 = np.arange(0, n1, block), np.arange(0, n2, block)
    c1, r1 = _caps(xyz1[:, o1], s1, n1)
    c2, r2 = (c1, r1) if auto else _caps(xyz2[:, o2], s2, n2)
    gap = np.arccos(np.clip(c1 @ c2.T, -1.0, 1.0)) - r1[:, None] - r2[None, :]
    reach = gap <= min(max_sep_arcmin * ARCMIN, np.pi) + 1e-9
    tiles = [(i, j) for i in range(len(s1)) for j in range(len(s2)) if reach[i, j] and (not auto or j >= i)]
    return (o1, s1), (o2, s2), tiles


def _tile(a, b, min_sep, max_sep, nbins, log, logr, auto):
    xyz1, w1, g1 = a
    xyz2, w2, g2 = b
    extra = {"logr": True} if logr else {}
    sums = numpy_kernels.pair_sums(xyz1, w1, g1, xyz2, w2, g2, min_sep, max_sep, nbins, log, auto, **extra)
    return np.array([sums[name] for name in _names(g1 is not None, logr)])


def _names(shear, logr=False):
    return (numpy_kernels.SUM_NAMES + (("wlogr",) if logr else ())
            + (numpy_kernels.SHEAR_SUM_NAMES if shear else ()))


def _add(*parts):
    return np.sum(parts, axis=0)


def pair_sums(client, xyz1, w1, g1, xyz2, w2, g2, min_sep, max_sep, nbins, log, auto, block=None, logr=False):
    """:func:`cosmocorr.backends.numpy_kernels.pair_sums` with the tiles of the pair matrix run
    as tasks on ``client`` (same arguments and result; ``block`` objects per tile side, default
    :func:`default_block`; ``logr`` adds ``wlogr`` from the same pass when the kernel can)."""
    shear = g1 is not None
    logr = bool(logr and getattr(numpy_kernels, "PAIR_SUMS_LOGR", False))
    names = _names(shear, logr)
    total = map_tiles(client, _tile, (float(min_sep), float(max_sep), int(nbins), bool(log), logr), xyz1, w1, g1,
                      xyz2, w2, g2, max_sep, auto, block)
    if total is None:
        return {name: np.zeros(nbins) for name in names}
    return {name: total[q].copy() for q, name in enumerate(names)}


def map_tiles(client, fn, args, xyz1, w1, g1, xyz2, w2, g2, max_sep, auto, block=None):
    """Sum of ``fn(a, b, *args, auto_tile)`` over the tiles of the pair matrix, as Dask tasks.

    ``a`` and ``b`` are (xyz (3, n), w (n,), g (n,) or None) blocks of the two catalogs; ``fn``
    returns an array (the same shape for every tile) and must count, for ``auto_tile``, each
    unordered pair of its one block once. Tiles whose blocks are farther apart than ``max_sep``
    (arcmin) are skipped. Returns the summed array, or None when no tile can hold a pair.
    """
    xyz1 = np.ascontiguousarray(xyz1, dtype=float)
    xyz2 = xyz1 if auto else np.ascontiguousarray(xyz2, dtype=float)
    w1 = np.asarray(w1, dtype=float)
    w2 = w1 if auto else np.asarray(w2, dtype=float)
    shear = g1 is not None
    if shear:
        g1 = np.asarray(g1, dtype=complex)
        g2 = g1 if (auto and g2 is None) else np.asarray(g2, dtype=complex)
    n_workers = max(1, sum(client.nthreads().values()))
    block = default_block(xyz1.shape[1], xyz2.shape[1], n_workers) if block is None else int(block)
    if block < 1:
        raise ValueError(f"block must be >= 1, got {block}")
    # k-d ordering makes blocks compact (more tiles skipped); an auto-correlation of two different
    # fields keeps the catalog order, so that each pair is oriented (lower index first) as locally
    ordered_fields = auto and shear and not (g2 is g1 or np.array_equal(g1, g2))
    (o1, s1), (o2, s2), tiles = plan_tiles(xyz1, xyz2, block, max_sep, auto, reorder=not ordered_fields)
    if not tiles:
        return None

    def blocks(xyz, w, g, order, starts):
        out = []
        for s in starts:
            sel = order[s:s + block]
            out.append((np.ascontiguousarray(xyz[:, sel]), w[sel], None if g is None else g[sel]))
        return out

    used1 = sorted({i for i, _ in tiles})
    used2 = sorted({j for _, j in tiles})
    b1 = blocks(xyz1, w1, g1 if shear else None, o1, s1)
    f1 = dict(zip(used1, scatter(client, [b1[i] for i in used1])))      # catalogs scattered once
    if auto and not ordered_fields:
        f2 = f1
    else:
        b2 = blocks(xyz2, w2, g2 if shear else None, o2, s2)
        f2 = dict(zip(used2, scatter(client, [b2[j] for j in used2])))
    parts = [client.submit(_single_threaded, fn, (f1[i], f2[j]) + tuple(args) + (bool(auto and i == j),),
                           pure=False) for i, j in tiles]
    while len(parts) > 1:                                                # reduce on the workers
        parts = [client.submit(_add, *parts[q:q + REDUCE_FAN_IN], pure=False)
                 for q in range(0, len(parts), REDUCE_FAN_IN)]
    return parts[0].result()


def map_patch_pairs(client, fn, args, parts1, parts2, jobs, key=PATCH_PAIR_KEY):
    """``[fn(parts1[p], parts2[q], *extra, *args) for p, q, extra in jobs]``, one Dask task per job.

    ``parts1``/``parts2`` hold, per patch, a tuple of arrays (and ``None`` entries) - the patch's
    positions, weights, shears - or ``None`` for a patch no job uses. Each distinct array is
    scattered to the workers once (an array object appearing in several tuples, such as the
    positions of one catalog on both sides of an auto-correlation, is sent once) as a
    recomputable task result (:func:`cosmocorr._parallel.scatter`), so that a task lost with its
    worker is recomputed elsewhere from its inputs.
    Each task runs ``fn`` single-threaded (:func:`cosmocorr._parallel._single_threaded`, so it
    never submits tasks itself) under the key ``<key>-<p>-<q>-<token>``. Returns the results in
    job order.
    """
    jobs = [(int(p), int(q), tuple(extra)) for p, q, extra in jobs]
    if not jobs:
        return []
    if len({(p, q) for p, q, _ in jobs}) < len(jobs):
        # the task keys are per (p, q): Dask would hand a repeated pair the first one's result
        raise ValueError("jobs: each patch pair (p, q) may appear only once")
    used = {(1, p) for p, _, _ in jobs} | {(2, q) for _, q, _ in jobs}
    arrays, slot = [], {}
    for side, k in sorted(used):
        part = (parts1 if side == 1 else parts2)[k]
        if part is None:
            raise ValueError(f"parts{side}[{k}] is None but a job uses patch {k}")
        for arr in part:
            if arr is not None and id(arr) not in slot:
                slot[id(arr)] = len(arrays)
                arrays.append(arr)
    futures = scatter(client, arrays)                                    # each array sent once

    def remote(part):
        return tuple(None if arr is None else futures[slot[id(arr)]] for arr in part)

    token = os.urandom(6).hex()
    tasks = [client.submit(_single_threaded, fn, (remote(parts1[p]), remote(parts2[q])) + extra + tuple(args),
                           key=f"{key}-{p}-{q}-{token}", pure=False)
             for p, q, extra in jobs]
    try:
        return client.gather(tasks)
    except BaseException:
        client.cancel(tasks + futures)    # e.g. interrupted: stop what is still queued
        raise
