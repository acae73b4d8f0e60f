"""The toy HOD + IA forward model: Watson sampling, occupations (eqs. 12-13), alignment response."""
import numpy as np
import pytest
from scipy import integrate, stats

from cosmocorr import ia
from cosmocorr.ia.watson import sample_abs_cos


@pytest.mark.parametrize("mu", [-0.9, -0.4, 0.3, 0.8, 0.97])
def test_watson_matches_its_density(rng, mu):
    """|cos theta| draws follow p(x) ~ exp(kappa x^2) on [0, 1] (KS test against quadrature)."""
    kappa = np.tan(np.pi * mu / 2)
    shift = max(kappa, 0)
    norm = integrate.quad(lambda t: np.exp(kappa * t * t - shift), 0, 1)[0]
    grid = np.linspace(0, 1, 401)
    pdf = np.exp(kappa * grid**2 - shift) / norm
    cdf = np.concatenate([[0], np.cumsum(0.5 * (pdf[1:] + pdf[:-1]) * np.diff(grid))])
    x = sample_abs_cos(mu, 20000, rng)
    assert stats.kstest(x, lambda v: np.interp(v, grid, cdf)).pvalue > 1e-3


def test_watson_limits(rng):
    a = rng.normal(size=(500, 3))
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    np.testing.assert_allclose(np.abs(np.sum(ia.watson_axes(a, 1.0, rng) * a, axis=1)), 1, atol=1e-12)
    np.testing.assert_allclose(np.sum(ia.watson_axes(a, -1.0, rng) * a, axis=1), 0, atol=1e-12)
    e = ia.watson_axes(a, 0.0, rng)
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1, atol=1e-12)
    assert stats.kstest(np.abs(np.sum(e * a, axis=1)), "uniform").pvalue > 1e-3
    with pytest.raises(ValueError, match="mu"):
        ia.alignment_kappa(1.5)


def test_mean_occupations_follow_eqs_12_13(rng):
    hod = ia.HODParams(logMmin=12.0, sigma_logM=0.3, logM0=12.2, logM1=13.0, alpha=0.9)
    logm = np.repeat([11.7, 12.0, 12.5, 13.5, 14.2], 20000)
    halos = ia.HaloCatalog(positions=rng.uniform(0, 100, (logm.size, 3)), log_mass=logm,
                           radius=np.full(logm.size, 0.3), concentration=np.full(logm.size, 8.0),
                           axes=np.tile([0, 0, 1.0], (logm.size, 1)), box_size=100.0)
    gal = ia.populate(halos, hod, 0.0, 0.0, seed=rng)
    for lm in np.unique(logm):
        idx = np.flatnonzero(logm == lm)
        ncen = np.isin(idx, gal.halo_index[gal.is_central]).mean()
        nsat = np.isin(gal.halo_index[~gal.is_central], idx).sum() / idx.size
        exp_cen = 0.5 * (1 + __import__("math").erf((lm - 12.0) / 0.3))
        m = 10**lm
        exp_sat = exp_cen * max((m - 10**12.2) / 1e13, 0) ** 0.9
        assert abs(ncen - exp_cen) < 5 * np.sqrt(exp_cen * (1 - exp_cen) / idx.size) + 1e-9
        assert abs(nsat - exp_sat) < 5 * np.sqrt(exp_sat / idx.size) + 1e-9


def test_occupations_match_halotools():
    pytest.importorskip("halotools", reason="halotools is a test-only reference (pip install halotools)")
    from halotools.empirical_models import Zheng07Cens, Zheng07Sats
    hod = ia.HODParams(logMmin=12.1, sigma_logM=0.28, logM0=11.9, logM1=13.1, alpha=1.05)
    cens = Zheng07Cens()
    cens.param_dict.update(logMmin=hod.logMmin, sigma_logM=hod.sigma_logM)
    sats = Zheng07Sats(modulate_with_cenocc=True)
    sats.param_dict.update(logMmin=hod.logMmin, sigma_logM=hod.sigma_logM, logM0=hod.logM0, logM1=hod.logM1,
                           alpha=hod.alpha)
    logm = np.linspace(11, 15, 41)
    np.testing.assert_allclose(ia.mean_ncen(logm, hod), cens.mean_occupation(prim_haloprop=10**logm), rtol=1e-10)
    np.testing.assert_allclose(ia.mean_nsat(logm, hod), sats.mean_occupation(prim_haloprop=10**logm), rtol=1e-8,
                               atol=1e-14)


def test_satellites_stay_in_their_halos(rng):
    halos = ia.simulate_halos(60.0, seed=3)
    gal = ia.populate(halos, ia.HOD_SETS["logM*>=9.5"], 0.5, 0.5, seed=4)
    d = gal.positions - halos.positions[gal.halo_index]
    d -= 60.0 * np.round(d / 60.0)
    assert np.all(np.linalg.norm(d, axis=1) <= halos.radius[gal.halo_index] * (1 + 1e-9))
    assert np.all(np.linalg.norm(d[gal.is_central], axis=1) == 0)
    np.testing.assert_allclose(np.linalg.norm(gal.orientations, axis=1), 1, atol=1e-12)
    assert np.all((gal.positions >= 0) & (gal.positions < 60.0))


def test_forward_model_is_reproducible():
    halos = ia.simulate_halos(40.0, seed=1)
    a = ia.populate(halos, ia.HOD_SETS["logM*>=10.0"], 0.3, -0.2, seed=7)
    b = ia.populate(halos, ia.HOD_SETS["logM*>=10.0"], 0.3, -0.2, seed=7)
    np.testing.assert_array_equal(a.positions, b.positions)
    np.testing.assert_array_equal(a.orientations, b.orientations)


def test_omega_grows_with_alignment_strengths():
    halos = ia.simulate_halos(80.0, seed=11)
    hod = ia.HOD_SETS["logM*>=9.5"]
    rbins = np.logspace(-1, 0.2, 6)

    def mean_omega(mc, ms):
        return np.mean([ia.populate(halos, hod, mc, ms, seed=s).correlations(rbins).omega for s in range(4)], axis=0)

    w00 = mean_omega(0, 0)
    assert np.all(np.abs(w00) < 0.03)
    assert np.all(mean_omega(0, 0.8) > w00 + 0.03)
    assert np.all(mean_omega(0, -0.8) < w00 - 0.03)
    assert np.mean(mean_omega(0.8, 0) - w00) > 0.01
    assert np.mean(mean_omega(-0.8, 0) - w00) < -0.005


def test_bad_model_input():
    halos = ia.simulate_halos(30.0, seed=0)
    with pytest.raises(ValueError, match="mu"):
        ia.populate(halos, ia.HOD_SETS["logM*>=10.0"], 1.2, 0.0)
    with pytest.raises(TypeError, match="hod"):
        ia.populate(halos, {"logMmin": 12}, 0.0, 0.0)
    with pytest.raises(ValueError, match="sigma_logM"):
        ia.HODParams(sigma_logM=0.0)
    with pytest.raises(ValueError, match="box_size"):
        ia.simulate_halos(-5.0)
