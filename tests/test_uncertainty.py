"""Epistemic vs aleatoric uncertainty (paper sec. 2.3)."""
import matplotlib

matplotlib.use("Agg")
import numpy as np
import pytest

import cosmocorr as cc
from cosmocorr.sky.synthetic import synthetic_shear_catalog, synthetic_star_catalog


def test_rho_uncertainty_on_cosmos_web(cosmos_fits, tmp_path):
    s = cc.StarCatalog.from_fits(cosmos_fits)
    b = cc.Bins(0.0, 45.0, 8)
    u = cc.clustering_uncertainty(s, b, 50, n_samples=10, n_bootstrap=10, seed=1)
    naive = cc.rho_statistics(s, b)
    for k in u.names:
        np.testing.assert_allclose(u.naive[k], naive[k].xip)
        assert u.samples[k].shape == (10, 8) and u.bootstrap_samples[k].shape == (10, 8)
        np.testing.assert_allclose(u.sigma_epistemic[k], np.std(u.samples[k], axis=0, ddof=1))
        np.testing.assert_allclose(u.mean[k], u.samples[k].mean(axis=0))
        assert np.all(u.sigma_epistemic[k] > 0) and np.all(u.sigma_aleatoric[k] > 0)
    # the paper's finding: clustering noise is comparable to data noise (same order of magnitude)
    ratios = np.concatenate([u.ratio(k) for k in u.names])
    assert 0.05 < np.median(ratios) < 5
    u.plot("rho1").savefig(tmp_path / "rho1.png")
    assert "sig_epist" in u.table("rho2")


def test_greedy_bootstrap_is_the_only_randomness():
    cat = synthetic_shear_catalog(200, seed=2)
    b = cc.Bins(0.0, 60.0, 4)
    u1 = cc.clustering_uncertainty(cat, b, 20, n_samples=3, n_bootstrap=4, seed=5)
    u2 = cc.clustering_uncertainty(cat, b, 20, n_samples=3, n_bootstrap=4, seed=5)
    np.testing.assert_array_equal(u1.bootstrap_samples["xip"], u2.bootstrap_samples["xip"])
    # a "resample" that keeps every object once reproduces the greedy estimate exactly
    from cosmocorr.uncertainty import clustered_shear_shear
    g = clustered_shear_shear(cat, None, b, 20, assignment="greedy", clustering=u1.clustering)
    sub = cc.clustering_uncertainty(cat, b, 20, n_samples=2, n_bootstrap=2, method="subset", subset_fraction=1e-9,
                                    clustering=u1.clustering, seed=1)
    np.testing.assert_allclose(sub.bootstrap_samples["xip"][0], g.xip, rtol=1e-12)


def test_subset_method_and_validation():
    s = synthetic_star_catalog(120, seed=1)
    b = cc.Bins(0.0, 45.0, 4)
    u = cc.clustering_uncertainty(s, b, 15, n_samples=2, n_bootstrap=3, method="subset", seed=0)
    assert u.method == "subset" and u.bootstrap_samples["rho3"].shape == (3, 4)
    with pytest.raises(ValueError, match="method"):
        cc.clustering_uncertainty(s, b, 15, method="jackknife")
    with pytest.raises(ValueError, match="n_bootstrap"):
        cc.clustering_uncertainty(s, b, 15, n_bootstrap=1)
    with pytest.raises(TypeError, match="data"):
        cc.clustering_uncertainty(np.ones(3), b, 2)
