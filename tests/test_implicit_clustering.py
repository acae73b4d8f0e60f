"""Approach b with mode="implicit" (issue 25): the derivative of the converged fuzzy c-means fixed
point (implicit function theorem on eqs. 17-18), checked against central differences that re-fit
the clustering from the same k-means++ start at G +- h (no basin change: equal argmax labels), and
the fixed point against plain fuzzy c-means run to a tight tolerance; the same for sparse
memberships (the iteration restricted to the fit's neighbour sets, equal sets checked at G +- h)."""
import numpy as np
import pytest

import cosmocorr as cc
from cosmocorr import xi_plus_gradient
from cosmocorr.differentiable import approaches, dual

H = 1e-6
KW = dict(approach="b", n_clusters=20, seed=0, bins=cc.Bins(0.0, 600.0, 3), alpha=0.05)


@pytest.mark.parametrize("n", [150, 300])
def test_implicit_derivative_matches_refit_differences(n):
    r = xi_plus_gradient(1.0, n, mode="implicit", **KW)
    p = xi_plus_gradient(1.0 + H, n, mode="implicit", state=r.state, refit=True, **KW)
    m = xi_plus_gradient(1.0 - H, n, mode="implicit", state=r.state, refit=True, **KW)
    assert np.array_equal(p.state["labels"], m.state["labels"])          # same basin at G +- h
    assert np.array_equal(p.state["labels"], r.state["labels"])
    fd = (p.xi - m.xi) / (2 * H)
    np.testing.assert_allclose(r.dxi_dG, fd, rtol=1e-4, atol=1e-6 * np.abs(fd).max())
    # the frozen-clustering derivative of the same objects is a different quantity here
    one = xi_plus_gradient(1.0, n, mode="one_step", **KW)
    assert np.abs(one.dxi_dG - fd).max() > 10 * np.abs(r.dxi_dG - fd).max()


def test_fixed_point_equals_tightly_converged_fuzzy_c_means():
    cat = cc.simulate_catalog(1.0, 200, seed=2, with_tangent=False)
    state = approaches.fit_state(cat, "b", 15, 2.0, 2, 0.5)
    xyz = dual.value(cat.xyz)
    V = approaches.fixed_point_centres(xyz, state["centres"], 2.0)
    fcm = cc.fuzzy_c_means(cat.ra, cat.dec, 15, fuzziness=2.0, init=state["init"], tol=1e-13, max_iter=20000)
    np.testing.assert_allclose(V, fcm.centers_xyz, atol=1e-10)
    step = dual.value(approaches._fcm_step(xyz, V, 2.0))
    assert np.abs(step - V).max() < 1e-13


@pytest.mark.parametrize("n, k", [(150, 5), (300, 3)])
def test_sparse_implicit_derivative_matches_refit_differences(n, k):
    """Sparse memberships (each object's k nearest centres): the implicit derivative of the fixed
    point of the iteration restricted to the fit's neighbour sets equals central differences that
    re-fit the sparse clustering at G +- h, where the re-fits keep the same sets and labels."""
    r = xi_plus_gradient(1.0, n, mode="implicit", neighbours=k, **KW)
    p = xi_plus_gradient(1.0 + H, n, mode="implicit", neighbours=k, state=r.state, refit=True, **KW)
    m = xi_plus_gradient(1.0 - H, n, mode="implicit", neighbours=k, state=r.state, refit=True, **KW)
    for key in ("labels", "neighbour_sets"):                              # same basin at G +- h
        assert np.array_equal(p.state[key], m.state[key]) and np.array_equal(p.state[key], r.state[key])
    fd = (p.xi - m.xi) / (2 * H)
    np.testing.assert_allclose(r.dxi_dG, fd, rtol=1e-4, atol=1e-6 * np.abs(fd).max())
    one = xi_plus_gradient(1.0, n, mode="one_step", neighbours=k, **KW)
    assert np.abs(one.dxi_dG - fd).max() > 10 * np.abs(r.dxi_dG - fd).max()


def test_sparse_implicit_with_all_centres_is_dense_implicit():
    """k = c neighbours: the sparse implicit derivative is the dense one."""
    a = xi_plus_gradient(1.0, 150, mode="implicit", neighbours=20, **KW)
    b = xi_plus_gradient(1.0, 150, mode="implicit", **KW)
    np.testing.assert_allclose(a.xi, b.xi, rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(a.dxi_dG, b.dxi_dG, rtol=1e-8, atol=1e-10 * np.abs(b.dxi_dG).max())


@pytest.mark.parametrize("kw", [dict(approach="c"), dict(approach="a")])
def test_implicit_mode_needs_approach_b(kw):
    with pytest.raises(ValueError, match="implicit"):
        xi_plus_gradient(1.0, 60, mode="implicit", n_clusters=10, **kw)
