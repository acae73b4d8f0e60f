"""Vincenty separations (paper eq. 16) against astropy."""
import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord

from cosmocorr import separation
from cosmocorr.sky.geometry import ARCMIN, unit_vectors, vincenty_from_vectors


def _astropy_arcmin(ra1, dec1, ra2, dec2):
    c1 = SkyCoord(ra1 * u.deg, dec1 * u.deg)
    c2 = SkyCoord(ra2 * u.deg, dec2 * u.deg)
    return c1.separation(c2).to_value(u.arcmin)


def _special_points(rng, n=2000):
    ra1 = rng.uniform(0, 360, n)
    dec1 = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    ra2 = rng.uniform(0, 360, n)
    dec2 = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    # close pairs at all scales, the poles, RA wrap-around, identical and antipodal points
    k = n // 4
    ra2[:k] = ra1[:k] + rng.normal(0, 1, k) * 10.0 ** rng.uniform(-8, 0, k)
    dec2[:k] = np.clip(dec1[:k] + rng.normal(0, 1, k) * 10.0 ** rng.uniform(-8, 0, k), -90, 90)
    special = np.array([
        [0.0, 90.0, 123.0, 90.0],       # both at the north pole
        [10.0, -90.0, 200.0, 89.0],     # south pole to near north pole
        [359.9999, 0.0, 0.0001, 0.0],   # across RA = 0
        [359.5, 45.0, 0.5, 45.0],
        [42.0, 17.0, 42.0, 17.0],       # identical
        [10.0, 20.0, 190.0, -20.0],     # antipodal
        [0.0, 0.0, 180.0, 0.0],         # antipodal on the equator
        [0.0, 89.999999, 180.0, 89.999999],
    ])
    ra1 = np.concatenate([ra1, special[:, 0]])
    dec1 = np.concatenate([dec1, special[:, 1]])
    ra2 = np.concatenate([ra2, special[:, 2]])
    dec2 = np.concatenate([dec2, special[:, 3]])
    return ra1, dec1, ra2, dec2


def test_separation_matches_astropy(rng):
    ra1, dec1, ra2, dec2 = _special_points(rng)
    ours = separation(ra1, dec1, ra2, dec2)
    ref = _astropy_arcmin(ra1, dec1, ra2, dec2)
    assert np.max(np.abs(ours - ref)) < 1e-9
    assert ours[-4] == 0.0
    assert abs(ours[-3] - 180 * 60) < 1e-9 and abs(ours[-2] - 180 * 60) < 1e-9


def test_vector_form_is_the_same_formula(rng):
    ra1, dec1, ra2, dec2 = _special_points(rng)
    a, b = unit_vectors(ra1, dec1), unit_vectors(ra2, dec2)
    vec = vincenty_from_vectors(*a, *b) / ARCMIN
    ref = _astropy_arcmin(ra1, dec1, ra2, dec2)
    assert np.max(np.abs(vec - ref)) < 1e-9


def test_separation_broadcasts():
    d = separation(np.array([0.0, 1.0])[:, None], 0.0, np.array([0.0, 2.0, 3.0])[None, :], 0.0)
    assert d.shape == (2, 3)
    np.testing.assert_allclose(d, 60 * np.abs(np.subtract.outer([0.0, 1.0], [0.0, 2.0, 3.0])), rtol=1e-12)


@pytest.mark.parametrize("bad, match", [
    ((np.nan, 0, 0, 0), "ra1"),
    ((0, np.inf, 0, 0), "dec1"),
    ((0, 0, 0, 91.0), "dec2"),
    (("a", 0, 0, 0), "ra1"),
])
def test_separation_rejects_bad_input(bad, match):
    with pytest.raises((ValueError, TypeError), match=match):
        separation(*bad)
