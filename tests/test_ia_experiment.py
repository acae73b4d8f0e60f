"""Algorithm 3 end to end on the toy IA model, at small scale (the full run is
examples/ia_surrogate_experiment.py)."""
import numpy as np
import pytest

from cosmocorr import ia
from cosmocorr.surrogate import hmc, run_emcee

HOD = ia.HOD_SETS["logM*>=10.0"]


@pytest.fixture(scope="module")
def halos():
    return ia.simulate_halos(60.0, seed=0)


@pytest.fixture(scope="module")
def training(halos):
    return ia.simulate_training_set(HOD, n_points=30, n_realisations=3, halos=halos, seed=1)


@pytest.fixture(scope="module")
def surrogate(training):
    return ia.IASurrogate.fit(training, n_members=2, epochs=300, seed=2)


def test_training_set_layout(training, halos):
    assert training.outputs.shape == (30, 3, 3, 20)
    assert np.all(np.abs(training.inputs) <= 1)
    # Latin hypercube: one point per row and column stratum
    for col in range(2):
        np.testing.assert_array_equal(np.sort(np.floor((training.inputs[:, col] + 1) / 2 * 30)), np.arange(30))
    x, y = training.rows()
    assert x.shape == (90, 2) and y.shape == (90, 3 * training.valid_bins().size)
    # each row is a real simulation: re-run one realisation of the first point
    gal = ia.populate(halos, HOD, *training.inputs[0], seed=123)
    assert training.outputs[0, 0, 2].shape == gal.correlations().eta.shape
    assert training.rate > 0


def test_surrogate_matches_new_simulations(surrogate, halos):
    """On a 3 x 3 grid of new parameter points, fresh realisations of the forward model agree
    with the surrogate: omega's bin-averaged mean to 0.01, and the spread of realisations
    matches the predicted sigma (z-score RMS between 0.5 and 2)."""
    rng = np.random.default_rng(9)
    grid = np.array([[a, b] for a in (-0.6, 0.0, 0.6) for b in (-0.6, 0.0, 0.6)])
    sims = np.stack([[ia.populate(halos, HOD, *t, seed=rng).correlations().stack() for _ in range(3)] for t in grid])
    mean, alea, epi = surrogate.predict(grid)
    bins = surrogate.bins
    true_omega = sims[:, :, 1][..., bins].mean(axis=(1, 2))
    pred_omega = mean[:, 1].mean(axis=1)
    assert np.mean(np.abs(true_omega - pred_omega)) < 0.01
    assert np.corrcoef(true_omega, pred_omega)[0, 1] > 0.95
    z = (sims[..., bins] - mean[:, None]) / np.sqrt(alea**2 + epi**2)[:, None]
    rms = np.sqrt(np.mean(z[:, :, 1:] ** 2))
    assert 0.5 < rms < 2.0, rms


def test_posterior_gradient_matches_finite_differences(surrogate):
    post = surrogate.posterior("omega")
    u = np.array([0.3, -0.4])
    lp, g = post.logp_u_and_grad(u)
    h = 1e-5
    fd = [(post.logp_u_and_grad(u + h * d)[0] - post.logp_u_and_grad(u - h * d)[0]) / (2 * h) for d in np.eye(2)]
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-6)


def test_posterior_peaks_near_zero_with_anti_diagonal_degeneracy(surrogate):
    post = surrogate.posterior("omega")
    h = hmc(post.logp_u_and_grad, np.zeros(2), n_warmup=300, n_samples=300, n_chains=2, seed=3)
    th = post.to_theta(h.samples).reshape(-1, 2)
    assert np.all(np.abs(th.mean(axis=0)) < 0.35), th.mean(axis=0)
    assert np.corrcoef(th.T)[0, 1] < 0
    e, _ = run_emcee(post.log_prob, post.bounds, n_walkers=8, n_steps=500, n_burn=200, seed=4)
    flat = e.reshape(-1, 2)
    assert np.all(np.abs(flat.mean(axis=0)) < 0.35)
    assert np.corrcoef(flat.T)[0, 1] < 0
    # a point with both strengths strongly positive is far less probable than the origin
    assert post.log_prob(np.array([0.8, 0.8])) < post.log_prob(np.zeros(2)) - 10


def test_bad_pipeline_input(training):
    with pytest.raises(TypeError, match="hod"):
        ia.simulate_training_set({"logMmin": 12})
    with pytest.raises(TypeError, match="training_set"):
        ia.IASurrogate.fit(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="n_points"):
        ia.simulate_training_set(HOD, n_points=1)
