# Great-circle geometry (paper eq. 16), mirroring cosmocorr/sky/geometry.py.

const ARCMIN = pi / (180 * 60)

"""
    separation(ra1, dec1, ra2, dec2)

Vincenty great-circle separation in arcminutes for positions in degrees (paper eq. 16).
Broadcasts like the NumPy version.
"""
function separation(ra1, dec1, ra2, dec2)
    return vincenty_deg.(ra1, dec1, ra2, dec2)
end

function vincenty_deg(ra1, dec1, ra2, dec2)
    phi1 = deg2rad(dec1)
    phi2 = deg2rad(dec2)
    dlam = deg2rad(ra2 - ra1)
    sp1, cp1 = sincos(phi1)
    sp2, cp2 = sincos(phi2)
    sdl, cdl = sincos(dlam)
    num = hypot(cp2 * sdl, cp1 * sp2 - sp1 * cp2 * cdl)
    den = sp1 * sp2 + cp1 * cp2 * cdl
    return atan(num, den) / ARCMIN
end

"""
    vincenty_vectors(ax, ay, az, bx, by, bz)

Eq. 16 written with unit vectors: atan(|a x b|, a . b), in radians.
"""
function vincenty_vectors(ax, ay, az, bx, by, bz)
    cx = ay * bz - az * by
    cy = az * bx - ax * bz
    cz = ax * by - ay * bx
    return atan(sqrt(cx * cx + cy * cy + cz * cz), ax * bx + ay * by + az * bz)
end

"""
    spin2_rotations(ax, ay, az, bx, by, bz, dot)

exp(-2i alpha) at a and at b for the great circle joining a and b (TreeCorr's spherical
projection, as `_pair_terms` in cosmocorr/backends/numpy_kernels.py). Returns (cos2a, sin2a, cos2b, sin2b).
"""
function spin2_rotations(ax, ay, az, bx, by, bz, dot)
    cz = ax * by - ay * bx
    dz = az - bz
    dsq = 2 - 2 * dot
    s = -cz
    cb = dz + bz * dsq / 2
    ca = az * dsq / 2 - dz
    ss = s * s
    invb = 1 / max(ss + cb * cb, 1.0e-300)
    inva = 1 / max(ss + ca * ca, 1.0e-300)
    return (
        (ss - ca * ca) * inva,
        -2 * s * ca * inva,
        (ss - cb * cb) * invb,
        2 * s * cb * invb,
    )
end
