"""Algorithm 1 (the probabilistic estimator) against the naive estimator and known limits."""
import numpy as np
import pytest

import cosmocorr as cc
from cosmocorr.uncertainty import clustered_rho_statistics, clustered_shear_shear
from cosmocorr.sky.synthetic import synthetic_shear_catalog, synthetic_star_catalog, uniform_randoms


def test_one_cluster_per_object_equals_naive_shear():
    cat = synthetic_shear_catalog(250, seed=5, weighted=True)
    b = cc.Bins(0.0, 60.0, 6)
    naive = cc.shear_shear(cat, bins=b)
    for assignment in ("sample", "greedy"):
        r = cc.shear_shear(cat, bins=b, n_clusters=cat.nobj, assignment=assignment, n_samples=3, seed=1)
        np.testing.assert_allclose(r.membership, np.eye(cat.nobj)[np.argmax(r.membership, 1)], atol=1e-12)
        for k in ("xip", "xim", "meanr", "npairs", "weight"):
            np.testing.assert_allclose(getattr(r, k), getattr(naive, k), rtol=1e-12, atol=1e-18)
        if assignment == "sample":   # three identical draws: a spread of exactly 0
            np.testing.assert_allclose(r.xip_std, 0.0, atol=1e-18)
        else:                        # one deterministic draw has no spread: NaN, not 0 (issue 16)
            assert np.all(np.isnan(r.xip_std))


def test_one_cluster_per_object_equals_naive_rho_and_landy_szalay():
    s = synthetic_star_catalog(150, seed=2)
    b = cc.Bins(0.0, 45.0, 5)
    naive, r = cc.rho_statistics(s, b), cc.rho_statistics(s, b, n_clusters=150, n_samples=2, seed=0)
    for k in naive:
        np.testing.assert_allclose(r[k].xip, naive[k].xip, rtol=1e-12, atol=1e-20)
    data = cc.Catalog(s.ra, s.dec)
    rnd = uniform_randoms(200, (s.ra.min(), s.ra.max()), (s.dec.min(), s.dec.max()), seed=3)
    ls0 = cc.landy_szalay(data, rnd, b)
    ls1 = cc.landy_szalay(data, rnd, b, n_clusters=150, n_samples=2, seed=0, assignment="greedy")
    # randoms: 200 objects in 150 clusters, so compare only DD, exact with one object per cluster
    np.testing.assert_allclose(ls1.dd, ls0.dd, rtol=1e-12)
    ls2 = cc.landy_szalay(data, cc.Catalog(rnd.ra[:150], rnd.dec[:150]), b, n_clusters=150, n_samples=2, seed=0)
    ls3 = cc.landy_szalay(data, cc.Catalog(rnd.ra[:150], rnd.dec[:150]), b)
    np.testing.assert_allclose(ls2.xi, ls3.xi, rtol=1e-10)


def test_single_cluster_has_no_pairs():
    cat = synthetic_shear_catalog(40, seed=1)
    r = cc.shear_shear(cat, min_sep=0, max_sep=60, nbins=3, spacing="linear", n_clusters=1, n_samples=2, seed=0)
    assert np.all(r.npairs == 0) and np.all(np.isnan(r.xip))


def test_cluster_objects_average_quantities():
    from cosmocorr.clustering import cluster_objects
    centres = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]])
    a = np.array([0, 0, 2, 2, 2])
    w = np.array([1.0, 3.0, 1.0, 1.0, 2.0])
    g = np.array([1.0, 0.0, 1j, 1j, 0.0])
    cat, f = cluster_objects(centres, a, w, {"g": g})
    np.testing.assert_array_equal(cat.ra, [0.0, 2.0])           # the empty cluster is dropped
    np.testing.assert_array_equal(cat.w, [4.0, 4.0])
    np.testing.assert_allclose(f["g"], [0.25, 0.5j])


def test_seeds_reproduce_and_differ():
    cat = synthetic_shear_catalog(300, seed=3)
    b = cc.Bins(0.0, 60.0, 4)
    r1 = cc.shear_shear(cat, bins=b, n_clusters=30, seed=11, n_samples=4)
    r2 = cc.shear_shear(cat, bins=b, n_clusters=30, seed=11, n_samples=4)
    r3 = cc.shear_shear(cat, bins=b, n_clusters=30, seed=12, n_samples=4)
    np.testing.assert_array_equal(r1.xip_samples, r2.xip_samples)
    assert not np.array_equal(r1.xip_samples, r3.xip_samples)
    assert r1.xip_samples.shape == (4, 4)
    g1 = cc.shear_shear(cat, bins=b, n_clusters=30, seed=11, assignment="greedy")
    assert g1.xip_samples.shape == (1, 4)


def test_epistemic_sigma_shrinks_as_fuzziness_goes_to_one():
    s = synthetic_star_catalog(300, seed=4)
    cat = cc.Catalog(s.ra, s.dec, s.de.real, s.de.imag)
    b = cc.Bins(0.0, 45.0, 5)
    sig = [np.nanmean(clustered_shear_shear(cat, None, b, 40, n_samples=12, seed=2, fuzziness=m).xip_std)
           for m in (3.0, 2.0, 1.3, 1.05)]
    assert sig[-1] < 0.2 * sig[0]
    assert sig[-1] < sig[1]


def test_bad_arguments():
    cat = synthetic_shear_catalog(30, seed=1)
    with pytest.raises(ValueError, match="assignment"):
        cc.shear_shear(cat, min_sep=0, max_sep=10, nbins=2, spacing="linear", n_clusters=5, assignment="best")
    with pytest.raises(ValueError, match="too many clusters"):
        cc.shear_shear(cat, min_sep=0, max_sep=10, nbins=2, spacing="linear", n_clusters=31)
    with pytest.raises(ValueError, match="n_samples"):
        cc.shear_shear(cat, min_sep=0, max_sep=10, nbins=2, spacing="linear", n_clusters=5, n_samples=0)
