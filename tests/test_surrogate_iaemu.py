"""IAEmu in NumPy against PyTorch's reference outputs, and the safe checkpoint loader."""
import io
import os
import pickle
import zipfile

import numpy as np
import pytest

from cosmocorr.surrogate import IAEmu, IAEmuScalers, UnsafeCheckpointError, load_state_dict


@pytest.fixture(scope="module")
def model_and_ref(iaemu_dir):
    return IAEmu.from_checkpoint(iaemu_dir / "iaemu.pt"), np.load(iaemu_dir / "reference_outputs.npz")


def test_outputs_match_pytorch(model_and_ref):
    m, ref = model_and_ref
    y = m.raw(ref["x_standardized"])
    assert y.shape == (16, 3, 40)
    np.testing.assert_allclose(y, ref["output"], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("method", ["backprop", "forward"])
def test_jacobian_matches_pytorch_autograd(model_and_ref, method):
    m, ref = model_and_ref
    J = m.raw_jacobian(ref["x_standardized"], method=method)
    assert J.shape == (16, 3, 40, 7)
    np.testing.assert_allclose(J, ref["jacobian"], rtol=1e-4, atol=1e-5)


def test_vjp_is_one_backprop_pass_of_the_jacobian(model_and_ref):
    """raw_vjp(x, g) = g . J, and it works on a subset of decoders."""
    m, ref = model_and_ref
    x = ref["x_standardized"][:4].astype(float)
    g = np.random.default_rng(0).normal(size=(4, 3, 40))
    y, grad = m.raw_vjp(x, g)
    np.testing.assert_allclose(y, m.raw(x), rtol=1e-12)
    np.testing.assert_allclose(grad, np.einsum("nij,nijk->nk", g, ref["jacobian"][:4]), rtol=1e-4,
                               atol=1e-4 * np.abs(grad).max())
    y1, g1 = m.raw_vjp(x, g[:, 1:2], outputs=(1,))
    np.testing.assert_allclose(g1, np.einsum("nj,njk->nk", g[:, 1], m.raw_jacobian(x)[:, 1]), rtol=1e-10, atol=1e-12)


def test_jacobian_matches_finite_differences(model_and_ref):
    m, ref = model_and_ref
    x = ref["x_standardized"][:3].astype(float)
    J = m.raw_jacobian(x)
    # a small step in float64: a larger one can straddle a LeakyReLU kink, where the two
    # one-sided slopes differ and a central difference is not the derivative
    h = 1e-7
    for i in range(7):
        e = np.zeros(7)
        e[i] = h
        fd = (m.raw(x + e) - m.raw(x - e)) / (2 * h)
        np.testing.assert_allclose(J[..., i], fd, rtol=1e-5, atol=1e-7 * np.abs(J).max())


def test_float32_mode_and_npz_roundtrip(model_and_ref, tmp_path):
    m, ref = model_and_ref
    p = tmp_path / "iaemu.npz"
    m.save_npz(p)
    m32 = IAEmu.from_npz(p, dtype=np.float32)
    np.testing.assert_allclose(m32.raw(ref["x_standardized"]), ref["output"], rtol=1e-4, atol=1e-4)


def test_mc_dropout_is_seeded_and_centred(model_and_ref):
    m, ref = model_and_ref
    x = ref["x_standardized"][:2]
    a = m.raw_mc_dropout(x, n_passes=30, seed=3)
    np.testing.assert_array_equal(a, m.raw_mc_dropout(x, n_passes=30, seed=3))
    assert a.shape == (30, 2, 3, 40) and np.all(a.std(axis=0) > 0)
    pred = m.predict(x, n_passes=30, seed=3)
    assert not pred.physical_units
    np.testing.assert_allclose(pred.mean, m.raw(x)[..., :20])
    np.testing.assert_allclose(pred.aleatoric_std, np.sqrt(m.raw(x)[..., 20:]))
    np.testing.assert_allclose(pred.epistemic_std, a[..., :20].std(axis=0))


def test_scalers_roundtrip_and_physical_prediction(model_and_ref, tmp_path):
    m, ref = model_and_ref
    rng = np.random.default_rng(0)
    x = rng.normal(10, 2, (500, 7))
    y = np.stack([np.exp(rng.normal(1, 0.5, (500, 20))), rng.normal(0.1, 0.02, (500, 20)), rng.normal(0, 0.01, (500, 20))], 1)
    s = IAEmuScalers.fit(x, y)
    z = s.transform_outputs(y)
    np.testing.assert_allclose(z.mean(axis=(0, 2)), 0, atol=1e-12)
    back, std = s.inverse_outputs(z, np.zeros_like(z))
    np.testing.assert_allclose(back, y, rtol=1e-12)
    s.save(tmp_path / "s.json")
    s2 = IAEmuScalers.load(tmp_path / "s.json")
    np.testing.assert_allclose(s2.x_std, s.x_std)
    m.scalers = s2
    try:
        xp = s2.inverse_inputs(ref["x_standardized"][:2])
        pred = m.predict(xp, n_passes=0)
        raw = m.raw(ref["x_standardized"][:2])
        assert pred.physical_units
        np.testing.assert_allclose(pred.mean[:, 0], np.exp(raw[:, 0, :20] * s.y_std[0] + s.y_mean[0]), rtol=1e-10)
        np.testing.assert_allclose(pred.aleatoric_std[:, 1], np.sqrt(raw[:, 1, 20:]) * s.y_std[1], rtol=1e-10)
    finally:
        m.scalers = None


def _fake_checkpoint(path, payload):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", payload)


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/cosmocorr_pwned",))


def test_malicious_pickle_is_refused(tmp_path):
    marker = "/tmp/cosmocorr_pwned"
    if os.path.exists(marker):
        os.remove(marker)
    p = tmp_path / "evil.pt"
    _fake_checkpoint(p, pickle.dumps({"w": _Evil()}, protocol=2))
    with pytest.raises(UnsafeCheckpointError, match="refusing to load global 'posix.system'|refusing to load global 'os.system'"):
        load_state_dict(p)
    assert not os.path.exists(marker)
    p2 = tmp_path / "evil2.pt"
    _fake_checkpoint(p2, b"cbuiltins\neval\n(V1+1\ntR.")
    with pytest.raises(UnsafeCheckpointError, match="builtins.eval"):
        load_state_dict(p2)


def test_loader_errors(tmp_path):
    with pytest.raises(ValueError, match="not found"):
        load_state_dict(tmp_path / "none.pt")
    (tmp_path / "plain.pt").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="zip"):
        load_state_dict(tmp_path / "plain.pt")
    with pytest.raises(ValueError, match="shape"):
        IAEmu.random(0).raw(np.zeros((2, 6)))
    with pytest.raises(ValueError, match="NaN"):
        IAEmu.random(0).raw(np.full((1, 7), np.nan))


@pytest.mark.parametrize("bins", [None, [2, 5, 11]])
def test_iaemu_posterior_gradient_matches_finite_differences(model_and_ref, bins):
    """The posterior's backprop gradient (one pullback through encoder + omega decoder)."""
    from cosmocorr.surrogate import iaemu_posterior

    m, ref = model_and_ref
    post = iaemu_posterior(m, ref["x_standardized"][0].astype(float), free=("mu_cen", "logM1"), bins=bins)
    th = np.array([0.3, -0.2])
    ll, g = post.loglike_and_grad(th)
    h = 1e-6
    fd = [(post.loglike_and_grad(th + e)[0] - post.loglike_and_grad(th - e)[0]) / (2 * h) for e in np.eye(2) * h]
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-6 * np.abs(g).max())
