"""HMC (NUTS and static), emcee and the surrogate posterior against closed-form posteriors."""
import numpy as np
import pytest

from cosmocorr.surrogate.diagnostics import effective_sample_size, split_rhat
from cosmocorr.surrogate.ensemble import run_emcee
from cosmocorr.surrogate.hmc import hmc
from cosmocorr.surrogate.optimize import minimize_inputs
from cosmocorr.surrogate.posterior import GaussianSurrogatePosterior

MU = np.array([0.5, -1.0])
COV = np.array([[0.30, 0.12], [0.12, 0.20]])
PREC = np.linalg.inv(COV)


def gauss(x):
    d = x - MU
    return -0.5 * d @ PREC @ d, -PREC @ d


def _check_moments(flat, ess, mu, cov, nsig=5):
    se = np.sqrt(np.diag(cov) / ess.min())
    assert np.all(np.abs(flat.mean(0) - mu) < nsig * se), (flat.mean(0), mu, se)
    np.testing.assert_allclose(np.cov(flat.T), cov, rtol=0.2, atol=0.02)


@pytest.mark.parametrize("nuts", [True, False])
def test_hmc_recovers_gaussian(nuts):
    r = hmc(gauss, np.zeros(2), n_warmup=400, n_samples=800, n_chains=3, seed=2, nuts=nuts, trajectory_length=1.5)
    assert np.all(r.rhat < 1.02)
    _check_moments(r.flat, r.ess, MU, COV)
    assert 0.6 < r.acceptance.mean() < 0.99
    r2 = hmc(gauss, np.zeros(2), n_warmup=400, n_samples=800, n_chains=3, seed=2, nuts=nuts, trajectory_length=1.5)
    np.testing.assert_array_equal(r.samples, r2.samples)


def test_emcee_recovers_gaussian():
    logp = lambda x: gauss(x)[0] if np.all(np.abs(x) < 10) else -np.inf
    s, acc = run_emcee(logp, [[-10, 10], [-10, 10]], n_walkers=16, n_steps=3000, n_burn=500, seed=1)
    _check_moments(s.reshape(-1, 2), effective_sample_size(s), MU, COV)
    assert np.all(split_rhat(s) < 1.05)
    s2, _ = run_emcee(logp, [[-10, 10], [-10, 10]], n_walkers=16, n_steps=3000, n_burn=500, seed=1)
    np.testing.assert_array_equal(s, s2)


def test_linear_gaussian_surrogate_posterior_closed_form():
    """mean(theta) = A theta + b with fixed variance: the posterior is Gaussian in closed form."""
    rng = np.random.default_rng(4)
    A = rng.normal(0, 1, (20, 2))
    b = rng.normal(0, 1, 20)
    var = np.full(20, 4.0)
    data_var = np.full(20, 1.0)
    target = A @ np.array([0.3, -0.2]) + b + rng.normal(0, np.sqrt(5.0), 20)
    model = lambda th: (A @ th + b, var, A, np.zeros((20, 2)))
    post = GaussianSurrogatePosterior(model, [[-5, 5], [-5, 5]], target=target, data_cov=data_var)
    prec = A.T @ A / 5.0
    cov = np.linalg.inv(prec)
    mu = cov @ (A.T @ (target - b) / 5.0)
    # the gradient is analytic: check it against finite differences of the log likelihood
    th = np.array([0.1, 0.4])
    ll, g = post.loglike_and_grad(th)
    fd = [(post.loglike_and_grad(th + e)[0] - post.loglike_and_grad(th - e)[0]) / 2e-6 for e in np.eye(2) * 1e-6]
    np.testing.assert_allclose(g, fd, rtol=1e-6)
    r = hmc(post.logp_u_and_grad, post.to_u(np.zeros(2)), n_warmup=400, n_samples=800, n_chains=3, seed=5)
    flat = post.to_theta(r.samples).reshape(-1, 2)
    assert np.all(r.rhat < 1.02)
    _check_moments(flat, r.ess, mu, cov)
    opt = minimize_inputs(lambda t: tuple(-v for v in post.loglike_and_grad(t)), np.zeros(2), post.bounds)
    # with a flat prior the MAP is the closed-form mean
    np.testing.assert_allclose(opt.x, mu, atol=1e-4)


def test_variance_gradient_matches_finite_differences():
    model = lambda th: (np.array([th[0] ** 2, th[1]]), np.array([1 + th[0] ** 2, np.exp(th[1])]),
                        np.array([[2 * th[0], 0], [0, 1.0]]), np.array([[2 * th[0], 0], [0, np.exp(th[1])]]))
    for cov in (None, np.eye(2) * 0.3):
        post = GaussianSurrogatePosterior(model, [[-3, 3], [-3, 3]], target=[0.2, -0.4], data_cov=cov)
        th = np.array([0.7, -0.3])
        g = post.loglike_and_grad(th)[1]
        fd = [(post.loglike_and_grad(th + e)[0] - post.loglike_and_grad(th - e)[0]) / 2e-6 for e in np.eye(2) * 1e-6]
        np.testing.assert_allclose(g, fd, rtol=1e-6)


def test_diagnostics_on_known_chains():
    rng = np.random.default_rng(0)
    iid = rng.normal(size=(4, 2000, 1))
    assert abs(split_rhat(iid)[0] - 1) < 0.01
    assert 0.8 * 8000 < effective_sample_size(iid)[0] < 1.25 * 8000
    # AR(1) with phi: ESS = N (1 - phi) / (1 + phi)
    phi = 0.8
    x = np.zeros((4, 4000))
    for t in range(1, 4000):
        x[:, t] = phi * x[:, t - 1] + rng.normal(size=4)
    expect = 16000 * (1 - phi) / (1 + phi)
    assert 0.7 * expect < effective_sample_size(x)[0] < 1.4 * expect
    shifted = iid.copy()
    shifted[0] += 3
    assert split_rhat(shifted)[0] > 1.1


def test_bad_arguments():
    with pytest.raises(ValueError, match="bounds"):
        GaussianSurrogatePosterior(lambda t: None, [[1, 0]])
    with pytest.raises(ValueError, match="target_accept"):
        hmc(gauss, np.zeros(2), target_accept=1.5)
    with pytest.raises(ValueError, match="n_walkers"):
        run_emcee(lambda x: 0.0, [[0, 1], [0, 1]], n_walkers=3)
