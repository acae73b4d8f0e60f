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


@pytest.mark.parametrize("accelerate", [False, True])
def test_every_verified_sweep_holds_the_exact_nearest_sets(monkeypatch, accelerate):
    """After every sweep that may declare convergence (finite change), each object's stored set
    is its k nearest centres at that sweep's centres (brute force, astropy-checked Vincenty), its
    memberships are eq. 18 on them, and the sweep's change is max |U_new - U_old| over the union
    of the old and new sets, each side eq. 18 at its own centres normalised over its own set.
    Covers re-queried sets that come back unchanged (kept in their stored order) and sets that
    change."""
    import cosmocorr.clustering.sparse_fcm as sf
    from cosmocorr.sky.geometry import vectors_to_radec

    ra, dec = field(2500, seed=9)
    k, c = 5, 30
    rows = np.arange(ra.size)[:, None]
    seen = {"verified": 0, "changed": 0}
    real_iterate = sf.iterate

    def distances(centres_xyz):
        cen = vectors_to_radec(np.asarray(centres_xyz))
        return cc.separation(ra[:, None], dec[:, None], cen[None, :, 0], cen[None, :, 1])

    def eq18_everywhere(d, stored):
        """d^-2 over the stored set's sum, for every centre (N, c), and the set as a mask; an
        object on a centre belongs to it alone (the limit of eq. 18)."""
        mask = np.zeros(d.shape, dtype=bool)
        mask[rows, stored] = True
        with np.errstate(divide="ignore"):
            w = d**-2.0
        on = ~np.isfinite(w).all(axis=1)
        w[on] = d[on] == 0
        return w / np.where(mask, w, 0).sum(axis=1, keepdims=True), mask

    def checking_iterate(sweep, *args, **kwargs):
        def sweep_and_check(centres, out, ref=None):
            before = None if ref is None else (ref.idx.T.copy(), np.array(ref.centres))
            sums, jm, change = sweep(centres, out, ref)
            if np.isfinite(change):
                seen["verified"] += 1
                d = distances(centres)
                nearest = np.sort(np.argsort(d, axis=1)[:, :k], axis=1)
                np.testing.assert_array_equal(np.sort(out.idx.T, axis=1), nearest)
                u_new, in_new = eq18_everywhere(d, out.idx.T)
                np.testing.assert_allclose(out.U.T, u_new[rows, out.idx.T], rtol=1e-9, atol=1e-12)
                if before is not None:
                    u_old, in_old = eq18_everywhere(distances(before[1]), before[0])
                    expect = np.abs(u_new - u_old)[in_new | in_old].max()
                    seen["changed"] += int((in_new != in_old).any(axis=1).sum())
                    assert change == pytest.approx(expect, rel=1e-8, abs=1e-13)
            return sums, jm, change

        return real_iterate(sweep_and_check, *args, **kwargs)

    monkeypatch.setattr(sf, "iterate", checking_iterate)
    res = cc.fuzzy_c_means(ra, dec, c, seed=6, tol=1e-4, max_iter=3000, neighbours=k, accelerate=accelerate)
    assert res.converged
    assert seen["verified"] > 20 and seen["changed"] > 0


@pytest.mark.parametrize("k, c, reserve, relax", [(5, 30, 4, 1.0), (5, 30, 4, 1.5), (2, 30, 4, 1.0), (1, 20, 4, 1.5),
                                                  (3, 12, 1, 1.0), (4, 7, 4, 1.5), (4, 5, 4, 1.0), (4, 4, 4, 1.0)])
def test_stored_sets_and_their_bounds_hold_under_any_centre_motion(monkeypatch, k, c, reserve, relax):
    """The sweep driven with arbitrary centre moves (random walks from tiny to a fifth of the
    centre spacing, some centres jumping, some landing exactly on an object; rejected trial steps
    with ``relax`` > 1): after every sweep, each object's stored set is its k nearest centres at
    the centres of the sweep that found it (its epoch), every other centre was at least ``limit``
    away then and every centre outside set and reserve at least ``far`` (the bounds later sweeps
    rely on), and after every sweep that may declare convergence the set is the k nearest at that
    sweep's centres; against brute-force atan2(|a x b|, a . b) distances. Small k makes the bound
    from centres outside the nearest centre's neighbourhood (rho) the binding one; also a reserve
    clamped to c - k - 1 (2 and 0), RESERVE = 1 and k = c."""
    import cosmocorr.clustering.sparse_fcm as sf

    monkeypatch.setattr(sf, "RESERVE", reserve)
    ra, dec = field(1200, seed=13)
    xyz = unit_vectors(ra, dec)
    rng = np.random.default_rng(17)
    r_res = max(0, min(reserve, c - k - 1))              # as the code clamps it (0 when k = c)
    cols = np.arange(ra.size)
    seen = {"rebased": 0, "verified": 0, "on_centre": 0}
    history = []                                           # centres of every sweep, by epoch

    cache = {}

    def angles(e):
        """Brute-force angles (N, c) to the centres of sweep e."""
        if e not in cache:
            a, b = xyz.T[:, None, :], history[e].T[None, :, :]
            cache[e] = np.arctan2(np.linalg.norm(np.cross(a, b), axis=2), (a * b).sum(axis=2))
        return cache[e]

    def check(out, change):
        epoch = len(history) - 1
        for e in np.unique(out.epoch):
            rows = cols[out.epoch == e]
            d = angles(e)[rows]
            stored = out.idx[:, rows].T
            member = np.zeros(d.shape, dtype=bool)
            member[np.arange(rows.size)[:, None], stored] = True
            assert (member.sum(axis=1) == k).all()
            # the stored set is the k nearest then; every other centre was >= limit away then
            outside = np.where(member, np.inf, d).min(axis=1)
            assert (np.where(member, d, -np.inf).max(axis=1) <= outside + 1e-13).all()
            assert (out.limit[rows] <= outside + 1e-13).all(), f"limit too large at epoch {e}"
            if r_res:
                reserve_ = out.reserve[:, rows].T
                assert not member[np.arange(rows.size)[:, None], reserve_].any()
                member[np.arange(rows.size)[:, None], reserve_] = True
                assert (member.sum(axis=1) == k + r_res).all()
            if k + r_res < c:
                beyond = np.where(member, np.inf, d).min(axis=1)
                assert (out.far[rows] <= beyond + 1e-13).all(), f"far too large at epoch {e}"
            if e == epoch and epoch > 0:
                seen["rebased"] += rows.size
        if np.isfinite(change):
            seen["verified"] += 1
            d = angles(epoch)
            got = np.take_along_axis(d, out.idx.T, axis=1)
            np.testing.assert_array_equal(got.max(axis=1), np.sort(d, axis=1)[:, k - 1])
            seen["on_centre"] += int((got.min(axis=1) == 0).sum())

    def driver(sweep, cxyz, current, spare, relax, tol, max_iter, progress=None):
        spacing = 0.8 / np.sqrt(c) * np.pi / 180
        centres = cxyz.copy()
        history.append(centres)
        check(current, sweep(centres, current)[2])
        for it in range(120):
            scale = spacing * 10.0 ** rng.uniform(-4.0, -0.7)
            move = rng.normal(size=(3, c)) * scale
            move[:, rng.random(c) < 0.03] *= 20.0              # a few centres jump
            new = centres + move
            new /= np.linalg.norm(new, axis=0)
            if rng.random() < 0.1:                             # a centre lands on an object
                new[:, rng.integers(c)] = xyz[:, rng.integers(ra.size)]
            if spare is not None and rng.random() < 0.3:       # a trial step, then refused
                trial = centres + 1.5 * move
                history.append(trial / np.linalg.norm(trial, axis=0))
                check(spare, sweep(history[-1], spare, current)[2])
            history.append(new)
            out = current if spare is None else spare
            check(out, sweep(new, out, current)[2])
            if spare is not None:
                current, spare = spare, current
            centres = new
        return centres, current, 0, np.zeros(1), False

    monkeypatch.setattr(sf, "iterate", driver)
    init = unit_vectors(*cc.kmeans_plus_plus(ra, dec, c, seed=3).T)
    *_, requeried = sf.sparse_fcm_iterate(xyz, init, 2.0, 1e-4, 10, k, relax=relax)
    assert seen["verified"] >= 30 and seen["on_centre"] > 0
    if r_res:
        assert seen["rebased"] - requeried > 100          # many rows re-based from their reserve
    else:
        assert seen["rebased"] == requeried               # no reserve: every re-based row was queried


def test_squared_distances_and_centre_sums_against_independent_formulas():
    """The sweep's squared angles (series of 4 arcsin^2(s/2) for short chords, the Vincenty angle
    beyond) against astropy-checked ``cosmocorr.separation``; its eq. 17 sums (compiled CSC
    product or np.bincount) against a dense U^m-weighted sum."""
    from cosmocorr.clustering import sparse_fcm as sf

    rng = np.random.default_rng(4)
    for spread in (0.3, 40.0):                      # all chords short (series) / some long (fallback)
        ra, dec = field(500, seed=5, half=spread)
        cra, cdec = field(30, seed=6, half=spread)
        p, cen = unit_vectors(ra, dec), unit_vectors(cra, cdec)
        idx = rng.integers(0, 30, (7, 500)).astype(np.intp)
        got = sf._gathered_sq_distances(p, idx, *cen, np.empty(idx.shape), np.empty(idx.shape))
        ref = np.radians(cc.separation(ra[None, :], dec[None, :], cra[idx], cdec[idx]) / 60.0) ** 2   # arcmin
        # the chord of unit vectors limits both to ~1e-16 / angle; the series adds only rounding
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=0)
        angle = sf._gathered_distances(p, idx, *cen, np.empty(idx.shape), np.empty(idx.shape))
        np.testing.assert_allclose(got, angle ** 2, rtol=1e-15, atol=0)
    um = rng.random(idx.shape)
    dense = np.zeros((500, 30))
    np.add.at(dense, (np.broadcast_to(np.arange(500), idx.shape), idx), um)
    expect = p @ dense                              # (3, c)
    fast = sf._centre_sums(um, idx, np.ascontiguousarray(p.T), 30, np.empty(idx.shape))
    np.testing.assert_allclose(fast, expect, rtol=1e-12, atol=1e-13)
    slow = sf._centre_sums(um, idx.astype(np.int32), np.ascontiguousarray(p.T), 30, np.empty(idx.shape))
    np.testing.assert_array_equal(slow, fast)       # the np.bincount path adds in the same order


@pytest.mark.filterwarnings("ignore::cosmocorr.ConvergenceWarning")
def test_sparse_fit_is_bit_identical_on_1_2_and_3_threads():
    """Each block's centre sums and J_m are added in block order, whichever thread did the block."""
    ra, dec = field(40_000, seed=7, half=1.0)        # 7 blocks, 4e5 entries: up to 3 threads work
    fits = [cc.fuzzy_c_means(ra, dec, 60, seed=2, neighbours=10, tol=1e-4, max_iter=40, accelerate=True,
                             num_threads=t) for t in (1, 2, 3)]
    for f in fits[1:]:
        assert f.n_iter == fits[0].n_iter
        np.testing.assert_array_equal(f.centers, fits[0].centers)
        np.testing.assert_array_equal(f.objective, fits[0].objective)
        np.testing.assert_array_equal(f.membership.data, fits[0].membership.data)
