"""cosmocorr.jax (issue 25): the soft xi+- as a JAX function (custom JVP rule around the NumPy
kernels through jax.pure_callback). Checked against the NumPy entry points, jax.test_util.check_grads
(numerical differences in JAX), jacfwd against jacrev, and the gravity example's d xi+/dG against
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
