"""tau statistics, rho0, their joint covariance and the PSF leakage fit.

References: TreeCorr (GG cross, brute, Arc; estimate_multi_cov on the same patch labels), an
independent brute-force sum with astropy's position angles (1e-10), numpy.linalg.lstsq on the
whitened system, and injected leakage parameters.
"""
import numpy as np
import pytest
import treecorr

import cosmocorr as cc
from cosmocorr.estimators.psf_leakage import _R_OF_RHO, model_rho, xi_sys
from cosmocorr.sky.synthetic import leaky_galaxies_for_stars, synthetic_psf_leakage

BINS = cc.Bins(1.0, 20.0, 4, spacing="log")
FIELDS = {"tau0": "em", "tau2": "de", "tau5": "edt"}


def _tc_cat(ra, dec, z, w=None, patch=None):
    return treecorr.Catalog(ra=ra, dec=dec, g1=z.real, g2=z.imag, w=w, ra_units="deg", dec_units="deg", patch=patch)


def _tc_gg(bins):
    return treecorr.GGCorrelation(min_sep=bins.min_sep, max_sep=bins.max_sep, nbins=bins.nbins, sep_units="arcmin",
                                  bin_type=bins.spacing.capitalize(), brute=True, cross_patch_weight="simple")


def _astropy_xi(ra1, dec1, g1, w1, ra2, dec2, g2, w2, bins):
    """Cross xi+/xi- by brute force: each shear rotated by its position angle towards the other object."""
    from astropy.coordinates import SkyCoord
    import astropy.units as u

    i, j = (a.ravel() for a in np.meshgrid(np.arange(ra1.size), np.arange(ra2.size), indexing="ij"))
    a, b = SkyCoord(ra1[i] * u.deg, dec1[i] * u.deg), SkyCoord(ra2[j] * u.deg, dec2[j] * u.deg)
    r = a.separation(b).to_value(u.arcmin)
    gi = g1[i] * np.exp(-2j * a.position_angle(b).to_value(u.rad))
    gj = g2[j] * np.exp(-2j * b.position_angle(a).to_value(u.rad))
    k = bins.index(r)
    m = k >= 0
    ww = (w1[i] * w2[j])[m]
    W = np.bincount(k[m], ww, bins.nbins)
    xip = np.bincount(k[m], ww * (gi * np.conj(gj)).real[m], bins.nbins) / W
    xim = np.bincount(k[m], ww * (gi * gj).real[m], bins.nbins) / W
    return xip, xim


@pytest.fixture(scope="module")
def small():
    gal, stars, truth = synthetic_psf_leakage(300, 120, seed=3)
    return gal, stars


def test_tau_equals_treecorr_and_brute_force(small):
    gal, stars = small
    w = np.random.default_rng(1).uniform(0.5, 1.5, len(gal))
    gal = cc.Catalog(gal.ra, gal.dec, gal.g1, gal.g2, w)
    tau = cc.tau_statistics(gal, stars, BINS)
    f = stars.fields()
    for name, key in FIELDS.items():
        gg = _tc_gg(BINS)
        gg.process(_tc_cat(gal.ra, gal.dec, gal.g, gal.w), _tc_cat(stars.ra, stars.dec, f[key]), metric="Arc")
        r = tau[name]
        np.testing.assert_array_equal(r.npairs, gg.npairs)
        np.testing.assert_allclose(r.weight, gg.weight, rtol=1e-8)   # TreeCorr sums weights in float32-ish precision
        np.testing.assert_allclose(r.meanr, gg.meanr, rtol=1e-8)
        np.testing.assert_allclose(r.meanlogr, gg.meanlogr, rtol=1e-9)
        # TreeCorr's own projection agrees to ~1e-6 relative (the project-wide GG tolerance) ...
        scale = np.max(np.abs(gg.xip))
        np.testing.assert_allclose(r.xip, gg.xip, rtol=1e-5, atol=1e-6 * scale)
        np.testing.assert_allclose(r.xim, gg.xim, rtol=1e-5, atol=1e-6 * scale)
        np.testing.assert_allclose(r.varxip, gg.varxip, rtol=1e-7)
        # ... and an independent brute-force sum with astropy's position angles to 1e-10
        xp, xm = _astropy_xi(gal.ra, gal.dec, gal.g, gal.w, stars.ra, stars.dec, f[key], stars.w, BINS)
        np.testing.assert_allclose(r.xip, xp, rtol=1e-10, atol=1e-12 * scale)
        np.testing.assert_allclose(r.xim, xm, rtol=1e-10, atol=1e-12 * scale)


def test_rho0_is_the_model_autocorrelation(small):
    _, stars = small
    rho = cc.rho_statistics(stars, BINS)
    assert list(rho) == ["rho0", "rho1", "rho2", "rho3", "rho4", "rho5"]
    gg = _tc_gg(BINS)
    gg.process(_tc_cat(stars.ra, stars.dec, stars.e_model), metric="Arc")
    np.testing.assert_array_equal(rho["rho0"].npairs, gg.npairs)
    np.testing.assert_allclose(rho["rho0"].xip, gg.xip, rtol=1e-5, atol=1e-6 * np.max(np.abs(gg.xip)))
    np.testing.assert_allclose(rho["rho0"].varxip, gg.varxip, rtol=1e-8)
    # the DES/UNIONS R2 = <e_model q> is rho2 - rho1 (e_star = e_model + q), checked against TreeCorr
    gg = _tc_gg(BINS)
    gg.process(_tc_cat(stars.ra, stars.dec, stars.e_model), _tc_cat(stars.ra, stars.dec, stars.de), metric="Arc")
    np.testing.assert_allclose(model_rho(rho)[2], gg.xip, rtol=1e-5, atol=1e-6 * np.max(np.abs(gg.xip)))


def test_model_rho_and_xi_sys_equal_treecorr_in_the_des_unions_convention(small):
    """R0..R5 (:func:`model_rho`) are the rho statistics of DES Y3 (Gatti et al. 2021) and UNIONS:
    TreeCorr GG of (p, p), (q, q), (q, p), (w, w), (q, w), (p, w), the catalog pairs of UNIONS'
    ``RhoStat.compute_rho_stats``, with p = e_model, q = e_star - e_model and
    w = e_star (T_star - T_model) / T_star built here from the raw columns; and xi_sys(alpha, beta,
    eta) is the shear correlation of the systematic field alpha p + beta q + eta w itself (TreeCorr
    GG auto-correlation of that field at the stars), xi+ and xi-, with star weights."""
    _, s0 = small
    w = np.random.default_rng(7).uniform(0.5, 1.5, len(s0.ra))
    stars = cc.StarCatalog(s0.ra, s0.dec, s0.g1_star, s0.g2_star, s0.T_star, s0.g1_model, s0.g2_model, s0.T_model, w)
    rho = cc.rho_statistics(stars, BINS)
    e_star = s0.g1_star + 1j * s0.g2_star
    p = s0.g1_model + 1j * s0.g2_model
    q = e_star - p
    wf = e_star * (s0.T_star - s0.T_model) / s0.T_star
    cats = {k: _tc_cat(stars.ra, stars.dec, z, w) for k, z in {"p": p, "q": q, "w": wf}.items()}
    for comp in ("xip", "xim"):
        R = model_rho(rho, comp)
        for k, (a, b) in enumerate((("p", "p"), ("q", "q"), ("q", "p"), ("w", "w"), ("q", "w"), ("p", "w"))):
            gg = _tc_gg(BINS)
            gg.process(cats[a], cats[b], metric="Arc")
            ref = getattr(gg, comp)
            np.testing.assert_allclose(R[k], ref, rtol=1e-5, atol=1e-6 * np.max(np.abs(ref)), err_msg=f"R{k} {comp}")
    params = np.array([0.3, -2.0, 4.0])
    s = params[0] * p + params[1] * q + params[2] * wf
    gg = _tc_gg(BINS)
    gg.process(_tc_cat(stars.ra, stars.dec, s, w), metric="Arc")
    for comp in ("xip", "xim"):
        ref = getattr(gg, comp)
        np.testing.assert_allclose(xi_sys(params, rho, comp), ref, rtol=1e-5, atol=1e-6 * np.max(np.abs(ref)))
    # n parameter samples at once: one row each
    two = xi_sys(np.array([params, -params]), rho)
    assert two.shape == (2, BINS.nbins)
    np.testing.assert_allclose(two[1], gg.xip, rtol=1e-5, atol=1e-6 * np.max(np.abs(gg.xip)))   # quadratic in p


def test_joint_rho_tau_jackknife_equals_treecorr():
    gal, stars, _ = synthetic_psf_leakage(400, 150, seed=5, npatch=6, patch_seed=1)
    assert np.array_equal(stars.catalog.patch_centers, gal.patch_centers)
    rho = cc.rho_statistics(stars, BINS, var_method="jackknife")
    tau = cc.tau_statistics(gal, stars, BINS, var_method="jackknife")
    f, p = stars.fields(), stars.catalog.patch
    corrs = []
    for a, b in cc.estimators.RHO_FIELDS.values():
        gg = _tc_gg(BINS)
        cats = [_tc_cat(stars.ra, stars.dec, f[k], patch=p) for k in ((a,) if a == b else (a, b))]
        gg.process(*cats, metric="Arc", num_threads=1)
        corrs.append(gg)
    gcat = _tc_cat(gal.ra, gal.dec, gal.g, patch=gal.patch)
    for key in FIELDS.values():
        gg = _tc_gg(BINS)
        gg.process(gcat, _tc_cat(stars.ra, stars.dec, f[key], patch=p), metric="Arc", num_threads=1)
        corrs.append(gg)
    C = treecorr.estimate_multi_cov(corrs, "jackknife", cross_patch_weight="simple")
    D = cc.estimate_multi_cov([rho, tau], "jackknife")
    assert D.shape == C.shape == (18 * BINS.nbins,) * 2
    assert np.max(np.abs(D - C)) <= 1e-4 * np.max(np.abs(C))
    # the tau block alone is the TauResult's own covariance
    n = 12 * BINS.nbins
    np.testing.assert_allclose(tau.cov, D[n:, n:], rtol=1e-12, atol=0)


def test_noise_free_leakage_is_recovered_exactly():
    """Galaxies at the stars' positions carrying exactly alpha e_model + beta q + eta w: the tau are
    then exactly the model system in the measured rho (the same pairs), and GLS returns the truth."""
    _, stars, _ = synthetic_psf_leakage(10, 300, seed=2, star_noise=0.0, npatch=None)
    truth = np.array([0.03, -0.7, 2.5])
    f = stars.fields()
    e = truth[0] * f["em"] + truth[1] * f["de"] + truth[2] * f["edt"]
    gal = cc.Catalog(stars.ra, stars.dec, e.real, e.imag)
    rho = cc.rho_statistics(stars, BINS)
    tau = cc.tau_statistics(gal, stars, BINS)
    fit = cc.fit_psf_leakage(rho, tau, nsteps=60, burn=20, seed=0, rho_noise=False)   # GLS: exact system
    np.testing.assert_allclose(fit.params, truth, rtol=1e-8)
    assert fit.chi2 < 1e-12
    np.testing.assert_allclose(fit.xi_sys, xi_sys(truth, rho), rtol=1e-8)


def test_gls_equals_whitened_lstsq_and_posterior_is_reproducible():
    gal, stars, _ = synthetic_psf_leakage(800, 200, seed=7, npatch=16, shape_noise=0.03)
    rho = cc.rho_statistics(stars, BINS, var_method="jackknife")
    tau = cc.tau_statistics(gal, stars, BINS, var_method="jackknife")
    kw = dict(nsteps=200, burn=50, seed=np.random.default_rng(4))
    fit = cc.fit_psf_leakage(rho, tau, rho_noise=False, **kw)
    # independent solve: the tau block of the joint covariance, Cholesky-whitened, numpy lstsq
    nb = BINS.nbins
    C = cc.estimate_multi_cov([rho, tau], "jackknife")
    rows = np.concatenate([12 * nb + 2 * nb * t + np.arange(nb) for t in range(3)])
    L = np.linalg.cholesky(C[np.ix_(rows, rows)])
    R = model_rho(rho)
    X = np.concatenate([np.stack([R[a], R[b], R[c]], axis=1) for a, b, c in ((0, 2, 5), (2, 1, 4), (5, 4, 3))])
    d = np.concatenate([tau[t].xip for t in ("tau0", "tau2", "tau5")])
    p, *_ = np.linalg.lstsq(np.linalg.solve(L, X), np.linalg.solve(L, d), rcond=None)
    np.testing.assert_allclose(fit.params, p, rtol=1e-9)
    Xw = np.linalg.solve(L, X)
    h = fit.extra["hartlap_factor"]
    np.testing.assert_allclose(fit.param_cov, np.linalg.inv(Xw.T @ Xw) / h, rtol=1e-9)
    again = cc.fit_psf_leakage(rho, tau, rho_noise=False, nsteps=200, burn=50, seed=np.random.default_rng(4))
    np.testing.assert_array_equal(fit.samples, again.samples)
    # R0..R5 expressed through cosmocorr's rho0..rho5
    assert _R_OF_RHO[2] == {2: 1.0, 1: -1.0} and _R_OF_RHO[5] == {5: 1.0, 4: -1.0}


@pytest.mark.slow
def test_injected_leakage_recovered_over_seeds():
    """Known alpha, beta, eta in noisy galaxies on a spatially correlated PSF field: every GLS
    estimate within 3.5 sigma of the truth over seeds, and the posterior agrees with GLS."""
    pulls, chi2 = [], []
    for seed in range(4):
        gal, stars, truth = synthetic_psf_leakage(2000, 400, seed=seed, npatch=20, shape_noise=0.03, residual_e=0.01,
                                                  size_residual=0.05)
        rho = cc.rho_statistics(stars, BINS, var_method="jackknife")
        tau = cc.tau_statistics(gal, stars, BINS, var_method="jackknife")
        fit = cc.fit_psf_leakage(rho, tau, seed=seed, nsteps=400, burn=150)
        t = np.array([truth[k] for k in ("alpha", "beta", "eta")])
        pulls.append((fit.params - t) / np.sqrt(np.diag(fit.param_cov)))
        chi2.append(fit.chi2 / fit.dof)
        assert np.all(np.abs(fit.posterior_mean - fit.params) < 2.0 * fit.posterior_std)
        assert np.all(fit.xi_sys_lo <= fit.xi_sys_hi)
    pulls = np.array(pulls)
    assert np.all(np.abs(pulls) < 3.5), pulls
    assert 0.1 < np.mean(chi2) < 3.0, chi2


def test_leakage_on_cosmos_stars(cosmos_fits):
    """COSMOS-Web stars with *synthetic* galaxies on the same field (injected leakage)."""
    stars0 = cc.StarCatalog.from_fits(cosmos_fits)
    # 40 patches: with 12 the jackknife covariances of rho and tau are too noisy for the fit's alpha_err
    # (over patch_seed 1-5, alpha ranged -0.75..0.39 against alpha_err 0.01-0.32, with cosmocorr's earlier
    # k-means and with TreeCorr's); with 40, alpha = -0.02..0.20 and alpha_err 0.15-0.26 over the same seeds
    gal = leaky_galaxies_for_stars(stars0, 1500, alpha=0.1, beta=2.0, eta=0.0, seed=1, shape_noise=0.02, npatch=40,
                                   patch_seed=1)
    stars = cc.StarCatalog(stars0.ra, stars0.dec, stars0.g1_star, stars0.g2_star, stars0.T_star, stars0.g1_model,
                           stars0.g2_model, stars0.T_model, patch_centers=gal.patch_centers)
    bins = cc.Bins(2.0, 20.0, 3, spacing="log")
    rho = cc.rho_statistics(stars, bins, var_method="jackknife")
    tau = cc.tau_statistics(gal, stars, bins, var_method="jackknife")
    fit = cc.fit_psf_leakage(rho, tau, nsteps=200, burn=50, seed=0)
    assert np.all(np.isfinite(fit.params)) and np.all(np.isfinite(fit.samples))
    # alpha (the PSF model's leakage, the best-measured term) within 3 sigma of the injected value
    assert abs(fit.alpha - 0.1) < 3 * fit.alpha_err + 0.02


def test_bad_inputs():
    gal, stars, _ = synthetic_psf_leakage(50, 40, seed=1)
    with pytest.raises(TypeError, match="galaxies"):
        cc.tau_statistics(np.zeros(3), stars, BINS)
    with pytest.raises(TypeError, match="stars"):
        cc.tau_statistics(gal, gal, BINS)
    with pytest.raises(ValueError, match="patches"):
        cc.tau_statistics(gal, stars, BINS, var_method="jackknife")
    rho = cc.rho_statistics(stars, BINS)
    tau = cc.tau_statistics(gal, stars, BINS)
    with pytest.raises(TypeError, match="tau"):
        cc.fit_psf_leakage(rho, rho)
    with pytest.raises(ValueError, match="components"):
        cc.fit_psf_leakage(rho, tau, components=("xim",))
    with pytest.raises(ValueError, match="cov"):
        cc.fit_psf_leakage(rho, tau, cov=np.eye(3))
    with pytest.raises(ValueError, match="same bins"):
        cc.fit_psf_leakage(rho, cc.tau_statistics(gal, stars, cc.Bins(1.0, 20.0, 3, spacing="log")))


def test_tau_and_fit_files_round_trip(small, tmp_path):
    gal, stars = small
    tau = cc.tau_statistics(gal, stars, BINS)
    back = cc.TauResult.read(tau.write(tmp_path / "tau.fits"))
    for name in tau:
        np.testing.assert_array_equal(back[name].xip, tau[name].xip)
    # TreeCorr reads the file's first statistic, tau0
    np.testing.assert_array_equal(treecorr.GGCorrelation.from_file(str(tmp_path / "tau.fits")).xip, tau["tau0"].xip)


def test_tau_tree_method_equals_treecorr_tree(small):
    """method="tree": each tau is TreeCorr's own (non-brute) GG cross-correlation with the same slops."""
    gal, stars = small
    tau = cc.tau_statistics(gal, stars, BINS, method="tree", bin_slop=0.5, angle_slop=0.1)
    assert (tau.method, tau.bin_slop, tau.angle_slop) == ("tree", 0.5, 0.1)
    f = stars.fields()
    for name, key in FIELDS.items():
        gg = treecorr.GGCorrelation(min_sep=BINS.min_sep, max_sep=BINS.max_sep, nbins=BINS.nbins, sep_units="arcmin",
                                    bin_type="Log", bin_slop=0.5, angle_slop=0.1, num_threads=1)
        gg.process(_tc_cat(gal.ra, gal.dec, gal.g, gal.w), _tc_cat(stars.ra, stars.dec, f[key]), metric="Arc",
                   num_threads=1)
        r = tau[name]
        assert r.method == "tree"
        np.testing.assert_array_equal(r.npairs, gg.npairs)
        np.testing.assert_allclose(r.xip, gg.xip, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(r.xim, gg.xim, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(r.varxip, gg.varxip, rtol=1e-12)
    with pytest.raises(ValueError, match="bin_slop"):
        cc.tau_statistics(gal, stars, BINS, bin_slop=0.5)          # a slop without method="tree"
