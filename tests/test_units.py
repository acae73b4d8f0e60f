"""Units, table formats, masked values, flags and flips on input, checked against astropy and TreeCorr."""
import warnings

import astropy.units as u
import numpy as np
import pytest
import treecorr
from astropy.coordinates import Angle, SkyCoord
from astropy.io import fits
from astropy.table import MaskedColumn, Table

import cosmocorr as cc


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(42)
    n = 300
    return dict(ra=rng.uniform(149.5, 150.5, n), dec=rng.uniform(1.7, 2.7, n), g1=rng.normal(0, 0.2, n),
                g2=rng.normal(0, 0.2, n), w=rng.uniform(0.5, 1.5, n), flags=rng.integers(0, 4, n))


BINS = cc.Bins(0.5, 45.0, 6)


def _gg(cat):
    return cc.shear_shear(cat, bins=BINS)


def _close(a, b):
    for k in ("xip", "xim", "meanr", "weight"):
        x, y = getattr(a, k), getattr(b, k)
        np.testing.assert_allclose(x, y, rtol=0, atol=1e-12 * np.nanmax(np.abs(y)), err_msg=k)
    np.testing.assert_array_equal(a.npairs, b.npairs)


def test_radian_catalog_equals_degree_catalog(data):
    deg = _gg(cc.Catalog(data["ra"], data["dec"], g1=data["g1"], g2=data["g2"], w=data["w"]))
    ra_rad = Angle(data["ra"], u.deg).rad  # astropy's conversion, independent of ours
    dec_rad = Angle(data["dec"], u.deg).rad
    cat = cc.Catalog(ra_rad, dec_rad, g1=data["g1"], g2=data["g2"], w=data["w"], ra_units="rad", dec_units="radians")
    np.testing.assert_allclose(cat.ra, data["ra"], rtol=1e-14)
    _close(_gg(cat), deg)
    # Quantities carry their own unit; SkyCoord gives both positions
    _close(_gg(cc.Catalog(ra_rad * u.rad, dec_rad * u.rad, g1=data["g1"], g2=data["g2"], w=data["w"])), deg)
    sc = SkyCoord(ra=data["ra"] * u.deg, dec=data["dec"] * u.deg)
    _close(_gg(cc.Catalog(sc, None, g1=data["g1"], g2=data["g2"], w=data["w"])), deg)


@pytest.mark.parametrize("unit, astropy_unit", [("hour", u.hourangle), ("arcmin", u.arcmin), ("arcsec", u.arcsec),
                                                ("deg", u.deg), (u.mas, u.mas)])
def test_named_units_match_astropy(data, unit, astropy_unit):
    values = Angle(data["ra"], u.deg).to_value(astropy_unit)
    cat = cc.Catalog(values, data["dec"], ra_units=unit)
    np.testing.assert_allclose(cat.ra, Angle(values, astropy_unit).deg, rtol=1e-13)


def test_non_angle_units_are_refused(data):
    with pytest.raises(ValueError, match="not an angle"):
        cc.Catalog(data["ra"], data["dec"], ra_units="m")
    with pytest.raises(ValueError, match="not an angle"):
        cc.Catalog(data["ra"] * u.m, data["dec"])
    with pytest.raises(ValueError, match="unknown unit"):
        cc.Catalog(data["ra"], data["dec"], dec_units="parsnips")
    with pytest.raises(ValueError, match="Quantity"):
        cc.Catalog(data["ra"] * u.deg, data["dec"], ra_units="rad")


def _fits(path, cols, units=None, name="CAT", extra_hdu=False):
    units = units or {}
    columns = [fits.Column(name=k, format="K" if np.asarray(v).dtype.kind == "i" else "D", array=np.asarray(v),
                           unit=units.get(k)) for k, v in cols.items()]
    hdus = [fits.PrimaryHDU()]
    if extra_hdu:
        hdus.append(fits.BinTableHDU.from_columns([fits.Column(name="x", format="D", array=np.zeros(3))], name="OTHER"))
    hdus.append(fits.BinTableHDU.from_columns(columns, name=name))
    fits.HDUList(hdus).writeto(path)
    return path


def test_fits_tunit_radians_and_hdu_by_name(data, tmp_path):
    deg = _gg(cc.Catalog(data["ra"], data["dec"], g1=data["g1"], g2=data["g2"], w=data["w"]))
    cols = dict(RA=np.radians(data["ra"]), DEC=np.radians(data["dec"]), e1=data["g1"], e2=data["g2"], wt=data["w"])
    p = _fits(tmp_path / "rad.fits", cols, units={"RA": "rad", "DEC": "rad"}, extra_hdu=True)
    kw = dict(ra="ra", dec="dec", g1="e1", g2="e2", w="wt")
    cat = cc.Catalog.read(p, hdu="CAT", **kw)
    np.testing.assert_allclose(cat.ra, Angle(cols["RA"], u.rad).deg, rtol=1e-14)
    _close(_gg(cat), deg)
    _close(_gg(cc.Catalog.read(p, hdu=2, **kw)), deg)
    with pytest.raises(ValueError, match="hdu: .*no HDU named 'NOPE'; HDUs: PRIMARY, OTHER, CAT"):
        cc.Catalog.read(p, hdu="NOPE", **kw)
    with pytest.raises(ValueError, match="hdu"):
        cc.Catalog.read(p, hdu=7, **kw)
    # an explicit unit wins over the file's TUNIT, with a warning (issue 27)
    with pytest.warns(UserWarning, match="ra_units='deg' overrides the unit 'rad'"):
        forced = cc.Catalog.read(p, hdu="CAT", ra_units="deg", **kw)
    np.testing.assert_array_equal(forced.ra, cols["RA"])
    bad = _fits(tmp_path / "pix.fits", dict(ra=data["ra"], dec=data["dec"]), units={"ra": "pix"})
    with pytest.raises(ValueError, match="not an angle"):
        cc.Catalog.read(bad)


def test_text_and_hdf5_formats_agree(data, tmp_path):
    t = Table({k: data[k] for k in ("ra", "dec", "g1", "g2", "w")})
    ref = cc.Catalog(data["ra"], data["dec"], g1=data["g1"], g2=data["g2"], w=data["w"])
    t.write(tmp_path / "c.csv")
    t.write(tmp_path / "c.ecsv")
    t.write(tmp_path / "c.dat", format="ascii.commented_header")
    paths = [tmp_path / "c.csv", tmp_path / "c.ecsv", tmp_path / "c.dat"]
    try:
        import h5py  # noqa: F401
        t.write(tmp_path / "c.hdf5", path="stars", serialize_meta=False)
        paths.append(tmp_path / "c.hdf5")
    except ImportError:
        pass
    for p in paths:
        cat = cc.Catalog.read(p, g1="g1", g2="g2", w="w", hdu="stars" if p.suffix == ".hdf5" else None)
        np.testing.assert_allclose(cat.ra, ref.ra, rtol=1e-15)
        np.testing.assert_allclose(cat.g2, ref.g2, rtol=1e-15)


def test_parquet_when_available(data, tmp_path):
    pytest.importorskip("pyarrow")
    Table({k: data[k] for k in ("ra", "dec")}).write(tmp_path / "c.parquet")
    np.testing.assert_array_equal(cc.Catalog.read(tmp_path / "c.parquet").dec, data["dec"])


def test_masked_values_error_or_drop(data):
    g1 = MaskedColumn(data["g1"], mask=np.zeros(data["g1"].size, bool))
    g1.mask[[3, 10, 11]] = True
    t = Table({"ra": data["ra"], "dec": data["dec"], "g1": g1, "g2": data["g2"]})
    with pytest.raises(ValueError, match=r"g1: column 'g1' has 3 masked .* drop_masked=True"):
        cc.Catalog.from_table(t, g1="g1", g2="g2")
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        cat = cc.Catalog.from_table(t, g1="g1", g2="g2", drop_masked=True)
    assert any("3 of 300" in str(r.message) for r in rec)
    keep = ~np.asarray(g1.mask)
    np.testing.assert_array_equal(cat.g1, data["g1"][keep])
    np.testing.assert_array_equal(cat.ra, data["ra"][keep])


def test_nan_in_fits_is_reported(data, tmp_path):
    g1 = data["g1"].copy()
    g1[:2] = np.nan
    p = _fits(tmp_path / "nan.fits", dict(ra=data["ra"], dec=data["dec"], g1=g1, g2=data["g2"]))
    with pytest.raises(ValueError, match="g1"):
        cc.Catalog.read(p, g1="g1", g2="g2")


def test_flips_and_flags_match_treecorr(data):
    t = Table(data)
    kw = dict(ra="ra", dec="dec", g1="g1", g2="g2", w="w")
    cat = cc.Catalog.from_table(t, flip_g2=True, flag="flags", ok_flag=1, **kw)
    tc = treecorr.Catalog(ra=data["ra"], dec=data["dec"], g1=data["g1"], g2=data["g2"], w=data["w"],
                          flag=data["flags"], ok_flag=1, flip_g2=True, ra_units="deg", dec_units="deg")
    sel = tc.w > 0  # TreeCorr keeps flagged rows with weight 0
    np.testing.assert_allclose(cat.g2, tc.g2[sel])
    np.testing.assert_allclose(cat.ra, np.degrees(tc.ra[sel]), rtol=1e-14)
    cat2 = cc.Catalog.from_table(t, flip_g1=True, flag="flags", ignore_flag=2, **kw)
    tc2 = treecorr.Catalog(ra=data["ra"], dec=data["dec"], g1=data["g1"], g2=data["g2"], w=data["w"],
                           flag=data["flags"], ignore_flag=2, flip_g1=True, ra_units="deg", dec_units="deg")
    np.testing.assert_allclose(cat2.g1, tc2.g1[tc2.w > 0])
    # the flipped catalog's xi+/xi- over all pairs are TreeCorr's
    gg = cc.shear_shear(cat, bins=BINS)
    ref = treecorr.GGCorrelation(min_sep=0.5, max_sep=45.0, nbins=6, bin_type="Linear", sep_units="arcmin",
                                 brute=True, metric="Arc")
    ref.process(tc)
    for k in ("xip", "xim"):
        np.testing.assert_allclose(getattr(gg, k), getattr(ref, k), rtol=1e-6, atol=1e-10, err_msg=k)
    unflipped = cc.shear_shear(cc.Catalog.from_table(t, flag="flags", ok_flag=1, **kw), bins=BINS)
    assert np.max(np.abs(unflipped.xim - gg.xim)) > 1e-6  # the flip matters for xi-


def test_star_catalog_from_T_or_sigma(data, tmp_path):
    rng = np.random.default_rng(2)
    n = data["ra"].size
    sig_s, sig_m = rng.uniform(1, 2, n), rng.uniform(1, 2, n)
    cols = dict(ra=data["ra"], dec=data["dec"], g1_vignet=data["g1"], g2_vignet=data["g2"], sig_vignet=sig_s,
                g1_psfex=data["g2"], g2_psfex=data["g1"], sig_psfex=sig_m, T_s=2 * sig_s**2, T_m=2 * sig_m**2)
    p = _fits(tmp_path / "stars.fits", cols, units={"ra": "deg", "dec": "deg"})
    a = cc.StarCatalog.read(p)
    b = cc.StarCatalog.read(p, T_star="T_s", T_model="T_m")
    np.testing.assert_allclose(a.T_star, b.T_star, rtol=1e-15)
    np.testing.assert_allclose(a.dT_over_T, b.dT_over_T, rtol=1e-12)
    c = cc.StarCatalog.from_table(Table(cols), flip_g2=True)
    np.testing.assert_array_equal(c.g2_star, -data["g2"])
    np.testing.assert_array_equal(c.g2_model, -data["g1"])


def test_separation_with_quantities_and_skycoords(data):
    c1 = SkyCoord(data["ra"][:50] * u.deg, data["dec"][:50] * u.deg)
    c2 = SkyCoord(data["ra"][50:100] * u.deg, data["dec"][50:100] * u.deg)
    ref = c1.separation(c2).arcmin
    np.testing.assert_allclose(cc.separation(c1, c2), ref, rtol=1e-10)
    np.testing.assert_allclose(cc.separation(c1.ra.to(u.rad), c1.dec, c2.ra.to(u.hourangle), c2.dec.to(u.arcmin)),
                               ref, rtol=1e-10)
    out = cc.separation(c1, c2)
    assert type(out) is np.ndarray
