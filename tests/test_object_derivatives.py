"""Per-object JVPs and VJPs of the soft estimators (issue 25; paper sec. 6, eqs. 8, 22-23, 1, 2-6).

Checked against: central finite differences of the same estimator (one field at a time, a relative
step per quantity), the <v, J t> identity between the reverse and the forward pass (1e-10), the
Dual-number soft estimator of :mod:`cosmocorr.differentiable.soft_estimator` (tested against a
direct all-pairs Dual evaluation), the exact estimators (tested against TreeCorr) for the
sharp-bin values, and a brute-force all-pairs evaluation of the soft pair counts.
"""
import numpy as np
import pytest

import cosmocorr as cc
from cosmocorr.differentiable import object_derivatives as od
from cosmocorr.differentiable.soft_bin_weights import soft_bin_weights
from cosmocorr.differentiable.soft_estimator import soft_xi_plus
from cosmocorr.differentiable.soft_pair_sums import Side, pair_sums
from cosmocorr.sky.geometry import separation
from cosmocorr.sky.synthetic import synthetic_shear_catalog, synthetic_star_catalog, uniform_randoms

BINS = cc.Bins(2.0, 30.0, 4)
KINDS = [("sigmoid", 0.5), ("gaussian", 0.02)]
#: central-difference step per quantity (relative to its scale: degrees for angles)
STEP = {"ra": 1e-6, "dec": 1e-6, "g1": 1e-5, "g2": 1e-5, "w": 1e-5, "g1_star": 1e-5, "g2_star": 1e-5,
        "g1_model": 1e-5, "g2_model": 1e-5, "T_star": 1e-5, "T_model": 1e-5}


@pytest.fixture(scope="module")
def shear_cat():
    return synthetic_shear_catalog(300, seed=5, weighted=True, width_deg=1.5)


def _fd_check(f_plus_minus, analytic, h, rtol=2e-5):
    plus, minus = f_plus_minus(h), f_plus_minus(-h)
    for p, m, a in zip(plus, minus, analytic):
        fd = (p - m) / (2 * h)
        np.testing.assert_allclose(a, fd, rtol=rtol, atol=rtol * np.abs(fd).max())


def _shifted(cat, key, h, t):
    q = {"ra": cat.ra, "dec": cat.dec, "g1": cat.g1, "g2": cat.g2, "w": cat.w}
    q = {k: v + h * t if k == key else v for k, v in q.items()}
    return cc.Catalog(q["ra"], q["dec"], q["g1"], q["g2"], q["w"])


def test_value_equals_dual_soft_estimator_and_exact_estimator(shear_cat):
    """xi+ equals the Dual-number soft estimator; with sharp bins xi+ and xi- equal cc.shear_shear."""
    ref = soft_xi_plus(shear_cat.xyz, shear_cat.g1, shear_cat.g2, shear_cat.w, BINS, 0.5)
    got = od.soft_shear_shear(shear_cat, BINS, alpha=0.5)
    np.testing.assert_allclose(got.xip, ref.v, rtol=1e-11)
    ex = cc.shear_shear(shear_cat, bins=BINS)
    hard = od.exact_shear_shear(shear_cat, BINS)
    np.testing.assert_allclose(hard.xip, ex.xip, rtol=1e-9)
    np.testing.assert_allclose(hard.xim, ex.xim, rtol=1e-9)


def test_skipped_tiles_and_threads_do_not_change_the_result():
    """A 6-degree catalog with 30-arcmin bins: most tiles are skipped; the result equals the
    unskipped Dual estimator, and is the same on 1 and 2 threads."""
    cat = synthetic_shear_catalog(2500, seed=1, width_deg=6.0)
    ref = soft_xi_plus(cat.xyz, cat.g1, cat.g2, cat.w, BINS, 0.5)
    cc.set_num_threads(1)
    try:
        one = od.soft_shear_shear_vjp(cat, BINS, np.ones(4), np.ones(4), alpha=0.5)
        val = od.soft_shear_shear(cat, BINS, alpha=0.5)
        cc.set_num_threads(2)
        two = od.soft_shear_shear_vjp(cat, BINS, np.ones(4), np.ones(4), alpha=0.5)
    finally:
        cc.set_num_threads(None)
    np.testing.assert_allclose(val.xip, ref.v, rtol=1e-11)
    for k in one:
        np.testing.assert_array_equal(one[k], two[k])


@pytest.mark.parametrize("kind, alpha", KINDS)
@pytest.mark.parametrize("key", od.SHEAR_INPUTS)
def test_shear_jvp_matches_central_differences(shear_cat, key, kind, alpha, rng):
    t = rng.normal(size=len(shear_cat))
    r = od.soft_shear_shear(shear_cat, BINS, alpha, kind, tangents={key: t[:, None]})
    assert r.dxip.shape == r.dxim.shape == (4, 1)

    def f(h):
        s = od.soft_shear_shear(_shifted(shear_cat, key, h, t), BINS, alpha, kind)
        return s.xip, s.xim
    _fd_check(f, (r.dxip[:, 0], r.dxim[:, 0]), STEP[key])


@pytest.mark.parametrize("kind, alpha", KINDS)
def test_shear_vjp_equals_jvp(shear_cat, kind, alpha, rng):
    n = len(shear_cat)
    T = {k: rng.normal(size=(n, 3)) for k in od.SHEAR_INPUTS}
    r = od.soft_shear_shear(shear_cat, BINS, alpha, kind, tangents=T)
    cp, cm = rng.normal(size=4), rng.normal(size=4)
    g = od.soft_shear_shear_vjp(shear_cat, BINS, cp, cm, alpha=alpha, kind=kind)
    for k in od.SHEAR_INPUTS:                       # field by field
        rk = od.soft_shear_shear(shear_cat, BINS, alpha, kind, tangents={k: T[k]})
        np.testing.assert_allclose(g[k] @ T[k], cp @ rk.dxip + cm @ rk.dxim, rtol=1e-10)
    lhs = sum(g[k] @ T[k] for k in od.SHEAR_INPUTS)
    np.testing.assert_allclose(lhs, cp @ r.dxip + cm @ r.dxim, rtol=1e-10)


def test_exact_estimator_derivatives(shear_cat, rng):
    """Sharp bins: the JVP in g1, g2, w equals central differences and the VJP; no position
    derivative (a ValueError names the key)."""
    n = len(shear_cat)
    T = {k: rng.normal(size=(n, 2)) for k in ("g1", "g2", "w")}
    r = od.exact_shear_shear(shear_cat, BINS, tangents=T)
    for k in T:
        rk = od.exact_shear_shear(shear_cat, BINS, tangents={k: T[k][:, :1]})

        def f(h):
            s = od.exact_shear_shear(_shifted(shear_cat, k, h, T[k][:, 0]), BINS)
            return s.xip, s.xim
        _fd_check(f, (rk.dxip[:, 0], rk.dxim[:, 0]), STEP[k])
    cp, cm = rng.normal(size=4), rng.normal(size=4)
    g = od.exact_shear_shear_vjp(shear_cat, BINS, cp, cm)
    assert set(g) == {"g1", "g2", "w"}
    np.testing.assert_allclose(sum(g[k] @ T[k] for k in T), cp @ r.dxip + cm @ r.dxim, rtol=1e-10)
    with pytest.raises(ValueError, match="ra"):
        od.exact_shear_shear(shear_cat, BINS, tangents={"ra": np.ones((n, 1))})


# ------------------------------------------------------------------------------- Landy-Szalay
@pytest.fixture(scope="module")
def ls_cats():
    data = synthetic_shear_catalog(250, seed=2, weighted=True)
    ran = uniform_randoms(500, (data.ra.min(), data.ra.max()), (data.dec.min(), data.dec.max()), seed=3)
    return data, ran


def test_soft_landy_szalay_value_against_brute_force(ls_cats):
    data, ran = ls_cats

    def soft_sum(c1, c2, auto):
        r = separation(c1.ra[:, None], c1.dec[:, None], c2.ra[None, :], c2.dec[None, :])
        ww = c1.w[:, None] * c2.w[None, :]
        if auto:
            ww = np.triu(ww, 1)
        return (soft_bin_weights(r, BINS, 0.5) * ww).sum(axis=(1, 2))
    dd, dr, rr = soft_sum(data, data, True), soft_sum(data, ran, False), soft_sum(ran, ran, True)
    sd, sr = data.sumw, ran.sumw
    ref = (dd / (0.5 * sd**2) - 2 * dr / (sd * sr) + rr / (0.5 * sr**2)) / (rr / (0.5 * sr**2))
    got = od.soft_landy_szalay(data, ran, BINS, 0.5)
    np.testing.assert_allclose(got.xi, ref, rtol=1e-9)
    np.testing.assert_allclose(got.rr, rr, rtol=1e-9)


@pytest.mark.parametrize("key", ["ra", "dec", "w"])
def test_soft_landy_szalay_jvp_and_vjp(ls_cats, key, rng):
    data, ran = ls_cats
    t = rng.normal(size=(len(data), 2))
    r = od.soft_landy_szalay(data, ran, BINS, 0.5, tangents={key: t})

    def f(h):
        q = {"ra": data.ra, "dec": data.dec, "w": data.w}
        q[key] = q[key] + h * t[:, 0]
        return (od.soft_landy_szalay(cc.Catalog(q["ra"], q["dec"], w=q["w"]), ran, BINS, 0.5, rr=r.rr).xi,)
    _fd_check(f, (r.dxi[:, 0],), STEP[key])
    c = rng.normal(size=4)
    g = od.soft_landy_szalay_vjp(data, ran, BINS, c, 0.5, rr=r.rr)
    np.testing.assert_allclose(g[key] @ t, c @ r.dxi, rtol=1e-10)


# ----------------------------------------------------------------------------- rho statistics
@pytest.fixture(scope="module")
def stars():
    return synthetic_star_catalog(200, seed=1)


def test_sharp_rho_pair_sums_equal_rho_statistics(stars):
    """The tiled pass with sharp bins ("upper" for rho1/rho3, "offdiag" for rho2/4/5) equals
    cc.rho_statistics (tested against TreeCorr)."""
    ref = cc.rho_statistics(stars, bins=BINS)
    fields, _ = od._rho_fields(stars, {}, 0)
    for name, (a, b) in od.RHO_FIELDS.items():
        A = od._field_side(stars.catalog.xyz, stars.w, fields[a], None, None, None)
        B = od._field_side(stars.catalog.xyz, stars.w, fields[b], None, None, None)
        s = pair_sums(A, B, "upper" if a == b else "offdiag", BINS.edges, 1.0, "hard")["sums"]
        np.testing.assert_allclose(s[0] / s[2], ref[name].xip, rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(s[1] / s[2], ref[name].xim, rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("key", od.RHO_INPUTS)
def test_soft_rho_jvp_matches_central_differences(stars, key, rng):
    t = rng.normal(size=len(stars))
    r = od.soft_rho(stars, BINS, 0.5, tangents={key: t})

    def f(h):
        q = {k: getattr(stars, k) for k in od.RHO_INPUTS}
        q[key] = q[key] + h * t
        s = od.soft_rho(cc.StarCatalog(**q), BINS, 0.5)
        return [x for nm in od.RHO_FIELDS for x in (s[nm].xip, s[nm].xim)]
    _fd_check(f, [x[:, 0] for nm in od.RHO_FIELDS for x in (r[nm].dxip, r[nm].dxim)], STEP[key], rtol=5e-5)


def test_soft_rho_vjp_equals_jvp(stars, rng):
    n = len(stars)
    T = {k: rng.normal(size=(n, 2)) for k in od.RHO_INPUTS}
    r = od.soft_rho(stars, BINS, 0.5, tangents=T)
    cots = {nm: (rng.normal(size=4), rng.normal(size=4)) for nm in od.RHO_FIELDS}
    g = od.soft_rho_vjp(stars, BINS, cots, 0.5)
    rhs = sum(cots[nm][0] @ r[nm].dxip + cots[nm][1] @ r[nm].dxim for nm in od.RHO_FIELDS)
    np.testing.assert_allclose(sum(g[k] @ T[k] for k in od.RHO_INPUTS), rhs, rtol=1e-10)


# -------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kw, error, match", [
    (dict(tangents={"x": np.ones((300, 1))}), ValueError, "unknown"),
    (dict(tangents={"ra": np.ones((299, 1))}), ValueError, "ra"),
    (dict(tangents={"ra": np.ones((300, 1)), "w": np.ones((300, 2))}), ValueError, "columns"),
    (dict(tangents={"g1": np.full((300, 1), np.nan)}), ValueError, "g1"),
    (dict(tangents=[1]), TypeError, "tangents"),
    (dict(alpha=0.0), ValueError, "alpha"),
    (dict(kind="box"), ValueError, "kind"),
])
def test_bad_input(shear_cat, kw, error, match):
    with pytest.raises(error, match=match):
        od.soft_shear_shear(shear_cat, BINS, **kw)


def test_bad_cotangent(shear_cat):
    with pytest.raises(ValueError, match="cotangent_xip"):
        od.soft_shear_shear_vjp(shear_cat, BINS, np.ones(3))
    with pytest.raises(TypeError, match="cat"):
        od.soft_shear_shear_vjp(np.ones(3), BINS, np.ones(4))


def test_vjp_given_the_value_pass(shear_cat, rng):
    """value= (the forward result, as an AD rule keeps it) gives the same gradient; a result for
    other bins is refused."""
    cp, cm = rng.normal(size=4), rng.normal(size=4)
    val = od.soft_shear_shear(shear_cat, BINS, alpha=0.5)
    a = od.soft_shear_shear_vjp(shear_cat, BINS, cp, cm, alpha=0.5)
    b = od.soft_shear_shear_vjp(shear_cat, BINS, cp, cm, alpha=0.5, value=val)
    for k in a:
        np.testing.assert_allclose(b[k], a[k], rtol=1e-12, atol=1e-14 * np.abs(a[k]).max())
    with pytest.raises(ValueError, match="value"):
        od.soft_shear_shear_vjp(shear_cat, cc.Bins(2.0, 30.0, 4), cp, cm, alpha=0.7, value=val)
