"""Projected IA correlations w_g+ and w_++ against halotools' gi_plus_projected / ii_plus_projected."""
import numpy as np
import pytest

import cosmocorr as cc
from cosmocorr.ia import HOD_SETS, populate, simulate_halos

halotools_ia = pytest.importorskip("halotools.mock_observables")

RP = np.logspace(-0.5, 1.2, 7)
PI_MAX = 10.0


@pytest.fixture(scope="module")
def mock():
    rng = np.random.default_rng(3)
    halos = simulate_halos(box_size=60.0, log_mass_min=11.5, seed=1)
    gals = populate(halos, HOD_SETS["logM*>=10.0"], mu_cen=0.8, mu_sat=0.5, seed=2)
    o, e = gals.projected_shapes()
    n = len(gals)
    return dict(x=gals.positions, o=o, e=e, w=rng.uniform(0.5, 1.5, n), box=gals.box_size, gals=gals, rng=rng)


def test_wgp_wpp_equal_halotools_periodic(mock):
    x, o, e, L = mock["x"], mock["o"], mock["e"], mock["box"]
    ref = halotools_ia.gi_plus_projected(x, o, e, x, RP, PI_MAX, period=L)
    np.testing.assert_allclose(cc.ia.wgp(x, o, e, x, RP, PI_MAX, period=L), ref, rtol=1e-10)
    ref = halotools_ia.ii_plus_projected(x, o, e, x, o, e, RP, PI_MAX, period=L)
    np.testing.assert_allclose(cc.ia.wpp(x, o, e, x, o, e, RP, PI_MAX, period=L), ref, rtol=1e-10)
    # the alignment model makes w_g+ positive on small scales (satellites point at their centrals)
    assert np.all(halotools_ia.gi_plus_projected(x, o, e, x, RP, PI_MAX, period=L)[:3] > 0)


def test_wgp_wpp_equal_halotools_with_randoms_and_weights(mock):
    x, o, e, w, L, rng = mock["x"], mock["o"], mock["e"], mock["w"], mock["box"], mock["rng"]
    sub = np.arange(0, len(x), 3)
    x2, o2, e2, w2 = x[sub], o[sub], e[sub], w[sub]
    r1, r2 = rng.uniform(0, L, (3000, 3)), rng.uniform(0, L, (2000, 3))
    kw = dict(randoms1=r1, randoms2=r2, weights1=w, weights2=w2)
    ref = halotools_ia.gi_plus_projected(x, o, e, x2, RP, PI_MAX, **kw)
    got = cc.ia.wgp(x, o, e, x2, RP, PI_MAX, randoms=(r1, r2), weights1=w, weights2=w2)
    np.testing.assert_allclose(got, ref, rtol=1e-10)
    ref = halotools_ia.ii_plus_projected(x, o, e, x2, o2, e2, RP, PI_MAX, **kw)
    got = cc.ia.wpp(x, o, e, x2, o2, e2, RP, PI_MAX, randoms=(r1, r2), weights1=w, weights2=w2)
    np.testing.assert_allclose(got, ref, rtol=1e-10)
    # one random catalog for both samples
    ref = halotools_ia.gi_plus_projected(x, o, e, x2, RP, PI_MAX, randoms1=r1, randoms2=r1)
    np.testing.assert_allclose(cc.ia.wgp(x, o, e, x2, RP, PI_MAX, randoms=r1), ref, rtol=1e-10)


def test_isotropic_orientations_give_no_signal():
    """Random orientations: w_g+ and w_++ scatter about 0 (analytic expectation)."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 50, (3000, 3))
    o = rng.normal(size=(3000, 2))
    e = np.full(3000, 0.3)
    w = cc.ia.wgp(x, o, e, x, RP, PI_MAX, period=50.0)
    # per-pair e cos(2 phi) has mean 0 and rms 0.3 / sqrt(2): compare with the Poisson error
    rr = 3000**2 / 50.0**3 * np.pi * np.diff(RP**2) * 2 * PI_MAX
    sigma = 2 * PI_MAX * 0.3 / np.sqrt(2) / np.sqrt(rr) * 2   # x2: pairs are counted in both orders
    assert np.all(np.abs(w) < 5 * sigma)


def test_hod_sets_projected_outputs(mock):
    out = mock["gals"].projected_correlations(RP, PI_MAX)
    x, L = mock["x"], mock["box"]
    o, e = mock["gals"].projected_shapes()
    np.testing.assert_allclose(out["wgp"], halotools_ia.gi_plus_projected(x, o, e, x, RP, PI_MAX, period=L),
                               rtol=1e-10)
    # projected shapes: e in [0, (1 - q) / (1 + q)], unit orientations
    q = 0.6
    assert np.all((e >= 0) & (e <= (1 - q) / (1 + q) + 1e-12))
    np.testing.assert_allclose(np.hypot(o[:, 0], o[:, 1]), 1.0, rtol=1e-12)


def test_projected_bad_inputs(mock):
    x, o, e = mock["x"], mock["o"], mock["e"]
    with pytest.raises(ValueError, match="orientations"):
        cc.ia.wgp(x, o[:, :1], e, x, RP, PI_MAX, period=60.0)
    with pytest.raises(ValueError, match="randoms"):
        cc.ia.wgp(x, o, e, x, RP, PI_MAX)
    with pytest.raises(ValueError, match="pi_max"):
        cc.ia.wgp(x, o, e, x, RP, -1.0, period=60.0)
    with pytest.raises(ValueError, match="rp_bins"):
        cc.ia.wpp(x, o, e, x, o, e, RP[::-1], PI_MAX, period=60.0)
    with pytest.raises(ValueError, match="zero-length"):
        cc.ia.wgp(x, np.zeros_like(o), e, x, RP, PI_MAX, period=60.0)


def test_projected_small_chunks_and_grid_ties_equal_halotools(monkeypatch):
    """Tiny chunks (a clump splits into many pieces) and a lattice (pairs at dz = 0, |dz| = pi_max
    and r_p on bin edges, across the periodic faces): the column search still equals halotools."""
    from cosmocorr.ia import projected

    monkeypatch.setattr(projected, "_CHUNK_PAIRS", 300)
    rng = np.random.default_rng(11)
    L = 40.0
    clump = np.mod(20.0 + rng.normal(0, 0.7, (400, 3)), L)
    lattice = np.floor(rng.uniform(0, L, (600, 3)) / 2.5) * 2.5
    x = np.concatenate([clump, lattice, rng.uniform(0, L, (400, 3))])
    n = len(x)
    o, e = rng.normal(size=(n, 2)), rng.uniform(0, 0.4, n)
    rp, pi_max = np.array([0.5, 1.0, 2.5, 5.0, 10.0]), 5.0
    np.testing.assert_allclose(cc.ia.wgp(x, o, e, x, rp, pi_max, period=L),
                               halotools_ia.gi_plus_projected(x, o, e, x, rp, pi_max, period=L), rtol=1e-10)
    x2, o2, e2 = x[::2], o[::2], e[::2]
    np.testing.assert_allclose(cc.ia.wpp(x, o, e, x2, o2, e2, rp, pi_max, period=L),
                               halotools_ia.ii_plus_projected(x, o, e, x2, o2, e2, rp, pi_max, period=L), rtol=1e-10)
