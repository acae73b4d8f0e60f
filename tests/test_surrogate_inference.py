"""HMC (NUTS and static), emcee and the surrogate posterior against closed-form posteriors; the
IAEmu posterior aimed at the physical zero (paper sec. 7, figs. 12-13)."""
import warnings

import numpy as np
import pytest

from cosmocorr.surrogate import IAEMU_HOD_SETS, IAEmu, IAEmuScalers, iaemu_posterior
from cosmocorr.surrogate.diagnostics import effective_sample_size, split_rhat
from cosmocorr.surrogate.ensemble import EmceeResult, run_emcee
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


def test_emcee_recovers_gaussian(tmp_path):
    logp = lambda x: gauss(x)[0] if np.all(np.abs(x) < 10) else -np.inf
    res = run_emcee(logp, [[-10, 10], [-10, 10]], n_walkers=16, n_steps=2000, n_burn=400, seed=1, names=("a", "b"))
    s, acc = res                                  # unpacks as the (samples, acceptance) tuple of before
    assert s.shape == (16, 1600, 2) and acc.shape == (16,)
    _check_moments(s.reshape(-1, 2), effective_sample_size(s), MU, COV)
    assert np.all(split_rhat(s) < 1.05)
    # the sampler is kept: emcee's own autocorrelation time, and its log-probabilities
    np.testing.assert_allclose(res.autocorr_time, res.sampler.get_autocorr_time(discard=400, quiet=True))
    assert np.all((res.autocorr_time > 1) & (res.autocorr_time < 100))
    np.testing.assert_allclose(res.log_prob[3, 7], logp(s[3, 7]))
    assert res.n_evals == 16 * 2000 + 16            # the starting ensemble, then one call per walker and step
    s2, _ = run_emcee(logp, [[-10, 10], [-10, 10]], n_walkers=16, n_steps=2000, n_burn=400, seed=1)
    np.testing.assert_array_equal(s, s2)
    back = EmceeResult.load(res.save(tmp_path / "e.npz"))
    np.testing.assert_array_equal(back.samples, s)
    np.testing.assert_array_equal(back.autocorr_time, res.autocorr_time)
    assert back.names == ("a", "b") and back.sampler is None
    with pytest.raises(FileExistsError):
        res.save(tmp_path / "e.npz")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pytest.importorskip("arviz")
    idata = res.to_inference_data()
    np.testing.assert_array_equal(np.asarray(idata.posterior["a"]), s[..., 0])


def test_emcee_hdf5_backend(tmp_path):
    pytest.importorskip("h5py")
    import emcee

    logp = lambda x: gauss(x)[0] if np.all(np.abs(x) < 10) else -np.inf
    path = tmp_path / "chain.h5"
    res = run_emcee(logp, [[-10, 10], [-10, 10]], n_walkers=8, n_steps=200, n_burn=50, seed=2, backend=path)
    reader = emcee.backends.HDFBackend(str(path), read_only=True)
    np.testing.assert_array_equal(np.swapaxes(reader.get_chain(discard=50), 0, 1), res.samples)
    with pytest.raises(FileExistsError):
        run_emcee(logp, [[-10, 10], [-10, 10]], n_walkers=8, n_steps=200, n_burn=50, seed=2, backend=path)


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


def test_zero_level_with_scalers_is_exact():
    """With output scalers physical zero is -y_mean / y_std in standardised units."""
    sc = IAEmuScalers(np.zeros(7), np.ones(7), np.array([0.5, 0.02, -0.01]), np.array([1.0, 0.15, 0.3]))
    m = IAEmu.random(0)
    m.scalers = sc
    assert m.zero_level("omega") == pytest.approx(-0.02 / 0.15)
    assert m.zero_level("eta") == pytest.approx(0.01 / 0.3)
    # transforming a physical zero with the scalers gives the same level
    y = np.zeros((1, 3, 20))
    y[:, 0] = 1.0
    np.testing.assert_allclose(sc.transform_outputs(y)[0, 1], m.zero_level("omega"))
    with pytest.raises(ValueError, match="xi"):
        m.zero_level("xi")
    for name, x in IAEMU_HOD_SETS.items():
        assert x.shape == (7,) and np.all(np.abs(x[:2]) <= 1), name


@pytest.fixture(scope="module")
def iaemu32(iaemu_dir):
    return IAEmu.from_checkpoint(iaemu_dir / "iaemu.pt", dtype=np.float32)


def test_zero_level_is_where_omega_is_flat(iaemu32):
    """Without scalers the level comes from mu_cen = mu_sat = 0; check it independently: the only
    flat omega(r) is physical zero, so the flattest network omega over a grid of (mu_cen, mu_sat)
    sits near (0, 0) at the same level (issue 14: about -0.137)."""
    level = iaemu32.zero_level("omega")
    g = np.linspace(-1, 1, 21)
    x = np.zeros((g.size**2, 7))
    x[:, 0], x[:, 1] = [a.ravel() for a in np.meshgrid(g, g, indexing="ij")]
    om = iaemu32.raw(x)[:, 1, :20]
    best = np.argmin(om.std(axis=1))
    assert np.all(np.abs(x[best, :2]) <= 0.3), x[best, :2]
    assert abs(om[best].mean() - level) < 0.02
    assert -0.15 < level < -0.12


@pytest.mark.slow
def test_iaemu_posterior_at_physical_zero(iaemu32):
    """Done criterion of issue 14 (paper figs. 12-13): aimed at the physical zero, the posterior over
    (mu_cen, mu_sat) has its mean within 0.15 of (0, 0), a negative correlation and R-hat < 1.01.
    (A zero target in standardised units instead pushes mu_cen to the prior edge.)"""
    post = iaemu_posterior(iaemu32, np.zeros(7), target="physical_zero")
    r = hmc(post.logp_u_and_grad, np.zeros(2), n_warmup=300, n_samples=300, n_chains=4, seed=0, metric="dense")
    th = post.to_theta(r.samples)
    flat = th.reshape(-1, 2)
    assert np.all(np.abs(flat.mean(axis=0)) < 0.15), flat.mean(axis=0)
    assert np.corrcoef(flat.T)[0, 1] < -0.3
    assert np.all(split_rhat(th) < 1.01)
    assert r.divergences == 0
    naive = iaemu_posterior(iaemu32, np.zeros(7))          # target 0 in standardised units
    assert naive.log_prob(np.array([0.95, -0.2])) > naive.log_prob(np.zeros(2)) + 5


def test_bad_arguments():
    with pytest.raises(ValueError, match="bounds"):
        GaussianSurrogatePosterior(lambda t: None, [[1, 0]])
    with pytest.raises(ValueError, match="target_accept"):
        hmc(gauss, np.zeros(2), target_accept=1.5)
    with pytest.raises(ValueError, match="n_walkers"):
        run_emcee(lambda x: 0.0, [[0, 1], [0, 1]], n_walkers=3)
    with pytest.raises(ValueError, match="target"):
        iaemu_posterior(IAEmu.random(0), np.zeros(7), target="zero")
