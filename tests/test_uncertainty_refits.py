"""Re-clustered resamples of the uncertainty study (issue 27): warm starts, the count of
unconverged re-fits, cluster-object weights and the authors' contiguous-block resampling."""
import importlib

import numpy as np
import pytest
import treecorr

import cosmocorr as cc
from cosmocorr.clustering import cluster_objects, greedy_assignments
from cosmocorr.sky.synthetic import synthetic_shear_catalog, synthetic_star_catalog
from cosmocorr.uncertainty.resampling import block_indices

cu = importlib.import_module("cosmocorr.uncertainty.clustering_uncertainty")
BINS = cc.Bins(5.0, 65.0, 4)


def blobs(n_per=30, seed=0):
    """Four tight, well separated groups of shear objects (an unambiguous fuzzy c-means case)."""
    rng = np.random.default_rng(seed)
    centres = np.array([[10.0, 0.0], [10.5, 0.1], [10.1, 0.6], [10.6, 0.7]])
    pos = np.concatenate([c + rng.normal(0, 0.02, (n_per, 2)) for c in centres])
    g = rng.normal(0, 0.1, (pos.shape[0], 2))
    return cc.Catalog(pos[:, 0], pos[:, 1], g[:, 0], g[:, 1], w=rng.uniform(0.5, 2.0, pos.shape[0]))


def record_fits(monkeypatch):
    """Every fuzzy c-means fit of the study, with the catalog it was fitted to."""
    fits, real = [], cu.fit_catalog
    monkeypatch.setattr(cu, "fit_catalog", lambda cat, *a, **k: fits.append((cat, real(cat, *a, **k))) or fits[-1][1])
    return fits


def treecorr_xip(cat, fit, cluster_weights):
    """xi+ of the greedy cluster objects of a shear catalog by TreeCorr (:func:`treecorr_cluster_xip`).
    TreeCorr keeps cell weights in single precision, hence rtol 1e-6 where it is compared."""
    return treecorr_cluster_xip(cat.ra, cat.dec, cat.w, cat.g, fit, cluster_weights)


def matched(c1, c2):
    """Largest distance (deg) between each centre of c1 and the nearest of c2."""
    return np.max(np.min(np.hypot(c1[:, None, 0] - c2[None, :, 0], c1[:, None, 1] - c2[None, :, 1]), axis=1))


def test_warm_and_cold_refits_reach_the_same_fixed_point(monkeypatch):
    cat = blobs()
    kw = dict(n_samples=2, n_bootstrap=3, aleatoric="subset", n_remove=12, seed=4, num_threads=1)
    fits = record_fits(monkeypatch)
    warm = cc.clustering_uncertainty(cat, BINS, 4, **kw)
    warm_fits = fits[1:]
    fits.clear()
    cold = cc.clustering_uncertainty(cat, BINS, 4, warm_start=False, **kw)
    cold_fits = fits[1:]
    assert warm.warm_start and not cold.warm_start and len(warm_fits) == len(cold_fits) == 3
    full = fits[0][1]
    for (cw, fw), (cc_, fc) in zip(warm_fits, cold_fits):
        np.testing.assert_array_equal(cw.ra, cc_.ra)             # the same objects kept
        assert fw.converged and fc.converged
        assert matched(fw.centers, fc.centers) < 1e-4 and matched(fc.centers, fw.centers) < 1e-4
        # the warm start keeps cluster k of the re-fit beside cluster k of the full fit
        assert np.max(np.hypot(*(fw.centers - full.centers).T)) < 0.05
    np.testing.assert_allclose(warm.bootstrap_samples["xip"], cold.bootstrap_samples["xip"], rtol=1e-9, atol=1e-14)
    # and needs no more iterations than the k-means++ start
    assert np.all(warm.refit_n_iter <= cold.refit_n_iter)


def test_unconverged_refits_are_counted_from_the_fits_own_flags(monkeypatch):
    cat = synthetic_shear_catalog(150, seed=3)
    fits = record_fits(monkeypatch)
    with pytest.warns(cc.ConvergenceWarning):
        u = cc.clustering_uncertainty(cat, BINS, 12, n_samples=2, n_bootstrap=8, aleatoric="subset", n_remove=15,
                                      max_iter=120, seed=2, num_threads=1)
    flags = np.array([f.converged for _, f in fits[1:]])
    np.testing.assert_array_equal(u.refit_converged, flags)
    np.testing.assert_array_equal(u.refit_n_iter, [f.n_iter for _, f in fits[1:]])
    assert u.n_unconverged == int(not fits[0][1].converged) + int(np.sum(~flags))
    assert 0 < np.sum(~flags) < flags.size          # a mix of converged and stopped re-fits
    assert np.all(u.refit_n_iter[~flags] == 120) and np.all(u.refit_n_iter[flags] < 120)
    boot = cc.clustering_uncertainty(cat, BINS, 12, n_samples=2, n_bootstrap=3, seed=2)
    assert boot.refit_converged.size == 0 and boot.n_unconverged == 0     # nothing re-fitted


@pytest.mark.parametrize("weights", ["members", "equal"])
def test_cluster_weights_against_treecorr_on_the_cluster_objects(monkeypatch, weights):
    """A resample that keeps every object once is the greedy estimate of the full fit: equal to
    TreeCorr on the cluster objects weighted by their members' weights or by 1."""
    cat = synthetic_shear_catalog(200, seed=2)
    monkeypatch.setattr(cu, "resample_indices", lambda n, method, fraction, rng: np.arange(n))
    u = cc.clustering_uncertainty(cat, BINS, 20, n_samples=2, n_bootstrap=2, seed=1, cluster_weights=weights)
    assert u.cluster_weights == weights
    np.testing.assert_allclose(u.bootstrap_samples["xip"][0], treecorr_xip(cat, u.clustering, weights),
                               rtol=1e-6, atol=1e-14)
    cl, _ = cluster_objects(u.clustering.centers, greedy_assignments(u.clustering.membership), cat.w,
                            cluster_weights=weights)
    if weights == "equal":
        np.testing.assert_array_equal(cl.w, 1.0)
    with pytest.raises(ValueError, match="cluster_weights"):
        cc.clustering_uncertainty(cat, BINS, 20, cluster_weights="unit")
    with pytest.raises(TypeError, match="warm_start"):
        cc.clustering_uncertainty(cat, BINS, 20, aleatoric="subset", warm_start="yes")


def test_block_indices_drop_or_duplicate_one_contiguous_block():
    n, dropped, duplicated = 40, 0, 0
    for seed in range(200):
        idx = block_indices(n, np.random.default_rng(seed))
        counts = np.bincount(idx, minlength=n)
        gone, twice = np.flatnonzero(counts == 0), np.flatnonzero(counts == 2)
        assert counts.max() <= 2 and not (gone.size and twice.size)
        block = gone if gone.size else twice
        if gone.size:                       # a < b: rows a..b out, at least two, the rest in order
            dropped += 1
            assert gone.size >= 2 and np.array_equal(idx, np.setdiff1d(np.arange(n), gone))
        elif twice.size:                    # a > b: rows b+1..a-1 twice, as rows[:a] + rows[b+1:]
            duplicated += 1
            split = twice[-1] + 1
            np.testing.assert_array_equal(idx, np.concatenate([np.arange(split), np.arange(twice[0], n)]))
        if block.size:
            np.testing.assert_array_equal(block, np.arange(block[0], block[-1] + 1))   # contiguous
    assert 70 < dropped < 130 and 50 < duplicated < 130   # a < b half the time; a = b + 1 duplicates none
    idx = block_indices(10, np.random.default_rng(0), min_distinct=9)
    assert np.unique(idx).size >= 9
    with pytest.raises(ValueError, match="block_indices"):
        block_indices(5, np.random.default_rng(0), min_distinct=6)


def test_subset_block_estimate_is_the_greedy_estimate_of_the_rows_kept(monkeypatch):
    cat = synthetic_shear_catalog(160, seed=5)
    drawn, real = [], cu.block_indices
    monkeypatch.setattr(cu, "block_indices", lambda *a, **k: drawn.append(real(*a, **k)) or drawn[-1])
    fits = record_fits(monkeypatch)
    u = cc.clustering_uncertainty(cat, BINS, 15, n_samples=2, n_bootstrap=4, aleatoric="subset_block", seed=7,
                                  num_threads=1)
    assert u.method == "subset_block" and u.aleatoric_scale == 1.0 and len(drawn) == 4 == len(fits) - 1
    for i, (idx, (sub, fit)) in enumerate(zip(drawn, fits[1:])):
        np.testing.assert_array_equal(sub.ra, cat.ra[idx])          # the re-fit saw exactly those rows
        np.testing.assert_allclose(u.bootstrap_samples["xip"][i], treecorr_xip(cat.subset(idx), fit, "members"),
                                   rtol=1e-6, atol=1e-14)
    np.testing.assert_allclose(u.sigma_aleatoric["xip"], np.std(u.bootstrap_samples["xip"], axis=0, ddof=1))


def treecorr_cluster_xip(ra, dec, w, field, fit, cluster_weights):
    """xi+ of the greedy cluster objects of ``field`` (complex, averaged with weights w within
    clusters) by TreeCorr brute force, the cluster objects weighted by their members' weights or 1."""
    a = greedy_assignments(fit.membership)
    c = fit.n_clusters
    sw = np.bincount(a, weights=w, minlength=c)
    keep = sw > 0
    g = [np.bincount(a, weights=w * q, minlength=c)[keep] / sw[keep] for q in (field.real, field.imag)]
    cw = sw[keep] if cluster_weights == "members" else np.ones(keep.sum())
    gg = treecorr.GGCorrelation(min_sep=BINS.min_sep, max_sep=BINS.max_sep, nbins=BINS.nbins, bin_type="Linear",
                                sep_units="arcmin", brute=True, metric="Arc")
    gg.process(treecorr.Catalog(ra=fit.centers[keep, 0], dec=fit.centers[keep, 1], g1=g[0], g2=g[1], w=cw,
                                ra_units="deg", dec_units="deg"))
    return gg.xip


@pytest.mark.parametrize("weights", ["members", "equal"])
def test_algorithm1_estimators_take_cluster_weights(weights):
    """shear_shear and rho_statistics with n_clusters pass cluster_weights to the cluster objects:
    their greedy estimate equals TreeCorr on the cluster objects weighted that way."""
    cat = synthetic_shear_catalog(200, seed=2)
    r = cc.shear_shear(cat, bins=BINS, n_clusters=20, assignment="greedy", seed=1, cluster_weights=weights)
    assert r.cluster_weights == weights
    np.testing.assert_allclose(r.xip, treecorr_cluster_xip(cat.ra, cat.dec, cat.w, cat.g, r.clustering, weights),
                               rtol=1e-6, atol=1e-14)
    stars = synthetic_star_catalog(200, seed=3)
    rho = cc.rho_statistics(stars, BINS, n_clusters=20, assignment="greedy", seed=1, cluster_weights=weights)
    assert rho.extra["cluster_weights"] == weights == rho["rho1"].cluster_weights
    fit = rho.extra["clustering"]
    ref = treecorr_cluster_xip(stars.catalog.ra, stars.catalog.dec, stars.catalog.w, stars.fields()["de"], fit,
                               weights)
    np.testing.assert_allclose(rho["rho1"].xip, ref, rtol=1e-6, atol=1e-14)
    with pytest.raises(ValueError, match="cluster_weights"):
        cc.rho_statistics(stars, BINS, n_clusters=20, cluster_weights="unit")
