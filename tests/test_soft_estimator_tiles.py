"""The tiled, hand-differentiated soft_xi_plus equals a direct Dual evaluation over all pairs (issue 17)."""
import numpy as np
import pytest

from cosmocorr import Bins
from cosmocorr.differentiable import dual as dl
from cosmocorr.differentiable.dual import Dual
from cosmocorr.differentiable.soft_bin_weights import soft_bin_weights
from cosmocorr.differentiable.soft_estimator import _pair_terms, soft_xi_plus


def _direct(xyz, g1, g2, w, bins, alpha, kind):
    """Every pair i < j at once with Dual arithmetic (Vincenty separation, TreeCorr projection)."""
    i, j = np.triu_indices(dl.value(xyz).shape[1], 1)
    r, xp = _pair_terms(xyz[:, i], xyz[:, j], g1[i], g2[i], g1[j], g2[j])
    ww = w[i] * w[j]
    W = soft_bin_weights(r, bins, alpha, kind)
    return (W * (ww * xp)).sum(axis=1) / (W * ww).sum(axis=1)


def _objects(rng, n, cap_z=None):
    v = rng.normal(size=(3, n))
    v /= np.linalg.norm(v, axis=0)
    if cap_z is not None:
        v = v[:, v[2] > cap_z]
        n = v.shape[1]
    d = rng.normal(size=(3, n))
    d -= v * np.sum(v * d, axis=0)
    return (Dual(v, d), Dual(rng.normal(0, 0.1, n), rng.normal(0, 0.1, n)),
            Dual(rng.normal(0, 0.1, n), rng.normal(0, 0.1, n)), Dual(rng.uniform(0.5, 2, n), rng.normal(0, 0.1, n)))


@pytest.mark.parametrize("kind, alpha", [("sigmoid", 0.05), ("gaussian", 1e-4)])
@pytest.mark.parametrize("cap_z, bins", [(0.97, Bins(0.0, 600.0, 3)), (None, Bins(0.0, 12000.0, 4))],
                         ids=["cap", "whole_sky"])
def test_tiles_equal_direct_dual_evaluation(kind, alpha, cap_z, bins, rng):
    xyz, g1, g2, w = _objects(rng, 500 if cap_z is None else 6000, cap_z)
    ref = _direct(xyz, g1, g2, w, bins, alpha, kind)
    for chunk in (3000, 32_768):
        got = soft_xi_plus(xyz, g1, g2, w, bins, alpha, kind, chunk=chunk)
        np.testing.assert_allclose(got.v, ref.v, rtol=1e-11)
        np.testing.assert_allclose(got.d, ref.d, rtol=1e-9, atol=1e-12 * np.abs(ref.d).max())


def test_plain_arrays_give_zero_tangent(rng):
    xyz, g1, g2, w = _objects(rng, 4000, 0.97)
    got = soft_xi_plus(xyz.v, g1.v, g2.v, w.v, Bins(0.0, 600.0, 3), 0.05)
    ref = _direct(xyz.v, g1.v, g2.v, w.v, Bins(0.0, 600.0, 3), 0.05, "sigmoid")
    np.testing.assert_allclose(got.v, dl.value(ref), rtol=1e-11)
    np.testing.assert_array_equal(got.d, 0.0)
