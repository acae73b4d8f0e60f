"""Patches on the sky for jackknife / bootstrap covariances (TreeCorr's ``npatch`` / ``patch``).

A patch is a compact region of the sky; every object carries the integer label of its patch
(0 .. npatch - 1). Patches come from one of:

- ``patch=labels``: given by the user (e.g. the greedy fuzzy c-means labels);
- ``patch_centers=(npatch, 2)`` (ra, dec in degrees): each object goes to its nearest centre (how
  a random catalog, or the second catalog of a cross-correlation, gets the *same* patches);
- ``npatch=K``: TreeCorr's k-means (``treecorr.Field.run_kmeans``, the algorithm behind
  ``treecorr.Catalog(npatch=K)``: tree initialisation, then Lloyd iterations on the unit vectors
  accelerated by TreeCorr's ball tree, in C++), seeded from ``patch_seed`` through a
  :class:`numpy.random.Generator` passed as TreeCorr's ``rng=``. The patches are TreeCorr's own:
  labels and centres equal those of ``run_kmeans`` with the same Generator, and a tree run
  (``method="tree"``) uses these same labels.

This module lives in the sky layer and imports nothing above it (the clustering layer has its own
fuzzy k-means++); TreeCorr is a runtime dependency.
"""
from __future__ import annotations

import numpy as np

from .._validate import as_float_array, check_positive_int
from .geometry import unit_vectors, vectors_to_radec

__all__ = ["kmeans_patches", "assign_patches", "resolve_patches", "patch_centers_of"]


def _nearest(xyz, cxyz, block=65536):
    """Index of the nearest centre (largest dot product) of each object, in row blocks."""
    out = np.empty(xyz.shape[1], dtype=np.intp)
    for i0 in range(0, xyz.shape[1], block):
        out[i0:i0 + block] = np.argmax(xyz[:, i0:i0 + block].T @ cxyz, axis=1)
    return out


def kmeans_patches(ra, dec, npatch, seed=None, max_iter=200, init="tree", alt=False):
    """Spherical k-means patches from TreeCorr (``treecorr.Field.run_kmeans``).

    Parameters
    ----------
    ra, dec : array_like
        Positions in degrees.
    npatch : int
        Number of patches, 1 <= npatch <= N.
    seed : int, SeedSequence or Generator, optional
        Seed of the :class:`numpy.random.Generator` handed to TreeCorr as ``rng=`` (its
        initialisation draws one number from it); the same seed gives the same patches.
    max_iter : int
        Largest number of Lloyd iterations (TreeCorr's ``max_iter``; it stops earlier when the
        rms shift of the centres is below 1e-5 of the field size).
    init : {"tree", "random", "kmeans++"}
        TreeCorr's initialisation (``kmeans_init``).
    alt : bool
        TreeCorr's alternate algorithm (``kmeans_alt``), which evens out the patches' inertia.

    Returns
    -------
    labels : ndarray of int (N,)
        Patch of each object, 0 .. npatch - 1: TreeCorr's labels, each object in the patch of
        its nearest centre. Should a patch come out empty (degenerate inputs, e.g. many
        coincident objects), the object farthest from its centre among those of patches with
        more than one member is moved there, so every patch has at least one object.
    centers : ndarray (npatch, 2)
        Centres (ra, dec) in degrees: TreeCorr's centre unit vectors.
    """
    ra, dec = _coords(ra, dec)
    npatch = _check_npatch(npatch, ra.size)
    max_iter = check_positive_int(max_iter, "max_iter")
    if init not in ("tree", "random", "kmeans++"):
        raise ValueError(f"init must be 'tree', 'random' or 'kmeans++' (TreeCorr's kmeans_init), got {init!r}")
    import treecorr

    cat = treecorr.Catalog(ra=ra, dec=dec, ra_units="deg", dec_units="deg")
    # the NField Catalog(npatch=) itself builds for its k-means (max_top from npatch)
    field = cat.getNField(max_top=int.bit_length(npatch) - 1, coords="spherical")
    labels, cxyz = field.run_kmeans(npatch, max_iter=max_iter, init=init, alt=bool(alt),
                                    rng=np.random.default_rng(seed))
    cxyz = np.asarray(cxyz, dtype=float).T
    norm = np.linalg.norm(cxyz, axis=0)
    empty = ~(norm > 0)                          # TreeCorr leaves an empty patch's centre at 0 (or NaN)
    cxyz = cxyz / np.where(empty, 1.0, norm)
    xyz = unit_vectors(ra, dec)
    labels = _fill_empty(xyz, cxyz, np.asarray(labels, dtype=np.intp), npatch)
    for k in np.flatnonzero(empty):              # a refilled patch: centred on its member
        cxyz[:, k] = xyz[:, np.flatnonzero(labels == k)[0]]
    return labels, vectors_to_radec(cxyz)


def _fill_empty(xyz, cxyz, labels, npatch):
    counts = np.bincount(labels, minlength=npatch)
    for k in np.flatnonzero(counts == 0):
        donors = np.flatnonzero(np.bincount(labels, minlength=npatch)[labels] > 1)
        far = donors[np.argmin(np.sum(xyz[:, donors] * cxyz[:, labels[donors]], axis=0))]
        labels[far] = k
    return labels


def assign_patches(ra, dec, centers):
    """Label of the nearest patch centre (great-circle distance) for each object."""
    centers = as_float_array(centers, "patch_centers", ndim=2)
    if centers.shape[1] != 2:
        raise ValueError(f"patch_centers must have shape (npatch, 2) (ra, dec in degrees), got {centers.shape}")
    xyz = unit_vectors(*_coords(ra, dec))
    return _nearest(xyz, unit_vectors(centers[:, 0], centers[:, 1]))


def patch_centers_of(ra, dec, labels, npatch):
    """Centres (npatch, 2) in degrees: the normalised mean unit vector of each patch's members
    (NaN for a patch with no member)."""
    xyz = unit_vectors(*_coords(ra, dec))
    v = np.stack([np.bincount(labels, weights=xyz[c], minlength=npatch) for c in range(3)])
    norm = np.linalg.norm(v, axis=0)
    out = np.full((npatch, 2), np.nan)
    ok = norm > 0
    out[ok] = vectors_to_radec(v[:, ok] / norm[ok])
    return out


def resolve_patches(ra, dec, patch=None, npatch=None, patch_centers=None, patch_seed=None):
    """The patch labels of a catalog from the Catalog keywords.

    Returns ``(labels, npatch, centers)``: ``labels`` int array (N,) or None (no patches, then
    ``npatch == 1`` as in TreeCorr), ``centers`` (npatch, 2) degrees or None.

    Raises ValueError naming the argument: ``patch`` of the wrong length, negative, not integral,
    or leaving a patch 0..npatch-1 empty; ``npatch`` larger than the number of objects; more than
    one of ``patch`` / ``patch_centers`` / (``npatch`` alone).
    """
    n = np.asarray(ra).size
    if patch is not None and patch_centers is not None:
        raise ValueError("patch and patch_centers: give only one of them")
    if patch is not None:
        labels = _check_labels(patch, n)
        top = int(labels.max()) + 1
        if npatch is None:
            npatch = top
        else:
            npatch = _check_npatch(npatch, n)
            if top > npatch:
                raise ValueError(f"patch: label {top - 1} is out of range for npatch={npatch}")
        counts = np.bincount(labels, minlength=npatch)
        if np.any(counts == 0):
            empty = np.flatnonzero(counts == 0)
            raise ValueError(f"patch: patch {int(empty[0])} has no object ({empty.size} empty patch(es) of "
                             f"{npatch}); labels must run over 0..npatch-1 with every patch used (relabel with "
                             f"np.unique(labels, return_inverse=True)[1], e.g. greedy fuzzy c-means labels)")
        if npatch == 1:
            return None, 1, None
        return labels, npatch, None
    if patch_centers is not None:
        centers = as_float_array(patch_centers, "patch_centers", ndim=2)
        if centers.shape[1] != 2:
            raise ValueError(f"patch_centers must have shape (npatch, 2) (ra, dec in degrees), got {centers.shape}")
        if np.any(np.abs(centers[:, 1]) > 90.0):
            raise ValueError(f"patch_centers: dec must lie in [-90, 90] degrees; found |dec| up to "
                             f"{np.max(np.abs(centers[:, 1])):.6g}")
        if npatch is not None and _check_npatch(npatch, n) != centers.shape[0]:
            raise ValueError(f"npatch ({npatch}) does not match the {centers.shape[0]} patch_centers")
        labels = assign_patches(ra, dec, centers)
        return labels, centers.shape[0], centers
    if npatch is None:
        return None, 1, None
    npatch = _check_npatch(npatch, n)
    if npatch == 1:
        return None, 1, None
    labels, centers = kmeans_patches(ra, dec, npatch, seed=patch_seed)
    return labels, npatch, centers


def _coords(ra, dec):
    return np.asarray(ra, dtype=float), np.asarray(dec, dtype=float)


def _check_npatch(npatch, n):
    npatch = check_positive_int(npatch, "npatch")
    if npatch > n:
        raise ValueError(f"npatch: {npatch} patches for {n} objects; npatch must not exceed the number of objects")
    return npatch


def _check_labels(patch, n):
    arr = np.asarray(patch)
    if arr.ndim != 1:
        raise ValueError(f"patch must be 1-dimensional (one label per object), got shape {arr.shape}")
    if arr.size != n:
        raise ValueError(f"patch has length {arr.size} but the catalog has {n} objects; they must match")
    if arr.dtype.kind == "b" or arr.dtype.kind not in "iuf":
        raise TypeError(f"patch must hold integer labels, got dtype {arr.dtype}")
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise ValueError("patch must hold integer labels (found non-integral values)")
    if np.any(arr < 0):
        raise ValueError(f"patch labels must be >= 0, found {arr.min()}")
    return arr.astype(np.intp)
