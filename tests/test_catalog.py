"""Catalog construction, FITS reading and input validation."""
import numpy as np
import pytest
from astropy.io import fits

from cosmocorr import Catalog, StarCatalog


def test_basic_attributes():
    c = Catalog([10, 20], [0, 1], g1=[0.1, 0.2], g2=[0.0, -0.1], w=[1, 3])
    assert c.nobj == 2 and len(c) == 2 and c.sumw == 4.0
    np.testing.assert_allclose(c.g, [0.1, 0.2 - 0.1j])
    np.testing.assert_allclose(np.sum(c.xyz**2, axis=0), 1.0)
    sub = c.subset([1])
    assert sub.nobj == 1 and sub.w[0] == 3


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(ra=[np.nan, 1], dec=[0, 0]), ValueError, "ra"),
    (dict(ra=[0, 1], dec=[0, np.inf]), ValueError, "dec"),
    (dict(ra=[0, 1], dec=[0, 90.5]), ValueError, r"dec"),
    (dict(ra=[0, 1], dec=[0]), ValueError, "length"),
    (dict(ra=[], dec=[]), ValueError, "empty"),
    (dict(ra=[0, 1], dec=[0, 0], g1=[0, 0]), ValueError, "g1 and g2"),
    (dict(ra=[0, 1], dec=[0, 0], g1=[0, 0], g2=[0]), ValueError, "g2"),
    (dict(ra=[0, 1], dec=[0, 0], g1=[0, np.nan], g2=[0, 0]), ValueError, "g1"),
    (dict(ra=[0, 1], dec=[0, 0], w=[1, -1]), ValueError, "w"),
    (dict(ra=[0, 1], dec=[0, 0], w=[1]), ValueError, "w"),
    (dict(ra="abc", dec=[0, 0]), TypeError, "ra"),
    (dict(ra=[[0, 1]], dec=[[0, 0]]), ValueError, "ra"),
    (dict(ra=[0, 1j], dec=[0, 0]), TypeError, "ra"),
])
def test_bad_input_names_the_argument(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        Catalog(**kwargs)


def _write_fits(path, **cols):
    hdu = fits.BinTableHDU.from_columns([fits.Column(name=k, format="D", array=np.asarray(v)) for k, v in cols.items()])
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path)


def test_from_fits_roundtrip(tmp_path):
    rng = np.random.default_rng(3)
    ra, dec, g1, g2, w = rng.uniform(0, 1, (5, 50))
    p = tmp_path / "cat.fits"
    _write_fits(p, RA=ra, DEC=dec, e1=g1, e2=g2, weight=w)
    c = Catalog.from_fits(p, ra="RA", dec="DEC", g1="e1", g2="e2", w="weight")
    np.testing.assert_array_equal(c.ra, ra)
    np.testing.assert_array_equal(c.g2, g2)
    np.testing.assert_array_equal(c.w, w)


def test_from_fits_errors(tmp_path):
    p = tmp_path / "cat.fits"
    _write_fits(p, ra=[1.0, 2.0], dec=[0.0, 0.5])
    with pytest.raises(ValueError, match="g1: column 'shear1' not found.*available columns: ra, dec"):
        Catalog.from_fits(p, g1="shear1", g2="shear2")
    with pytest.raises(ValueError, match="not found"):
        Catalog.from_fits(tmp_path / "missing.fits")
    bad = tmp_path / "bad.fits"
    bad.write_text("this is not a FITS file")
    with pytest.raises(ValueError, match="cannot read"):
        Catalog.from_fits(bad)
    with pytest.raises(ValueError, match="hdu"):
        Catalog.from_fits(p, hdu=5)


def test_star_catalog_from_real_fits(cosmos_fits):
    s = StarCatalog.from_fits(cosmos_fits)
    with fits.open(cosmos_fits) as h:
        t = h[1].data
        assert len(s) == len(t) == 610
        np.testing.assert_allclose(s.T_star, 2 * t["sig_vignet"] ** 2)
        np.testing.assert_allclose(s.de, (t["g1_vignet"] - t["g1_psfex"]) + 1j * (t["g2_vignet"] - t["g2_psfex"]))
        np.testing.assert_allclose(s.dT_over_T, (t["sig_vignet"] ** 2 - t["sig_psfex"] ** 2) / t["sig_vignet"] ** 2)


def test_star_catalog_validation():
    with pytest.raises(ValueError, match="T_star"):
        StarCatalog([0, 1], [0, 0], [0, 0], [0, 0], [1, 0], [0, 0], [0, 0], [1, 1])
    with pytest.raises(ValueError, match="g2_model"):
        StarCatalog([0, 1], [0, 0], [0, 0], [0, 0], [1, 1], [0, 0], [0], [1, 1])
