"""Rotations of the sphere (cosmocorr.sky.rotations): Haar-uniform draws, positions against astropy
and analytic rotations, the local frame angle against astropy's position angles, and the exact
estimators' invariance under a rotated catalog."""
import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import CartesianRepresentation, SkyCoord, UnitSphericalRepresentation
from scipy import stats

import cosmocorr as cc
from cosmocorr import estimators
from cosmocorr.sky.rotations import (check_rotation, frame_angle, random_rotations, rotate_catalog,
                                     rotate_positions, rotate_stars)
from cosmocorr.sky.synthetic import gaussian_shear_catalog, synthetic_star_catalog


def _axis_angle(axis, angle):
    """Rodrigues' rotation matrix (an independent construction)."""
    k = np.asarray(axis, float) / np.linalg.norm(axis)
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(angle) * K + (1 - np.cos(angle)) * K @ K


def _awkward_points(rng, n=500):
    ra = rng.uniform(0, 360, n)
    dec = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    special = np.array([[0.0, 90.0], [123.0, -90.0], [359.9999, 0.0], [0.0001, 10.0], [180.0, 89.99999],
                        [42.0, -89.99999], [359.999999, -45.0]])
    return np.concatenate([ra, special[:, 0]]), np.concatenate([dec, special[:, 1]])


def test_random_rotations_are_haar_uniform_rotations():
    R = random_rotations(4000, seed=11)
    assert R.shape == (4000, 3, 3)
    assert np.allclose(np.einsum("mij,mkj->mik", R, R), np.eye(3), atol=1e-12)
    assert np.allclose(np.linalg.det(R), 1.0, atol=1e-12)
    # Haar measure: R e_z is uniform on the sphere (z uniform on [-1, 1]) and the rotation angle
    # has the CDF (t - sin t) / pi
    assert stats.kstest(R[:, 2, 2], stats.uniform(-1, 2).cdf).pvalue > 1e-3
    assert stats.kstest(R[:, 0, 0], stats.uniform(-1, 2).cdf).pvalue > 1e-3      # (R e_x)_x likewise
    angle = np.arccos(np.clip((np.trace(R, axis1=1, axis2=2) - 1) / 2, -1, 1))
    assert stats.kstest(angle, lambda t: (t - np.sin(t)) / np.pi).pvalue > 1e-3
    # seeded: same seed, same rotations; a SeedSequence and a Generator are accepted
    assert np.array_equal(random_rotations(5, seed=3), random_rotations(5, seed=3))
    assert not np.array_equal(random_rotations(5, seed=3), random_rotations(5, seed=4))
    assert np.array_equal(random_rotations(2, np.random.SeedSequence(7)), random_rotations(2, np.random.SeedSequence(7)))
    random_rotations(2, np.random.default_rng(1))


def test_rotate_positions_matches_astropy_and_analytic_cases(rng):
    ra, dec = _awkward_points(rng)
    for R in random_rotations(3, seed=5):
        ra2, dec2 = rotate_positions(ra, dec, R)
        rep = SkyCoord(ra * u.deg, dec * u.deg).cartesian.transform(R)
        ref = rep.represent_as(UnitSphericalRepresentation)
        c1 = SkyCoord(ra2 * u.deg, dec2 * u.deg)
        c2 = SkyCoord(ref.lon, ref.lat)
        assert np.max(c1.separation(c2).to_value(u.arcsec)) < 1e-7
    # about the pole by 30 degrees: ra + 30 (mod 360), dec unchanged, across RA = 0
    ra2, dec2 = rotate_positions(ra, dec, _axis_angle([0, 0, 1], np.radians(30.0)))
    dra = (ra2 - ra - 30.0 + 180.0) % 360.0 - 180.0
    away = np.abs(dec) < 89.9
    assert np.max(np.abs(dra[away])) < 1e-9 and np.max(np.abs(dec2 - dec)) < 1e-9
    # half a turn about the x axis: (ra, dec) -> (-ra, -dec)
    ra2, dec2 = rotate_positions(ra, dec, _axis_angle([1, 0, 0], np.pi))
    assert np.max(np.abs(dec2 + dec)) < 1e-9
    dra = (ra2 + ra + 180.0) % 360.0 - 180.0
    assert np.max(np.abs(dra[away])) < 1e-9
    assert np.all((ra2 >= 0) & (ra2 < 360)) and np.all(np.abs(dec2) <= 90)


def test_frame_angle_is_astropy_position_angle_of_transported_north(rng):
    """beta is the position angle (north through east, astropy) at the new position of the
    direction that was north at the old one."""
    ra, dec = _awkward_points(rng)
    ok = np.abs(dec) < 89.9                                  # north must be defined at the old point
    ra, dec = ra[ok], dec[ok]
    # a rotation that puts one object 1e-4 degree from the north pole (north there is set by the
    # stored ra, which the estimators use too)
    p = CartesianRepresentation(*SkyCoord(ra[0] * u.deg, dec[0] * u.deg).cartesian.xyz).xyz.value
    target = np.array([np.sin(np.radians(1e-4)), 0.0, np.cos(np.radians(1e-4))])
    axis = np.cross(p, target)
    near_pole = _axis_angle(axis, np.arccos(np.clip(p @ target, -1, 1)))
    for R in list(random_rotations(3, seed=8)) + [near_pole]:
        ra2, dec2 = rotate_positions(ra, dec, R)
        beta = frame_angle(ra, dec, ra2, dec2, R)
        step = 1e-6                                                # degrees north of each object
        ran, decn = rotate_positions(ra, dec + step, R)
        pa = SkyCoord(ra2 * u.deg, dec2 * u.deg).position_angle(SkyCoord(ran * u.deg, decn * u.deg)).to_value(u.rad)
        diff = np.angle(np.exp(1j * (pa - beta)))
        assert np.max(np.abs(diff)) < 1e-4
    ra2, dec2 = rotate_positions(ra, dec, near_pole)
    assert dec2[0] > 89.9998


def test_exact_shear_shear_is_invariant_under_rotation():
    # a field straddling RA = 0 close to the pole, with a real signal
    cat = gaussian_shear_catalog(1500, seed=2, ra0=0.5, dec0=86.0, width_deg=2.0, shape_noise=0.05)
    bins = cc.Bins(1.0, 60.0, 8, "log")
    ref = estimators.shear_shear(cat, None, bins)
    assert np.min(np.abs(ref.xim[ref.npairs > 0])) > 0
    for R in random_rotations(3, seed=21):
        rot = rotate_catalog(cat, R)
        assert rot.nobj == cat.nobj
        res = estimators.shear_shear(rot, None, bins)
        np.testing.assert_array_equal(res.npairs, ref.npairs)
        for k in ("xip", "xim", "xip_im", "xim_im", "meanr"):
            np.testing.assert_allclose(getattr(res, k), getattr(ref, k), rtol=0, atol=1e-10)
    # turning the shears the other way breaks xi- (so the test can fail)
    R = random_rotations(1, seed=21)[0]
    rot = rotate_catalog(cat, R)
    ra2, dec2 = rot.ra, rot.dec
    beta = frame_angle(cat.ra, cat.dec, ra2, dec2, R)
    g = cat.g * np.exp(-2j * beta)
    wrong = estimators.shear_shear(cc.Catalog(ra2, dec2, g.real, g.imag), None, bins)
    assert np.max(np.abs(wrong.xim - ref.xim)) > 1e-3 * np.max(np.abs(ref.xim))


def test_rotated_cross_counts_and_rho_are_invariant():
    bins = cc.Bins(2.0, 40.0, 6, "log")
    a = gaussian_shear_catalog(600, seed=3, ra0=359.8, dec0=-30.0, width_deg=1.0)
    b = gaussian_shear_catalog(700, seed=4, ra0=359.8, dec0=-30.0, width_deg=1.0)
    R = random_rotations(1, seed=2)[0]
    ref = estimators.shear_shear(a, b, bins)
    res = estimators.shear_shear(rotate_catalog(a, R), rotate_catalog(b, R), bins)
    np.testing.assert_allclose(res.xip, ref.xip, atol=1e-10, rtol=0)
    np.testing.assert_allclose(res.xim, ref.xim, atol=1e-10, rtol=0)
    ls = estimators.landy_szalay(cc.Catalog(a.ra, a.dec), cc.Catalog(b.ra, b.dec), bins)
    ls_r = estimators.landy_szalay(rotate_catalog(cc.Catalog(a.ra, a.dec), R), rotate_catalog(cc.Catalog(b.ra, b.dec), R),
                                   bins)
    np.testing.assert_allclose(ls_r.xi, ls.xi, atol=1e-10, rtol=0)
    stars = synthetic_star_catalog(300, seed=5)
    rho = estimators.rho_statistics(stars, bins)
    rho_r = estimators.rho_statistics(rotate_stars(stars, R), bins)
    for n in rho.rho:
        np.testing.assert_allclose(rho_r[n].xip, rho[n].xip, atol=1e-10, rtol=0)
        np.testing.assert_allclose(rho_r[n].xim, rho[n].xim, atol=1e-10, rtol=0)


def test_rotation_keeps_weights_and_patches():
    cat = gaussian_shear_catalog(400, seed=6)
    cat = cc.Catalog(cat.ra, cat.dec, cat.g1, cat.g2, w=np.linspace(0.5, 2, 400), npatch=4, patch_seed=1)
    rot = rotate_catalog(cat, random_rotations(1, seed=0)[0])
    np.testing.assert_array_equal(rot.w, cat.w)
    np.testing.assert_array_equal(rot.patch, cat.patch)
    assert rot.npatch == 4 and rot.patch_centers.shape == (4, 2)


def test_rotation_bad_input():
    cat = gaussian_shear_catalog(50, seed=1)
    with pytest.raises(ValueError, match="R is not a rotation"):
        rotate_catalog(cat, np.diag([1.0, 1.0, -1.0]))          # a reflection
    with pytest.raises(ValueError, match="R is not a rotation"):
        rotate_catalog(cat, 2 * np.eye(3))
    with pytest.raises(ValueError, match=r"shape \(3, 3\)"):
        check_rotation(np.eye(2))
    with pytest.raises(TypeError, match="cat must be a cosmocorr.Catalog"):
        rotate_catalog("cat", np.eye(3))
    with pytest.raises(TypeError, match="stars must be"):
        rotate_stars(cat, np.eye(3))
    with pytest.raises(ValueError, match="M must be >= 1"):
        random_rotations(0)
    with pytest.raises(TypeError, match="seed"):
        random_rotations(2, seed="x")
