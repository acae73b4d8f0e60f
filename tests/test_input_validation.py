"""Issue 16, "weights and uncertainties that never lie": zero and negative weights, spreads from one
sample, degenerate settings and wrongly typed scalars, each checked against an independent
reference (TreeCorr, a finite difference, the catalog without the dropped objects) or for a clean
ValueError/TypeError that names the argument."""
import logging

import numpy as np
import pytest

import cosmocorr as cc
from cosmocorr.sky.synthetic import synthetic_shear_catalog, synthetic_star_catalog

treecorr = pytest.importorskip("treecorr")


def _sky(n, seed, zero_fraction=0.5):
    rng = np.random.default_rng(seed)
    ra, dec = rng.uniform(150, 151, n), rng.uniform(2, 3, n)
    g1, g2 = rng.normal(0, 0.2, n), rng.normal(0, 0.2, n)
    w = rng.uniform(0.5, 2.0, n)
    w[rng.random(n) < zero_fraction] = 0.0
    return ra, dec, g1, g2, w


def _tc_gg(ra, dec, g1, g2, w, **kw):
    cat = treecorr.Catalog(ra=ra, dec=dec, g1=g1, g2=g2, w=w, ra_units="deg", dec_units="deg", **kw)
    gg = treecorr.GGCorrelation(min_sep=1.0, max_sep=60.0, nbins=5, bin_type="Linear", sep_units="arcmin",
                                brute=True, metric="Arc")
    gg.process(cat)
    return cat, gg


# ---------------------------------------------------------------- zero weights (TreeCorr's rule)
def test_zero_weight_objects_are_dropped_like_treecorr():
    ra, dec, g1, g2, w = _sky(400, 1)
    tcat, gg = _tc_gg(ra, dec, g1, g2, w)
    cat = cc.Catalog(ra, dec, g1, g2, w)
    assert cat.nobj == tcat.nobj == np.count_nonzero(w) and cat.nobj_dropped == np.count_nonzero(w == 0)
    np.testing.assert_array_equal(cat.kept_index, np.flatnonzero(w))
    r = cc.shear_shear(cat, min_sep=1.0, max_sep=60.0, nbins=5, spacing="linear")
    np.testing.assert_array_equal(r.npairs, gg.npairs)       # before the fix: about 4x TreeCorr's
    np.testing.assert_allclose(r.xip, gg.xip, rtol=1e-5, atol=1e-6 * 0.08)   # TreeCorr's float32 shears
    np.testing.assert_allclose(r.weight, gg.weight, rtol=1e-8)


def test_keep_zero_weight_counts_their_pairs_without_weight():
    ra, dec, g1, g2, w = _sky(300, 2)
    cat = cc.Catalog(ra, dec, g1, g2, w, keep_zero_weight=True)
    assert cat.nobj == 300 and cat.nobj_dropped == 0
    r = cc.shear_shear(cat, min_sep=1.0, max_sep=60.0, nbins=5, spacing="linear")
    # npairs: every pair of the 300 positions (TreeCorr without weights counts them all) ...
    _, unweighted = _tc_gg(ra, dec, g1, g2, None)
    np.testing.assert_array_equal(r.npairs, unweighted.npairs)
    # ... while the weighted averages are those of the positive-weight objects only
    tcat, gg = _tc_gg(ra, dec, g1, g2, w, keep_zero_weight=True)
    assert tcat.ntot == 300
    np.testing.assert_allclose(r.xip, gg.xip, rtol=1e-5, atol=1e-6 * 0.08)   # TreeCorr's float32 shears
    np.testing.assert_allclose(r.weight, gg.weight, rtol=1e-8)


def test_zero_weights_in_landy_szalay_and_rho_match_the_catalog_without_them():
    ra, dec, _, _, w = _sky(300, 3, zero_fraction=0.3)
    rng = np.random.default_rng(4)
    rra, rdec = rng.uniform(150, 151, 500), rng.uniform(2, 3, 500)
    data = cc.Catalog(ra, dec, w=w)
    ls = cc.landy_szalay(data, cc.Catalog(rra, rdec), min_sep=1.0, max_sep=40.0, nbins=4, spacing="linear")
    d = treecorr.Catalog(ra=ra, dec=dec, w=w, ra_units="deg", dec_units="deg")
    rr = treecorr.Catalog(ra=rra, dec=rdec, ra_units="deg", dec_units="deg")
    kw = dict(min_sep=1.0, max_sep=40.0, nbins=4, bin_type="Linear", sep_units="arcmin", brute=True, metric="Arc")
    nn = treecorr.NNCorrelation(**kw)
    nn.process(d)
    np.testing.assert_array_equal(ls.dd_npairs, nn.npairs)
    s = synthetic_star_catalog(120, seed=2)
    ws = np.ones(120)
    ws[::3] = 0.0
    with_zero = cc.StarCatalog(s.ra, s.dec, s.g1_star, s.g2_star, s.T_star, s.g1_model, s.g2_model, s.T_model, ws)
    keep = ws > 0
    without = s.subset(keep)
    assert len(with_zero) == np.count_nonzero(keep)
    a, b = cc.rho_statistics(with_zero, min_sep=1, max_sep=30, nbins=3, spacing="linear"), cc.rho_statistics(without, min_sep=1, max_sep=30, nbins=3, spacing="linear")
    for k in a:
        np.testing.assert_array_equal(a[k].npairs, b[k].npairs)
        np.testing.assert_allclose(a[k].xip, b[k].xip, rtol=1e-12)


def test_all_zero_weights_are_an_error():
    ra, dec, g1, g2, _ = _sky(20, 5)
    for kzw in (False, True):
        with pytest.raises(ValueError, match=r"\bw\b.*all weights are zero"):
            cc.Catalog(ra, dec, g1, g2, np.zeros(20), keep_zero_weight=kzw)
    s = synthetic_star_catalog(30, seed=1)
    with pytest.raises(ValueError, match="all weights are zero"):
        cc.StarCatalog(s.ra, s.dec, s.g1_star, s.g2_star, s.T_star, s.g1_model, s.g2_model, s.T_model, np.zeros(30))
    from cosmocorr.ia import ia_correlations
    x = np.random.default_rng(0).uniform(0, 10, (30, 3))
    with pytest.raises(ValueError, match="weights.*all weights are zero"):
        ia_correlations(x, x + 1, rbins=[0.5, 1, 2], weights=np.zeros(30))
    with pytest.raises(TypeError, match="keep_zero_weight"):
        cc.Catalog(ra, dec, keep_zero_weight="yes")


def test_ia_zero_weights_dropped_like_treecorr():
    from cosmocorr.ia import eta, ia_pair_sums, omega
    rng = np.random.default_rng(7)
    x = rng.uniform(0, 20, (400, 3))
    e = rng.normal(size=(400, 3))
    w = rng.uniform(0.5, 2.0, 400)
    w[rng.random(400) < 0.4] = 0.0
    rbins = np.logspace(-0.5, 0.8, 6)
    s = ia_pair_sums(x, rbins, e, weights=w)
    cat = treecorr.Catalog(x=x[:, 0], y=x[:, 1], z=x[:, 2], w=w)
    nn = treecorr.NNCorrelation(min_sep=rbins[0], max_sep=rbins[-1], nbins=5, brute=True)
    nn.process(cat)
    np.testing.assert_array_equal(s["npairs"], 2 * nn.npairs)   # ordered pairs here, unordered in TreeCorr
    np.testing.assert_allclose(s["weight"], 2 * nn.weight, rtol=1e-7)      # TreeCorr's float32 weights
    kept = ia_pair_sums(x, rbins, e, weights=w, keep_zero_weight=True)
    nn_all = treecorr.NNCorrelation(min_sep=rbins[0], max_sep=rbins[-1], nbins=5, brute=True)
    nn_all.process(treecorr.Catalog(x=x[:, 0], y=x[:, 1], z=x[:, 2]))
    np.testing.assert_array_equal(kept["npairs"], 2 * nn_all.npairs)
    np.testing.assert_allclose(kept["weight"], s["weight"], rtol=1e-12)
    m = w > 0
    np.testing.assert_allclose(omega(x, e, rbins, weights=w), omega(x[m], e[m], rbins, weights=w[m]), rtol=1e-12)
    np.testing.assert_allclose(eta(x, e, rbins, weights=w), eta(x[m], e[m], rbins, weights=w[m]), rtol=1e-12)


def test_fuzzy_c_means_rejects_negative_weights():
    cat = synthetic_shear_catalog(60, seed=1)
    w = np.ones(60)
    w[3] = -1.0
    with pytest.raises(ValueError, match="weights"):
        cc.fuzzy_c_means(cat.ra, cat.dec, 3, weights=w, seed=0)
    with pytest.raises(ValueError, match="weights"):
        cc.fuzzy_c_means(cat.ra, cat.dec, 3, weights=np.zeros(60), seed=0)


# ---------------------------------------------------------------- a spread from one sample
def test_one_sampled_assignment_gives_nan_std_and_warns(caplog):
    cat = synthetic_shear_catalog(120, seed=3)
    b = cc.Bins(1.0, 40.0, 3)
    with caplog.at_level(logging.WARNING, logger="cosmocorr"):
        with pytest.warns(cc.CosmocorrWarning, match="n_samples=1"):
            r = cc.shear_shear(cat, bins=b, n_clusters=10, n_samples=1, seed=0)
    assert any("n_samples=1" in m for m in caplog.messages)
    assert np.all(np.isnan(r.xip_std)) and np.all(np.isnan(r.xim_std))
    assert np.all(np.isfinite(r.xip[r.npairs > 0]))
    g = cc.shear_shear(cat, bins=b, n_clusters=10, assignment="greedy", seed=0)
    assert np.all(np.isnan(g.xip_std))
    two = cc.shear_shear(cat, bins=b, n_clusters=10, n_samples=2, seed=0)
    np.testing.assert_allclose(two.xip_std, np.std(two.xip_samples, axis=0, ddof=1))


def test_subset_fraction_that_removes_no_object_is_an_error():
    cat = synthetic_shear_catalog(100, seed=2)
    b = cc.Bins(1.0, 40.0, 3)
    with pytest.raises(ValueError, match="subset_fraction"):
        cc.clustering_uncertainty(cat, b, 10, n_samples=2, n_bootstrap=2, method="subset", subset_fraction=0.004)
    with pytest.raises(ValueError, match="subset_fraction"):
        cc.clustering_uncertainty(cat, b, 10, n_samples=2, n_bootstrap=2, method="subset", subset_fraction=0.995)
    with pytest.raises(TypeError, match="subset_fraction"):
        cc.clustering_uncertainty(cat, b, 10, method="subset", subset_fraction="0.2")


def test_iaemu_one_dropout_pass_is_not_an_uncertainty(iaemu_dir):
    from cosmocorr.surrogate import IAEmu
    m = IAEmu.from_checkpoint(iaemu_dir / "iaemu.pt")
    x = np.zeros((2, 7))
    with pytest.raises(ValueError, match="n_passes"):
        m.predict(x, n_passes=1, seed=0)
    with pytest.raises(TypeError, match="n_passes"):
        m.predict(x, n_passes=2.5, seed=0)
    with pytest.raises(ValueError, match="seed"):
        m.predict(x, n_passes=2, seed=-1)
    p0 = m.predict(x, n_passes=0)
    assert np.all(np.isnan(p0.epistemic_std))          # not estimated: NaN, not 0
    p2 = m.predict(x, n_passes=2, seed=0)
    mc = m.raw_mc_dropout(x, 2, seed=0)[..., :20]
    np.testing.assert_allclose(p2.epistemic_std, mc.std(axis=0))


def test_one_member_ensemble_has_nan_epistemic_sigma(caplog):
    from cosmocorr.ia import IASurrogate
    from cosmocorr.surrogate import MLPSurrogate
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (80, 2))
    y = np.column_stack([x[:, 0] + 0.1 * rng.normal(size=80) for _ in range(3)])
    member = MLPSurrogate.fit(x, y, hidden=(8,), epochs=5, batch_size=16, seed=0)
    sur = IASurrogate([member], np.arange(1), np.array([1.0, 2.0]), np.array([1.5]))
    mean, ale, epi = sur.predict(np.zeros(2))
    assert np.all(np.isnan(epi)) and np.all(np.isfinite(mean)) and np.all(ale > 0)
    two = IASurrogate([member, MLPSurrogate.fit(x, y, hidden=(8,), epochs=5, batch_size=16, seed=1)],
                      np.arange(1), np.array([1.0, 2.0]), np.array([1.5]))
    mean2, _, epi2 = two.predict(np.zeros(2))
    means = np.stack([m.predict(np.zeros((1, 2)))[0] for m in two.members]).reshape(2, 1, 3, 1)
    np.testing.assert_allclose(epi2, means.std(axis=0), rtol=1e-12)


# ---------------------------------------------------------------- degenerate settings
def test_xi_plus_gradient_with_one_cluster_is_empty_not_a_crash():
    for approach in ("a", "b", "c"):
        r = cc.xi_plus_gradient(approach=approach, n_clusters=1, n_galaxies=20, seed=0)
        assert np.all(np.isnan(r.xi)) and np.all(np.isnan(r.dxi_dG))   # one object: no pair in any bin
    # two clusters: one pair far outside the bins; the derivative must still be finite and right
    r = cc.xi_plus_gradient(1.0, approach="c", n_clusters=2, n_galaxies=20, seed=0)
    h = 1e-5
    up = cc.xi_plus_gradient(1.0 + h, approach="c", n_clusters=2, n_galaxies=20, seed=0, state=r.state)
    dn = cc.xi_plus_gradient(1.0 - h, approach="c", n_clusters=2, n_galaxies=20, seed=0, state=r.state)
    assert np.all(np.isfinite(r.dxi_dG))
    np.testing.assert_allclose(r.dxi_dG, (up.xi - dn.xi) / (2 * h), rtol=1e-4, atol=1e-12)
    with pytest.raises(ValueError, match="xi\\+ is NaN"):
        cc.fit_G(np.zeros(3), n_clusters=1, approach="c", n_galaxies=20, max_steps=2)


def test_bins_and_bin_keywords_together_are_an_error():
    cat = synthetic_shear_catalog(50, seed=1)
    b = cc.Bins(1.0, 30.0, 4)
    with pytest.raises(ValueError, match="nbins"):
        cc.shear_shear(cat, bins=b, nbins=3)
    with pytest.raises(ValueError, match="min_sep, max_sep"):
        cc.landy_szalay(cat, cat, bins=b, min_sep=1.0, max_sep=3.0)
    with pytest.raises(ValueError, match="spacing"):
        cc.rho_statistics(synthetic_star_catalog(30, seed=1), bins=b, spacing="log")
    with pytest.raises(ValueError, match="nbins"):
        cc.shear_shear(cat, bins=b, nbins=3, n_clusters=5)
    # log spacing through the keywords still works (the default spacing is no longer "linear")
    assert cc.shear_shear(cat, min_sep=1.0, max_sep=30.0, nbins=4, spacing="log").bins.spacing == "log"


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_soft_bin_weights_reject_non_finite_separations(bad):
    b = cc.Bins(0.0, 10.0, 2)
    with pytest.raises(ValueError, match=r"\br\b"):
        cc.soft_bin_weights(np.array([1.0, bad]), b, 1.0)
    from cosmocorr.differentiable.dual import Dual
    with pytest.raises(ValueError, match=r"\br\b"):
        cc.soft_bin_weights(Dual(np.array([1.0, 2.0]), np.array([0.0, bad])), b, 1.0)
    with pytest.raises(TypeError, match="bins"):
        cc.soft_bin_weights(np.array([1.0]), (0, 10, 2), 1.0)


@pytest.mark.parametrize("name,value,exc", [
    ("box_size", np.nan, ValueError), ("box_size", np.inf, ValueError), ("box_size", 1e5, ValueError),
    ("filament_length", np.nan, ValueError), ("clustering_scale", np.inf, ValueError),
    ("clustering_scale", -1.0, ValueError), ("log_mass_min", np.nan, ValueError),
    ("halo_alignment", 2.0, ValueError), ("box_size", "100", TypeError), ("seed", -1, ValueError),
])
def test_simulate_halos_sizes(name, value, exc):
    from cosmocorr.ia import simulate_halos
    with pytest.raises(exc, match=name):
        simulate_halos(**{name: value})


# ---------------------------------------------------------------- wrongly typed scalars
def _cases():
    cat = synthetic_shear_catalog(40, seed=1)
    b = cc.Bins(1.0, 30.0, 3)
    stars = synthetic_star_catalog(30, seed=1)
    x = np.random.default_rng(0).uniform(0, 10, (30, 3))
    from cosmocorr import ia
    return [
        ("fuzziness", lambda: cc.fuzzy_c_means(cat.ra, cat.dec, 3, fuzziness=None), TypeError),
        ("fuzziness", lambda: cc.fuzzy_c_means(cat.ra, cat.dec, 3, fuzziness="2"), TypeError),
        ("fuzziness", lambda: cc.fuzzy_c_means(cat.ra, cat.dec, 3, fuzziness=1.0), ValueError),
        ("tol", lambda: cc.fuzzy_c_means(cat.ra, cat.dec, 3, tol="x"), TypeError),
        ("seed", lambda: cc.fuzzy_c_means(cat.ra, cat.dec, 3, seed=-1), ValueError),
        ("seed", lambda: cc.fuzzy_c_means(cat.ra, cat.dec, 3, seed=1.5), TypeError),
        ("n_clusters", lambda: cc.fuzzy_c_means(cat.ra, cat.dec, 2.5), TypeError),
        ("weight_factor", lambda: cc.kmeans_plus_plus(cat.ra, cat.dec, 3, weight_factor="0.5"), TypeError),
        ("seed", lambda: cc.kmeans_plus_plus(cat.ra, cat.dec, 3, seed="1"), TypeError),
        ("n_clusters", lambda: cc.shear_shear(cat, bins=b, n_clusters=2.5), TypeError),
        ("n_samples", lambda: cc.shear_shear(cat, bins=b, n_clusters=3, n_samples=0), ValueError),
        ("seed", lambda: cc.shear_shear(cat, bins=b, n_clusters=3, seed=-1), ValueError),
        ("fuzziness", lambda: cc.shear_shear(cat, bins=b, n_clusters=3, fuzziness=None), TypeError),
        ("assignment", lambda: cc.landy_szalay(cat, cat, bins=b, n_clusters=3, assignment="max"), ValueError),
        ("progress", lambda: cc.rho_statistics(stars, bins=b, n_clusters=3, progress="yes"), TypeError),
        ("seed", lambda: cc.clustering_uncertainty(cat, b, 3, seed=-1), ValueError),
        ("G", lambda: cc.xi_plus_gradient(G=1j), TypeError),
        ("G", lambda: cc.xi_plus_gradient(G=np.nan), ValueError),
        ("alpha", lambda: cc.xi_plus_gradient(alpha="1"), TypeError),
        ("tau", lambda: cc.xi_plus_gradient(approach="a", tau=None), TypeError),
        ("seed", lambda: cc.xi_plus_gradient(seed=-1), ValueError),
        ("n_clusters", lambda: cc.xi_plus_gradient(n_clusters=2.5), TypeError),
        ("bins", lambda: cc.xi_plus_gradient(bins=[0, 1]), TypeError),
        ("target", lambda: cc.fit_G([np.nan, 0.0, 0.0]), ValueError),
        ("G", lambda: cc.simulate_catalog(G=None), TypeError),
        ("alpha", lambda: cc.soft_bin_weights(np.ones(2), b, "1"), TypeError),
        ("alpha", lambda: cc.soft_bin_weights(np.ones(2), b, -1.0), ValueError),
        ("mu_cen", lambda: ia.populate(ia.simulate_halos(box_size=30.0, seed=0), ia.HODParams(), None, 0.0), TypeError),
        ("axis_ratio", lambda: ia.populate(ia.simulate_halos(box_size=30.0, seed=0), ia.HODParams(), 0.0, 0.0,
                                           axis_ratio=np.nan), ValueError),
        ("logMmin", lambda: ia.HODParams(logMmin="12"), TypeError),
        ("sigma_logM", lambda: ia.HODParams(sigma_logM=np.inf), ValueError),
        ("keep_zero_weight", lambda: ia.omega(x, x + 1, [0.5, 1.0], keep_zero_weight=None), TypeError),
        ("seed", lambda: ia.simulate_training_set(ia.HODParams(), seed=-3), ValueError),
    ]


def test_wrongly_typed_scalars_name_the_argument():
    failures = []
    for name, call, exc in _cases():
        try:
            call()
        except (TypeError, ValueError) as e:
            if not isinstance(e, exc) or name not in str(e):
                failures.append(f"{name}: {type(e).__name__}: {e}")
        else:
            failures.append(f"{name}: no error")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("kw,name,exc", [
    (dict(epochs=0), "epochs", ValueError), (dict(batch_size=0), "batch_size", ValueError),
    (dict(hidden=(0,)), "hidden", ValueError), (dict(hidden=(8, 2.5)), "hidden", TypeError),
    (dict(hidden=8), "hidden", TypeError), (dict(learning_rate=np.nan), "learning_rate", ValueError),
    (dict(learning_rate="1e-3"), "learning_rate", TypeError), (dict(patience=0), "patience", ValueError),
    (dict(seed=-1), "seed", ValueError),
])
def test_mlp_fit_settings(kw, name, exc):
    from cosmocorr.surrogate import MLPSurrogate
    x = np.random.default_rng(0).uniform(size=(30, 2))
    with pytest.raises(exc, match=name):
        MLPSurrogate.fit(x, x.sum(1), **{"epochs": 2, **kw})


def test_mlp_without_hidden_layers_is_a_linear_model():
    """hidden=() is valid: a linear mean (and log-variance) model, which fits a linear target."""
    from cosmocorr.surrogate import MLPSurrogate
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (200, 2))
    y = 2 * x[:, 0] - x[:, 1] + 0.01 * rng.normal(size=200)
    m = MLPSurrogate.fit(x, y, hidden=(), epochs=300, batch_size=32, learning_rate=1e-2, seed=0)
    mu, _ = m.predict(np.array([[0.5, 0.5]]))
    np.testing.assert_allclose(mu.ravel(), [0.5], atol=0.05)


def test_a_chain_that_never_moved_is_not_n_effective_draws(caplog):
    from cosmocorr._warnings import CosmocorrWarning
    from cosmocorr.surrogate import effective_sample_size, split_rhat
    from cosmocorr.surrogate.diagnostics import ess_mean, mcse_mean
    still = np.full((1, 400), 0.25)
    with caplog.at_level(logging.WARNING, logger="cosmocorr"):
        with pytest.warns(CosmocorrWarning, match="never moved"):
            ess = effective_sample_size(still)
    assert np.isnan(ess) and np.isnan(ess_mean(still)) and np.isnan(mcse_mean(still)) and np.isnan(split_rhat(still))
    assert any("never moved" in m for m in caplog.messages)
    rng = np.random.default_rng(3)
    one_stuck = rng.normal(size=(4, 300))
    one_stuck[1] = 0.1
    with pytest.warns(CosmocorrWarning, match=r"chain\(s\) \[1\] of 4"):
        assert split_rhat(one_stuck) > 1.1          # and R-hat flags it


@pytest.mark.parametrize("kw,name,exc", [
    (dict(bins=[-1]), "bins", ValueError), (dict(bins=[20]), "bins", ValueError), (dict(bins=[1, 1]), "bins", ValueError),
    (dict(bins=[0.5]), "bins", TypeError), (dict(bins=[]), "bins", ValueError),
    (dict(target=np.full(20, np.nan)), "target", ValueError), (dict(target=np.zeros(3)), "target", ValueError),
    (dict(bounds=((-1, np.nan), (-1, 1))), "bounds", ValueError), (dict(bounds=((-1, np.inf), (-1, 1))), "bounds", ValueError),
    (dict(bounds=((-1, 1),)), "bounds", ValueError), (dict(x_fixed=np.full(7, np.nan)), "x_fixed", ValueError),
    (dict(free=("mu_cen", "mu_cen")), "free", ValueError), (dict(data_cov=np.full(20, np.inf)), "data_cov", ValueError),
])
def test_iaemu_posterior_arguments(kw, name, exc):
    from cosmocorr.surrogate import IAEmu, iaemu_posterior
    args = {"x_fixed": np.zeros(7), **kw}
    with pytest.raises(exc, match=name):
        iaemu_posterior(IAEmu.random(0), **args)


def test_iaemu_posterior_bins_select_means_not_variances():
    """bins index the 20 mean outputs; the likelihood of bins=[3, 7] uses outputs 3, 7 (means) and
    23, 27 (variances) of the network, checked against the network's own outputs."""
    from cosmocorr.surrogate import IAEmu, iaemu_posterior
    m = IAEmu.random(0)
    x = np.zeros(7)
    post = iaemu_posterior(m, x, bins=[3, 7], target=np.array([0.1, -0.2]))
    theta = np.array([0.3, -0.4])
    xx = x.copy()
    xx[:2] = theta
    y = m.raw(xx[None, :])[0, 1]               # omega decoder: 20 means then 20 variances
    mean, var = y[[3, 7]], y[[23, 27]]
    r = np.array([0.1, -0.2]) - mean
    expect = -0.5 * np.sum(r * r / var + np.log(2 * np.pi * var))
    np.testing.assert_allclose(post.loglike_and_grad(theta)[0], expect, rtol=1e-5)
