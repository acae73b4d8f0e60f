"""k-means++ and fuzzy c-means on the sky (paper eqs. 15, 17, 18)."""
import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from scipy import stats

from cosmocorr import ConvergenceWarning, fuzzy_c_means, kmeans_plus_plus, max_membership, membership_entropy
from cosmocorr.clustering import greedy_assignments, memberships, sample_assignments


def _blobs(rng, centres, n=80, sigma=0.02):
    pts = [np.column_stack([(c[0] + rng.normal(0, sigma, n) / np.cos(np.radians(c[1]))) % 360,
                            c[1] + rng.normal(0, sigma, n)]) for c in centres]
    return np.concatenate(pts)


def _match(found, truth):
    d = SkyCoord(found[:, 0] * u.deg, found[:, 1] * u.deg)[:, None].separation(
        SkyCoord(truth[:, 0] * u.deg, truth[:, 1] * u.deg)[None, :]).to_value(u.deg)
    return d.min(axis=0)


def test_centres_land_on_blob_centres_including_ra_wrap(rng):
    truth = np.array([[359.9, 0.0], [10.0, 5.0], [180.0, -30.0], [90.0, 60.0]])
    pts = _blobs(rng, truth)
    res = fuzzy_c_means(pts[:, 0], pts[:, 1], 4, seed=3)
    assert res.converged
    assert np.all(_match(res.centers, truth) < 0.01)  # degrees; blob sigma 0.02, 80 points


def test_objective_never_increases_and_rows_sum_to_one(cosmos_fits):
    from cosmocorr import StarCatalog
    s = StarCatalog.from_fits(cosmos_fits)
    for m in (1.5, 2.0, 3.0):
        res = fuzzy_c_means(s.ra, s.dec, 30, fuzziness=m, seed=0, tol=1e-8)
        assert np.all(np.diff(res.objective) <= 1e-9 * res.objective[0])
        np.testing.assert_allclose(res.membership.sum(axis=1), 1.0, atol=1e-12)
        assert np.all(res.membership >= 0)


def test_membership_equals_eq18_with_astropy_distances(rng):
    ra, dec = rng.uniform(149, 151, 40), rng.uniform(1, 3, 40)
    res = fuzzy_c_means(ra, dec, 5, fuzziness=2.5, seed=1)
    d = SkyCoord(ra * u.deg, dec * u.deg)[:, None].separation(
        SkyCoord(res.centers[:, 0] * u.deg, res.centers[:, 1] * u.deg)[None, :]).to_value(u.rad)
    p = 2 / (2.5 - 1)
    ref = 1.0 / np.sum((d[:, :, None] / d[:, None, :]) ** p, axis=2)
    np.testing.assert_allclose(memberships(d, 2.5), ref, rtol=1e-10)
    # and the returned U is eq. 18 for the returned centres
    np.testing.assert_allclose(res.membership, ref, atol=1e-6)


def test_object_on_a_centre_gives_no_nan():
    ra = np.array([10.0, 10.5, 11.0, 12.0])
    dec = np.zeros(4)
    res = fuzzy_c_means(ra, dec, 2, init=[[10.0, 0.0], [12.0, 0.0]], max_iter=1)
    assert np.all(np.isfinite(res.membership))
    d = np.array([[0.0, 1.0], [0.5, 0.5], [0.0, 0.0]])
    U = memberships(d, 2.0)
    np.testing.assert_allclose(U, [[1, 0], [0.5, 0.5], [0.5, 0.5]])


def test_kmeans_plus_plus_picks_distinct_objects_and_is_reproducible(rng):
    ra, dec = rng.uniform(0, 2, 50), rng.uniform(0, 2, 50)
    c = kmeans_plus_plus(ra, dec, 50, seed=4)
    assert len({(a, b) for a, b in c}) == 50  # c = N: every object once
    np.testing.assert_array_equal(c, kmeans_plus_plus(ra, dec, 50, seed=4))
    w = kmeans_plus_plus(ra, dec, 10, seed=4, weight_factor=0.7)
    assert w.shape == (10, 2) and set(map(tuple, w)) <= set(zip(ra, dec))
    # D^2 seeding spreads the centres out more than uniform picks do (on average over seeds)
    def spread(cs):
        d = np.hypot(*(cs[:, None, :] - cs[None, :, :]).transpose(2, 0, 1))
        return np.min(d + np.eye(len(cs)) * 99, axis=1).mean()
    pp = np.mean([spread(kmeans_plus_plus(ra, dec, 8, seed=s)) for s in range(30)])
    un = np.mean([spread(np.column_stack([ra, dec])[np.random.default_rng(s).choice(50, 8, replace=False)]) for s in range(30)])
    assert pp > un


def test_sampling_frequencies_match_U(rng):
    U = rng.dirichlet(np.ones(4), size=3)
    draws = sample_assignments(U, np.random.default_rng(7), 20000)
    for i in range(3):
        counts = np.bincount(draws[:, i], minlength=4)
        assert stats.chisquare(counts, U[i] * 20000).pvalue > 1e-3
    np.testing.assert_array_equal(draws, sample_assignments(U, np.random.default_rng(7), 20000))
    np.testing.assert_array_equal(greedy_assignments(U), U.argmax(axis=1))


def test_diagnostics():
    U = np.array([[1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3], [0.5, 0.5, 0.0]])
    np.testing.assert_allclose(max_membership(U), [1.0, 1 / 3, 0.5])
    np.testing.assert_allclose(membership_entropy(U), [0.0, np.log(3), np.log(2)])


@pytest.mark.parametrize("kw, match", [
    (dict(n_clusters=0), "n_clusters"),
    (dict(n_clusters=11), "too many clusters"),
    (dict(n_clusters=2, fuzziness=1.0), "fuzziness"),
    (dict(n_clusters=2, tol=0), "tol"),
    (dict(n_clusters=2, max_iter=0), "max_iter"),
    (dict(n_clusters=2, init=[[0, 0]]), "init"),
])
def test_bad_arguments(kw, match):
    with pytest.raises((ValueError, TypeError), match=match):
        fuzzy_c_means(np.arange(10.0), np.zeros(10), **kw)


def test_blocked_iterations_match_the_plain_equations(rng):
    """fcm_iterate (blocked, threaded) against eqs. 15, 17, 18 written plainly on whole arrays."""
    from cosmocorr.backends.numpy_fcm import fcm_iterate
    from cosmocorr.clustering import objective, update_centers
    from cosmocorr.sky.geometry import angular_distances
    from cosmocorr.sky.geometry import unit_vectors

    n = 30_000   # n * c = 450,000: large enough for the threaded path
    ra, dec = rng.uniform(10, 12, n), rng.uniform(-1, 1, n)
    w = rng.uniform(0.5, 2.0, n)
    c0 = unit_vectors(ra[:15], dec[:15] + 0.01)
    for weights in (None, w):
        # plain reference iterations
        U = memberships(angular_distances(unit_vectors(ra, dec), c0), 2.0)
        cx = c0
        for _ in range(5):
            cx = update_centers(unit_vectors(ra, dec), U, 2.0, weights)
            d = angular_distances(unit_vectors(ra, dec), cx)
            U = memberships(d, 2.0)
        got = fcm_iterate(unit_vectors(ra, dec), c0, 2.0, 1e-300, 5, weights, block=128)
        np.testing.assert_allclose(got[0], cx, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(got[1], U, rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(got[3][-1], objective(d, U, 2.0), rtol=1e-10)


def test_accelerated_fcm_reaches_the_same_centres_in_fewer_iterations(rng):
    truth = np.column_stack([rng.uniform(20, 22, 12), rng.uniform(-1, 1, 12)])
    pts = _blobs(rng, truth, n=150, sigma=0.05)
    init = kmeans_plus_plus(pts[:, 0], pts[:, 1], 12, seed=3)
    plain = fuzzy_c_means(pts[:, 0], pts[:, 1], 12, init=init, tol=1e-9, max_iter=2000)
    fast = fuzzy_c_means(pts[:, 0], pts[:, 1], 12, init=init, tol=1e-9, max_iter=2000, accelerate=True)
    assert plain.converged and fast.converged and fast.n_iter < plain.n_iter
    np.testing.assert_allclose(np.sort(fast.centers, axis=0), np.sort(plain.centers, axis=0), atol=1e-6)
    np.testing.assert_allclose(fast.membership.sum(axis=1), 1.0, rtol=1e-12)
    assert np.all(np.diff(fast.objective) <= 1e-12 * fast.objective[:-1])
    np.testing.assert_allclose(fast.objective[-1], plain.objective[-1], rtol=1e-8)


@pytest.mark.parametrize("neighbours", [None, 12])
def test_accelerated_fcm_stops_on_a_plain_step(rng, neighbours):
    """With accelerate=True the stopping rule is that of plain fuzzy c-means: the returned
    memberships are eq. 18 at the returned centres, and those centres are eq. 17 of the previous
    memberships within tol, i.e. one more plain eq. 17-18 step from the previous state changed U by
    less than tol. Checked from outside: a further plain step (eqs. 17, 18 written on whole arrays)
    from the result changes U by less than tol (the iteration contracts near its fixed point)."""
    from cosmocorr.clustering import update_centers
    from cosmocorr.sky.geometry import angular_distances, unit_vectors

    ra, dec = rng.uniform(30, 31, 3000), rng.uniform(-0.5, 0.5, 3000)     # no clusters: slow
    tol = 1e-4
    res = fuzzy_c_means(ra, dec, 12, seed=4, tol=tol, max_iter=3000, accelerate=True, neighbours=neighbours)
    assert res.converged
    xyz = unit_vectors(ra, dec)
    U = res.membership if neighbours is None else res.membership.toarray()
    np.testing.assert_allclose(U, memberships(angular_distances(xyz, res.centers_xyz), 2.0), atol=1e-12)
    nxt = memberships(angular_distances(xyz, update_centers(xyz, U, 2.0)), 2.0)
    assert np.abs(nxt - U).max() < tol
    # the last step itself was plain: replaying the (deterministic) run one iteration short gives
    # the previous state, whose eq. 17 centres are the returned ones, and that step changed U < tol
    with pytest.warns(ConvergenceWarning):
        prev = fuzzy_c_means(ra, dec, 12, seed=4, tol=tol, max_iter=res.n_iter - 1, accelerate=True,
                             neighbours=neighbours)
    U_prev = prev.membership if neighbours is None else prev.membership.toarray()
    np.testing.assert_allclose(update_centers(xyz, U_prev, 2.0), res.centers_xyz, rtol=0, atol=1e-12)
    assert np.abs(U - U_prev).max() < tol
