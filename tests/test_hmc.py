"""NUTS with windowed mass-matrix adaptation against Gaussians of known mean and covariance."""
import warnings

import numpy as np
import pytest

from cosmocorr.surrogate.diagnostics import ess_bulk
from cosmocorr.surrogate.hmc import HMCResult, _windows, bfmi, hmc

SCALES = np.array([1.0, 0.01])


def scaled(x):
    return -0.5 * np.sum((x / SCALES) ** 2), -x / SCALES**2


def mild(x):
    """A well-conditioned Gaussian (sd 1 and 0.5): cheap runs for the bookkeeping tests."""
    return -0.5 * (x[0] ** 2 + 4 * x[1] ** 2), -np.array([x[0], 4 * x[1]])


def _correlated(k=10, seed=3):
    rng = np.random.default_rng(seed)
    sd = np.exp(np.linspace(np.log(0.1), np.log(10), k))
    corr = 0.9 ** np.abs(np.subtract.outer(np.arange(k), np.arange(k)))
    cov = corr * np.outer(sd, sd)
    mu = rng.normal(0, 1, k)
    return mu, cov


MU10, COV10 = _correlated()
PREC10 = np.linalg.inv(COV10)


def corr10(x):
    d = x - MU10
    return -0.5 * d @ PREC10 @ d, -PREC10 @ d


def _check_moments(samples, mu, cov, nsig=4.5, cov_rtol=0.15):
    flat = samples.reshape(-1, samples.shape[-1])
    ess = ess_bulk(samples)
    se = np.sqrt(np.diag(cov) / ess)
    assert np.all(np.abs(flat.mean(0) - mu) < nsig * se), (flat.mean(0) - mu) / se
    sd = np.sqrt(np.diag(cov))
    # covariance, scaled to correlations and relative variances (MC error ~ sqrt(2 / ESS))
    c_hat = np.cov(flat.T) / np.outer(sd, sd)
    np.testing.assert_allclose(c_hat, cov / np.outer(sd, sd), atol=cov_rtol)


def test_badly_scaled_gaussian_diag_metric_adapts():
    r = hmc(scaled, [0.3, 0.001], n_warmup=700, n_samples=400, n_chains=4, seed=1)
    assert r.samples.shape == (4, 400, 2)
    assert np.all(r.rhat < 1.01)
    _check_moments(r.samples, np.zeros(2), np.diag(SCALES**2))
    # the adapted inverse metric is the posterior variance (1 and 1e-4), within the noise of the
    # last slow window's 300 draws (relative sd ~ sqrt(2 / 300) = 0.08)
    np.testing.assert_allclose(r.inv_metric, np.broadcast_to(SCALES**2, (4, 2)), rtol=0.3)
    assert r.divergences == 0 and not r.divergent.any()
    # a well-adapted metric makes the problem isotropic: a few leapfrog steps per draw
    assert r.n_leapfrog.mean() < 8
    assert np.all(r.ebfmi > 0.5)


def test_unit_metric_needs_many_more_gradients():
    sd = np.array([1.0, 0.05])
    f = lambda x: (-0.5 * np.sum((x / sd) ** 2), -x / sd**2)
    kw = dict(n_warmup=300, n_samples=300, n_chains=2, seed=4)
    diag = hmc(f, [0.3, 0.001], **kw)
    unit = hmc(f, [0.3, 0.001], metric="unit", **kw)
    assert np.all(unit.inv_metric == 1)
    assert unit.grad_per_ess > 4 * diag.grad_per_ess


def test_correlated_10d_dense_metric():
    r = hmc(corr10, MU10 + 1.0, n_warmup=500, n_samples=400, n_chains=3, seed=2, metric="dense")
    assert r.inv_metric.shape == (3, 10, 10)
    assert np.all(r.rhat < 1.01)
    _check_moments(r.samples, MU10, COV10)
    # the adapted dense metric estimates the covariance (condition number 2e4): whitened by the
    # true covariance it is close to the identity (noise of a 10 x 10 covariance from ~150 draws)
    lc = np.linalg.cholesky(COV10)
    for inv in r.inv_metric:
        eig = np.linalg.eigvalsh(np.linalg.solve(lc, np.linalg.solve(lc, inv).T))
        assert 0.3 < eig.min() and eig.max() < 2.5, eig


def test_counts_every_gradient_and_same_seed_same_draws(monkeypatch):
    calls = []

    def f(x):
        calls.append(1)
        return mild(x)

    monkeypatch.setenv("COSMOCORR_NUM_THREADS", "1")
    r1 = hmc(f, [0.1, 0.0], n_warmup=100, n_samples=60, n_chains=3, seed=7)
    assert r1.n_grad_evals == len(calls)
    # warm-up included: more than the sampling-phase leapfrog steps
    assert r1.n_grad_evals > r1.n_leapfrog.sum()
    monkeypatch.setenv("COSMOCORR_NUM_THREADS", "3")
    r2 = hmc(mild, [0.1, 0.0], n_warmup=100, n_samples=60, n_chains=3, seed=7)
    np.testing.assert_array_equal(r1.samples, r2.samples)
    np.testing.assert_array_equal(r1.energy, r2.energy)
    r3 = hmc(mild, [0.1, 0.0], n_warmup=100, n_samples=60, n_chains=3, seed=8)
    assert not np.array_equal(r1.samples, r3.samples)


def test_divergences_detected():
    # a step size far beyond the leapfrog stability limit (2 sd): the energy error of the first
    # step is ~ eps^4 |p|^2 / 8 > 1000 on a standard Gaussian, so every draw diverges
    with pytest.warns(UserWarning, match="divergent"):
        r = hmc(lambda x: (-0.5 * x @ x, -x), np.zeros(2), n_warmup=0, n_samples=50, n_chains=2, seed=0,
                step_size=50.0, metric="unit")
    assert r.divergent.shape == (2, 50) and r.divergent.all()
    # Neal's funnel: v ~ N(0, 3), x | v ~ N(0, exp(v / 2)); its neck makes NUTS diverge
    def funnel(z):
        v, x = z[0], z[1:]
        lp = -v * v / 18 - 0.5 * np.exp(-v) * (x @ x) - 0.5 * x.size * v
        g = np.concatenate([[-v / 9 + 0.5 * np.exp(-v) * (x @ x) - 0.5 * x.size], -np.exp(-v) * x])
        return lp, g

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = hmc(funnel, np.r_[0.0, np.ones(4)], n_warmup=200, n_samples=300, n_chains=2, seed=1, max_tree_depth=6)
    assert r.divergences > 0
    assert r.divergences == int(r.divergent.sum())


def test_energy_bfmi_and_inference_data(tmp_path):
    r = hmc(mild, [0.3, 0.001], n_warmup=200, n_samples=200, n_chains=2, seed=3, names=("a", "b"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        az = pytest.importorskip("arviz")
    idata = r.to_inference_data()
    np.testing.assert_array_equal(np.asarray(idata.posterior["b"]), r.samples[..., 1])
    np.testing.assert_allclose(np.asarray(az.bfmi(idata)), r.ebfmi, rtol=1e-10)
    np.testing.assert_allclose(bfmi(r.energy), r.ebfmi)
    np.testing.assert_allclose(float(az.ess(idata, var_names=["a"], method="bulk")["a"]), r.ess[0], rtol=1e-6)
    assert int(np.asarray(idata.sample_stats["diverging"]).sum()) == r.divergences
    # .npz round trip; no silent overwrite
    p = r.save(tmp_path / "run.npz")
    back = HMCResult.load(p)
    np.testing.assert_array_equal(back.samples, r.samples)
    np.testing.assert_array_equal(back.energy, r.energy)
    assert back.n_grad_evals == r.n_grad_evals and back.names == ("a", "b") and back.metric == "diag"
    with pytest.raises(FileExistsError):
        r.save(p)
    # netCDF through arviz
    nc = r.save(tmp_path / "run.nc")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = az.from_netcdf(str(nc))
    np.testing.assert_array_equal(np.asarray(again.posterior["a"]), r.samples[..., 0])


def test_warmup_windows_follow_stan():
    # Stan's default schedule for 1000 warm-up iterations: 75 | 25, 50, 100, 200, 500 | 50
    ends, first = _windows(1000, 75, 50, 25)
    assert first == 75 and ends == [99, 149, 249, 449, 949]
    ends, first = _windows(100, 75, 50, 25)          # short warm-up: 15% / 75% / 10%
    assert first == 15 and ends == [89]
    assert _windows(10)[0] == []


def test_bad_arguments():
    with pytest.raises(ValueError, match="metric"):
        hmc(scaled, np.zeros(2), metric="full")
    with pytest.raises(ValueError, match="target_accept"):
        hmc(scaled, np.zeros(2), target_accept=1.5)
    with pytest.raises(ValueError, match="inv_metric"):
        hmc(scaled, np.zeros(2), metric="dense", inv_metric=np.ones(2))
    with pytest.raises(ValueError, match="initial"):
        hmc(scaled, np.zeros((3, 2)), n_chains=2)
    with pytest.raises(ValueError, match="initial"):
        hmc(lambda x: (-np.inf, x), np.zeros(2), n_chains=1, n_warmup=10, n_samples=10)
    with pytest.raises(ValueError, match="n_samples"):
        hmc(scaled, np.zeros(2), n_samples=0)
    with pytest.raises(TypeError, match="callable"):
        hmc(None, np.zeros(2))


def test_dask_client_gives_the_same_draws():
    distributed = pytest.importorskip("dask.distributed")
    kw = dict(n_warmup=60, n_samples=40, n_chains=2, seed=5)
    local = hmc(mild, [0.2, 0.1], client=False, **kw)
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=":0") as client:
        remote = hmc(mild, [0.2, 0.1], client=client, **kw)
    np.testing.assert_array_equal(local.samples, remote.samples)
    assert local.n_grad_evals == remote.n_grad_evals
