"""The naive estimators equal TreeCorr's brute-force results (brute=True, metric='Arc')."""
import numpy as np
import pytest
import treecorr

from cosmocorr import Bins, Catalog, StarCatalog, landy_szalay, shear_shear
from cosmocorr.backends import numpy_kernels as _kernels_numpy
from cosmocorr.sky.synthetic import synthetic_shear_catalog, uniform_randoms


def _tc_cat(c):
    kw = dict(ra=c.ra, dec=c.dec, w=c.w, ra_units="deg", dec_units="deg")
    if c.has_shear:
        kw.update(g1=c.g1, g2=c.g2)
    return treecorr.Catalog(**kw)


def _tc_gg(bins, c1, c2=None):
    gg = treecorr.GGCorrelation(min_sep=bins.min_sep, max_sep=bins.max_sep, nbins=bins.nbins,
                                bin_type=bins.spacing.capitalize(), sep_units="arcmin", brute=True, metric="Arc")
    gg.process(_tc_cat(c1)) if c2 is None else gg.process(_tc_cat(c1), _tc_cat(c2))
    return gg


def assert_matches_treecorr(ours, gg, cats, cross):
    np.testing.assert_array_equal(ours.npairs, gg.npairs)
    np.testing.assert_allclose(ours.weight, gg.weight, rtol=1e-8)
    np.testing.assert_allclose(ours.meanr, gg.meanr, rtol=1e-8)
    g2mean = np.mean(np.concatenate([np.abs(c.g) ** 2 for c in cats]))
    atol = 1e-6 * g2mean
    names = ("xip", "xim", "xim_im") + (("xip_im",) if cross else ())
    for name in names:
        a, b = getattr(ours, name), getattr(gg, name)
        ok = np.abs(a - b) <= np.maximum(1e-5 * np.abs(b), atol)
        assert np.all(ok), (name, a, b)
    if not cross:
        np.testing.assert_array_equal(ours.xip_im, 0.0)


CASES = [
    Bins(0.0, 60.0, 10, "linear"),
    Bins(0.5, 90.0, 12, "log"),
]


@pytest.mark.parametrize("bins", CASES, ids=["linear", "log"])
@pytest.mark.parametrize("weighted", [False, True])
def test_shear_shear_auto_synthetic(bins, weighted):
    cat = synthetic_shear_catalog(1500, seed=11, weighted=weighted)
    assert_matches_treecorr(shear_shear(cat, bins=bins), _tc_gg(bins, cat), [cat], cross=False)


@pytest.mark.parametrize("bins", CASES, ids=["linear", "log"])
def test_shear_shear_cross_synthetic(bins):
    c1 = synthetic_shear_catalog(900, seed=1, weighted=True)
    c2 = synthetic_shear_catalog(700, seed=2, weighted=True, ra0=150.3)
    assert_matches_treecorr(shear_shear(c1, c2, bins=bins), _tc_gg(bins, c1, c2), [c1, c2], cross=True)


def test_shear_shear_wraps_ra_and_poles():
    rng = np.random.default_rng(5)
    n = 600
    ra = np.concatenate([rng.uniform(-1, 1, n) % 360, rng.uniform(0, 360, n)])
    dec = np.concatenate([rng.uniform(-1, 1, n), rng.uniform(88.5, 90, n)])
    cat = Catalog(ra, dec, rng.normal(0, 0.2, 2 * n), rng.normal(0, 0.2, 2 * n), rng.uniform(0.5, 1.5, 2 * n))
    bins = Bins(1.0, 100.0, 8, "log")
    assert_matches_treecorr(shear_shear(cat, bins=bins), _tc_gg(bins, cat), [cat], cross=False)


def test_shear_shear_cosmos_web(cosmos_fits):
    stars = StarCatalog.from_fits(cosmos_fits)
    for g in (stars.e, stars.de):
        cat = Catalog(stars.ra, stars.dec, g.real, g.imag)
        for bins in (Bins(0.0, 45.0, 8), Bins(0.2, 50.0, 10, "log")):
            assert_matches_treecorr(shear_shear(cat, bins=bins), _tc_gg(bins, cat), [cat], cross=False)


def test_chunking_does_not_change_results():
    cat = synthetic_shear_catalog(800, seed=4, weighted=True)
    b = Bins(0.0, 60.0, 6)
    args = (cat.xyz, cat.w, cat.g, cat.xyz, cat.w, cat.g, b.min_sep, b.max_sep, b.nbins, False, True)
    ref = _kernels_numpy.pair_sums(*args, chunk_pairs=10**9)
    for chunk in (1, 997, 50_000):
        got = _kernels_numpy.pair_sums(*args, chunk_pairs=chunk)
        for k in ref:
            np.testing.assert_allclose(got[k], ref[k], rtol=1e-12, atol=1e-15)


def test_empty_bins_are_nan():
    cat = Catalog([10.0, 10.0, 10.5], [0.0, 0.01, 0.0], g1=[0.1, 0.2, 0.3], g2=[0.0, 0.1, -0.1])
    r = shear_shear(cat, min_sep=0.1, max_sep=100.0, nbins=5, spacing="linear")
    empty = r.npairs == 0
    assert empty.any() and (~empty).any()
    assert np.all(np.isnan(r.xip[empty])) and np.all(np.isnan(r.meanr[empty]))
    assert np.all(np.isfinite(r.xip[~empty]))
    assert np.all(r.weight[empty] == 0)


def test_shear_shear_input_errors():
    cat = Catalog([0, 1], [0, 0])
    with pytest.raises(ValueError, match="cat1 has no shear"):
        shear_shear(cat, min_sep=1, max_sep=2, nbins=1, spacing="linear")
    with pytest.raises(TypeError, match="cat1"):
        shear_shear([1, 2], min_sep=1, max_sep=2, nbins=1, spacing="linear")
    with pytest.raises(TypeError, match="min_sep"):
        shear_shear(Catalog([0, 1], [0, 0], [0, 0], [0, 0]))
    with pytest.raises(ValueError, match="backend"):
        shear_shear(Catalog([0, 1], [0, 0], [0, 0], [0, 0]), min_sep=1, max_sep=2, nbins=1, spacing="linear", backend="fortran")


def _tc_nn(bins, c1, c2=None):
    nn = treecorr.NNCorrelation(min_sep=bins.min_sep, max_sep=bins.max_sep, nbins=bins.nbins,
                                bin_type=bins.spacing.capitalize(), sep_units="arcmin", brute=True, metric="Arc")
    nn.process(_tc_cat(c1)) if c2 is None else nn.process(_tc_cat(c1), _tc_cat(c2))
    return nn


@pytest.mark.parametrize("weighted", [False, True])
def test_landy_szalay_matches_treecorr(weighted):
    rng = np.random.default_rng(8)
    # clustered data: blobs plus a uniform background, randoms uniform on the same box
    centres = rng.uniform([149.6, 1.7], [150.6, 2.7], (15, 2))
    pts = np.concatenate([c + rng.normal(0, 0.03, (40, 2)) for c in centres] + [rng.uniform([149.6, 1.7], [150.6, 2.7], (400, 2))])
    w = rng.uniform(0.5, 2.0, len(pts)) if weighted else None
    data = Catalog(pts[:, 0], pts[:, 1], w=w)
    randoms = uniform_randoms(3000, (149.6, 150.6), (1.7, 2.7), seed=9)
    bins = Bins(0.5, 60.0, 10, "log")
    ours = landy_szalay(data, randoms, bins)
    dd, rr, dr = _tc_nn(bins, data), _tc_nn(bins, randoms), _tc_nn(bins, data, randoms)
    xi, _ = dd.calculateXi(rr=rr, dr=dr)
    np.testing.assert_array_equal(ours.dd_npairs, dd.npairs)
    np.testing.assert_array_equal(ours.rr_npairs, rr.npairs)
    np.testing.assert_array_equal(ours.dr_npairs, dr.npairs)
    np.testing.assert_allclose(ours.dd, dd.weight, rtol=1e-8)
    np.testing.assert_allclose(ours.meanr, dd.meanr, rtol=1e-8)
    # TreeCorr keeps weights in single precision: xi (of order 1) agrees to ~1e-9 absolute
    np.testing.assert_allclose(ours.xi, xi, rtol=1e-7, atol=1e-8)
    assert ours.xi[0] > 1.0  # the blobs are strongly clustered at small separations


def test_landy_szalay_empty_random_bins_are_nan():
    data = Catalog([0.0, 0.001, 1.0], [0.0, 0.0, 0.0])
    randoms = Catalog([0.0, 2.0], [0.0, 0.0])
    r = landy_szalay(data, randoms, min_sep=0.01, max_sep=200.0, nbins=4, spacing="log")
    assert np.all(np.isnan(r.xi[r.rr == 0]))
