"""Multi-chain diagnostics (Vehtari et al. 2021) against ArviZ and against AR(1) theory."""
import warnings

import numpy as np
import pytest

from cosmocorr.surrogate.diagnostics import (effective_sample_size, ess_bulk, ess_mean, ess_tail, mcse_mean, rhat,
                                             split_rhat)


def _arviz(x, kind):
    """ArviZ's value for a (chains, draws) array: arviz_stats' array interface (ArviZ >= 1.0) or
    arviz.rhat/ess/mcse (ArviZ 0.x)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        az = pytest.importorskip("arviz")
        try:
            from arviz_stats.base import array_stats
        except ImportError:
            array_stats = None
    if array_stats is not None:
        kw = dict(chain_axis=0, draw_axis=1)
        if kind == "rhat":
            return float(array_stats.rhat(x, method="rank", **kw))
        if kind == "mcse_mean":
            return float(array_stats.mcse(x, method="mean", **kw))
        return float(array_stats.ess(x, method=kind, **kw))
    if kind == "rhat":
        return float(az.rhat(x, method="rank"))
    if kind == "mcse_mean":
        return float(az.mcse(x, method="mean"))
    return float(az.ess(x, method=kind))


def ar1(rng, chains, draws, phi):
    """Stationary AR(1) chains with unit innovations."""
    x = np.empty((chains, draws))
    x[:, 0] = rng.normal(size=chains) / np.sqrt(1 - phi**2)
    e = rng.normal(size=(chains, draws))
    for t in range(1, draws):
        x[:, t] = phi * x[:, t - 1] + e[:, t]
    return x


def _cases():
    rng = np.random.default_rng(11)
    stuck = rng.normal(size=(4, 600))
    stuck[2] = 0.4                          # one chain never moves
    shifted = ar1(rng, 4, 1000, 0.5)
    shifted[0] += 3 / np.sqrt(1 - 0.25)     # one chain 3 sigma away
    scale = rng.normal(size=(4, 500))
    scale[3] *= 3                           # same mean, one chain wider: only the folded R-hat sees it
    return {"well-mixed": rng.normal(size=(4, 1000)), "AR(1) phi=0.9, odd length": ar1(rng, 4, 1001, 0.9),
            "stuck chain": stuck, "shifted chain": shifted, "different scale": scale,
            "heavy tails": rng.standard_t(2, size=(3, 800))}


CASES = _cases()


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("kind, ours", [("rhat", rhat), ("bulk", ess_bulk), ("tail", ess_tail), ("mean", ess_mean),
                                        ("mcse_mean", mcse_mean)])
def test_equal_to_arviz(case, kind, ours):
    x = CASES[case]
    np.testing.assert_allclose(ours(x), _arviz(x, kind), rtol=1e-6)


def test_issue_example_shifted_chain_has_small_ess():
    """Issue 14: 4 AR(1) chains (phi = 0.5), one shifted by 3 sigma. The within-chain-only ESS
    reported ~1400; the multi-chain ESS must be small, as ArviZ's, and R-hat must flag it."""
    x = CASES["shifted chain"]
    ess = ess_bulk(x)
    assert ess < 50
    np.testing.assert_allclose(ess, _arviz(x, "bulk"), rtol=1e-6)
    assert rhat(x) > 1.3
    # without the shift the same chains give the AR(1) value N (1 - phi) / (1 + phi)
    unshifted = x.copy()
    unshifted[0] -= 3 / np.sqrt(1 - 0.25)
    assert 0.75 * 4000 / 3 < ess_mean(unshifted) < 1.3 * 4000 / 3


def test_ar1_theory_and_shapes():
    rng = np.random.default_rng(5)
    phi = 0.8
    x = np.stack([ar1(rng, 4, 4000, phi), rng.normal(size=(4, 4000))], axis=-1)
    expect = 16000 * (1 - phi) / (1 + phi)
    ess = ess_bulk(x)
    assert ess.shape == (2,)
    assert 0.8 * expect < ess[0] < 1.25 * expect
    assert 0.85 * 16000 < ess[1] < 1.15 * 16000
    assert np.all(rhat(x) < 1.01)
    assert isinstance(rhat(x[..., 0]), float) and isinstance(ess_tail(x[..., 0]), float)
    # mcse of the mean: sd / sqrt(ess_mean), checked against the AR(1) long-run variance
    se_theory = np.sqrt(1 / (1 - phi) ** 2 / 16000)
    assert 0.8 * se_theory < mcse_mean(x[..., 0]) < 1.25 * se_theory
    # the names used before issue 14 are aliases
    assert split_rhat is rhat and effective_sample_size is ess_bulk


def test_constant_parameter_is_nan_and_bad_input():
    x = np.zeros((2, 50, 2))
    x[..., 1] = np.random.default_rng(0).normal(size=(2, 50))
    r = rhat(x)
    assert np.isnan(r[0]) and np.isfinite(r[1])
    assert np.isnan(ess_bulk(x)[0])
    with pytest.raises(ValueError, match="shape"):
        rhat(np.zeros(10))
    with pytest.raises(ValueError, match="4 draws"):
        ess_bulk(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="NaN"):
        ess_tail(np.full((2, 10), np.nan))
    with pytest.raises(TypeError, match="numeric"):
        mcse_mean(np.array([["a"] * 5] * 2))
