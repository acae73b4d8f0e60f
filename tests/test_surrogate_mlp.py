"""The trainable surrogate learns a known correlation-function model."""
import numpy as np
import pytest

from cosmocorr.surrogate.mlp import MLPSurrogate, split_70_10_20

R = np.geomspace(1.0, 30.0, 8)


def power_law(theta):
    """xi(r) = A (r / r0)^-gamma over 8 bins; theta = (A, r0, gamma)."""
    A, r0, g = theta[:, 0:1], theta[:, 1:2], theta[:, 2:3]
    return A * (R / r0) ** (-g)


def dpower_law(theta):
    A, r0, g = theta[:, 0:1], theta[:, 1:2], theta[:, 2:3]
    f = (R / r0) ** (-g)
    return np.stack([f, A * f * g / r0, -A * f * np.log(R / r0)], axis=-1)


@pytest.fixture(scope="module")
def trained():
    rng = np.random.default_rng(0)
    theta = np.column_stack([rng.uniform(0.5, 1.5, 1500), rng.uniform(3, 6, 1500), rng.uniform(1.4, 2.0, 1500)])
    noise = 0.02
    y = power_law(theta) + rng.normal(0, noise, (1500, 8))
    return MLPSurrogate.fit(theta, y, hidden=(64, 64), epochs=250, patience=40, seed=1), theta, noise


def test_split_sizes():
    tr, va, te = split_70_10_20(1000, seed=0)
    assert (tr.size, va.size, te.size) == (700, 100, 200)
    assert np.unique(np.concatenate([tr, va, te])).size == 1000


def test_learns_the_function_on_held_out_points(trained):
    model, theta, noise = trained
    te = model.history["split"]["test"]
    mu, std = model.predict(theta[te])
    truth = power_law(theta[te])
    rel = np.abs(mu - truth) / np.abs(truth)
    assert np.median(rel) < 0.02, np.median(rel)
    # the variance head finds the injected noise level (0.02) to within 30 %
    assert 0.7 * noise < np.median(std) < 1.3 * noise
    assert model.history["val_loss"][-1] < model.history["val_loss"][0]


def test_jacobian_matches_analytic_derivative(trained):
    model, theta, _ = trained
    te = model.history["split"]["test"][:50]
    dmu, dstd = model.jacobian(theta[te])
    truth = dpower_law(theta[te])
    scale = np.abs(truth).max(axis=(0, 1))
    err = np.abs(dmu - truth) / scale
    assert np.median(err) < 0.05, np.median(err)
    # and the Jacobian is exactly the derivative of the network (finite differences)
    x = theta[te[:3]]
    for i in range(3):
        e = np.zeros(3)
        e[i] = 1e-6
        fd = (model.predict(x + e)[0] - model.predict(x - e)[0]) / 2e-6
        np.testing.assert_allclose(dmu[:3, :, i], fd, rtol=1e-5, atol=1e-8)
        fd_std = (model.predict(x + e)[1] - model.predict(x - e)[1]) / 2e-6
        np.testing.assert_allclose(dstd[:3, :, i], fd_std, rtol=1e-4, atol=1e-9)


def test_save_load_roundtrip(trained, tmp_path):
    model, theta, _ = trained
    model.save(tmp_path / "m.npz")
    m2 = MLPSurrogate.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(m2.predict(theta[:5])[0], model.predict(theta[:5])[0])


def test_bad_input():
    with pytest.raises(ValueError, match="rows"):
        MLPSurrogate.fit(np.zeros((20, 2)), np.zeros((19, 3)))
    with pytest.raises(ValueError, match="finite"):
        MLPSurrogate.fit(np.full((20, 2), np.nan), np.zeros((20, 3)))


def _small_model(seed=0):
    """k=3 inputs, one hidden layer of 8, m=4 outputs: W1 is (8, 8), square, so a transposed W1
    has the right shape and only the digest written by save can tell."""
    rng = np.random.default_rng(seed)
    k, h, m = 3, 8, 4
    weights = [(rng.normal(size=(k, h)), rng.normal(size=h)), (rng.normal(size=(h, 2 * m)), rng.normal(size=2 * m))]
    return MLPSurrogate(weights, rng.normal(size=k), rng.uniform(1, 2, k), rng.normal(size=m), rng.uniform(1, 2, m),
                        {"train_loss": [2.0, 1.0], "val_loss": [2.5, 1.5]})


def test_load_round_trip_matches_the_network_by_hand(tmp_path):
    m = _small_model()
    m.save(tmp_path / "m.npz")
    m2 = MLPSurrogate.load(tmp_path / "m.npz")
    x = np.random.default_rng(1).normal(size=(5, 3))
    (W0, b0), (W1, b1) = m.weights
    xs = (x - m.x_mean) / m.x_std
    mu = (np.tanh(xs @ W0 + b0) @ W1 + b1)[:, :4] * m.y_std + m.y_mean
    np.testing.assert_allclose(m2.predict(x)[0], mu, rtol=1e-12)
    assert m2.history["val_loss"] == [2.5, 1.5]


@pytest.mark.parametrize("change, match", [
    (lambda z: z.update(W1=z["W1"].T.copy()), "entry 'W1': its contents differ from the SHA-256 digest"),
    (lambda z: z.update(b0=z["b0"][:1]), r"entry 'b0': shape \(1,\)"),
    (lambda z: z.update(W0=z["W0"][:, :7], b0=z["b0"][:7]), r"entry 'W1': shape \(8, 8\).*needs \(7, 8\)"),
    (lambda z: z.update(x_std=z["x_std"][:1]), r"entry 'x_std': shape \(1,\)"),
    (lambda z: z.update(y_std=-z["y_std"]), "entry 'y_std': must be positive"),
    (lambda z: z.update(W0=np.full_like(z["W0"], np.nan)), "entry 'W0': contains NaN"),
    (lambda z: z.update(extra=np.zeros(2)), "unexpected entries 'extra'"),
    (lambda z: z.pop("b1"), "missing entries 'b1'"),
    (lambda z: z.pop("sha256"), "entry 'sha256': missing"),
    (lambda z: z.update(sha256=z["sha256"][:3]), r"entry 'sha256': shape \(3, 32\)"),
])
def test_load_refuses_misshapen_or_altered_files(tmp_path, change, match):
    """Issue 16: load accepted a transposed square W1 or a b0 of shape (1,) (which broadcasts)."""
    p = tmp_path / "m.npz"
    _small_model().save(p)
    with np.load(p) as f:
        z = {k: f[k] for k in f.files}
    change(z)
    q = tmp_path / "bad.npz"
    np.savez(q, **z)
    with pytest.raises(ValueError, match=match) as e:
        MLPSurrogate.load(q)
    assert str(q) in str(e.value)


def test_constructor_checks_the_layer_chain():
    m = _small_model()
    (W0, b0), last = m.weights
    with pytest.raises(ValueError, match=r"MLPSurrogate: entry 'b0': shape \(1,\)"):
        MLPSurrogate([(W0, b0[:1]), last], m.x_mean, m.x_std, m.y_mean, m.y_std)
    with pytest.raises(ValueError, match=r"entry 'W1'.*2 x 4 outputs"):
        MLPSurrogate([(W0, b0), (last[0][:, :6], last[1][:6])], m.x_mean, m.x_std, m.y_mean, m.y_std)
