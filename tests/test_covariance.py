"""Error bars and covariances (issue 12): equal to TreeCorr on the same patches.

Every comparison runs TreeCorr 5.x by brute force (``brute=True``, ``metric="Arc"``) on the same
objects, weights and patch labels. Agreement reached: shot-noise variances to ~1e-9 (exactly when unweighted: the
weighted pair sums differ at that level), jackknife
and sample covariances (GG auto/cross, NN with randoms, the joint rho1..rho5 covariance) to
~1e-7 relative to sqrt(C_ii C_jj) (TreeCorr's own pair sums differ from the exact ones at the
1e-11..1e-9 level and the jackknife differences amplify that); the tolerance asserted is 1e-6.
"""
import logging

import numpy as np
import pytest

import cosmocorr as cc
from cosmocorr.sky.patches import assign_patches, kmeans_patches
from cosmocorr.sky.synthetic import synthetic_shear_catalog, synthetic_star_catalog

treecorr = pytest.importorskip("treecorr")

TOL = 1e-6


def _rel(C, D):
    """max |C - D| / sqrt(C_ii C_jj): the covariance difference in units of the error bars."""
    C, D = np.atleast_2d(C), np.atleast_2d(D)
    if C.shape[0] == 1:
        return np.max(np.abs(C - D) / np.abs(C))
    s = np.sqrt(np.abs(np.outer(np.diag(C), np.diag(C))))
    return np.max(np.abs(C - D) / s)


def _shear_cat(n, seed, npatch=None, centers=None, weighted=True):
    c = synthetic_shear_catalog(n, seed=seed)
    w = np.random.default_rng(seed + 100).uniform(0.3, 2.0, n) if weighted else None
    return cc.Catalog(c.ra, c.dec, c.g1, c.g2, w, npatch=npatch, patch_centers=centers, patch_seed=seed)


def _tc_shear(cat):
    return treecorr.Catalog(ra=cat.ra, dec=cat.dec, g1=cat.g1, g2=cat.g2, w=cat.w, ra_units="deg", dec_units="deg",
                            patch=cat.patch)


def _tc_kwargs(bins, **kw):
    return dict(min_sep=bins.min_sep, max_sep=bins.max_sep, nbins=bins.nbins, sep_units="arcmin", brute=True,
                bin_type="Log" if bins.spacing == "log" else "Linear", cross_patch_weight="simple", **kw)


BINS = cc.Bins(2.0, 40.0, 5, spacing="log")


@pytest.fixture(scope="module")
def gg_auto():
    cat = _shear_cat(500, 1, npatch=8)
    gg = treecorr.GGCorrelation(**_tc_kwargs(BINS))
    gg.process(_tc_shear(cat), metric="Arc", num_threads=1)
    return cat, gg, cc.shear_shear(cat, bins=BINS)


@pytest.fixture(scope="module")
def gg_cross():
    cat1 = _shear_cat(400, 2, npatch=6)
    cat2 = _shear_cat(350, 3, centers=cat1.patch_centers)
    gg = treecorr.GGCorrelation(**_tc_kwargs(BINS))
    gg.process(_tc_shear(cat1), _tc_shear(cat2), metric="Arc", num_threads=1)
    return cat1, cat2, gg, cc.shear_shear(cat1, cat2, bins=BINS)


def test_shot_noise_and_meanlogr_equal_treecorr(gg_auto, gg_cross):
    for gg, r in ((gg_auto[1], gg_auto[2]), (gg_cross[2], gg_cross[3])):
        assert r.var_method == "shot" and r.cov.shape == (2 * BINS.nbins, 2 * BINS.nbins)
        np.testing.assert_allclose(r.varxip, gg.varxip, rtol=1e-8)
        np.testing.assert_allclose(r.varxim, gg.varxim, rtol=1e-8)
        np.testing.assert_allclose(np.diag(r.cov), np.concatenate([gg.varxip, gg.varxim]), rtol=1e-8)
        assert np.count_nonzero(r.cov - np.diag(np.diag(r.cov))) == 0
        np.testing.assert_allclose(r.meanlogr, gg.meanlogr, rtol=1e-9)
        np.testing.assert_allclose(r.estimate_cov("shot"), gg.estimate_cov("shot"), rtol=1e-8)
    # the per-patch-pair route gives the all-pairs result
    cat = gg_auto[0]
    plain = cc.shear_shear(cc.Catalog(cat.ra, cat.dec, cat.g1, cat.g2, cat.w), bins=BINS)
    np.testing.assert_allclose(gg_auto[2].xip, plain.xip, rtol=1e-8)
    np.testing.assert_allclose(gg_auto[2].varxip, plain.varxip, rtol=1e-8)
    assert plain.patch_sums is None and gg_auto[2].npatch == 8


@pytest.mark.parametrize("method,cpw", [("jackknife", "simple"), ("jackknife", "mean"), ("jackknife", "match"),
                                        ("sample", "simple"), ("sample", "mean")])
def test_jackknife_and_sample_gg_equal_treecorr(gg_auto, gg_cross, method, cpw):
    for gg, r in ((gg_auto[1], gg_auto[2]), (gg_cross[2], gg_cross[3])):
        C = gg.estimate_cov(method, cross_patch_weight=cpw)
        D = r.estimate_cov(method, cross_patch_weight=cpw)
        assert D.shape == (2 * BINS.nbins, 2 * BINS.nbins)
        assert _rel(C, D) < TOL


def test_var_method_sets_varxi_and_cov(gg_auto):
    cat, gg, _ = gg_auto
    r = cc.shear_shear(cat, bins=BINS, var_method="jackknife", cross_patch_weight="match")
    C = gg.estimate_cov("jackknife", cross_patch_weight="match")
    assert _rel(C, r.cov) < TOL
    np.testing.assert_allclose(r.varxip, np.diag(C)[:BINS.nbins], rtol=TOL)
    np.testing.assert_allclose(r.varxim, np.diag(C)[BINS.nbins:], rtol=TOL)
    assert r.var_method == "jackknife" and r.cross_patch_weight == "match"


def test_bootstraps_equal_treecorr_with_the_same_draws(gg_auto):
    cat, gg, r = gg_auto
    for method, cpws in (("bootstrap", ("simple", "mean", "geom")), ("marked_bootstrap", ("simple", "mean"))):
        for cpw in cpws:
            gg._rng = np.random.default_rng(11)   # TreeCorr draws rng.choice(K, K) per realisation, as we do
            C = gg.estimate_cov(method, cross_patch_weight=cpw, num_bootstrap=60)
            D = r.estimate_cov(method, cross_patch_weight=cpw, num_bootstrap=60, seed=11)
            assert _rel(C, D) < TOL


@pytest.mark.parametrize("method", ["bootstrap", "marked_bootstrap"])
def test_bootstraps_statistically(gg_auto, method):
    """Means over seeds of the bootstrap variances: ours (seeds 0..9) vs TreeCorr's (seeds 100..109)."""
    cat, gg, r = gg_auto
    ours, theirs = [], []
    for k in range(10):
        ours.append(np.diag(r.estimate_cov(method, num_bootstrap=100, seed=k)))
        gg._rng = np.random.default_rng(100 + k)
        theirs.append(np.diag(gg.estimate_cov(method, cross_patch_weight="simple", num_bootstrap=100)))
    ratio = np.mean(ours, axis=0) / np.mean(theirs, axis=0)
    # each mean has ~sqrt(2/100/10) = 4.5 % relative scatter
    assert np.all(np.abs(ratio - 1) < 0.25), ratio
    # and the seed matters: two seeds differ, one seed repeats
    np.testing.assert_array_equal(r.estimate_cov(method, num_bootstrap=20, seed=3),
                                  r.estimate_cov(method, num_bootstrap=20, seed=3))
    assert not np.allclose(r.estimate_cov(method, num_bootstrap=20, seed=3),
                           r.estimate_cov(method, num_bootstrap=20, seed=4))


def _randoms(n, seed, like):
    rng = np.random.default_rng(seed)
    ra = rng.uniform(like.ra.min(), like.ra.max(), n)
    s0, s1 = np.sin(np.radians([like.dec.min(), like.dec.max()]))
    dec = np.degrees(np.arcsin(rng.uniform(s0, s1, n)))
    return ra, dec, rng.uniform(0.5, 1.5, n)


def test_landy_szalay_with_randoms_equals_treecorr():
    d = _shear_cat(450, 5, npatch=7)
    data = cc.Catalog(d.ra, d.dec, w=d.w, patch=d.patch)
    ra, dec, w = _randoms(1200, 6, data)
    randoms = cc.Catalog(ra, dec, w=w, patch_centers=data.patch_centers)
    bins = cc.Bins(3.0, 40.0, 5, spacing="log")
    res = cc.landy_szalay(data, randoms, bins=bins, var_method="jackknife")
    kw = _tc_kwargs(bins, var_method="jackknife")
    tcat = [treecorr.Catalog(ra=c.ra, dec=c.dec, w=c.w, ra_units="deg", dec_units="deg", patch=c.patch)
            for c in (data, randoms)]
    dd, rr, dr = (treecorr.NNCorrelation(**kw) for _ in range(3))
    dd.process(tcat[0], metric="Arc", num_threads=1)
    rr.process(tcat[1], metric="Arc", num_threads=1)
    dr.process(tcat[0], tcat[1], metric="Arc", num_threads=1)
    xi, varxi = dd.calculateXi(rr=rr, dr=dr)
    np.testing.assert_allclose(res.xi, xi, rtol=1e-7)
    np.testing.assert_allclose(res.varxi, varxi, rtol=TOL)
    np.testing.assert_allclose(res.meanlogr, dd.meanlogr, rtol=1e-9)
    assert _rel(dd.cov, res.cov) < TOL
    np.testing.assert_allclose(res.estimate_cov("shot"), dd.estimate_cov("shot"), rtol=1e-9)
    for method, cpw in (("jackknife", "mean"), ("jackknife", "match"), ("sample", "simple"), ("sample", "mean")):
        assert _rel(dd.estimate_cov(method, cross_patch_weight=cpw), res.estimate_cov(method, cross_patch_weight=cpw)) < TOL
    shot = cc.landy_szalay(data, randoms, bins=bins)
    np.testing.assert_allclose(shot.varxi, dd.estimate_cov("shot"), rtol=1e-9)


def _rho_vs_treecorr(stars, bins, methods):
    f, p = stars.fields(), stars.catalog.patch
    res = cc.rho_statistics(stars, bins=bins, var_method="jackknife")
    kw = _tc_kwargs(bins)
    corrs = []
    for name, (a, b) in cc.estimators.RHO_FIELDS.items():
        cats = [treecorr.Catalog(ra=stars.ra, dec=stars.dec, g1=z.real, g2=z.imag, w=stars.w, ra_units="deg",
                                 dec_units="deg", patch=p) for z in ((f[a],) if a == b else (f[a], f[b]))]
        gg = treecorr.GGCorrelation(**kw)
        gg.process(*cats, metric="Arc", num_threads=1)
        corrs.append(gg)
        np.testing.assert_allclose(res[name].meanlogr, gg.meanlogr, rtol=1e-9)
        np.testing.assert_allclose(res[name].varxip, np.diag(gg.estimate_cov("jackknife"))[:bins.nbins], rtol=TOL)
    for method in methods:
        C = treecorr.estimate_multi_cov(corrs, method, cross_patch_weight="simple")
        D = cc.estimate_multi_cov(res, method)
        assert D.shape == C.shape
        assert _rel(C, D) < TOL, method
    assert _rel(treecorr.estimate_multi_cov(corrs, "jackknife", cross_patch_weight="simple"), res.cov) < TOL
    # a list of results works the same, in the given order
    D2 = cc.estimate_multi_cov([res["rho2"], res["rho1"]], "jackknife")
    C2 = treecorr.estimate_multi_cov([corrs[2], corrs[1]], "jackknife", cross_patch_weight="simple")  # rho2, rho1
    assert _rel(C2, D2) < TOL
    return res


def test_rho_multi_cov_equals_treecorr_synthetic():
    s = synthetic_star_catalog(400, seed=4)
    w = np.random.default_rng(9).uniform(0.5, 1.5, len(s))
    stars = cc.StarCatalog(s.ra, s.dec, s.g1_star, s.g2_star, s.T_star, s.g1_model, s.g2_model, s.T_model, w,
                           npatch=10, patch_seed=2)
    _rho_vs_treecorr(stars, cc.Bins(1.0, 40.0, 5), ("shot", "jackknife", "sample"))


def test_rho_multi_cov_equals_treecorr_cosmos_web(cosmos_fits):
    s = cc.StarCatalog.from_fits(cosmos_fits)
    labels, _ = kmeans_patches(s.ra, s.dec, 15, seed=1)
    stars = cc.StarCatalog(s.ra, s.dec, s.g1_star, s.g2_star, s.T_star, s.g1_model, s.g2_model, s.T_model,
                           patch=labels)
    res = _rho_vs_treecorr(stars, cc.Bins(1.0, 45.0, 6), ("jackknife", "sample"))
    assert res.cov.shape == (72, 72)   # rho0..rho5, xi+ and xi-, 6 bins


def test_gg_on_cosmos_web_stars_equals_treecorr(cosmos_fits):
    """GG auto and cross on the real positions: star e (weighted) with itself and with the PSF model."""
    s = cc.StarCatalog.from_fits(cosmos_fits)
    w = 1.0 + (np.arange(len(s)) % 3)
    c1 = cc.Catalog(s.ra, s.dec, s.g1_star, s.g2_star, w, npatch=12, patch_seed=5)
    c2 = cc.Catalog(s.ra, s.dec, s.g1_model, s.g2_model, w, patch=c1.patch)
    bins = cc.Bins(1.0, 45.0, 6)
    for cats in ((c1,), (c1, c2)):
        r = cc.shear_shear(*cats, bins=bins, var_method="jackknife")
        gg = treecorr.GGCorrelation(**_tc_kwargs(bins, var_method="jackknife"))
        gg.process(*[_tc_shear(c) for c in cats], metric="Arc", num_threads=1)
        assert _rel(gg.cov, r.cov) < TOL
        np.testing.assert_allclose(r.varxip, gg.varxip, rtol=TOL)
        assert _rel(gg.estimate_cov("sample"), r.estimate_cov("sample")) < TOL
        np.testing.assert_allclose(r.estimate_cov("shot"), gg.estimate_cov("shot"), rtol=1e-8)


# ------------------------------------------------------------------------------------------ patches
def test_kmeans_patches_are_seeded_and_shared_by_centers():
    cat = _shear_cat(300, 7)
    l1, c1 = kmeans_patches(cat.ra, cat.dec, 9, seed=3)
    l2, _ = kmeans_patches(cat.ra, cat.dec, 9, seed=3)
    np.testing.assert_array_equal(l1, l2)
    assert np.all(np.bincount(l1, minlength=9) > 0)
    # every object's label is its nearest centre (the k-means fixed point)
    np.testing.assert_array_equal(assign_patches(cat.ra, cat.dec, c1), l1)
    c = cc.Catalog(cat.ra, cat.dec, npatch=9, patch_seed=3)
    np.testing.assert_array_equal(c.patch, l1)
    same = cc.Catalog(cat.ra, cat.dec, patch_centers=c.patch_centers)
    np.testing.assert_array_equal(same.patch, l1)
    sub = c.subset(np.arange(0, 300, 2))
    np.testing.assert_array_equal(sub.patch, l1[::2])
    assert sub.npatch == 9
    assert cc.Catalog(cat.ra, cat.dec).npatch == 1 and cc.Catalog(cat.ra, cat.dec).patch is None


def test_kmeans_patches_are_treecorrs_and_seeded_through_a_generator():
    """Catalog(npatch=) patches are TreeCorr's own k-means (run_kmeans with rng = the Generator
    of patch_seed): same labels and centres; objective as treecorr.Catalog(npatch=)'s."""
    s = synthetic_shear_catalog(3000, seed=11)
    cat = cc.Catalog(s.ra, s.dec, s.g1, s.g2, npatch=20, patch_seed=np.random.SeedSequence(4))
    field = treecorr.Catalog(ra=s.ra, dec=s.dec, ra_units="deg", dec_units="deg").getNField(
        max_top=4, coords="spherical")
    labels, centers = field.run_kmeans(20, rng=np.random.default_rng(np.random.SeedSequence(4)))
    np.testing.assert_array_equal(cat.patch, labels)
    xyz = np.stack([np.cos(np.radians(cat.patch_centers[:, 1])) * np.cos(np.radians(cat.patch_centers[:, 0])),
                    np.cos(np.radians(cat.patch_centers[:, 1])) * np.sin(np.radians(cat.patch_centers[:, 0])),
                    np.sin(np.radians(cat.patch_centers[:, 1]))], axis=1)
    np.testing.assert_allclose(xyz, centers / np.linalg.norm(centers, axis=1)[:, None], atol=1e-12)
    # the inertia TreeCorr minimises, against treecorr.Catalog(npatch=) (its own seed): within a few %
    tc = treecorr.Catalog(ra=s.ra, dec=s.dec, ra_units="deg", dec_units="deg", npatch=20)
    pos = np.stack([tc.x, tc.y, tc.z], axis=1)
    ours = np.sum((pos - xyz[cat.patch]) ** 2)
    theirs = np.sum((pos - tc.patch_centers[tc.patch]) ** 2)
    assert abs(ours / theirs - 1) < 0.05
    # another seed: other patches; a random catalog with patch_centers= gets the same labels
    assert not np.array_equal(cc.Catalog(s.ra, s.dec, npatch=20, patch_seed=5).patch, cat.patch)
    np.testing.assert_array_equal(cc.Catalog(s.ra, s.dec, patch_centers=cat.patch_centers).patch, cat.patch)
    # many coincident objects: TreeCorr leaves patches empty; each gets an object and a finite centre
    ra, dec = np.r_[np.full(50, 10.0), 10.5, 11.0], np.zeros(52)
    labels, centers = kmeans_patches(ra, dec, 5, seed=2)
    assert np.all(np.bincount(labels, minlength=5) > 0) and np.all(np.isfinite(centers))


def test_bad_patch_input_names_the_argument():
    cat = _shear_cat(50, 8)
    with pytest.raises(ValueError, match="patch"):
        cc.Catalog(cat.ra, cat.dec, patch=np.zeros(49, int))
    labels = np.arange(50) % 4
    labels[labels == 2] = 3          # patch 2 empty
    with pytest.raises(ValueError, match="patch: patch 2"):
        cc.Catalog(cat.ra, cat.dec, patch=labels)
    with pytest.raises(ValueError, match="npatch"):
        cc.Catalog(cat.ra, cat.dec, npatch=51)
    with pytest.raises(ValueError, match="patch"):
        cc.Catalog(cat.ra, cat.dec, patch=-np.ones(50, int))
    with pytest.raises(TypeError, match="patch"):
        cc.Catalog(cat.ra, cat.dec, patch=np.full(50, "a"))
    c = cc.Catalog(cat.ra, cat.dec, cat.g1, cat.g2, npatch=3, patch_seed=0)
    with pytest.raises(ValueError, match="var_method"):
        cc.shear_shear(c, bins=BINS, var_method="bootstrapp")
    with pytest.raises(ValueError, match="var_method"):
        cc.landy_szalay(c, c, bins=BINS, var_method="jack")
    stars = synthetic_star_catalog(40, seed=1)
    with pytest.raises(ValueError, match="var_method"):
        cc.rho_statistics(stars, bins=BINS, var_method="delete-one")
    with pytest.raises(ValueError, match="cross_patch_weight"):
        cc.shear_shear(c, bins=BINS, var_method="sample", cross_patch_weight="match")
    with pytest.raises(ValueError, match="cat1 has no patches"):
        cc.shear_shear(cat, bins=BINS, var_method="jackknife")
    with pytest.raises(ValueError, match="cat2"):
        cc.shear_shear(c, cc.Catalog(cat.ra, cat.dec, cat.g1, cat.g2, npatch=4), bins=BINS, var_method="jackknife")
    with pytest.raises(ValueError, match="method"):
        cc.estimate_multi_cov([cc.shear_shear(c, bins=BINS)], "jackknifed")
    with pytest.raises(ValueError, match="var_method"):
        cc.shear_shear(c, bins=BINS, n_clusters=5, var_method="jackknife")


# ------------------------------------------------------------------------------- convergence warning
def test_convergence_warning_is_emitted_logged_and_recorded(caplog):
    cat = _shear_cat(200, 9)
    with caplog.at_level(logging.WARNING, logger="cosmocorr"):
        with pytest.warns(cc.ConvergenceWarning, match="max_iter=2"):
            fit = cc.fuzzy_c_means(cat.ra, cat.dec, 10, max_iter=2, seed=1)
    assert not fit.converged and fit.n_iter == 2
    assert any("ConvergenceWarning" in r.getMessage() for r in caplog.records if r.name == "cosmocorr")
    with pytest.warns(cc.ConvergenceWarning):
        r = cc.shear_shear(cat, bins=BINS, n_clusters=10, n_samples=2, max_iter=2, seed=1)
    assert r.converged is False and r.clustering.n_iter == 2
    # a converged fit does not warn, and records it
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error", cc.ConvergenceWarning)
        ok = cc.shear_shear(cat, bins=BINS, n_clusters=10, n_samples=2, max_iter=500, tol=1e-4, seed=1)
    assert ok.converged is True


def test_clustering_options_pass_through():
    cat = _shear_cat(200, 10)
    init = np.column_stack([cat.ra[:8], cat.dec[:8]])
    r = cc.shear_shear(cat, bins=BINS, n_clusters=8, n_samples=2, init=init, fuzziness=1.7, tol=1e-3, seed=0)
    ref = cc.fuzzy_c_means(cat.ra, cat.dec, 8, fuzziness=1.7, tol=1e-3, init=init, weights=cat.w)
    np.testing.assert_allclose(r.clustering.centers, ref.centers)
    assert r.clustering.n_iter == ref.n_iter and r.clustering.fuzziness == 1.7
    # the clustered result carries shot-noise error bars and meanlogr too
    assert r.varxip.shape == (BINS.nbins,) and np.all(r.varxip[np.isfinite(r.xip)] > 0)
    assert np.all(np.isfinite(r.meanlogr[np.isfinite(r.xip)]))


def test_patch_pairs_kept_and_all_methods_match_treecorr_when_many_patch_pairs_are_empty():
    """Small max_sep: many patch pairs hold no pair. The patch pairs kept (``ok``) are exactly the
    keys of TreeCorr's ``results`` (which decide the marked bootstrap's "mean" weights), auto and
    cross, and every method/cross_patch_weight still agrees."""
    c1 = _shear_cat(300, 12, npatch=12)
    c2 = _shear_cat(250, 13, centers=c1.patch_centers)
    bins = cc.Bins(1.0, 10.0, 4, spacing="log")
    for cats in ((c1,), (c1, c2)):
        r = cc.shear_shear(*cats, bins=bins)
        gg = treecorr.GGCorrelation(**_tc_kwargs(bins))
        gg.process(*[_tc_shear(c) for c in cats], metric="Arc", num_threads=1)
        assert np.count_nonzero(~r.patch_sums.ok) > 0
        assert sorted(gg.results) == sorted(zip(*np.nonzero(r.patch_sums.ok)))
        for method, cpws in (("jackknife", ("simple", "mean", "match")), ("sample", ("simple", "mean")),
                             ("bootstrap", ("simple", "mean", "geom")), ("marked_bootstrap", ("simple", "mean"))):
            for cpw in cpws:
                gg._rng = np.random.default_rng(7)
                C = gg.estimate_cov(method, cross_patch_weight=cpw, num_bootstrap=30)
                D = r.estimate_cov(method, cross_patch_weight=cpw, num_bootstrap=30, seed=7)
                assert _rel(C, D) < TOL, (method, cpw)
