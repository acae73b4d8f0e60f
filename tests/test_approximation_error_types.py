"""The measured approximation error of the NG/NK/KK/KG and tau tree results against the truth:
the exact estimator on the same catalogs (a Gaussian random shear field, lenses drawn from its
objects, its g1 as a scalar field), exact rotation invariance, and the exact tree limit."""
import numpy as np
import pytest

import cosmocorr as cc
from cosmocorr import estimators
from cosmocorr.sky.rotations import random_rotations, rotate_catalog, rotate_stars
from cosmocorr.sky.synthetic import gaussian_shear_catalog, synthetic_star_catalog, uniform_randoms

BINS = cc.Bins(2.0, 20.0, 6, "log")
FAST = dict(n_rotations=6, spot_npatch=10, spot_fraction=0.3, approx_error=True)
QUICK = dict(n_rotations=3, spot_npatch=6, spot_fraction=0.3, approx_error=True)   # settings-only checks


def _cats(seed, n=4000):
    src = gaussian_shear_catalog(n, seed=seed, width_deg=0.6, scale_arcmin=3.0, shape_noise=0.1, signal=0.02)
    lenses = src.subset(np.random.default_rng(seed).choice(src.nobj, n // 4, replace=False))
    kcat = cc.Catalog(src.ra, src.dec, k=src.g.real)
    return lenses, src, kcat


def _coverage(r, ex):
    hits = []
    for k in r.approx_error:
        d = getattr(r, k) - getattr(ex, k)
        hits.append(np.abs(d - r.approx_error[k]) <= 2 * np.hypot(r.approx_error_err[k], r.approx_sigma[k]))
    return np.concatenate(hits)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["count_shear", "scalar_scalar"])
def test_reported_error_covers_the_true_tree_error(name):
    """|delta - approx_error| <= 2 sqrt(approx_error_err^2 + approx_sigma^2) in >= 80 % of bins
    over two seeds, delta = tree - exact (NG around lenses drawn from the sources; KK of g1)."""
    hits, true = [], []
    for seed in (1, 2):
        lenses, src, kcat = _cats(seed)
        args = (lenses, src) if name == "count_shear" else (kcat,)
        ex = getattr(cc, name)(*args, bins=BINS)
        r = getattr(cc, name)(*args, bins=BINS, method="tree", bin_slop=0.25, angle_slop=0.3, seed=seed, **FAST)
        assert r.method == "tree" and r.bin_slop == 0.25
        assert set(r.approx_error) == ({"xi", "xi_im"} if name == "count_shear" else {"xi"})
        hits.append(_coverage(r, ex))
        true.append(np.abs(r.xi - ex.xi) / np.sqrt(ex.varxi))
    assert np.mean(np.concatenate(hits)) >= 0.8
    assert np.max(np.concatenate(true)) > 1e-4          # the tree does differ from exact here


def test_field_types_exactly_invariant_under_rotation():
    lenses, src, kcat = _cats(3, n=600)
    R = random_rotations(1, seed=7)[0]
    for fn, args in ((estimators.count_shear, (lenses, src)), (estimators.count_scalar, (lenses, kcat)),
                     (estimators.scalar_scalar, (kcat, None)), (estimators.scalar_shear, (kcat, src))):
        a = fn(*args, BINS)
        b = fn(*(None if c is None else rotate_catalog(c, R) for c in args), BINS)
        np.testing.assert_allclose(b.xi, a.xi, rtol=1e-10, atol=1e-14)
        if a.xi_im is not None:
            np.testing.assert_allclose(b.xi_im, a.xi_im, rtol=1e-10, atol=1e-14)
    np.testing.assert_array_equal(rotate_catalog(kcat, R).k, kcat.k)    # a scalar is carried unchanged
    stars = synthetic_star_catalog(200, seed=3, ra0=150.0, width_deg=0.6)
    a, b = estimators.tau_statistics(src, stars, BINS), estimators.tau_statistics(rotate_catalog(src, R),
                                                                                 rotate_stars(stars, R), BINS)
    for n in a:
        np.testing.assert_allclose(b[n].xip, a[n].xip, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(b[n].xim, a[n].xim, rtol=1e-10, atol=1e-14)


def test_zero_error_at_zero_slop_with_randoms_and_tau():
    lenses, src, kcat = _cats(4, n=500)
    rand = uniform_randoms(300, (src.ra.min(), src.ra.max()), (src.dec.min(), src.dec.max()), seed=4)
    r = cc.count_shear(lenses, src, bins=BINS, randoms=rand, method="tree", bin_slop=0.0, angle_slop=0.0, seed=4,
                       **QUICK)
    ex = cc.count_shear(lenses, src, bins=BINS, randoms=rand)
    # the exact tree equals the exact kernel to TreeCorr's rounding (~1e-10 absolute), and so do the units
    assert np.max(np.abs(r.xi - ex.xi) / np.sqrt(ex.varxi)) < 1e-5
    for k in ("xi", "xi_im"):
        tiny = 1e-5 * np.sqrt(ex.varxi)
        assert np.all(np.abs(r.approx_error[k]) < tiny) and np.all(r.approx_sigma[k] < tiny)
    stars = synthetic_star_catalog(150, seed=4, ra0=150.0, width_deg=0.6)
    t = cc.tau_statistics(src, stars, bins=BINS, method="tree", bin_slop=0.0, angle_slop=0.0, seed=4, **QUICK)
    for name in ("tau0", "tau2", "tau5"):
        assert set(t[name].approx_error) == {"xip", "xim"}
        tiny = 1e-5 * np.sqrt(t[name].varxip)
        assert np.all(np.abs(t[name].approx_error["xip"]) < tiny) and np.all(t[name].approx_sigma["xip"] < tiny)


def test_field_result_with_error_round_trips_through_a_file(tmp_path):
    lenses, src, kcat = _cats(5, n=800)
    r = cc.count_shear(lenses, src, bins=BINS, method="tree", bin_slop=0.5, angle_slop=0.3, seed=5, **QUICK)
    for ext in ("fits", "json", "dat"):
        back = type(r).read(r.write(tmp_path / f"ng.{ext}"))
        np.testing.assert_array_equal(back.xi, r.xi)
        for f in ("approx_error", "approx_error_err", "approx_sigma", "approx_sigma_err"):
            for k in ("xi", "xi_im"):
                np.testing.assert_array_equal(getattr(back, f)[k], getattr(r, f)[k])
        assert back.approx_info == r.approx_info and back.bin_slop == r.bin_slop


@pytest.mark.parametrize("bad, exc", [(dict(n_rotations=1), ValueError), (dict(spot_fraction=0.0), ValueError),
                                      (dict(bin_slop="fast"), TypeError),
                                      (dict(bin_slop_ladder=[0.5], bin_slop=0.5), ValueError)])
def test_bad_settings_rejected(bad, exc):
    lenses, src, kcat = _cats(6, n=200)
    kw = dict(method="tree", approx_error=True, bin_slop=0.5)
    kw.update(bad)
    with pytest.raises(exc):
        cc.scalar_shear(kcat, src, bins=BINS, **kw)
    with pytest.raises(ValueError, match="method='tree'"):
        cc.count_shear(lenses, src, bins=BINS, bin_slop="auto")
