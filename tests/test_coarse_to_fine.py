"""Coarse-to-fine fuzzy c-means (issue 23): fits of seeded subsamples start the full fit.

References: the plain eqs. 17-18 written on whole arrays (one more step from the result changes U
by less than tol), the cold-start fit of the same data (J_m, centres), and the iteration counts the
result reports.
"""
import re

import numpy as np
import pytest

import cosmocorr as cc
from cosmocorr.clustering import memberships, update_centers
from cosmocorr.clustering.fuzzy_c_means import coarse_sizes
from cosmocorr.sky.geometry import angular_distances, unit_vectors


def uniform(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(30, 31, n), rng.uniform(-0.5, 0.5, n)


def blobs(n, groups, seed=0):
    """Well-separated blobs on a grid (0.4 deg apart, sigma 0.05 deg)."""
    rng = np.random.default_rng(seed)
    c = np.column_stack([20 + 0.4 * (np.arange(groups) % 5), 0.4 * (np.arange(groups) // 5)])
    k = rng.integers(groups, size=n)
    return c[k, 0] + rng.normal(0, 0.05, n), c[k, 1] + rng.normal(0, 0.05, n)


@pytest.mark.parametrize("neighbours", [None, 12])
def test_result_is_a_converged_fixed_point_of_the_full_catalog(neighbours):
    """The last stage is an ordinary fit of all N objects: U is eq. 18 at the returned centres
    and one further plain eq. 17-18 step (whole arrays) changes U by less than tol."""
    ra, dec = uniform(3000, seed=1)
    tol = 1e-4
    res = cc.fuzzy_c_means(ra, dec, 12, seed=4, tol=tol, max_iter=3000, accelerate=True, neighbours=neighbours,
                           coarse_to_fine=[400, 1200])
    assert res.converged
    assert [s[0] for s in res.stages] == [400, 1200, 3000] and all(s[2] for s in res.stages)
    assert res.n_iter == res.stages[-1][1] and res.total_iterations == sum(s[1] for s in res.stages)
    xyz = unit_vectors(ra, dec)
    U = res.membership if neighbours is None else res.membership.toarray()
    assert U.shape == (3000, 12)
    np.testing.assert_allclose(U, memberships(angular_distances(xyz, res.centers_xyz), 2.0), atol=1e-12)
    nxt = memberships(angular_distances(xyz, update_centers(xyz, U, 2.0)), 2.0)
    assert np.abs(nxt - U).max() < tol


def test_objective_matches_the_cold_start():
    """On clustered data, from the same initial centres (``init`` starts the smallest
    subsample), both reach the same minimum (J_m to 1e-8, centres to 1e-6 deg); on a uniform
    field (many local minima of about equal depth) J_m agrees within 0.5%."""
    ra, dec = blobs(4000, 10, seed=2)
    init = cc.kmeans_plus_plus(ra, dec, 10, seed=3)
    cold = cc.fuzzy_c_means(ra, dec, 10, init=init, tol=1e-8, max_iter=3000, accelerate=True)
    fine = cc.fuzzy_c_means(ra, dec, 10, init=init, seed=3, tol=1e-8, max_iter=3000, accelerate=True,
                            coarse_to_fine=[500])
    assert cold.converged and fine.converged
    assert fine.objective[-1] == pytest.approx(cold.objective[-1], rel=1e-8)
    np.testing.assert_allclose(np.sort(fine.centers, axis=0), np.sort(cold.centers, axis=0), atol=1e-6)
    ra, dec = uniform(4000, seed=5)
    cold = cc.fuzzy_c_means(ra, dec, 30, seed=3, tol=1e-4, max_iter=3000, accelerate=True, neighbours=10)
    fine = cc.fuzzy_c_means(ra, dec, 30, seed=3, tol=1e-4, max_iter=3000, accelerate=True, neighbours=10,
                            coarse_to_fine=[600, 1500])
    assert abs(fine.objective[-1] / cold.objective[-1] - 1) < 5e-3


def test_same_seed_same_result_and_seeded_subsamples():
    ra, dec = uniform(2000, seed=6)
    kw = dict(tol=1e-4, max_iter=2000, accelerate=True, neighbours=6, coarse_to_fine=[300, 900])
    a = cc.fuzzy_c_means(ra, dec, 15, seed=7, **kw)
    b = cc.fuzzy_c_means(ra, dec, 15, seed=np.random.default_rng(7), **kw)
    np.testing.assert_array_equal(a.centers, b.centers)
    np.testing.assert_array_equal(a.membership.toarray(), b.membership.toarray())
    assert a.stages == b.stages
    c = cc.fuzzy_c_means(ra, dec, 15, seed=8, **kw)
    assert not np.array_equal(a.centers, c.centers)
    # one thread or two: the same result
    d = cc.fuzzy_c_means(ra, dec, 15, seed=7, num_threads=1, **kw)
    np.testing.assert_array_equal(a.centers, d.centers)


def test_progress_counts_iterations_across_stages(capsys):
    ra, dec = uniform(1500, seed=9)
    res = cc.fuzzy_c_means(ra, dec, 8, seed=2, tol=1e-5, max_iter=200, accelerate=True, coarse_to_fine=[200, 600],
                           progress=True)
    err = capsys.readouterr().err
    assert "3 stages" in err
    count = int(re.findall(r"\b(\d+)/600\b", err)[-1])          # total: max_iter per stage
    assert count == res.total_iterations == sum(s[1] for s in res.stages) > res.n_iter


def test_init_starts_the_smallest_subsample_and_weights_follow_the_subsample():
    ra, dec = blobs(3000, 6, seed=10)
    w = np.random.default_rng(1).uniform(0.5, 2.0, ra.size)
    init = cc.kmeans_plus_plus(ra, dec, 6, seed=1)
    res = cc.fuzzy_c_means(ra, dec, 6, init=init, weights=w, tol=1e-8, max_iter=2000, coarse_to_fine=[500])
    ref = cc.fuzzy_c_means(ra, dec, 6, init=init, weights=w, tol=1e-8, max_iter=2000)
    assert res.objective[-1] == pytest.approx(ref.objective[-1], rel=1e-8)


def test_true_picks_a_ladder_of_tenths():
    assert coarse_sizes(True, 1_000_000, 1000) == [100_000]
    assert coarse_sizes(True, 200_000, 200) == [20_000]
    assert coarse_sizes(True, 10_000_000, 1000) == [100_000, 1_000_000]
    assert coarse_sizes(True, 50_000, 100) == []          # smaller than 10 x 10,000: one fit
    assert coarse_sizes(None, 10, 2) == coarse_sizes(False, 10, 2) == []


@pytest.mark.parametrize("value, error, match", [
    ([5000], ValueError, "smaller than"), ([5], ValueError, "n_clusters"), ([300, 200], ValueError, "increase"),
    ([], ValueError, "at least one"), ("yes", TypeError, "coarse_to_fine"), ([250.5], TypeError, "coarse_to_fine"),
    (3, TypeError, "coarse_to_fine"), ([0], ValueError, "coarse_to_fine"),
])
def test_bad_coarse_to_fine(value, error, match):
    ra, dec = uniform(1000)
    with pytest.raises(error, match=match):
        cc.fuzzy_c_means(ra, dec, 10, coarse_to_fine=value)


def test_entry_points_pass_coarse_to_fine():
    from cosmocorr.sky.synthetic import synthetic_shear_catalog

    cat = synthetic_shear_catalog(1500, seed=1)
    r = cc.shear_shear(cat, min_sep=2.0, max_sep=20.0, nbins=3, spacing="log", n_clusters=20, n_samples=2, seed=3, tol=1e-4,
                       accelerate=True, coarse_to_fine=[400])
    assert [s[0] for s in r.clustering.stages] == [400, 1500]
