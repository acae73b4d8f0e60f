"""cosmocorr.jax (issue 25): the soft xi+-, Landy-Szalay omega and rho statistics as JAX functions
(custom JVP rule: NumPy JVP kernel in a linear_call whose transpose is the NumPy VJP kernel, through
jax.pure_callback). Checked against the NumPy entry points, jax.test_util.check_grads (numerical
differences in JAX), jacfwd against jacrev, the number of kernel calls (one reverse pass per
gradient, one forward pass for all of jacfwd's columns), and the gravity example's d xi+/dG against
the NumPy path (scipy ODE with sensitivity equations)."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
from jax.test_util import check_grads  # noqa: E402

import cosmocorr as cc  # noqa: E402
import cosmocorr.jax as ccj  # noqa: E402
from cosmocorr.sky.synthetic import synthetic_shear_catalog  # noqa: E402

EDGES = np.linspace(2.0, 30.0, 5)


@pytest.fixture(scope="module")
def cat():
    return synthetic_shear_catalog(80, seed=4, weighted=True)


def _args(cat):
    return tuple(jnp.asarray(a) for a in (cat.ra, cat.dec, cat.g1, cat.g2, cat.w))


def test_import_cosmocorr_does_not_import_jax():
    code = "import sys, cosmocorr, cosmocorr.differentiable; assert 'jax' not in sys.modules, 'jax imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("kind, alpha", [("sigmoid", 0.5), ("gaussian", 0.02)])
def test_value_and_check_grads(cat, kind, alpha):
    ref = cc.differentiable.soft_shear_shear(cat, cc.Bins(2.0, 30.0, 4), alpha, kind)
    f = jax.jit(lambda *a: ccj.soft_shear_shear(*a, EDGES, alpha, kind))
    xip, xim = f(*_args(cat))
    np.testing.assert_allclose(np.asarray(xip), ref.xip, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(xim), ref.xim, rtol=1e-12)
    check_grads(lambda *a: ccj.soft_shear_shear(*a, EDGES, alpha, kind), _args(cat), order=1,
                modes=("fwd", "rev"), eps=1e-6)


def test_grad_equals_numpy_vjp_and_jacfwd_equals_jacrev(cat, rng):
    cp, cm = rng.normal(size=4), rng.normal(size=4)
    args = _args(cat)

    def loss(*a):
        xip, xim = ccj.soft_shear_shear(*a, EDGES, 0.5)
        return jnp.dot(cp, xip) + jnp.dot(cm, xim)
    g = jax.jit(jax.grad(loss, argnums=(0, 1, 2, 3, 4)))(*args)
    ref = cc.differentiable.soft_shear_shear_vjp(cat, cc.Bins(2.0, 30.0, 4), cp, cm, alpha=0.5)
    for k, gk in zip(("ra", "dec", "g1", "g2", "w"), g):
        np.testing.assert_allclose(np.asarray(gk), ref[k], rtol=1e-10, atol=1e-14 * np.abs(ref[k]).max())
    f = lambda dec: ccj.soft_shear_shear(args[0], dec, *args[2:], EDGES, 0.5)[1]   # noqa: E731
    np.testing.assert_allclose(jax.jacfwd(f)(args[1]), jax.jacrev(f)(args[1]), rtol=1e-12, atol=1e-15)


def test_one_kernel_pass_per_gradient_and_per_jacfwd(cat, monkeypatch):
    """grad runs the NumPy VJP kernel once (no Jacobian of 2 nbins reverse passes); jacfwd over all
    N declinations runs the JVP kernel once with N tangent columns; both equal the NumPy path."""
    from cosmocorr.differentiable import object_derivatives as od
    calls = {"vjp": 0, "jvp": 0}
    vjp0, ss0 = od._shear_shear_vjp, od._shear_shear

    def vjp(*a, **k):
        calls["vjp"] += 1
        return vjp0(*a, **k)

    def ss(cat_, bins, alpha, kind, tangents, allowed):
        if tangents:
            calls["jvp"] += 1
            assert set(tangents) == {"dec"}                    # the other inputs are symbolic zeros
        return ss0(cat_, bins, alpha, kind, tangents, allowed)
    monkeypatch.setattr(od, "_shear_shear_vjp", vjp)
    monkeypatch.setattr(od, "_shear_shear", ss)
    args = _args(cat)
    f = lambda dec: ccj.soft_shear_shear(args[0], dec, *args[2:], EDGES, 0.7)[0]   # noqa: E731
    g = jax.grad(lambda dec: f(dec)[1])(args[1])
    assert calls["vjp"] == 1
    J = jax.jacfwd(f)(args[1])
    assert calls["jvp"] == 1 and J.shape == (4, len(cat))
    ref = cc.differentiable.soft_shear_shear(cat, cc.Bins(2.0, 30.0, 4), 0.7, tangents={"dec": np.eye(len(cat))})
    np.testing.assert_allclose(np.asarray(J), ref.dxip, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(np.asarray(g), ref.dxip[1], rtol=1e-10, atol=1e-14 * np.abs(ref.dxip[1]).max())


def test_vmap_over_catalogs_and_grad(cat):
    """vmap over two catalogs (shears scaled by s = 1 and 2: xi scales by s^2, d xi/ds = 2 s xi(1)) of the value and of grad."""
    args = _args(cat)

    def loss(s):
        xip, xim = ccj.soft_shear_shear(args[0], args[1], s * args[2], s * args[3], args[4], EDGES, 0.5)
        return jnp.sum(xip) + jnp.sum(xim)
    s = jnp.array([1.0, 2.0])
    v, g = jax.vmap(jax.value_and_grad(loss))(s)
    np.testing.assert_allclose(np.asarray(v), [float(loss(1.0)), 4 * float(loss(1.0))], rtol=1e-12)
    np.testing.assert_allclose(np.asarray(g), [2 * float(loss(1.0)), 4 * float(loss(1.0))], rtol=1e-10)
    np.testing.assert_allclose(np.asarray(jax.vmap(jax.jacfwd(loss))(s)), np.asarray(g), rtol=1e-10)


@pytest.fixture(scope="module")
def randoms(cat):
    rng = np.random.default_rng(7)
    return cc.Catalog(rng.uniform(cat.ra.min(), cat.ra.max(), 150), rng.uniform(cat.dec.min(), cat.dec.max(), 150))


def test_landy_szalay_jax(cat, randoms, rng):
    bins = cc.Bins(2.0, 30.0, 4)
    data = cc.Catalog(cat.ra, cat.dec, w=cat.w)
    ref = cc.differentiable.soft_landy_szalay(data, randoms, bins, 0.5)
    f = lambda ra, dec, w: ccj.soft_landy_szalay(ra, dec, w, randoms, EDGES, 0.5, rr=ref.rr)   # noqa: E731
    x = tuple(jnp.asarray(a) for a in (cat.ra, cat.dec, cat.w))
    np.testing.assert_allclose(np.asarray(jax.jit(f)(*x)), ref.xi, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(ccj.soft_landy_szalay(*x, randoms, EDGES, 0.5)), ref.xi, rtol=1e-12)
    check_grads(f, x, order=1, modes=("fwd", "rev"), eps=1e-6)
    c = rng.normal(size=4)
    g = jax.grad(lambda *a: f(*a) @ c, argnums=(0, 1, 2))(*x)
    gref = cc.differentiable.soft_landy_szalay_vjp(data, randoms, bins, c, 0.5)
    for k, gk in zip(("ra", "dec", "w"), g):
        np.testing.assert_allclose(np.asarray(gk), gref[k], rtol=1e-10, atol=1e-14 * np.abs(gref[k]).max())
    np.testing.assert_allclose(jax.jacfwd(f, argnums=2)(*x), jax.jacrev(f, argnums=2)(*x), rtol=1e-12, atol=1e-15)
    with pytest.raises(TypeError, match="randoms"):
        ccj.soft_landy_szalay(*x, randoms.ra, EDGES, 0.5)


def test_rho_jax(cat, rng):
    from cosmocorr.sky.stars import StarCatalog
    from cosmocorr.differentiable.object_derivatives import RHO_INPUTS
    n, bins = len(cat), cc.Bins(2.0, 30.0, 4)
    T = 1 + 0.1 * rng.random(n)
    x = dict(ra=cat.ra, dec=cat.dec, w=cat.w, g1_star=0.02 * rng.normal(size=n), g2_star=0.02 * rng.normal(size=n),
             T_star=T, g1_model=0.02 * rng.normal(size=n), g2_model=0.02 * rng.normal(size=n),
             T_model=T * (1 + 0.01 * rng.normal(size=n)))
    stars = StarCatalog(x["ra"], x["dec"], x["g1_star"], x["g2_star"], x["T_star"], x["g1_model"], x["g2_model"],
                        x["T_model"], w=x["w"])
    ref = cc.differentiable.soft_rho(stars, bins, 0.5)
    xj = tuple(jnp.asarray(x[k]) for k in RHO_INPUTS)
    out = jax.jit(lambda *a: ccj.soft_rho(*a, EDGES, 0.5))(*xj)
    for name in ("rho1", "rho2", "rho3", "rho4", "rho5"):
        np.testing.assert_allclose(np.asarray(out[name][0]), ref[name].xip, rtol=1e-12)
        np.testing.assert_allclose(np.asarray(out[name][1]), ref[name].xim, rtol=1e-12)
    flat = lambda *a: jnp.concatenate([jnp.concatenate(v) for v in ccj.soft_rho(*a, EDGES, 0.5).values()])  # noqa: E731
    check_grads(flat, xj, order=1, modes=("fwd", "rev"), eps=1e-6)
    c = {name: (rng.normal(size=4), rng.normal(size=4)) for name in ("rho2", "rho5")}

    def loss(*a):
        r = ccj.soft_rho(*a, EDGES, 0.5)
        return sum(jnp.dot(cp, r[k][0]) + jnp.dot(cm, r[k][1]) for k, (cp, cm) in c.items())
    g = jax.grad(loss, argnums=tuple(range(9)))(*xj)
    gref = cc.differentiable.soft_rho_vjp(stars, bins, c, 0.5)
    for k, gk in zip(RHO_INPUTS, g):
        np.testing.assert_allclose(np.asarray(gk), gref[k], rtol=1e-10, atol=1e-14 * np.abs(gref[k]).max())


def test_bad_edges(cat):
    with pytest.raises(ValueError, match="edges_arcmin"):
        ccj.soft_shear_shear(*_args(cat), [1.0, 2.0, 5.0, 6.0], 0.5)


def test_gravity_example_small():
    """The JAX forward model's d xi+/dG through cosmocorr equals the NumPy path to 1e-8, and the
    gradient-descent fit of (G, M) lowers the loss."""
    path = Path(__file__).resolve().parents[1] / "examples" / "jax_gravity_fit.py"
    spec = importlib.util.spec_from_file_location("jax_gravity_fit", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = mod.run(n=40, n_steps=300, fit_steps=3)
    ref = out["dxi_dG_numpy"]
    np.testing.assert_allclose(out["dxi_dG_jax"], ref, rtol=1e-8, atol=1e-8 * np.abs(ref).max())
    np.testing.assert_allclose(out["dxi_dG_jax_rev"], ref, rtol=1e-8, atol=1e-8 * np.abs(ref).max())
    losses = [h[2] for h in out["history"]]
    assert losses[-1] < 0.5 * losses[0]
