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


def test_greedy_bootstrap_is_the_only_randomness(monkeypatch):
    cat = synthetic_shear_catalog(200, seed=2)
    b = cc.Bins(0.0, 60.0, 4)
    u1 = cc.clustering_uncertainty(cat, b, 20, n_samples=3, n_bootstrap=4, seed=5)
    u2 = cc.clustering_uncertainty(cat, b, 20, n_samples=3, n_bootstrap=4, seed=5)
    np.testing.assert_array_equal(u1.bootstrap_samples["xip"], u2.bootstrap_samples["xip"])
    # a "resample" that keeps every object once reproduces the greedy estimate exactly
    from cosmocorr.uncertainty import clustered_shear_shear
    g = clustered_shear_shear(cat, None, b, 20, assignment="greedy", clustering=u1.clustering)
    import importlib
    cu = importlib.import_module("cosmocorr.uncertainty.clustering_uncertainty")
    monkeypatch.setattr(cu, "resample_indices", lambda n, method, fraction, rng: np.arange(n))
    same = cc.clustering_uncertainty(cat, b, 20, n_samples=2, n_bootstrap=2, aleatoric="bootstrap",
                                     clustering=u1.clustering, seed=1)
    np.testing.assert_allclose(same.bootstrap_samples["xip"][0], g.xip, rtol=1e-12)


def test_subset_reclusters_and_delete_d_jackknife_scaling(monkeypatch):
    """The paper's subset removal re-clusters every draw; the delete-d jackknife is the same draws
    with sigma^2 = (n - d)/(d m) sum (theta_i - mean)^2 (Shao & Wu 1989)."""
    s = synthetic_star_catalog(120, seed=1)
    b = cc.Bins(0.0, 45.0, 4)
    n, d, m = len(s), 20, 4
    import importlib
    cu = importlib.import_module("cosmocorr.uncertainty.clustering_uncertainty")
    fitted = []
    real_fit = cu.fit_catalog
    monkeypatch.setattr(cu, "fit_catalog", lambda cat, *a, **k: fitted.append(cat.nobj) or real_fit(cat, *a, **k))
    sub = cc.clustering_uncertainty(s, b, 15, n_samples=2, n_bootstrap=m, aleatoric="subset", n_remove=d, seed=3)
    assert fitted == [n] + [n - d] * m          # one fit for the epistemic draws, one per subset
    jk = cc.clustering_uncertainty(s, b, 15, n_samples=2, n_bootstrap=m, aleatoric="delete_d_jackknife",
                                   n_remove=d, seed=3)
    assert sub.method == "subset" and jk.method == "delete_d_jackknife" and jk.n_remove == d
    for k in sub.names:
        th = jk.bootstrap_samples[k]
        np.testing.assert_array_equal(th, sub.bootstrap_samples[k])
        np.testing.assert_allclose(sub.sigma_aleatoric[k], np.std(th, axis=0, ddof=1), rtol=1e-12)
        expect = np.sqrt((n - d) / (d * m) * np.sum((th - th.mean(axis=0)) ** 2, axis=0))
        np.testing.assert_allclose(jk.sigma_aleatoric[k], expect, rtol=1e-12)
        np.testing.assert_array_equal(jk.sigma_epistemic[k], sub.sigma_epistemic[k])


def test_patch_jackknife_is_the_exact_estimators_jackknife():
    s0 = synthetic_star_catalog(150, seed=2)
    s = cc.StarCatalog(s0.ra, s0.dec, s0.g1_star, s0.g2_star, s0.T_star, s0.g1_model, s0.g2_model, s0.T_model,
                       npatch=6, patch_seed=1)
    b = cc.Bins(1.0, 45.0, 4)
    u = cc.clustering_uncertainty(s, b, 15, n_samples=2, aleatoric="patch_jackknife", seed=0)
    ref = cc.rho_statistics(s, bins=b, var_method="jackknife")
    assert u.npatch == 6 and u.bootstrap_samples["rho1"].shape == (6, 4)
    for k in u.names:
        np.testing.assert_allclose(u.sigma_aleatoric[k], np.sqrt(ref[k].varxip), rtol=1e-12)
        rows = u.bootstrap_samples[k]   # leave-one-patch-out estimates: (1 - 1/K) sum of squares
        np.testing.assert_allclose(u.sigma_aleatoric[k] ** 2, (1 - 1 / 6) * np.sum((rows - rows.mean(0)) ** 2, 0),
                                   rtol=1e-10)
    # without patches on the data, seeded k-means patches are made
    u2 = cc.clustering_uncertainty(s0, b, 15, n_samples=2, aleatoric="patch_jackknife", npatch=5, seed=0)
    assert u2.npatch == 5 and np.all(u2.sigma_aleatoric["rho2"] > 0)


def test_unconverged_fits_warn_and_are_recorded():
    s = synthetic_star_catalog(100, seed=3)
    b = cc.Bins(0.0, 45.0, 3)
    with pytest.warns(cc.ConvergenceWarning):
        u = cc.clustering_uncertainty(s, b, 12, n_samples=2, n_bootstrap=2, aleatoric="subset", n_remove=10,
                                      max_iter=2, seed=0)
    assert u.converged is False and u.n_unconverged == 3
    with pytest.warns(cc.ConvergenceWarning):
        r = cc.rho_statistics(s, bins=b, n_clusters=12, n_samples=2, max_iter=2, seed=0)
    assert r["rho1"].converged is False and r.extra["converged"] is False


def test_subset_method_and_validation():
    s = synthetic_star_catalog(120, seed=1)
    b = cc.Bins(0.0, 45.0, 4)
    u = cc.clustering_uncertainty(s, b, 15, n_samples=2, n_bootstrap=3, method="subset", seed=0)
    assert u.method == "subset" and u.bootstrap_samples["rho3"].shape == (3, 4)
    with pytest.raises(ValueError, match="method"):
        cc.clustering_uncertainty(s, b, 15, method="jackknife")
    with pytest.raises(ValueError, match="aleatoric"):
        cc.clustering_uncertainty(s, b, 15, aleatoric="jackknife")
    with pytest.raises(ValueError, match="n_remove"):
        cc.clustering_uncertainty(s, b, 15, aleatoric="subset", n_remove=119)
    with pytest.raises(ValueError, match="aleatoric"):
        cc.clustering_uncertainty(s, b, 15, method="subset", aleatoric="bootstrap")
    with pytest.raises(ValueError, match="n_bootstrap"):
        cc.clustering_uncertainty(s, b, 15, n_bootstrap=1)
    with pytest.raises(TypeError, match="data"):
        cc.clustering_uncertainty(np.ones(3), b, 2)
