"""Sparse fuzzy c-means (issue 13): memberships on the k nearest centres, eqs. 15-18 restricted.

References: dense fuzzy c-means (k = c must reproduce it), brute-force nearest centres from
``cosmocorr.separation`` (astropy-checked Vincenty) and eq. 18 recomputed from those distances.
"""
import re

import numpy as np
import pytest
from scipy import sparse

import cosmocorr as cc
from cosmocorr.clustering import greedy_assignments, max_membership, membership_entropy, sample_assignments
from cosmocorr.clustering.sparse_fcm import kmeans_plus_plus_fast, sparse_objective
from cosmocorr.sky.geometry import unit_vectors


def field(n, seed=0, half=0.4, groups=0):
    rng = np.random.default_rng(seed)
    if not groups:
        return 150 + rng.uniform(-half, half, n), 2.2 + rng.uniform(-half, half, n)
    c = np.column_stack([150 + rng.uniform(-half, half, groups), 2.2 + rng.uniform(-half, half, groups)])
    k = rng.integers(groups, size=n)
    return c[k, 0] + rng.normal(0, 0.03, n), c[k, 1] + rng.normal(0, 0.03, n)


def test_k_equal_c_is_dense_fcm():
    ra, dec = field(1500, seed=1, groups=12)
    w = np.random.default_rng(2).uniform(0.5, 1.5, ra.size)
    init = cc.kmeans_plus_plus(ra, dec, 12, seed=3)
    dense = cc.fuzzy_c_means(ra, dec, 12, init=init, tol=1e-9, max_iter=2000, weights=w)
    sp = cc.fuzzy_c_means(ra, dec, 12, init=init, tol=1e-9, max_iter=2000, weights=w, neighbours=12)
    assert dense.converged and sp.converged
    assert sparse.issparse(sp.membership) and sp.membership.nnz == ra.size * 12
    assert sp.n_iter == dense.n_iter
    np.testing.assert_allclose(sp.membership.toarray(), dense.membership, rtol=0, atol=1e-10)
    np.testing.assert_allclose(sp.centers, dense.centers, rtol=0, atol=1e-10)
    np.testing.assert_allclose(sp.objective, dense.objective, rtol=1e-10)


def test_fast_kmeans_pp_draws_the_same_centres():
    ra, dec = field(4000, seed=4)
    for c, seed in ((5, 0), (80, 11)):
        np.testing.assert_array_equal(kmeans_plus_plus_fast(ra, dec, c, seed=seed), cc.kmeans_plus_plus(ra, dec, c, seed=seed))


def test_sparse_memberships_are_eq18_on_the_exact_nearest_centres():
    ra, dec = field(3000, seed=5)          # uniform: centres drift for many iterations (re-queries)
    k, c = 6, 40
    res = cc.fuzzy_c_means(ra, dec, c, seed=6, tol=1e-4, max_iter=3000, neighbours=k, accelerate=True)
    assert res.converged
    U = res.membership.tocsr()
    assert np.all(np.diff(U.indptr) == k)
    np.testing.assert_allclose(np.asarray(U.sum(axis=1)).ravel(), 1.0, atol=1e-12)
    # brute force: Vincenty distances to every centre (cc.separation, arcmin)
    d = cc.separation(ra[:, None], dec[:, None], res.centers[None, :, 0], res.centers[None, :, 1])
    nearest = np.sort(np.argsort(d, axis=1)[:, :k], axis=1)
    np.testing.assert_array_equal(U.indices.reshape(-1, k), nearest)
    dk = np.take_along_axis(d, nearest, axis=1)
    expected = (1 / dk**2) / (1 / dk**2).sum(axis=1, keepdims=True)    # eq. 18, m = 2, on the k entries
    # the result's U is from the last sweep, the centres one eq. 17 step later: equal to ~tol
    np.testing.assert_allclose(U.data.reshape(-1, k), expected, atol=5e-4)
    assert sparse_objective(unit_vectors(ra, dec), res.centers_xyz, U, 2.0) == pytest.approx(
        float(np.sum(expected**2 * dk**2)), rel=2e-3)


def test_objective_and_rho1_approach_dense_as_k_grows():
    from cosmocorr.sky.synthetic import synthetic_star_catalog
    from cosmocorr.uncertainty import clustered_rho_statistics

    stars = synthetic_star_catalog(2000, seed=3, width_deg=0.8)
    ra, dec = stars.catalog.ra, stars.catalog.dec
    c = 25
    init = cc.kmeans_plus_plus(ra, dec, c, seed=1)
    bins = cc.Bins(2.0, 30.0, 5, spacing="log")
    dense = cc.fuzzy_c_means(ra, dec, c, init=init, tol=1e-6, max_iter=3000, accelerate=True)
    rho_dense = clustered_rho_statistics(stars, bins, c, assignment="greedy", clustering=dense)["rho1"].xip
    jm, drho = [], []
    for k in (3, 8, c):
        sp = cc.fuzzy_c_means(ra, dec, c, init=init, tol=1e-6, max_iter=3000, accelerate=True, neighbours=k)
        rho = clustered_rho_statistics(stars, bins, c, assignment="greedy", clustering=sp)["rho1"].xip
        jm.append(sp.objective[-1] / dense.objective[-1] - 1)
        drho.append(np.nanmax(np.abs(rho - rho_dense)) / np.nanmax(np.abs(rho_dense)))
    # restricting eq. 18 to k entries raises J_m; the excess and the rho1 change vanish at k = c
    assert jm[0] > jm[1] > 0
    assert abs(jm[2]) < 1e-6 and drho[2] < 1e-6
    assert drho[1] <= drho[0] + 1e-12


def test_assignments_on_sparse_memberships_equal_dense():
    ra, dec = field(800, seed=8)
    res = cc.fuzzy_c_means(ra, dec, 15, seed=2, tol=1e-4, max_iter=2000, neighbours=5, accelerate=True)
    S = res.membership
    D = S.toarray()
    a = sample_assignments(S, np.random.default_rng(4), n_samples=7)
    b = sample_assignments(D, np.random.default_rng(4), n_samples=7)
    np.testing.assert_array_equal(a, b)
    assert np.all(D[np.arange(D.shape[0]), a[0]] > 0)           # only stored entries are drawn
    np.testing.assert_array_equal(greedy_assignments(S), greedy_assignments(D))
    np.testing.assert_array_equal(max_membership(S), max_membership(D))
    np.testing.assert_allclose(membership_entropy(S), membership_entropy(D), rtol=1e-13)
    # Algorithm 1 on the sparse fit: the greedy estimate equals the one from the dense copy of U
    cat = cc.Catalog(ra, dec, g1=np.sin(ra), g2=np.cos(dec))
    bins = cc.Bins(1.0, 30.0, 4)
    dense_fit = cc.FuzzyCMeansResult(res.centers, D, res.n_iter, res.objective, res.converged, res.fuzziness)
    from cosmocorr.uncertainty import clustered_shear_shear

    x = clustered_shear_shear(cat, None, bins, 15, assignment="greedy", clustering=res).xip
    y = clustered_shear_shear(cat, None, bins, 15, assignment="greedy", clustering=dense_fit).xip
    np.testing.assert_array_equal(x, y)


def test_bad_neighbours():
    ra, dec = field(100)
    with pytest.raises(ValueError, match="neighbours"):
        cc.fuzzy_c_means(ra, dec, 5, neighbours=6)
    with pytest.raises(ValueError, match="neighbours"):
        cc.fuzzy_c_means(ra, dec, 5, neighbours=0)
    with pytest.raises(TypeError, match="neighbours"):
        cc.fuzzy_c_means(ra, dec, 5, neighbours=2.5)


@pytest.mark.parametrize("neighbours, accelerate", [(None, False), (None, True), (4, True)])
def test_progress_counts_the_iterations(capsys, neighbours, accelerate):
    """progress=True draws a tqdm bar whose count is the number of eq. 17-18 iterations the
    result reports (dense, over-relaxed dense and sparse loops); off, nothing is written."""
    ra, dec = field(400, seed=8)
    kw = dict(seed=2, tol=1e-5, max_iter=200, neighbours=neighbours, accelerate=accelerate)
    res = cc.fuzzy_c_means(ra, dec, 6, progress=True, **kw)
    err = capsys.readouterr().err
    assert "fuzzy c-means iterations" in err
    assert int(re.findall(r"\b(\d+)/200\b", err)[-1]) == res.n_iter      # the bar's final count
    quiet = cc.fuzzy_c_means(ra, dec, 6, **kw)
    assert capsys.readouterr().err == "" and quiet.n_iter == res.n_iter
    with pytest.raises(TypeError, match="progress"):
        cc.fuzzy_c_means(ra, dec, 6, progress="yes")


def test_swap_change_is_eq18_over_the_union_of_both_sets():
    """The convergence test's change for rows whose neighbour set changed: max over the union of
    the old and new sets of |U_new - U_old|, each side eq. 18 at its own centres normalised over
    its own set (a centre outside a set gets the membership eq. 18 would give it there), against
    a per-row loop with arccos distances."""
    from cosmocorr.clustering.sparse_fcm import _swap_change
    rng = np.random.default_rng(0)
    c, k = 40, 5
    # small moves: only near-ties swap, where the change is small but a jump to 0 would not be
    for scale, r in [(0.08, 120)] * 5 + [(0.002, 3000)] * 2:
        old_c = rng.normal(size=(3, c))
        old_c /= np.linalg.norm(old_c, axis=0)
        new_c = old_c + scale * rng.normal(size=(3, c))
        new_c /= np.linalg.norm(new_c, axis=0)
        P = rng.normal(size=(3, r))
        P /= np.linalg.norm(P, axis=0)
        p = 2.0 / (rng.uniform(1.3, 3.0) - 1.0)
        d_old = np.arccos(np.clip(P.T @ old_c, -1, 1))        # (r, c)
        d_new = np.arccos(np.clip(P.T @ new_c, -1, 1))
        old_I = np.argsort(d_old, axis=1)[:, :k]
        new_I = np.argsort(d_new, axis=1)[:, :k]
        swapped = np.array([set(a) != set(b) for a, b in zip(old_I, new_I)])   # the rows it gets
        P, d_old, d_new, old_I, new_I = P[:, swapped], d_old[swapped], d_new[swapped], old_I[swapped], new_I[swapped]
        r = int(swapped.sum())
        old_I = old_I[:, rng.permutation(k)]                  # stored order need not be sorted
        expect = 0.0
        for i in range(r):
            union = np.union1d(old_I[i], new_I[i])
            u_old = d_old[i, union] ** -p / (d_old[i, old_I[i]] ** -p).sum()
            u_new = d_new[i, union] ** -p / (d_new[i, new_I[i]] ** -p).sum()
            expect = max(expect, np.abs(u_new - u_old).max())
        old_U = (np.take_along_axis(d_old, old_I, 1) ** -p).T
        old_U /= old_U.sum(axis=0)
        new_U = (np.take_along_axis(d_new, new_I, 1) ** -p).T
        new_U /= new_U.sum(axis=0)
        got = _swap_change(P, new_I.T, old_I.T, tuple(new_c), tuple(old_c), p, new_U, old_U)
        assert got == pytest.approx(expect, rel=1e-10, abs=1e-14)
        assert expect > 1e-3                                   # the sets really changed
