"""method="tree" (issue 23): TreeCorr's tree as cosmocorr's pair-sum engine.

Compared with: TreeCorr's own GGCorrelation / NNCorrelation run on the same objects, patches and
settings (to 1e-12 relative, single-threaded on both sides so that the sums are added in the same
order); cosmocorr's exact estimator (with bin_slop = angle_slop = 0 the tree takes every pair at its
own separation and angle: equal to ~1e-12 when weights and shears are exactly representable in
single precision, TreeCorr's storage of cell sums, and to ~1e-6 otherwise); TreeCorr's
``estimate_cov`` on the same patch labels; TreeCorr's reader for the files written.
"""
import dataclasses

import numpy as np
import pytest
import treecorr

import cosmocorr as cc
from cosmocorr.cli import main
from cosmocorr.estimators import RHO_FIELDS
from cosmocorr.estimators.pair_sums import naive_pair_sums, patch_pair_sums, tree_pair_sums, tree_patch_pair_sums
from cosmocorr.sky.synthetic import synthetic_shear_catalog, synthetic_star_catalog

LOG = cc.Bins(1.0, 60.0, 7, "log")
LIN = cc.Bins(0.0, 45.0, 6, "linear")


def _tc_kw(bins, **kw):
    return dict(min_sep=bins.min_sep, max_sep=bins.max_sep, nbins=bins.nbins, sep_units="arcmin", metric="Arc",
                bin_type="Log" if bins.spacing == "log" else "Linear", **kw)


def _tc_cat(cat, g=None, patches=False):
    kw = dict(ra=cat.ra, dec=cat.dec, w=cat.w, ra_units="deg", dec_units="deg")
    g = cat.g if g is None else g
    if g is not None:
        kw.update(g1=g.real, g2=g.imag)
    if patches:
        kw["patch"] = cat.patch
    return treecorr.Catalog(**kw)


def _close(a, b, rtol=1e-12, atol=0.0, name=""):
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=name)


def _assert_gg_equal(r, gg, cross=False):
    """A ShearShearResult equals a finalized TreeCorr GGCorrelation (non-empty bins) to 1e-12."""
    full = gg.weight > 0
    assert np.any(full)
    np.testing.assert_array_equal(r.npairs, gg.npairs)
    _close(r.weight, gg.weight, name="weight")
    scale = np.max(np.abs(gg.xip[full]))
    for name in ("xip", "xim", "xim_im") + (("xip_im",) if cross else ()):
        _close(getattr(r, name)[full], getattr(gg, name)[full], atol=1e-12 * scale, name=name)
    _close(r.meanr[full], gg.meanr[full], name="meanr")
    _close(r.meanlogr[full], gg.meanlogr[full], atol=1e-12, name="meanlogr")
    _close(r.varxip[full], gg.varxip[full], name="varxip")
    _close(r.varxim[full], gg.varxim[full], name="varxim")
    assert np.all(np.isnan(r.xip[~full]))       # empty bins: NaN, as the exact path


def _shear(n, seed, npatch=None, centers=None, exact_in_float=False):
    c = synthetic_shear_catalog(n, seed=seed)
    rng = np.random.default_rng(seed + 50)
    if exact_in_float:
        # weights 1/2, 1, 2 and shears rounded to single precision: TreeCorr stores w and w g exactly
        w = 2.0 ** rng.integers(-1, 2, n)
        g1, g2 = c.g1.astype(np.float32).astype(float), c.g2.astype(np.float32).astype(float)
    else:
        w, g1, g2 = rng.uniform(0.3, 2.0, n), c.g1, c.g2
    return cc.Catalog(c.ra, c.dec, g1, g2, w, npatch=npatch, patch_centers=centers, patch_seed=seed)


@pytest.fixture(scope="module")
def cat():
    return _shear(3000, 1)


# ------------------------------------------------------------------ equal to TreeCorr's own results
@pytest.mark.parametrize("bins", [LOG, LIN], ids=["log", "linear"])
@pytest.mark.parametrize("slops", [(None, None), (0.5, 0.05), (2.0, 0.3)], ids=["default", "fine", "coarse"])
def test_shear_shear_tree_equals_treecorr(cat, bins, slops):
    bin_slop, angle_slop = slops
    if bin_slop == 2.0:
        # TreeCorr finds these slops too large: its warning comes as a cosmocorr warning, not on stdout
        with pytest.warns(cc.CosmocorrWarning, match="TreeCorr: Using bin_slop = 2"):
            r = cc.shear_shear(cat, bins=bins, method="tree", bin_slop=bin_slop, angle_slop=angle_slop,
                               num_threads=1)
    else:
        r = cc.shear_shear(cat, bins=bins, method="tree", bin_slop=bin_slop, angle_slop=angle_slop, num_threads=1)
    kw = {k: v for k, v in (("bin_slop", bin_slop), ("angle_slop", angle_slop)) if v is not None}
    gg = treecorr.GGCorrelation(**_tc_kw(bins, **kw))
    gg.process(_tc_cat(cat), num_threads=1)
    _assert_gg_equal(r, gg)
    # the result records the slops TreeCorr used (its defaults resolved) and the method
    assert (r.method, r.bin_slop, r.angle_slop) == ("tree", gg.bin_slop, gg.angle_slop)
    np.testing.assert_array_equal(r.xip_im, 0.0)     # one field with itself: 0 by symmetry, as exact


def test_shear_cross_tree_equals_treecorr():
    c1, c2 = _shear(1500, 2), _shear(1200, 3)
    r = cc.shear_shear(c1, c2, bins=LOG, method="tree", num_threads=1)
    gg = treecorr.GGCorrelation(**_tc_kw(LOG))
    gg.process(_tc_cat(c1), _tc_cat(c2), num_threads=1)
    _assert_gg_equal(r, gg, cross=True)


def test_rho_tree_equals_treecorr_auto_and_cross():
    stars = synthetic_star_catalog(1500, seed=5)
    bins = cc.Bins(0.5, 50.0, 6, "log")
    res = cc.rho_statistics(stars, bins, method="tree", angle_slop=0.05, num_threads=1)
    f, cat = stars.fields(), stars.catalog
    for name, (a, b) in RHO_FIELDS.items():
        gg = treecorr.GGCorrelation(**_tc_kw(bins, angle_slop=0.05))
        if a == b:
            gg.process(_tc_cat(cat, f[a]), num_threads=1)
        else:
            gg.process(_tc_cat(cat, f[a]), _tc_cat(cat, f[b]), num_threads=1)
        _assert_gg_equal(res[name], gg, cross=a != b)
        assert res[name].method == "tree"
    assert (res.method, res.angle_slop) == ("tree", 0.05)


def test_landy_szalay_tree_equals_treecorr():
    rng = np.random.default_rng(7)
    data = cc.Catalog(rng.uniform(0, 2, 2500), rng.uniform(0, 2, 2500), w=rng.uniform(0.5, 1.5, 2500))
    rand = cc.Catalog(rng.uniform(0, 2, 5000), rng.uniform(0, 2, 5000))
    ls = cc.landy_szalay(data, rand, bins=LOG, method="tree", bin_slop=0.15, num_threads=1)
    kw = _tc_kw(LOG, bin_slop=0.15)
    dd, dr, rr = (treecorr.NNCorrelation(**kw) for _ in range(3))
    dd.process(_tc_cat(data), num_threads=1)
    rr.process(_tc_cat(rand), num_threads=1)
    dr.process(_tc_cat(data), _tc_cat(rand), num_threads=1)
    xi, varxi = dd.calculateXi(rr=rr, dr=dr)
    for ours, theirs in ((ls.dd, dd.weight), (ls.dr, dr.weight), (ls.rr, rr.weight), (ls.dd_npairs, dd.npairs)):
        _close(ours, theirs)
    _close(ls.xi, xi, atol=1e-12 * np.max(np.abs(xi)), name="xi")     # xi = (DD - 2DR + RR)/RR cancels
    _close(ls.varxi, varxi, name="varxi")
    _close(ls.meanr, dd.meanr, name="meanr")
    assert (ls.method, ls.bin_slop, ls.angle_slop) == ("tree", 0.15, dd.angle_slop)


# ------------------------------------------------------------------ zero slop: the exact estimator
@pytest.mark.parametrize("bins", [LOG, LIN], ids=["log", "linear"])
def test_zero_slop_tree_equals_exact(bins):
    cat = _shear(2500, 4, exact_in_float=True)
    ex = cc.shear_shear(cat, bins=bins)
    tr = cc.shear_shear(cat, bins=bins, method="tree", bin_slop=0, angle_slop=0)
    np.testing.assert_array_equal(tr.npairs, ex.npairs)
    full = ex.npairs > 0
    scale = np.max(np.abs(ex.xip[full]))
    for name in ("weight", "meanr", "varxip"):
        _close(getattr(tr, name)[full], getattr(ex, name)[full], rtol=1e-11, name=name)
    _close(tr.meanlogr[full], ex.meanlogr[full], rtol=1e-11, atol=1e-11, name="meanlogr")
    for name in ("xip", "xim", "xim_im"):
        _close(getattr(tr, name)[full], getattr(ex, name)[full], rtol=1e-10, atol=1e-10 * scale, name=name)
    # ordinary double-precision inputs: TreeCorr's single-precision cell sums, ~1e-7 relative
    cat = _shear(2500, 4)
    ex = cc.shear_shear(cat, bins=bins)
    tr = cc.shear_shear(cat, bins=bins, method="tree", bin_slop=0, angle_slop=0)
    np.testing.assert_array_equal(tr.npairs, ex.npairs)
    _close(tr.xip[full], ex.xip[full], rtol=1e-5, atol=1e-5 * scale, name="xip")


def test_zero_slop_rho_equals_exact_from_zero_separation():
    """From min_sep = 0 the tree's rho2, rho4, rho5 (TreeCorr cross-correlations of two fields at
    the same positions) count no zero-separation pair, as the exact estimator; default slops move
    the estimate (the tree approximation is real)."""
    stars = synthetic_star_catalog(1500, seed=6)
    ex = cc.rho_statistics(stars, LIN)
    tr = cc.rho_statistics(stars, LIN, method="tree", bin_slop=0, angle_slop=0)
    default = cc.rho_statistics(stars, LIN, method="tree")
    for name in RHO_FIELDS:
        np.testing.assert_array_equal(tr[name].npairs, ex[name].npairs, err_msg=name)
        scale = np.nanmax(np.abs(ex[name].xip))
        # the derived fields (de, e dT/T) are not single-precision numbers: ~1e-7 (TreeCorr's cells)
        _close(tr[name].xip, ex[name].xip, rtol=1e-5, atol=1e-5 * scale, name=name)
        _close(tr[name].meanr, ex[name].meanr, rtol=1e-11, name=name)
        assert np.all(np.isfinite(tr[name].meanlogr))
        assert not np.allclose(default[name].xip, ex[name].xip, rtol=1e-6, atol=1e-6 * scale)


# ------------------------------------------------------------------ patches and covariances
@pytest.fixture(scope="module")
def patched():
    cat = _shear(2500, 8, npatch=8)
    r = cc.shear_shear(cat, bins=LOG, method="tree", var_method="jackknife", num_threads=1)
    gg = treecorr.GGCorrelation(**_tc_kw(LOG, var_method="jackknife", cross_patch_weight="simple"))
    gg.process(_tc_cat(cat, patches=True), num_threads=1)
    return cat, r, gg


def _rel(C, D):
    s = np.sqrt(np.abs(np.outer(np.diag(C), np.diag(C))))
    return np.max(np.abs(C - D) / s)


def test_tree_patch_sums_are_treecorrs_per_patch_results(patched):
    cat, r, gg = patched
    _assert_gg_equal(dataclasses.replace(r, varxip=gg.varxip, varxim=gg.varxim), gg)
    ps = r.patch_sums
    assert sorted(gg.results) == sorted(zip(*np.nonzero(ps.ok)))
    for (p, q), res in gg.results.items():
        np.testing.assert_allclose(ps.sums["weight"][p, q], res.weight, rtol=1e-12)
        np.testing.assert_array_equal(ps.sums["npairs"][p, q], res.npairs)
    # the total over patch pairs is the result's all-pairs sums
    _close(ps.total()["xim"] / ps.total()["weight"], r.xim)


def test_tree_jackknife_equals_treecorr(patched):
    cat, r, gg = patched
    assert r.var_method == "jackknife" and r.npatch == 8
    assert _rel(gg.cov, r.cov) < 1e-12
    _close(r.varxip, gg.varxip)


def test_every_var_method_on_tree_sums_equals_treecorr(patched):
    cat, r, gg = patched
    for method, cpws in (("jackknife", ("simple", "mean", "match")), ("sample", ("simple", "mean")),
                         ("bootstrap", ("simple", "mean", "geom")), ("marked_bootstrap", ("simple", "mean"))):
        for cpw in cpws:
            gg._rng = np.random.default_rng(5)   # TreeCorr draws rng.choice(K, K) per realisation, as cosmocorr
            C = gg.estimate_cov(method, cross_patch_weight=cpw, num_bootstrap=40)
            D = r.estimate_cov(method, cross_patch_weight=cpw, num_bootstrap=40, seed=5)
            assert _rel(C, D) < 1e-10, (method, cpw)


def test_same_patch_labels_as_exact_so_covariances_compare():
    """Exact and zero-slop tree runs on one patched catalog: the same per-patch-pair sums (to
    single precision), so the same jackknife covariance."""
    cat = _shear(2000, 9, npatch=6, exact_in_float=True)
    ex = cc.shear_shear(cat, bins=LOG, var_method="jackknife")
    tr = cc.shear_shear(cat, bins=LOG, method="tree", bin_slop=0, angle_slop=0, var_method="jackknife")
    np.testing.assert_array_equal(tr.patch_sums.ok, ex.patch_sums.ok)
    np.testing.assert_array_equal(tr.patch_sums.sums["npairs"], ex.patch_sums.sums["npairs"])
    _close(tr.patch_sums.tot, ex.patch_sums.tot)
    assert _rel(ex.cov, tr.cov) < 1e-8


def test_landy_szalay_tree_jackknife_equals_treecorr():
    rng = np.random.default_rng(11)
    data = cc.Catalog(rng.uniform(0, 2, 2000), rng.uniform(0, 2, 2000), npatch=6, patch_seed=1)
    rand = cc.Catalog(rng.uniform(0, 2, 4000), rng.uniform(0, 2, 4000), patch_centers=data.patch_centers)
    ls = cc.landy_szalay(data, rand, bins=LOG, method="tree", var_method="jackknife", num_threads=1)
    kw = _tc_kw(LOG, var_method="jackknife", cross_patch_weight="simple")
    dd, dr, rr = (treecorr.NNCorrelation(**kw) for _ in range(3))
    dd.process(_tc_cat(data, patches=True), num_threads=1)
    rr.process(_tc_cat(rand, patches=True), num_threads=1)
    dr.process(_tc_cat(data, patches=True), _tc_cat(rand, patches=True), num_threads=1)
    dd.calculateXi(rr=rr, dr=dr)
    assert _rel(dd.cov, ls.cov) < 1e-10


def test_tree_cross_with_missing_top_patch_is_a_clear_error():
    rng = np.random.default_rng(0)
    data = cc.Catalog(rng.uniform(0, 2, 400), rng.uniform(0, 1, 400), npatch=4, patch_seed=1)
    rand = cc.Catalog(rng.uniform(0, 2, 800), rng.uniform(0, 1, 800), patch_centers=data.patch_centers)
    top = data.patch == data.patch.max()
    half = cc.Catalog(rand.ra[rand.patch != data.patch.max()], rand.dec[rand.patch != data.patch.max()],
                      patch_centers=data.patch_centers)
    assert top.any() and half.npatch == 4 and np.bincount(half.patch, minlength=4)[-1] == 0
    with pytest.raises(ValueError, match="cat2 has no object in patch"):
        cc.landy_szalay(data, half, min_sep=1.0, max_sep=30.0, nbins=3, spacing="log", method="tree", var_method="jackknife")
    cc.landy_szalay(data, half, min_sep=1.0, max_sep=30.0, nbins=3, spacing="log", var_method="jackknife")   # exact: fine


def test_rho_tree_patches_jackknife_equals_treecorr_multi_cov():
    s = synthetic_star_catalog(1200, seed=12)
    stars = cc.StarCatalog(s.ra, s.dec, s.g1_star, s.g2_star, s.T_star, s.g1_model, s.g2_model, s.T_model,
                           npatch=5, patch_seed=3)
    bins = cc.Bins(0.5, 40.0, 5, "log")
    res = cc.rho_statistics(stars, bins, method="tree", var_method="jackknife", num_threads=1)
    f, cat = stars.fields(), stars.catalog
    corrs = []
    for a, b in RHO_FIELDS.values():
        gg = treecorr.GGCorrelation(**_tc_kw(bins, var_method="jackknife", cross_patch_weight="simple"))
        cats = [_tc_cat(cat, f[a], patches=True)] + ([] if a == b else [_tc_cat(cat, f[b], patches=True)])
        gg.process(*cats, num_threads=1)
        corrs.append(gg)
    C = treecorr.estimate_multi_cov(corrs, "jackknife", cross_patch_weight="simple")
    assert _rel(C, res.cov) < 1e-10


# ------------------------------------------------------------------ the pair-sum contract
def test_tree_pair_sums_have_the_exact_keys_and_units(cat):
    """tree_pair_sums / tree_patch_pair_sums: same keys, shapes and units as the exact functions
    (at zero slop: the same numbers to single precision)."""
    ex = naive_pair_sums(cat, None, LOG)
    tr = tree_pair_sums(cat, None, LOG, bin_slop=0, angle_slop=0)
    assert set(tr) == set(ex)
    for k in ex:
        assert tr[k].shape == ex[k].shape
        _close(tr[k], ex[k], rtol=2e-6, atol=2e-6 * np.max(np.abs(ex[k])), name=k)
    ex = naive_pair_sums(cat, None, LOG, shear=False)
    tr = tree_pair_sums(cat, None, LOG, shear=False, bin_slop=0)
    assert set(tr) == set(ex)
    pcat = _shear(800, 13, npatch=4)
    pe = patch_pair_sums(pcat, None, LOG, mode="auto")
    pt = tree_patch_pair_sums(pcat, None, LOG, mode="auto", bin_slop=0, angle_slop=0)
    assert set(pt.sums) == set(pe.sums) and pt.auto == pe.auto and pt.npatch == pe.npatch
    for k in pe.sums:
        assert pt.sums[k].shape == pe.sums[k].shape
    with pytest.raises(ValueError, match="g2"):
        tree_pair_sums(cat, None, LOG, g1=cat.g, g2=np.conj(cat.g))


def test_registered_kinds_run_any_treecorr_correlation(cat):
    """The engine is generic over TreeCorr's classes: a kind registered in a few lines (here a
    scalar auto-correlation KK and a count-scalar NK under test names) gives TreeCorr's numbers."""
    from cosmocorr.backends import tree
    from cosmocorr.estimators.pair_sums import tree_kind_pair_sums

    k = np.random.default_rng(3).normal(0.0, 1.0, cat.nobj)
    tree.register_kind("test_KK", "KKCorrelation", ("K", "K"), (("xi", "xi"),), zeros=("xi_im",))
    tree.register_kind("test_NK", "NKCorrelation", ("N", "K"), (("xi", "xi"),), zeros=("xi_im",))
    try:
        kk = tree_kind_pair_sums("test_KK", cat, None, LOG, f1=k)
        ref = treecorr.KKCorrelation(**_tc_kw(LOG))
        ref.process(treecorr.Catalog(ra=cat.ra, dec=cat.dec, w=cat.w, k=k, ra_units="deg", dec_units="deg"))
        _close(kk["xi"] / kk["weight"], ref.xi, rtol=1e-10, atol=1e-12 * np.max(np.abs(ref.xi)))
        np.testing.assert_array_equal(kk["npairs"], ref.npairs)
        np.testing.assert_array_equal(kk["xi_im"], 0.0)
        lenses = _shear(500, 21)
        nk = tree_kind_pair_sums("test_NK", lenses, cat, LOG, f2=k)
        ref = treecorr.NKCorrelation(**_tc_kw(LOG))
        ref.process(_tc_cat(lenses), treecorr.Catalog(ra=cat.ra, dec=cat.dec, w=cat.w, k=k, ra_units="deg",
                                                      dec_units="deg"))
        _close(nk["xi"] / nk["weight"], ref.xi, rtol=1e-10, atol=1e-12 * np.max(np.abs(ref.xi)))
        with pytest.raises(ValueError, match="cat2"):
            tree_kind_pair_sums("test_NK", lenses, None, LOG)
    finally:
        tree.KINDS.pop("test_KK", None), tree.KINDS.pop("test_NK", None)


# ------------------------------------------------------------------ files
def test_tree_result_files_round_trip_and_treecorr_reads_them(tmp_path, cat):
    r = cc.shear_shear(cat, bins=LOG, method="tree", bin_slop=0.4, angle_slop=0.07)
    for ext in ("fits", "dat", "json"):
        back = cc.ShearShearResult.read(r.write(tmp_path / f"gg.{ext}"))
        assert (back.method, back.bin_slop, back.angle_slop) == ("tree", 0.4, 0.07)
        for name in ("xip", "xim", "npairs", "weight", "meanr", "meanlogr", "varxip", "cov"):
            np.testing.assert_array_equal(getattr(back, name), getattr(r, name), err_msg=name)
    for ext in ("fits", "dat"):
        tc = treecorr.GGCorrelation.from_file(str(tmp_path / f"gg.{ext}"))
        assert (tc.bin_slop, tc.angle_slop, tc.brute) == (0.4, 0.07, False)
        for name in ("xip", "xim", "npairs", "weight", "meanlogr"):
            np.testing.assert_array_equal(getattr(tc, name), getattr(r, name), err_msg=name)
        np.testing.assert_allclose(tc.varxip, r.varxip, rtol=1e-15)
    # the exact path's header is unchanged (brute force)
    ex = cc.shear_shear(cat, bins=LOG)
    assert treecorr.GGCorrelation.from_file(str(ex.write(tmp_path / "ex.fits"))).brute is True
    rng = np.random.default_rng(2)
    ls = cc.landy_szalay(cc.Catalog(rng.uniform(0, 1, 300), rng.uniform(0, 1, 300)),
                         cc.Catalog(rng.uniform(0, 1, 600), rng.uniform(0, 1, 600)), bins=LOG, method="tree")
    tc = treecorr.NNCorrelation.from_file(str(ls.write(tmp_path / "ls.fits")))
    np.testing.assert_array_equal(tc.xi, ls.xi)
    assert tc.bin_slop == ls.bin_slop and cc.LandySzalayResult.read(tmp_path / "ls.fits").method == "tree"


# ------------------------------------------------------------------ bad input
def test_bad_tree_arguments_are_named(cat):
    stars = synthetic_star_catalog(100, seed=1)
    rng = np.random.default_rng(0)
    d = cc.Catalog(rng.uniform(0, 1, 50), rng.uniform(0, 1, 50))
    for fn, args in ((cc.shear_shear, (cat,)), (cc.rho_statistics, (stars,)), (cc.landy_szalay, (d, d))):
        kw = dict(min_sep=1.0, max_sep=30.0, nbins=3, spacing="log")
        with pytest.raises(ValueError, match="method"):
            fn(*args, method="fast", **kw)
        with pytest.raises(TypeError, match="method"):
            fn(*args, method=1, **kw)
        for name in ("bin_slop", "angle_slop"):
            with pytest.raises(ValueError, match=name):
                fn(*args, method="tree", **{name: -0.1}, **kw)
            with pytest.raises(ValueError, match=name):
                fn(*args, method="tree", **{name: float("nan")}, **kw)
            with pytest.raises(TypeError, match=name):
                fn(*args, method="tree", **{name: "0.1"}, **kw)
            with pytest.raises(ValueError, match=name):          # not silently unused
                fn(*args, **{name: 0.1}, **kw)
        with pytest.raises(ValueError, match="approx_tol"):
            fn(*args, method="tree", approx_tol=0.0, **kw)
        with pytest.raises(ValueError, match="approx_tol"):
            fn(*args, approx_tol=0.1, **kw)
        with pytest.raises(ValueError, match="n_clusters"):
            fn(*args, method="tree", n_clusters=5, **kw)
        with pytest.raises(ValueError, match="julia"):
            fn(*args, method="tree", backend="julia", **kw)


# ------------------------------------------------------------------ command line
def _shear_fits(path, n=1500, seed=3):
    from astropy.table import Table

    c = _shear(n, seed)
    Table({"RA": c.ra, "DEC": c.dec, "e1": c.g1, "e2": c.g2}).write(path)
    return c


def test_gg_command_tree_against_treecorr(tmp_path, capsys):
    c = _shear_fits(tmp_path / "shear.fits")
    out = tmp_path / "gg.fits"
    assert main(["gg", str(tmp_path / "shear.fits"), "--g1", "e1", "--g2", "e2", "--min-sep", "1", "--max-sep", "40",
                 "--nbins", "5", "--spacing", "log", "--method", "tree", "--bin-slop", "0.5", "--angle-slop", "0.05",
                 "--fits-out", str(out), "--out", ""]) == 0
    assert "tree estimator (TreeCorr, bin_slop=0.5, angle_slop=0.05)" in capsys.readouterr().out
    bins = cc.Bins(1.0, 40.0, 5, "log")
    tc = treecorr.GGCorrelation(**_tc_kw(bins, bin_slop=0.5, angle_slop=0.05))
    tc.process(treecorr.Catalog(ra=c.ra, dec=c.dec, g1=c.g1, g2=c.g2, ra_units="deg", dec_units="deg"))
    back = treecorr.GGCorrelation.from_file(str(out))
    np.testing.assert_allclose(back.xip, tc.xip, rtol=1e-10, atol=1e-14)
    np.testing.assert_array_equal(back.npairs, tc.npairs)
    assert (back.bin_slop, back.angle_slop) == (0.5, 0.05)


def test_rho_and_nn_commands_tree(tmp_path, capsys):
    s = synthetic_star_catalog(800, seed=2)
    from astropy.table import Table

    sig = lambda T: np.sqrt(T / 2.0)
    Table({"ra": s.ra, "dec": s.dec, "g1_vignet": s.g1_star, "g2_vignet": s.g2_star, "sig_vignet": sig(s.T_star),
           "g1_psfex": s.g1_model, "g2_psfex": s.g2_model, "sig_psfex": sig(s.T_model)}).write(tmp_path / "s.fits")
    assert main(["rho", str(tmp_path / "s.fits"), "--method", "tree", "--json", str(tmp_path / "rho.json"),
                 "--out", ""]) == 0
    back = cc.RhoResult.read(tmp_path / "rho.json")
    stars = cc.StarCatalog.read(tmp_path / "s.fits", g1_star="g1_vignet", g2_star="g2_vignet", sigma_star="sig_vignet",
                                g1_model="g1_psfex", g2_model="g2_psfex", sigma_model="sig_psfex")
    ref = cc.rho_statistics(stars, LIN.__class__(0.0, 45.0, 8), method="tree")
    for name in RHO_FIELDS:
        np.testing.assert_allclose(back[name].xip, ref[name].xip, rtol=1e-10, atol=1e-16)
    assert back.method == "tree" and back.bin_slop == ref.bin_slop
    rng = np.random.default_rng(4)
    Table({"ra": rng.uniform(0, 1, 300), "dec": rng.uniform(0, 1, 300)}).write(tmp_path / "d.csv")
    assert main(["nn", str(tmp_path / "d.csv"), "--n-randoms", "600", "--seed", "3", "--min-sep", "1",
                 "--max-sep", "40", "--nbins", "4", "--spacing", "log", "--method", "tree", "--bin-slop", "0", "--json",
                 str(tmp_path / "nn.json"), "--out", ""]) == 0
    nn = cc.LandySzalayResult.read(tmp_path / "nn.json")
    assert (nn.method, nn.bin_slop) == ("tree", 0.0)
    capsys.readouterr()


def test_tree_settings_from_a_config_file(tmp_path, capsys):
    _shear_fits(tmp_path / "shear.fits", n=600)
    base = ["gg", str(tmp_path / "shear.fits"), "--g1", "e1", "--g2", "e2", "--spacing", "log", "--min-sep", "1",
            "--max-sep", "40", "--nbins", "4", "--out", ""]
    (tmp_path / "run.toml").write_text('method = "tree"\nbin_slop = 0.25\nangle-slop = 0.02\n')
    assert main(base + ["--config", str(tmp_path / "run.toml"), "--json", str(tmp_path / "a.json")]) == 0
    assert main(base + ["--method", "tree", "--bin-slop", "0.25", "--angle-slop", "0.02", "--json",
                        str(tmp_path / "b.json")]) == 0
    a, b = (cc.ShearShearResult.read(tmp_path / f"{x}.json") for x in "ab")
    assert (a.method, a.bin_slop, a.angle_slop) == ("tree", 0.25, 0.02)
    np.testing.assert_array_equal(a.npairs, b.npairs)
    np.testing.assert_allclose(a.xip, b.xip, rtol=1e-12, atol=1e-18)
    capsys.readouterr()
    (tmp_path / "bad.toml").write_text('method = "fast"\n')
    rc = main(base + ["--config", str(tmp_path / "bad.toml")])
    assert rc == 2 and "method must be one of" in capsys.readouterr().err


def test_tree_cli_errors_are_one_line(tmp_path, capsys):
    _shear_fits(tmp_path / "shear.fits", n=200)
    base = ["gg", str(tmp_path / "shear.fits"), "--g1", "e1", "--g2", "e2", "--min-sep", "1", "--max-sep", "40",
            "--nbins", "4", "--spacing", "log", "--out", ""]
    cases = [(base + ["--method", "fast"], "invalid choice"),
             (base + ["--method", "tree", "--bin-slop", "-1"], "bin_slop"),
             (base + ["--method", "tree", "--angle-slop", "x"], "invalid slop value"),
             (base + ["--bin-slop", "0.5"], "bin_slop"),
             (base + ["--method", "tree", "--n-clusters", "5"], "n_clusters")]
    for argv, match in cases:
        rc = main(argv)
        err = capsys.readouterr().err
        assert rc == 2 and err.count("\n") == 1 and "Traceback" not in err and match in err, (argv, err)
