"""Soft bins (eqs. 22-23) and dual-number primitives."""
import numpy as np
import pytest

import cosmocorr as cc
from cosmocorr.differentiable import dual as dl
from cosmocorr.differentiable import soft_xi_plus
from cosmocorr.differentiable.soft_bin_weights import soft_bin_weights
from cosmocorr.sky.synthetic import synthetic_shear_catalog


def test_weights_are_eqs_22_and_23():
    b = cc.Bins(1.0, 2.0, 1)
    x = np.linspace(0, 3, 31)
    for alpha in (1.0, 10.0, 100.0):
        s = soft_bin_weights(x, b, alpha, "sigmoid")[0]
        np.testing.assert_allclose(s, 1 / (1 + np.exp(-alpha * (x - 1))) / (1 + np.exp(alpha * (x - 2))), rtol=1e-12)
        gss = soft_bin_weights(x, b, alpha, "gaussian")[0]
        np.testing.assert_allclose(gss, np.exp(-alpha * (x - 1.5) ** 2), rtol=1e-12)
    with pytest.raises(ValueError, match="alpha"):
        soft_bin_weights(x, b, 0.0)
    with pytest.raises(ValueError, match="kind"):
        soft_bin_weights(x, b, 1.0, "box")


def test_dual_rules_match_analytic_derivatives():
    t = np.linspace(0.1, 2.0, 7)
    x = dl.Dual(t, np.ones_like(t))
    cases = [
        (x * x + 3 * x, 2 * t + 3),
        (1 / x, -1 / t**2),
        (dl.sqrt(x), 0.5 / np.sqrt(t)),
        (dl.exp(2 * x), 2 * np.exp(2 * t)),
        (dl.log(x), 1 / t),
        (dl.expit(x), np.exp(-t) / (1 + np.exp(-t)) ** 2),
        (dl.arctan2(x, 1 + x * x), ((1 + t * t) - 2 * t * t) / ((1 + t * t) ** 2 + t * t)),
        (x**2.5, 2.5 * t**1.5),
        ((x - 1) / (x + 1), 2 / (t + 1) ** 2),
    ]
    for y, expected in cases:
        np.testing.assert_allclose(y.d, expected, rtol=1e-12)


def test_soft_estimator_converges_to_hard_estimator():
    cat = synthetic_shear_catalog(300, seed=7)
    bins = cc.Bins(0.0, 60.0, 3)
    hard = cc.shear_shear(cat, bins=bins).xip
    errs = []
    for alpha in (0.3, 3.0, 30.0, 300.0, 30000.0):
        soft = dl.value(soft_xi_plus(cat.xyz, cat.g1, cat.g2, np.ones(cat.nobj), bins, alpha))
        errs.append(np.max(np.abs(soft - hard)))
    # only pairs within ~1/alpha of a bin edge still differ from the hard assignment
    assert errs[-1] < 1e-4 * np.max(np.abs(hard))
    assert errs[-1] < errs[2] < errs[0]
