"""Results of chunks add (issue 23; TreeCorr's ``+=``): a catalog processed patch by patch.

References: the one-shot result of the same estimator (to 1e-12) and TreeCorr's brute-force
correlations of the whole (GGCorrelation; NNCorrelation ``+=`` then ``calculateXi``).
"""
from functools import reduce

import numpy as np
import pytest
import treecorr

import cosmocorr as cc
from cosmocorr.estimators.pair_sums import field_variance
from cosmocorr.sky.synthetic import synthetic_shear_catalog, synthetic_star_catalog, uniform_randoms

BINS = cc.Bins(0.5, 40.0, 8, "log")


def chunks(cat, npatch, seed=1):
    """The catalog cut into k-means patches, each a Catalog without patches (a chunk)."""
    labels = cc.Catalog(cat.ra, cat.dec, npatch=npatch, patch_seed=seed).patch
    return [cc.Catalog(cat.ra[labels == p], cat.dec[labels == p], cat.g1[labels == p], cat.g2[labels == p],
                       cat.w[labels == p]) for p in range(npatch)]


def close(a, b, names):
    for k in names:
        np.testing.assert_allclose(getattr(a, k), getattr(b, k), rtol=1e-12, atol=1e-15, err_msg=k)


def test_shear_chunks_add_to_the_one_shot_result_and_treecorr():
    cat = synthetic_shear_catalog(1500, seed=4, weighted=True)
    parts = chunks(cat, 4)
    v = field_variance(cat.g, cat.w)
    pieces = [cc.shear_shear(parts[p], parts[q] if q != p else None, BINS) for p in range(4) for q in range(p, 4)]
    total = reduce(lambda a, b: a.add(b, varg1=v, varg2=v), pieces)
    one = cc.shear_shear(cat, bins=BINS)
    close(total, one, ("npairs", "weight", "meanr", "meanlogr", "xip", "xim", "xim_im", "varxip", "varxim"))
    # (xip_im: the cross chunks' ordered pairs carry Im(g_i g_j*); over the unordered pairs of one
    # field it is undefined and the one-shot auto-correlation reports 0, so it is not compared)
    assert total.varg1 == pytest.approx(one.varg1, rel=1e-14)
    gg = treecorr.GGCorrelation(min_sep=0.5, max_sep=40.0, nbins=8, sep_units="arcmin", brute=True, metric="Arc")
    gg.process(treecorr.Catalog(ra=cat.ra, dec=cat.dec, g1=cat.g1, g2=cat.g2, w=cat.w, ra_units="deg",
                                dec_units="deg"))
    np.testing.assert_array_equal(total.npairs, gg.npairs)
    np.testing.assert_allclose(total.meanr, gg.meanr, rtol=1e-8)
    np.testing.assert_allclose(total.xip, gg.xip, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(total.xim, gg.xim, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(total.varxip, gg.varxip, rtol=1e-6)


def test_plus_and_sum_on_one_field_keep_its_variance():
    """Two halves of the bins' pairs of one field (a result and a zero result on the same
    catalog): ``a + b`` needs no variances when the fields agree; ``sum`` works."""
    cat = synthetic_shear_catalog(600, seed=5)
    a = cc.shear_shear(cat, bins=BINS)
    far = cc.Catalog(cat.ra + 30.0, cat.dec, cat.g1, cat.g2)      # the same field 30 deg away: no pair in range
    b = cc.shear_shear(cat, far, BINS)
    assert np.all(b.npairs == 0)
    s = sum([a, b])
    close(s, a, ("npairs", "weight", "meanr", "xip", "xim", "varxip"))
    close(a + b, a, ("xip", "varxim"))


def test_rho_results_of_separate_fields_add():
    """Stars in two fields farther apart than the largest bin: rho of the union equals the sum of
    the two fields' results (with the union's field variances)."""
    s1 = synthetic_star_catalog(400, seed=1)
    s2 = synthetic_star_catalog(300, seed=2, ra0=170.0)
    both = cc.StarCatalog(*(np.concatenate([getattr(s1, k), getattr(s2, k)]) for k in
                            ("ra", "dec", "g1_star", "g2_star", "T_star", "g1_model", "g2_model", "T_model")))
    fv = {k: field_variance(f, both.w) for k, f in both.fields().items()}
    total = cc.rho_statistics(s1, BINS).add(cc.rho_statistics(s2, BINS), field_variances=fv)
    one = cc.rho_statistics(both, BINS)
    for name in one:
        close(total[name], one[name], ("npairs", "weight", "meanr", "meanlogr", "xip", "xim", "varxip"))
    np.testing.assert_allclose(np.diag(total.cov), np.diag(one.cov), rtol=1e-12)
    with pytest.raises(ValueError, match="varg1"):
        cc.rho_statistics(s1, BINS) + cc.rho_statistics(s2, BINS)


def test_landy_szalay_adds_as_treecorr_iadd():
    rng = np.random.default_rng(3)
    regions = []
    for ra0 in (150.0, 160.0):
        pts = np.column_stack([rng.uniform(ra0, ra0 + 0.8, 500), rng.uniform(2.0, 2.8, 500)])
        regions.append((cc.Catalog(pts[:, 0], pts[:, 1], w=rng.uniform(0.5, 2, 500)),
                        uniform_randoms(1500, (ra0, ra0 + 0.8), (2.0, 2.8), seed=int(ra0))))
    total = sum(cc.landy_szalay(d, r, BINS) for d, r in regions)

    # TreeCorr: each correlation accumulated over the regions (process_auto / process_cross without
    # finalize, which adds pair sums and tot), then finalized
    def tc(c):
        return treecorr.Catalog(ra=c.ra, dec=c.dec, w=c.w, ra_units="deg", dec_units="deg")

    dd, dr, rr = (treecorr.NNCorrelation(min_sep=0.5, max_sep=40.0, nbins=8, sep_units="arcmin", brute=True,
                                         metric="Arc") for _ in range(3))
    for d, r in regions:
        dd.process_auto(tc(d))
        dr.process_cross(tc(d), tc(r))
        rr.process_auto(tc(r))
    for x in (dd, dr, rr):
        x.finalize()
    xi, varxi = dd.calculateXi(rr=rr, dr=dr)
    np.testing.assert_array_equal(total.dd_npairs, dd.npairs)
    np.testing.assert_allclose(total.dd_tot, dd.tot, rtol=1e-12)
    np.testing.assert_allclose(total.meanr, dd.meanr, rtol=1e-8)
    np.testing.assert_allclose(total.xi, xi, rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(total.varxi, varxi, rtol=1e-6)


def test_refuses_incompatible_results():
    cat = synthetic_shear_catalog(300, seed=6)
    a = cc.shear_shear(cat, bins=BINS)
    with pytest.raises(ValueError, match="bins"):
        a + cc.shear_shear(cat, bins=cc.Bins(0.5, 40.0, 7, "log"))
    with pytest.raises(TypeError, match="ShearShearResult"):
        a.add(cc.landy_szalay(cat, uniform_randoms(300, (149.5, 150.5), (1.7, 2.7)), BINS))
    patched = cc.Catalog(cat.ra, cat.dec, cat.g1, cat.g2, npatch=3, patch_seed=1)
    with pytest.raises(ValueError, match="patches"):
        a + cc.shear_shear(patched, bins=BINS)
    half = cc.Catalog(cat.ra[:150], cat.dec[:150], cat.g1[:150], cat.g2[:150])
    with pytest.raises(ValueError, match="varg1"):
        a + cc.shear_shear(half, bins=BINS)
    with pytest.raises(ValueError, match="varg2"):
        a.add(cc.shear_shear(half, bins=BINS), varg1=0.04, varg2=-1.0)
    with pytest.raises(TypeError, match="RhoResult"):
        cc.rho_statistics(synthetic_star_catalog(100, seed=1), BINS).add(a)
