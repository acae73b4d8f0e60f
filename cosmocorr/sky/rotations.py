"""Rigid rotations of the sky: random rotations of the sphere and rotated catalogs.

A rotation R in SO(3) moves every object (unit vector p -> R p) and keeps every separation, so
any exact two-point estimator (paper eqs. 1, 2-8) is unchanged by it, provided that spin-2
quantities (shears, PSF ellipticities) are re-expressed in the local (north, east) frame at the
new position. The frame turns by the *local frame angle* beta: with n, e the unit north and east
vectors at p and n', e' those at R p,

.. math:: \\beta = \\operatorname{atan2}\\big((R n)\\cdot e',\\ (R n)\\cdot n'\\big),

the angle from the new north to the transported old north, counted towards east. A spin-2
quantity measured in the old frame is, in the new one,

.. math:: g' = g\\, e^{2 i \\beta}.

Tree estimators (TreeCorr) are *not* invariant: their cells are built on the Cartesian axes,
so a rotated catalog is clumped differently. :mod:`cosmocorr.estimators.approximation_error`
uses that to make the tree's clustering random (the paper's Algorithm 1 idea, sec. 2.3).

The frames are built from the positions' (ra, dec) in degrees exactly as the Catalog stores them,
so objects at or near a pole (where north is defined by the stored ra) and RA wrap-around are
handled the same way the estimators see them.
"""
from __future__ import annotations

import numpy as np

from .._validate import check_positive_int, check_seed
from .catalog import Catalog
from .geometry import DEG, unit_vectors, vectors_to_radec
from .stars import StarCatalog

__all__ = ["random_rotations", "check_rotation", "rotate_positions", "frame_angle", "rotate_catalog",
           "rotate_stars"]


def random_rotations(M, seed=None):
    """``M`` rotation matrices drawn uniformly (Haar measure) on SO(3).

    Each is the rotation of a unit quaternion q = (w, x, y, z) with q uniform on the 3-sphere
    (four standard normal draws, normalised), which is Haar-uniform on SO(3) (Shoemake 1992).

    Parameters
    ----------
    M : int
        Number of rotations (>= 1).
    seed : int, SeedSequence or Generator, optional
        Seed of the :class:`numpy.random.Generator`; the same seed gives the same rotations.

    Returns
    -------
    ndarray (M, 3, 3)
        Orthogonal matrices with determinant +1.
    """
    M = check_positive_int(M, "M")
    rng = np.random.default_rng(check_seed(seed))
    q = rng.standard_normal((M, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    w, x, y, z = q.T
    R = np.empty((M, 3, 3))
    R[:, 0, 0] = 1 - 2 * (y * y + z * z)
    R[:, 0, 1] = 2 * (x * y - w * z)
    R[:, 0, 2] = 2 * (x * z + w * y)
    R[:, 1, 0] = 2 * (x * y + w * z)
    R[:, 1, 1] = 1 - 2 * (x * x + z * z)
    R[:, 1, 2] = 2 * (y * z - w * x)
    R[:, 2, 0] = 2 * (x * z - w * y)
    R[:, 2, 1] = 2 * (y * z + w * x)
    R[:, 2, 2] = 1 - 2 * (x * x + y * y)
    return R


def check_rotation(R, name="R"):
    """``R`` as a (3, 3) float array if it is a rotation matrix (orthogonal, det +1, to 1e-9),
    else a TypeError/ValueError naming ``name``."""
    try:
        R = np.asarray(R, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a 3x3 rotation matrix of numbers") from None
    if R.shape != (3, 3):
        raise ValueError(f"{name} must have shape (3, 3), got {R.shape}")
    if not np.all(np.isfinite(R)):
        raise ValueError(f"{name} contains NaN or infinite values")
    if not np.allclose(R @ R.T, np.eye(3), atol=1e-9) or np.linalg.det(R) < 0:
        raise ValueError(f"{name} is not a rotation: it must be orthogonal with determinant +1")
    return R


def _frame(ra, dec):
    """Unit north and east vectors (3, N) at (ra, dec) in degrees (east = direction of growing ra)."""
    a, d = np.asarray(ra, float) * DEG, np.asarray(dec, float) * DEG
    sa, ca, sd, cd = np.sin(a), np.cos(a), np.sin(d), np.cos(d)
    north = np.stack([-sd * ca, -sd * sa, cd])
    east = np.stack([-sa, ca, np.zeros_like(a)])
    return north, east


def rotate_positions(ra, dec, R):
    """Positions (degrees) moved by the rotation R: the unit vectors p -> R p, back to (ra, dec).

    Returns ``(ra, dec)`` in degrees with ra in [0, 360) and ``|dec| <= 90``.
    """
    R = check_rotation(R)
    radec = vectors_to_radec(R @ unit_vectors(ra, dec))
    return radec[:, 0], np.clip(radec[:, 1], -90.0, 90.0)


def frame_angle(ra, dec, ra_new, dec_new, R):
    """Local frame angle beta (radians) of each object under R (module docstring).

    Parameters
    ----------
    ra, dec : array_like
        Old positions (degrees).
    ra_new, dec_new : array_like
        The rotated positions, as stored (:func:`rotate_positions`).
    R : (3, 3) rotation matrix

    Returns
    -------
    ndarray
        beta in (-pi, pi]: the angle from the new local north to the rotated old north,
        positive towards the new east.
    """
    R = check_rotation(R)
    north, _ = _frame(ra, dec)
    moved = R @ north
    n_new, e_new = _frame(ra_new, dec_new)
    return np.arctan2(np.sum(moved * e_new, axis=0), np.sum(moved * n_new, axis=0))


def _turn(g, beta):
    """A spin-2 quantity in the old frame expressed in the new one: g exp(2 i beta)."""
    return np.asarray(g, dtype=complex) * np.exp(2j * beta)


def rotate_catalog(cat, R):
    """The Catalog moved by the rotation R: positions rotated, shears turned by the frame angle,
    a scalar field ``k`` (spin 0) carried unchanged.

    Weights and patch labels travel with the objects (the rotated catalog has the same patches,
    its centres rotated), so every exact estimator gives the same result on it to rounding.

    Parameters
    ----------
    cat : Catalog
    R : (3, 3) rotation matrix

    Returns
    -------
    Catalog
    """
    if not isinstance(cat, Catalog):
        raise TypeError(f"cat must be a cosmocorr.Catalog, got {type(cat).__name__}")
    R = check_rotation(R)
    ra, dec = rotate_positions(cat.ra, cat.dec, R)
    g1 = g2 = None
    if cat.has_shear:
        g = _turn(cat.g, frame_angle(cat.ra, cat.dec, ra, dec, R))
        g1, g2 = g.real, g.imag
    out = Catalog(ra, dec, g1, g2, cat.w, keep_zero_weight=True, k=cat.k)
    _carry_patches(cat, out)
    return out


def _carry_patches(old, new):
    """The old catalog's patch labels on the rotated one (centres recomputed from the new
    positions when asked for; a subset's empty patches stay allowed, as in Catalog.subset)."""
    new.keep_zero_weight = old.keep_zero_weight
    if old.patch is not None:
        new.patch, new.npatch, new._patch_centers = old.patch.copy(), old.npatch, None


def rotate_stars(stars, R):
    """The StarCatalog moved by R: positions rotated, star and model ellipticities turned by
    the frame angle (sizes unchanged), patches kept (:func:`rotate_catalog`).

    Returns
    -------
    StarCatalog
    """
    if not isinstance(stars, StarCatalog):
        raise TypeError(f"stars must be a cosmocorr.StarCatalog, got {type(stars).__name__}")
    R = check_rotation(R)
    ra, dec = rotate_positions(stars.ra, stars.dec, R)
    beta = frame_angle(stars.ra, stars.dec, ra, dec, R)
    e, m = _turn(stars.e, beta), _turn(stars.e_model, beta)
    cat = stars.catalog
    out = StarCatalog(ra, dec, e.real, e.imag, stars.T_star, m.real, m.imag, stars.T_model, stars.w,
                      keep_zero_weight=True)
    _carry_patches(cat, out.catalog)
    return out
