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
