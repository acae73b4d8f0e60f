"""Result files: cosmocorr -> file -> cosmocorr for every format, and -> TreeCorr's own reader."""
import dataclasses
import hashlib
import json

import numpy as np
import pytest
import treecorr
from astropy.io import fits

import cosmocorr as cc
from cosmocorr.io import provenance, read
from cosmocorr.sky.synthetic import synthetic_star_catalog

FORMATS = ["fits", "dat", "json"]


def assert_same(a, b, path="result"):
    """Recursive equality of two result objects (NaN == NaN), field by field."""
    if dataclasses.is_dataclass(a):
        assert type(a) is type(b), f"{path}: {type(a).__name__} vs {type(b).__name__}"
        for f in dataclasses.fields(a):
            assert_same(getattr(a, f.name), getattr(b, f.name), f"{path}.{f.name}")
    elif isinstance(a, dict):
        assert set(a) == set(b), f"{path}: keys {set(a)} vs {set(b)}"
        for k in a:
            assert_same(a[k], b[k], f"{path}[{k!r}]")
    elif isinstance(a, np.ndarray):
        b = np.asarray(b)
        assert a.shape == b.shape and a.dtype == b.dtype, f"{path}: {a.shape}/{a.dtype} vs {b.shape}/{b.dtype}"
        assert np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"), f"{path} differs"
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b), path
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{path}[{i}]")
    else:
        assert a == b, f"{path}: {a!r} vs {b!r}"


@pytest.fixture(scope="module")
def shear_cat():
    rng = np.random.default_rng(5)
    n = 400
    return cc.Catalog(rng.uniform(10, 11, n), rng.uniform(-1, 0, n), g1=rng.normal(0, 0.2, n),
                      g2=rng.normal(0, 0.2, n), w=rng.uniform(0.5, 2, n))


@pytest.fixture(scope="module")
def gg(shear_cat):
    return cc.shear_shear(shear_cat, min_sep=0.5, max_sep=60.0, nbins=6, spacing="linear")


@pytest.mark.parametrize("ext", FORMATS)
def test_shear_shear_round_trip(gg, tmp_path, ext):
    path = gg.write(tmp_path / f"gg.{ext}")
    back = cc.ShearShearResult.read(path)
    assert_same(gg, back)
    assert_same(gg, read(path))  # the generic reader finds the class itself


@pytest.mark.parametrize("ext", ["fits", "dat"])
def test_treecorr_reads_shear_shear_file(gg, shear_cat, tmp_path, ext):
    path = gg.write(tmp_path / f"gg.{ext}")
    tc = treecorr.GGCorrelation.from_file(str(path))
    for name in ("xip", "xim", "npairs", "weight", "meanr", "meanlogr", "xip_im", "xim_im"):
        np.testing.assert_array_equal(getattr(tc, name), getattr(gg, name), err_msg=name)
    # TreeCorr stores sigma = sqrt(var) and squares it back
    np.testing.assert_allclose(tc.varxip, gg.varxip, rtol=1e-15)
    np.testing.assert_allclose(tc.varxim, gg.varxim, rtol=1e-15)
    assert (tc.min_sep, tc.max_sep, tc.nbins, tc.bin_type, tc.sep_units) == (0.5, 60.0, 6, "Linear", "arcmin")
    # and those are TreeCorr's own numbers on the same catalog (brute force, Arc metric)
    ref = treecorr.GGCorrelation(min_sep=0.5, max_sep=60.0, nbins=6, bin_type="Linear", sep_units="arcmin",
                                 brute=True, metric="Arc")
    ref.process(treecorr.Catalog(ra=shear_cat.ra, dec=shear_cat.dec, g1=shear_cat.g1, g2=shear_cat.g2,
                                 w=shear_cat.w, ra_units="deg", dec_units="deg"))
    # (TreeCorr accumulates weighted sums in mixed precision: agreement ~1e-7 relative)
    np.testing.assert_allclose(tc.xip, ref.xip, rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(tc.varxip, ref.varxip, rtol=1e-6)
    np.testing.assert_array_equal(tc.npairs, ref.npairs)


@pytest.mark.parametrize("ext", ["fits", "dat"])
def test_landy_szalay_round_trip_and_treecorr(tmp_path, ext):
    rng = np.random.default_rng(8)
    data = cc.Catalog(rng.uniform(0, 1, 300), rng.uniform(0, 1, 300))
    rand = cc.Catalog(rng.uniform(0, 1, 600), rng.uniform(0, 1, 600))
    ls = cc.landy_szalay(data, rand, min_sep=1.0, max_sep=40.0, nbins=5, spacing="linear")
    path = ls.write(tmp_path / f"ls.{ext}")
    assert_same(ls, cc.LandySzalayResult.read(path))
    tc = treecorr.NNCorrelation.from_file(str(path))
    np.testing.assert_array_equal(tc.xi, ls.xi)
    np.testing.assert_array_equal(tc.weight, ls.dd)
    np.testing.assert_allclose(tc.varxi, ls.varxi, rtol=1e-15)
    assert tc.tot == ls.dd_tot


def test_clustered_rho_round_trip_keeps_samples_and_clustering(tmp_path):
    stars = synthetic_star_catalog(200, seed=3)
    rho = cc.rho_statistics(stars, min_sep=0.0, max_sep=45.0, nbins=6, spacing="linear", n_clusters=15, n_samples=3, seed=2)
    for ext in FORMATS:
        back = cc.RhoResult.read(rho.write(tmp_path / f"rho.{ext}"))
        assert_same(rho, back)
        r1 = back["rho1"]
        assert r1.xip_samples.shape == (3, 6) and np.isfinite(r1.xip_std).sum() >= 4
        # one clustering shared by all five statistics, stored once and shared again
        assert back["rho1"].clustering is back["rho5"].clustering
    # TreeCorr reads the first statistic (rho0) of the file
    tc = treecorr.GGCorrelation.from_file(str(tmp_path / "rho.fits"))
    np.testing.assert_array_equal(tc.xip, rho["rho0"].xip)


def test_uncertainty_result_round_trip(tmp_path):
    stars = synthetic_star_catalog(150, seed=4)
    u = cc.clustering_uncertainty(stars, cc.Bins(0.0, 45.0, 5), 10, n_samples=3, n_bootstrap=3, seed=7)
    for ext in FORMATS:
        back = cc.UncertaintyResult.read(u.write(tmp_path / f"u.{ext}"))
        assert_same(u, back)
        np.testing.assert_array_equal(back.ratio("rho2"), u.ratio("rho2"))


def test_provenance_recorded(gg, tmp_path):
    src = tmp_path / "input.txt"
    src.write_text("some catalog bytes\n")
    prov = provenance(backend="numpy", input=src, columns={"g1": "e1"}, seed=11, command=["cosmocorr", "gg", "x"])
    path = gg.write(tmp_path / "gg.fits", provenance=prov)
    sha = hashlib.sha256(src.read_bytes()).hexdigest()
    with fits.open(path) as h:
        hdr = h[0].header
        assert hdr["CCSHA0"] == sha and hdr["CCBACKND"] == "numpy" and hdr["CCSEED"] == 11
        assert hdr["CCVERS"] == cc.__version__
        assert h["main"].columns["meanr"].unit == "arcmin"
    d = json.loads(gg.write(tmp_path / "gg.json", provenance=prov).read_text())
    assert d["provenance"]["input"][0]["sha256"] == sha
    assert d["provenance"]["columns"] == {"g1": "e1"} and d["provenance"]["command"] == "cosmocorr gg x"
    assert d["units"]["meanr"] == "arcmin"
    text = gg.write(tmp_path / "gg.dat", provenance=prov).read_text()
    assert sha in text


def test_no_silent_overwrite_and_wrong_class(gg, tmp_path):
    path = gg.write(tmp_path / "gg.fits")
    with pytest.raises(FileExistsError, match="overwrite"):
        gg.write(path)
    gg.write(path, overwrite=True)
    with pytest.raises(TypeError, match="ShearShearResult"):
        cc.RhoResult.read(path)
    with pytest.raises(ValueError, match="format"):
        gg.write(tmp_path / "x.out", format="xlsx")


def test_treecorr_file_is_refused_clearly(tmp_path):
    rng = np.random.default_rng(1)
    cat = treecorr.Catalog(ra=rng.uniform(0, 1, 50), dec=rng.uniform(0, 1, 50), g1=rng.normal(0, .1, 50),
                           g2=rng.normal(0, .1, 50), ra_units="deg", dec_units="deg")
    tc = treecorr.GGCorrelation(min_sep=1, max_sep=30, nbins=3, sep_units="arcmin", bin_type="Linear")
    tc.process(cat)
    tc.write(str(tmp_path / "tc.dat"))
    with pytest.raises(ValueError, match="not a cosmocorr result"):
        cc.ShearShearResult.read(tmp_path / "tc.dat")
    with pytest.raises(ValueError, match="not found"):
        cc.ShearShearResult.read(tmp_path / "missing.fits")


def test_to_table(gg):
    t = gg.to_table()
    assert t["meanr"].unit == "arcmin" and t.meta["corr"] == "GG" and t.meta["sep_units"] == "arcmin"
    np.testing.assert_array_equal(t["xip"], gg.xip)
    np.testing.assert_allclose(t["sigma_xip"] ** 2, gg.varxip, rtol=1e-15)
    stars = synthetic_star_catalog(100, seed=1)
    rt = cc.rho_statistics(stars, min_sep=1.0, max_sep=30.0, nbins=4, spacing="linear").to_table()
    assert "rho3_xip" in rt.colnames and rt["r_nom"].unit == "arcmin"
