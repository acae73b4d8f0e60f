"""Great-circle geometry on the celestial sphere.

Separations use the Vincenty formula (paper eq. 16), which is accurate at every scale,
from identical points to antipodes, and agrees with astropy's ``SkyCoord.separation``.
All angles in the public API are in degrees (positions) and arcminutes (separations).
"""
from __future__ import annotations

import numpy as np

from .._validate import as_float_array
from .units import is_skycoord, skycoord_degrees, to_degrees

__all__ = ["separation", "unit_vectors", "vincenty_from_vectors", "pair_direction", "vectors_to_radec", "angular_distances", "DEG", "ARCMIN"]

DEG = np.pi / 180.0
ARCMIN = DEG / 60.0


def separation(ra1, dec1, ra2=None, dec2=None):
    """Great-circle separation in arcminutes by the Vincenty formula (paper eq. 16).

    .. math::
        \\Delta\\sigma = \\arctan2\\Big(\\sqrt{(\\cos\\phi_2\\sin\\Delta\\lambda)^2 +
        (\\cos\\phi_1\\sin\\phi_2 - \\sin\\phi_1\\cos\\phi_2\\cos\\Delta\\lambda)^2},\\;
        \\sin\\phi_1\\sin\\phi_2 + \\cos\\phi_1\\cos\\phi_2\\cos\\Delta\\lambda\\Big)

    Parameters
    ----------
    ra1, dec1, ra2, dec2 : array_like or astropy Quantity
        Positions in degrees (phi = dec, lambda = ra), or Quantities in any angle unit; the
        arrays broadcast against each other. ``separation(c1, c2)`` with two SkyCoords (ICRS)
        works too.

    Returns
    -------
    numpy.ndarray
        Separations in arcminutes, in [0, 10800] (a plain array, not a Quantity).
    """
    if ra2 is None and dec2 is None and is_skycoord(ra1) and is_skycoord(dec1):
        (ra1, dec1), (ra2, dec2) = skycoord_degrees(ra1), skycoord_degrees(dec1)
    elif ra2 is None or dec2 is None:
        raise TypeError("separation takes ra1, dec1, ra2, dec2 (degrees or Quantities) or two SkyCoords")
    ra1, dec1, ra2, dec2 = (to_degrees(v, None, n) for v, n in ((ra1, "ra1"), (dec1, "dec1"), (ra2, "ra2"),
                                                                   (dec2, "dec2")))
    ra1 = as_float_array(ra1, "ra1", ndim=np.ndim(ra1), allow_empty=True)
    dec1 = as_float_array(dec1, "dec1", ndim=np.ndim(dec1), allow_empty=True)
    ra2 = as_float_array(ra2, "ra2", ndim=np.ndim(ra2), allow_empty=True)
    dec2 = as_float_array(dec2, "dec2", ndim=np.ndim(dec2), allow_empty=True)
    for name, d in (("dec1", dec1), ("dec2", dec2)):
        if d.size and np.max(np.abs(d)) > 90.0:
            raise ValueError(f"{name} must lie in [-90, 90] degrees")
    phi1, phi2 = dec1 * DEG, dec2 * DEG
    dlam = (ra2 - ra1) * DEG
    sp1, cp1 = np.sin(phi1), np.cos(phi1)
    sp2, cp2 = np.sin(phi2), np.cos(phi2)
    sdl, cdl = np.sin(dlam), np.cos(dlam)
    num = np.hypot(cp2 * sdl, cp1 * sp2 - sp1 * cp2 * cdl)
    den = sp1 * sp2 + cp1 * cp2 * cdl
    return np.arctan2(num, den) / ARCMIN


def unit_vectors(ra, dec):
    """Unit vectors (x, y, z) on the sphere for positions in degrees; shape (3, N)."""
    ra = np.asarray(ra, dtype=float) * DEG
    dec = np.asarray(dec, dtype=float) * DEG
    cd = np.cos(dec)
    return np.stack([cd * np.cos(ra), cd * np.sin(ra), np.sin(dec)])


def vincenty_from_vectors(x1, y1, z1, x2, y2, z2):
    """Vincenty separation (radians) written with unit vectors.

    Eq. 16's numerator is ``|p1 x p2|`` and its denominator p1 . p2 (expand both in ra/dec), so
    ``atan2(|p1 x p2|, p1 . p2)`` is the same formula, evaluated without per-pair trigonometry.
    This is what the pair-counting kernels use.
    """
    cx = y1 * z2 - z1 * y2
    cy = z1 * x2 - x1 * z2
    cz = x1 * y2 - y1 * x2
    cross = np.sqrt(cx * cx + cy * cy + cz * cz)
    dot = x1 * x2 + y1 * y2 + z1 * z2
    return np.arctan2(cross, dot)


def pair_direction(x1, y1, z1, x2, y2, z2):
    """Unnormalised complex direction at point 2 of the great circle towards point 1.

    This is the spherical projection convention of TreeCorr (``ProjectHelper<Sphere>``):
    with A the angle between north and the great circle at p2, it returns
    ``sin A - i cos A`` (times a positive factor), i.e. the angle measured from east.
    A spin-2 field at p2 is projected onto the line joining the pair by multiplying it
    by ``conj(r)**2 / |r|**2``.
    """
    dsq = (x1 - x2) ** 2 + (y1 - y2) ** 2 + (z1 - z2) ** 2
    cos_a = (z1 - z2) + 0.5 * z2 * dsq
    sin_a = y1 * x2 - x1 * y2
    return sin_a - 1j * cos_a


def vectors_to_radec(xyz):
    """(3, c) unit vectors -> (c, 2) array of (ra, dec) in degrees, ra in [0, 360)."""
    x, y, z = xyz
    ra = np.degrees(np.arctan2(y, x)) % 360.0
    ra[ra >= 360.0] = 0.0  # a tiny negative angle wraps to 360.0 exactly in floating point
    dec = np.degrees(np.arctan2(z, np.hypot(x, y)))
    return np.column_stack([ra, dec])


def angular_distances(xyz, centers_xyz):
    """Vincenty distances (radians) between N objects and c centres, shape (N, c).

    eq. 16 in vector form, atan2(``|a x b|``, a . b), for all pairs at once: the dot products and
    each component of the cross products are matrix products (no (N, c, 3) temporaries), and the
    arctangent is taken in half-angle form.
    """
    n, c = xyz.shape[1], centers_xyz.shape[1]
    out = np.empty((n, c))
    _distances_into(np.ascontiguousarray(xyz.T), _cross_factors(centers_xyz), out, np.empty((n, c)), np.empty((n, c)))
    return out


def _cross_factors(centers_xyz):
    """The (2, c) right-hand factors giving each cross-product component as a matrix product,
    then the centres themselves for the dot products."""
    cx, cy, cz = centers_xyz
    return np.vstack([cz, -cy]), np.vstack([cx, -cz]), np.vstack([cy, -cx]), centers_xyz


def _distances_into(p, factors, out, t, dot):
    """Distances from unit vectors p (n, 3) to the centres behind ``factors``, written to ``out``
    (n, c); ``t`` and ``dot`` are work arrays of the same shape (so nothing is allocated)."""
    fx, fy, fz, centres = factors
    np.matmul(p[:, 1:], fx, out=out)                    # (a x b)_x
    np.square(out, out=out)
    np.matmul(p[:, [2, 0]], fy, out=t)                  # (a x b)_y from columns (z, x)
    out += np.square(t, out=t)
    np.matmul(p[:, :2], fz, out=t)                      # (a x b)_z
    out += np.square(t, out=t)
    np.sqrt(out, out=out)
    # atan2(s, c) = 2 atan(s / (1 + c)) (half-angle; well conditioned for c >= 0), and
    # pi - 2 atan(s / (1 - c)) for c < 0: twice as fast as arctan2, equally accurate
    np.matmul(p, centres, out=dot)
    np.abs(dot, out=t)
    t += 1.0
    out /= t
    np.arctan(out, out=out)
    out *= 2.0
    np.less(dot, 0.0, out=t)
    if t.any():
        np.subtract(np.pi, out, out=out, where=t.astype(bool))
    return out
