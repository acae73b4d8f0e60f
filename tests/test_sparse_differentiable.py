"""Approach b of the differentiable estimator on sparse fuzzy c-means memberships (issue 13; paper
sec. 6, eqs. 15-21): the memberships (eq. 18) live on each object's k nearest centres and are
renormalised over that set, the centres (eq. 17) and the cluster weights and quantities (eqs. 20-21)
sum over the stored entries. Checked: k = c against the dense path; k < c against a dense masked
NumPy evaluation of eqs. 16-18, 20-21 (no Duals) and the derivative against central finite
differences of the same function (neighbour sets held fixed through the state); O(N k) Duals; and
input validation."""
import warnings

import numpy as np
import pytest

import cosmocorr as cc
from cosmocorr import xi_plus_gradient
from cosmocorr.differentiable import approaches, dual

H = 1e-7
# bins covering the cluster separations (the catalog spans ~20 degrees), soft enough that every
# bin holds many cluster pairs
KW = dict(bins=cc.Bins(0.0, 1200.0, 4), alpha=0.05, approach="b", seed=0)


@pytest.mark.parametrize("mode", ["one_step", "full"])
def test_k_equal_to_c_is_the_dense_approach_b(mode):
    """With k = c every set holds all centres: eq. 18 renormalised over the set is eq. 18, eq. 17
    and eqs. 20-21 sum over all objects, so xi+ and d xi+/dG equal the dense approach b."""
    dense = xi_plus_gradient(1.0, 300, n_clusters=20, mode=mode, **KW)
    sparse = xi_plus_gradient(1.0, 300, n_clusters=20, mode=mode, neighbours=20, **KW)
    assert sparse.state["neighbour_sets"].shape == (300, 20)
    np.testing.assert_allclose(sparse.xi, dense.xi, rtol=1e-10, atol=1e-12 * np.abs(dense.xi).max())
    np.testing.assert_allclose(sparse.dxi_dG, dense.dxi_dG, rtol=1e-10, atol=1e-12 * np.abs(dense.dxi_dG).max())


@pytest.mark.parametrize("mode, n, c, k", [("one_step", 400, 30, 4), ("full", 300, 20, 3)])
def test_sparse_derivative_matches_finite_difference(mode, n, c, k):
    """The dual-number derivative of the k < c estimator (eqs. 16-18, 20-21 on the fixed sets)
    equals central finite differences of xi+ re-evaluated at G +- h with the same state."""
    kw = dict(n_clusters=c, mode=mode, neighbours=k, **KW)
    r = xi_plus_gradient(1.0, n, **kw)
    p = xi_plus_gradient(1.0 + H, n, state=r.state, **kw)     # same neighbour sets: the same function
    m = xi_plus_gradient(1.0 - H, n, state=r.state, **kw)
    fd = (p.xi - m.xi) / (2 * H)
    np.testing.assert_allclose(r.dxi_dG, fd, rtol=1e-5, atol=1e-7 * np.abs(fd).max())
    # a genuinely different function from the dense one (the truncation to k centres matters)
    dense = xi_plus_gradient(1.0, n, n_clusters=c, mode=mode, **KW)
    assert np.abs(r.xi - dense.xi).max() > 1e-6 * np.abs(dense.xi).max()


@pytest.mark.parametrize("mode", ["one_step", "full"])
def test_sparse_objects_use_only_n_by_k_duals(mode, monkeypatch):
    """No (N, c) Dual is formed; the cluster weights (column sums of U, eq. 20) add up to N since
    every row of U (eq. 18, renormalised over its set) sums to 1, so their tangents add up to 0;
    the centres (eq. 17 on the sphere) are unit vectors; centres in no set are dropped."""
    n, c, k = 300, 60, 3
    cat = cc.simulate_catalog(1.0, n, seed=1)
    state = approaches.fit_state(cat, "b", c, 2.0, 1, 0.5, neighbours=k)
    sizes = []
    init = dual.Dual.__init__

    def record(self, v, d=None):
        init(self, v, d)
        sizes.append(self.v.size)

    monkeypatch.setattr(dual.Dual, "__init__", record)
    pos, g1, g2, w = approaches.cluster_objects_dual(cat, "b", state, mode)
    assert max(sizes) <= 3 * n * k < n * c
    used = np.unique(state["neighbour_sets"]).size
    assert pos.shape == (3, used) and w.shape == g1.shape == g2.shape == (used,)
    np.testing.assert_allclose(dual.value(w).sum(), n, rtol=1e-12)
    np.testing.assert_allclose(abs(dual.tangent(w).sum()), 0.0, atol=1e-9 * np.abs(dual.tangent(w)).max())
    np.testing.assert_allclose(np.linalg.norm(dual.value(pos), axis=0), 1.0, rtol=1e-12)
    # the instrumentation sees the dense path's (N, c) Duals
    sizes.clear()
    with warnings.catch_warnings():      # plain dense FCM needs > 500 iterations here; irrelevant
        warnings.simplefilter("ignore", cc.ConvergenceWarning)
        dense_state = approaches.fit_state(cat, "b", c, 2.0, 1, 0.5)
    approaches.cluster_objects_dual(cat, "b", dense_state, "one_step")
    assert max(sizes) >= n * c


def _reference_sparse_b(xyz, g, state, mode):
    """Approach b on the neighbour sets as dense masked NumPy arrays (no Duals, no gather/scatter):
    eq. 16 distances to the used centres, eq. 18 with U_ik = 0 outside object k's set and each row
    renormalised over its set, eq. 17 (U^m-weighted mean of the unit vectors, projected onto the
    sphere), then eqs. 20-21 (weights: column sums of U; quantities: column-normalised means)."""
    sets, m = state["neighbour_sets"], state["fuzziness"]
    used = np.unique(sets)
    mask = np.zeros((xyz.shape[1], used.size), dtype=bool)
    mask[np.arange(sets.shape[0])[:, None], np.searchsorted(used, sets)] = True
    p = 2.0 / (m - 1.0)

    def memberships(v):                                     # eqs. 16 and 18
        d = np.arctan2(np.linalg.norm(np.cross(xyz.T[:, None, :], v.T[None, :, :]), axis=2), xyz.T @ v)
        on = mask & (d == 0)              # an object on a centre (the k-means++ start): its limit
        u = np.where(mask & ~on, np.where(mask & ~on, d, 1.0) ** -p, 0.0)
        u = np.where(on.any(axis=1, keepdims=True), on, u)
        return u / u.sum(axis=1, keepdims=True)

    def centres(u):                                         # eq. 17
        s = xyz @ u**m
        return s / np.linalg.norm(s, axis=0)

    if mode == "full":
        ra, dec = np.radians(np.asarray(state["init"])[used].T)
        v = np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)])
        for _ in range(state["n_iter"]):
            v = centres(memberships(v))
    else:
        v = centres(memberships(np.asarray(state["centres"])[:, used]))
    u = memberships(v)
    w = u.sum(axis=0)                                       # eq. 20 (column sums)
    return v, (g.real @ u) / w, (g.imag @ u) / w, w         # eq. 21


@pytest.mark.parametrize("mode, fuzziness", [("one_step", 2.0), ("full", 1.7)])
def test_sparse_objects_equal_dense_masked_reference(mode, fuzziness):
    """k < c: the cluster objects (positions, quantities, weights) equal an independent dense
    evaluation of eqs. 16-18, 20-21 with memberships zero outside each object's set (eq. 18
    renormalised over it)."""
    n, c, k = 300, 25, 4
    cat = cc.simulate_catalog(1.0, n, seed=3)
    state = approaches.fit_state(cat, "b", c, fuzziness, 3, 0.5, neighbours=k)
    got = approaches.cluster_objects_dual(cat, "b", state, mode)
    ref = _reference_sparse_b(dual.value(cat.xyz), cat.g, state, mode)
    for a, b in zip(got, ref):
        np.testing.assert_allclose(dual.value(a), b, rtol=1e-9, atol=1e-12 * np.abs(b).max())
    # the sets matter: the dense memberships at the same centres give other weights
    dense_w = dual.value(approaches._memberships(approaches._distances(dual.value(cat.xyz), ref[0]),
                                                 fuzziness)).sum(axis=0)
    assert np.abs(dual.value(got[3]) - dense_w).max() > 1e-3 * n / c


@pytest.mark.parametrize("kw, error", [
    (dict(neighbours=2.5), TypeError),
    (dict(neighbours=True), TypeError),
    (dict(neighbours="3"), TypeError),
    (dict(neighbours=0), ValueError),
    (dict(neighbours=11), ValueError),
    (dict(neighbours=3, approach="c"), ValueError),
    (dict(neighbours=3, approach="a"), ValueError),
    (dict(neighbours=3, approach="none"), ValueError),
    (dict(neighbours=3, state={"approach": "b", "neighbours": None}), ValueError),
    (dict(neighbours=None, state={"approach": "b", "neighbours": 3}), ValueError),
])
def test_bad_neighbours(kw, error):
    """neighbours must be an int in [1, n_clusters], for approach b only (eq. 18 on k nearest
    centres), and match the state's; the error names the argument."""
    with pytest.raises(error, match="neighbours"):
        xi_plus_gradient(**{"G": 1.0, "n_galaxies": 50, "approach": "b", "n_clusters": 10, **kw})
