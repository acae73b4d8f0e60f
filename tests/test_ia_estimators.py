"""3-D IA estimators (eqs. 9-11) against brute force, analytic cases, TreeCorr and halotools."""
import numpy as np
import pytest

from cosmocorr import ia

RBINS = np.logspace(-0.5, 0.9, 8)


def _brute(x, e, rbins, period=None):
    """Independent O(N^2) reference: ordered pairs, explicit minimum image."""
    d = x[None, :, :] - x[:, None, :]
    if period is not None:
        d = d - period * np.round(d / period)
    r = np.linalg.norm(d, axis=2)
    nb = rbins.size - 1
    cnt, ed, ee = np.zeros(nb), np.zeros(nb), np.zeros(nb)
    for k in range(nb):
        m = (r > rbins[k]) & (r <= rbins[k + 1])
        i, j = np.nonzero(m)
        rhat = d[i, j] / r[i, j][:, None]
        cnt[k] = i.size
        ed[k] = np.sum(np.sum(e[i] * rhat, axis=1) ** 2)
        ee[k] = np.sum(np.sum(e[i] * e[j], axis=1) ** 2)
    return cnt, ed / cnt - 1 / 3, ee / cnt - 1 / 3


def _unit(v):
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.mark.parametrize("period", [None, 20.0])
def test_matches_brute_force(rng, period):
    x = rng.uniform(0, 20, (400, 3))
    e = _unit(rng.normal(size=(400, 3)) + [0, 0, 1.5])
    cnt, om, et = _brute(x, e, RBINS, period)
    c = ia.ia_correlations(x, e, RBINS, period=period)
    np.testing.assert_array_equal(c.npairs, cnt)
    np.testing.assert_allclose(c.omega, om, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(c.eta, et, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ia.omega(x, e, RBINS, period=period), om, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ia.eta(x, e, RBINS, period=period), et, rtol=1e-12, atol=1e-14)


def test_isotropic_orientations_give_zero(rng):
    n = 20000
    x = rng.uniform(0, 50, (n, 3))
    e = rng.normal(size=(n, 3))
    rbins = np.logspace(0, 0.7, 5)
    c = ia.ia_correlations(x, e, rbins, period=50.0)
    # |e . v|^2 of a random axis has mean 1/3, variance 4/45; pairs share galaxies, so allow 5
    # sigma of the per-galaxy (not per-pair) noise
    sigma = np.sqrt(4 / 45 / (c.npairs / 2))
    assert np.all(np.abs(c.omega) < 5 * np.sqrt(2) * sigma + 1e-3)
    assert np.all(np.abs(c.eta) < 5 * np.sqrt(2) * sigma + 1e-3)


def test_radial_orientations_give_two_thirds(rng):
    # galaxies on a sphere with radial axes, seen from the centre (cross-correlation)
    u = _unit(rng.normal(size=(500, 3)))
    x = 10 + 3.0 * u
    om = ia.omega(x, u, [1.0, 2.9, 3.1], positions2=[[10.0, 10.0, 10.0]])
    np.testing.assert_allclose(om, [np.nan, 2 / 3], rtol=1e-12)
    # galaxies on a line, axes along the line (auto-correlation)
    z = np.sort(rng.uniform(0, 10, 100))
    line = np.column_stack([np.full(100, 5.0), np.full(100, 5.0), z])
    np.testing.assert_allclose(ia.omega(line, np.tile([0, 0, -2.0], (100, 1)), [0.01, 1, 5]), 2 / 3, rtol=1e-12)


def test_identical_orientations_give_eta_two_thirds(rng):
    x = rng.uniform(0, 10, (300, 3))
    e = np.tile([1.0, 2.0, -0.5], (300, 1)) * rng.choice([-1, 1], (300, 1))
    np.testing.assert_allclose(ia.eta(x, e, [0.5, 2, 4], period=10.0), 2 / 3, rtol=1e-12)


def test_empty_bin_is_nan(rng):
    x = rng.uniform(0, 1, (50, 3))
    c = ia.ia_correlations(x, rng.normal(size=(50, 3)), [1e-6, 2e-6, 0.5], period=None)
    assert np.isnan(c.omega[0]) and np.isnan(c.eta[0]) and np.isnan(c.meanr[0]) and c.npairs[0] == 0
    assert np.isfinite(c.omega[1])


def test_xi_periodic_matches_treecorr_counts(rng):
    treecorr = pytest.importorskip("treecorr")
    L = 30.0
    x = rng.uniform(0, L, (3000, 3))
    rbins = np.logspace(0, 1, 6)
    cat = treecorr.Catalog(x=x[:, 0], y=x[:, 1], z=x[:, 2])
    nn = treecorr.NNCorrelation(min_sep=rbins[0], max_sep=rbins[-1], nbins=5, bin_slop=0, metric="Periodic",
                                xperiod=L, yperiod=L, zperiod=L)
    nn.process(cat)
    s = ia.ia_pair_sums(x, rbins, period=L)
    np.testing.assert_allclose(s["npairs"], 2 * nn.npairs)   # TreeCorr counts unordered pairs
    # uniform points: xi is zero within Poisson noise
    assert np.all(np.abs(ia.xi(x, rbins, period=L)) < 5 / np.sqrt(nn.npairs) + 1e-3)


def test_xi_landy_szalay_matches_treecorr(rng):
    treecorr = pytest.importorskip("treecorr")
    centres = rng.uniform(0, 20, (40, 3))
    x = centres[rng.integers(40, size=1500)] + rng.normal(0, 0.8, (1500, 3))
    r = rng.uniform(x.min(0), x.max(0), (4000, 3))
    rbins = np.logspace(-0.5, 0.8, 6)
    kw = dict(min_sep=rbins[0], max_sep=rbins[-1], nbins=5, bin_slop=0)
    dcat = treecorr.Catalog(x=x[:, 0], y=x[:, 1], z=x[:, 2])
    rcat = treecorr.Catalog(x=r[:, 0], y=r[:, 1], z=r[:, 2])
    dd, dr, rr = treecorr.NNCorrelation(**kw), treecorr.NNCorrelation(**kw), treecorr.NNCorrelation(**kw)
    dd.process(dcat)
    dr.process(dcat, rcat)
    rr.process(rcat)
    ref, _ = dd.calculateXi(rr=rr, dr=dr)
    np.testing.assert_allclose(ia.xi(x, rbins, randoms=r), ref, rtol=1e-10)


def _halotools():
    return pytest.importorskip("halotools.mock_observables", reason="halotools is a test-only reference; "
                               "pip install halotools (builds from source, ~5 min) to run these checks")


@pytest.mark.parametrize("catalog", ["random", "aligned", "mock"])
def test_matches_halotools(rng, catalog):
    mo = _halotools()
    L = 40.0
    x = rng.uniform(0, L, (3000, 3))
    if catalog == "aligned":   # axes partly along z and towards the box centre
        e = _unit(0.7 * _unit(x - L / 2) + rng.normal(0, 0.3, (3000, 3)) + [0, 0, 0.5])
    elif catalog == "mock":    # the toy HOD + IA model with strong alignments
        gal = ia.populate(ia.simulate_halos(L, seed=5), ia.HOD_SETS["logM*>=9.0"], 0.8, 0.9, seed=6)
        x, e = gal.positions, gal.orientations
        assert np.nanmax(ia.omega(x, e, [0.1, 1.0], period=L)) > 0.1
    else:
        e = _unit(rng.normal(size=(3000, 3)))
    rbins = np.logspace(-0.5, 1.0, 8)
    for period in (L, None):
        om = mo.ed_3d(x, e, x, rbins, period=period)
        et = mo.ee_3d(x, e, x, e, rbins, period=period)
        np.testing.assert_allclose(ia.omega(x, e, rbins, period=period), om, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(ia.eta(x, e, rbins, period=period), et, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("bad, match", [
    (dict(positions=np.zeros((5, 2))), "positions"),
    (dict(orientations=np.zeros((5, 3))), "orientations"),
    (dict(orientations=np.ones((4, 3))), "orientations"),
    (dict(rbins=[1.0, 0.5]), "rbins"),
    (dict(rbins=[0.1, 6.0], period=10.0), "rbins"),
    (dict(positions=np.full((5, 3), np.nan)), "positions"),
    (dict(period=-1.0), "period"),
])
def test_bad_input(bad, match):
    args = dict(positions=np.ones((5, 3)) * np.arange(5)[:, None], orientations=np.ones((5, 3)), rbins=[0.1, 1.0],
                period=None)
    args.update(bad)
    with pytest.raises(ValueError, match=match):
        ia.ia_correlations(**args)


def test_xi_needs_randoms_or_period(rng):
    with pytest.raises(ValueError, match="randoms"):
        ia.xi(rng.uniform(size=(10, 3)), [0.1, 0.5])


def test_weighted_matches_halotools(rng):
    mo = _halotools()
    x = rng.uniform(0, 30.0, (2000, 3))
    e = _unit(rng.normal(size=(2000, 3)) + [0.0, 0.0, 1.0])
    w = rng.uniform(0.2, 2.0, 2000)
    rbins = np.logspace(-0.3, 0.9, 6)
    om = mo.ed_3d(x, e, x, rbins, weights1=w, weights2=w, period=30.0)
    et = mo.ee_3d(x, e, x, e, rbins, weights1=w, weights2=w, period=30.0)
    np.testing.assert_allclose(ia.omega(x, e, rbins, period=30.0, weights=w), om, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ia.eta(x, e, rbins, period=30.0, weights=w), et, rtol=1e-9, atol=1e-12)
