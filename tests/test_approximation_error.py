"""The tree's measured approximation error (cosmocorr.estimators.approximation_error) against the
truth: the exact estimator on the same catalogs (a Gaussian random shear field and pure noise), the
spread of full tree runs on rotated catalogs, and TreeCorr's own exact limit."""
import numpy as np
import pytest

import cosmocorr as cc
from cosmocorr import estimators
from cosmocorr.sky.rotations import random_rotations, rotate_catalog
from cosmocorr.sky.synthetic import gaussian_shear_catalog, synthetic_star_catalog, uniform_randoms

BINS = cc.Bins(2.0, 20.0, 6, "log")
FAST = dict(n_rotations=6, spot_npatch=10, spot_fraction=0.3, approx_error=True)


def _cat(seed, signal=0.02):
    return gaussian_shear_catalog(4000, seed=seed, width_deg=0.6, scale_arcmin=3.0, shape_noise=0.1, signal=signal)


@pytest.mark.slow
def test_reported_error_covers_the_true_tree_error():
    """|delta - approx_error| <= 2 sqrt(approx_error_err^2 + approx_sigma^2), delta = tree - exact,
    pooled over four catalogs (two with signal, two pure noise; 48 bins); the bound is not vacuous.

    Coverage is a binomial fraction: with 48 bins, a true coverage of 0.90 gives fewer than 41 hits
    (0.85) in about 10 % of draws and a true coverage of 0.80 gives 41 or more in about 23 %, so
    the test asks for >= 0.85 of the pooled bins (one catalog's 12 bins cannot tell 0.9 from 0.75).
    """
    hits, true, bound, sig = [], [], [], []
    for seed, signal in ((1, 0.02), (2, 0.0), (3, 0.02), (4, 0.0)):
        cat = _cat(seed, signal)
        ex = estimators.shear_shear(cat, None, BINS)
        r = cc.shear_shear(cat, bins=BINS, method="tree", bin_slop=0.25, angle_slop=0.3, seed=seed, **FAST)
        assert r.method == "tree" and r.bin_slop == 0.25 and r.npatch == 10
        for k in ("xip", "xim"):
            d = getattr(r, k) - getattr(ex, k)
            tot = np.hypot(r.approx_error_err[k], r.approx_sigma[k])
            hits.append(np.abs(d - r.approx_error[k]) <= 2 * tot)
            true.append(np.abs(d))
            bound.append(np.abs(r.approx_error[k]) + 2 * tot)
            sig.append(np.sqrt(getattr(ex, "var" + k)))
    hits, true, bound, sig = map(np.concatenate, (hits, true, bound, sig))
    assert np.mean(hits) >= 0.85
    assert np.max(true / sig) > 1e-3                   # the tree does differ from exact here
    assert np.median(bound / sig) < 0.5                # and the reported error is informative


@pytest.mark.slow
def test_random_part_matches_the_spread_of_rotated_full_runs():
    """approx_sigma (from the units) against the standard deviation of the whole tree estimate over
    12 independently rotated catalogs (same patches, so the same tree structure)."""
    cat = _cat(3)
    cat = cc.Catalog(cat.ra, cat.dec, cat.g1, cat.g2, npatch=10, patch_seed=3)
    r = cc.shear_shear(cat, bins=BINS, method="tree", bin_slop=0.25, angle_slop=0.3, seed=3, **FAST)
    runs = [estimators.shear_shear(rotate_catalog(cat, R), None, BINS, method="tree", bin_slop=0.25, angle_slop=0.3)
            for R in random_rotations(12, seed=99)]
    for k in ("xip", "xim"):
        full = np.std([getattr(x, k) for x in runs], axis=0, ddof=1)
        ratio = r.approx_sigma[k] / full
        assert 0.4 < np.median(ratio) < 2.5, (k, ratio)


def test_auto_slop_lands_within_tolerance_of_exact():
    cat = _cat(4)
    ex = estimators.shear_shear(cat, None, BINS)
    r = cc.shear_shear(cat, bins=BINS, method="tree", bin_slop="auto", approx_tol=0.1, seed=4, **FAST)
    info = r.approx_info
    assert info["bin_slop_auto"] and r.bin_slop == info["bin_slop_tried"][-1]
    assert info["worst_bound_over_sigma"][-1] <= 0.1 or r.bin_slop == 0.0
    for k in ("xip", "xim"):
        assert np.all(np.abs(getattr(r, k) - getattr(ex, k)) <= 0.1 * np.sqrt(getattr(ex, "var" + k)))
    # a looser tolerance stops earlier on the ladder (a larger slop)
    loose = cc.shear_shear(cat, bins=BINS, method="tree", bin_slop="auto", approx_tol=50.0, seed=4, **FAST)
    assert loose.bin_slop >= r.bin_slop and len(loose.approx_info["bin_slop_tried"]) == 1


@pytest.mark.slow
def test_counts_and_rho_carry_errors_that_cover_the_truth():
    d = _cat(5)
    data = cc.Catalog(d.ra[:2000], d.dec[:2000])
    rand = uniform_randoms(3000, (d.ra.min(), d.ra.max()), (d.dec.min(), d.dec.max()), seed=6)
    ex = estimators.landy_szalay(data, rand, BINS)
    r = cc.landy_szalay(data, rand, bins=BINS, method="tree", bin_slop=1.0, seed=5, **FAST)
    delta = r.xi - ex.xi
    tot = np.hypot(r.approx_error_err["xi"], r.approx_sigma["xi"])
    assert np.mean(np.abs(delta - r.approx_error["xi"]) <= 2 * tot + 1e-12) >= 5 / 6
    stars = synthetic_star_catalog(1500, seed=7)
    bins = cc.Bins(1.0, 15.0, 4, "log")
    ex = estimators.rho_statistics(stars, bins)
    r = cc.rho_statistics(stars, bins=bins, method="tree", bin_slop=0.25, angle_slop=0.3, seed=7, **FAST)
    hits = []
    for n in ex.rho:
        for k in ("xip", "xim"):
            dlt = getattr(r[n], k) - getattr(ex[n], k)
            tot = np.hypot(r[n].approx_error_err[k], r[n].approx_sigma[k])
            hits.append(np.abs(dlt - r[n].approx_error[k]) <= 2 * tot + 1e-15)
    assert np.mean(hits) >= 0.9
    assert r.approx_info["npatch"] == 10


def test_exact_tree_has_no_approximation_error():
    """bin_slop = angle_slop = 0: TreeCorr takes every pair at its own separation and angle, so
    the measured error is ~0 (float32 cell sums) and the result equals the exact one."""
    cat = _cat(8)
    ex = estimators.shear_shear(cat, None, BINS)
    r = cc.shear_shear(cat, bins=BINS, method="tree", bin_slop=0.0, angle_slop=0.0, seed=8, **FAST)
    for k in ("xip", "xim"):
        sig = np.sqrt(getattr(ex, "var" + k))
        assert np.max(np.abs(getattr(r, k) - getattr(ex, k)) / sig) < 1e-4
        assert np.max(r.approx_error[k] / sig) < 1e-4 and np.max(r.approx_sigma[k] / sig) < 1e-4


def test_errors_round_trip_through_files(tmp_path):
    cat = _cat(9)
    r = cc.shear_shear(cat, bins=BINS, method="tree", bin_slop=0.25, seed=9, **FAST)
    for ext in ("fits", "json", "dat"):
        path = r.write(tmp_path / f"res.{ext}")
        back = cc.ShearShearResult.read(path)
        for f in ("approx_error", "approx_error_err", "approx_sigma", "approx_sigma_err"):
            for k in ("xip", "xim"):
                np.testing.assert_array_equal(getattr(back, f)[k], getattr(r, f)[k])
        assert back.approx_info == r.approx_info and back.bin_slop == r.bin_slop


def test_same_seed_same_errors_and_plain_tree_without():
    cat = _cat(10)
    a = cc.shear_shear(cat, bins=BINS, method="tree", seed=3, **FAST)
    b = cc.shear_shear(cat, bins=BINS, method="tree", seed=3, **FAST)
    # equal up to TreeCorr's multi-threaded summation order (last bits)
    np.testing.assert_allclose(a.approx_error["xip"], b.approx_error["xip"], rtol=1e-8, atol=0)
    np.testing.assert_allclose(a.approx_sigma["xim"], b.approx_sigma["xim"], rtol=1e-8, atol=0)
    c = cc.shear_shear(cat, bins=BINS, method="tree", seed=4, **FAST)
    assert not np.allclose(a.approx_sigma["xim"], c.approx_sigma["xim"], rtol=1e-6, atol=0)
    plain = cc.shear_shear(cat, bins=BINS, method="tree", approx_error=False)
    assert plain.approx_error is None and plain.npatch == 1
    # default (approx_error=None): measured when the catalog has patches, not otherwise
    assert cc.shear_shear(cat, bins=BINS, method="tree").approx_error is None
    patched = cc.Catalog(cat.ra, cat.dec, cat.g1, cat.g2, npatch=6, patch_seed=1)
    r = cc.shear_shear(patched, bins=BINS, method="tree", seed=1, n_rotations=4)
    ref = cc.shear_shear(patched, bins=BINS, method="tree", approx_error=False)
    assert r.approx_error is not None and r.approx_info["npatch"] == 6
    np.testing.assert_allclose(r.xip, ref.xip, rtol=1e-12, atol=0)       # the result itself is unchanged


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(bin_slop="fast"), TypeError, "bin_slop must be a number"),
    (dict(bin_slop=-1.0), ValueError, "bin_slop"),
    (dict(approx_tol=0.0), ValueError, "approx_tol"),
    (dict(n_rotations=1), ValueError, "n_rotations"),
    (dict(n_rotations=2.5), TypeError, "n_rotations"),
    (dict(spot_fraction=0.0), ValueError, "spot_fraction"),
    (dict(spot_fraction=1.5), ValueError, "spot_fraction"),
    (dict(spot_npatch=1), ValueError, "spot_npatch"),
    (dict(approx_error="yes"), TypeError, "approx_error"),
    (dict(bin_slop=0.1, bin_slop_ladder=[0.1]), ValueError, "bin_slop_ladder"),
    (dict(bin_slop="auto", bin_slop_ladder=[]), ValueError, "bin_slop_ladder"),
    (dict(bin_slop="auto", bin_slop_ladder=[0.1, -2]), ValueError, "bin_slop_ladder"),
])
def test_bad_settings_name_the_argument(kwargs, exc, match):
    cat = _cat(11)
    with pytest.raises(exc, match=match):
        cc.shear_shear(cat, bins=BINS, method="tree", **kwargs)


def test_auto_needs_the_tree():
    with pytest.raises(ValueError, match="bin_slop='auto'.*method='tree'"):
        cc.shear_shear(_cat(12), bins=BINS, bin_slop="auto")


def test_figure_draws_both_parts_beside_the_statistical_error():
    import matplotlib

    matplotlib.use("Agg")
    from cosmocorr.plotting import plot_approximation_error

    r = cc.shear_shear(_cat(13), bins=BINS, method="tree", bin_slop=0.25, seed=13, **FAST)
    fig = plot_approximation_error(r)
    axes = fig.axes
    assert [a.get_title() for a in axes] == [r"$\xi_+$", r"$\xi_-$"]
    sig = axes[0].get_lines()[0].get_ydata()
    np.testing.assert_allclose(sig, np.sqrt(r.varxip))          # the statistical sigma, as given
    with pytest.raises(ValueError, match="no approximation error"):
        plot_approximation_error(cc.shear_shear(_cat(13), bins=BINS, method="tree", approx_error=False))


def test_auto_without_error_is_refused():
    with pytest.raises(ValueError, match="approx_error"):
        cc.shear_shear(_cat(14), bins=BINS, method="tree", bin_slop="auto", approx_error=False)


def test_pair_inclusion_probabilities_match_the_draws():
    """1 / pi_uv of the stratified draw (used by approx_sigma's covariance terms) against the
    frequencies of unit pairs over 4000 simulated draws of the same design."""
    from cosmocorr.estimators.approximation_error import _inverse_inclusion

    rng = np.random.default_rng(5)
    N_h, n_h = np.array([5, 7, 6, 0]), np.array([3, 2, 4, 0])
    pop_strata = np.repeat(np.arange(4), N_h)
    counts = np.zeros((N_h.sum(), N_h.sum()))
    for _ in range(4000):
        drawn = np.concatenate([rng.choice(np.flatnonzero(pop_strata == h), n_h[h], replace=False)
                                for h in range(3)])
        counts[np.ix_(drawn, drawn)] += 1
    freq = counts / 4000
    every = np.arange(N_h.sum())               # the whole population, as if drawn
    inv = _inverse_inclusion(pop_strata[every], n_h, N_h)
    np.testing.assert_allclose(1 / inv, freq, atol=0.03)


def test_units_sharing_a_patch():
    from cosmocorr.estimators.approximation_error import shared_patches

    units = np.array([[0, 0], [0, 3], [1, 2], [2, 5], [4, 4]])
    expect = np.array([[1, 1, 0, 0, 0], [1, 1, 0, 0, 0], [0, 0, 1, 1, 0], [0, 0, 1, 1, 0], [0, 0, 0, 0, 1]], bool)
    np.testing.assert_array_equal(shared_patches(units), expect)


def test_auto_lowers_angle_slop_and_records_it():
    """With angle_slop not given, a tight tolerance takes "auto" past bin_slop 0 to smaller
    angle_slop rungs; what it chose is on the result and in approx_info, and the result is the
    plain tree at those slops (TreeCorr itself, no spot patches needed for that comparison)."""
    import treecorr

    cat = _cat(15)
    r = cc.shear_shear(cat, bins=BINS, method="tree", bin_slop="auto", approx_tol=0.005, seed=15, **FAST)
    info = r.approx_info
    assert info["angle_slop_tried"][0] == pytest.approx(0.1)
    assert min(info["angle_slop_tried"]) < 0.1 and info["bin_slop_tried"][-1] == 0.0
    assert r.angle_slop == info["angle_slop"] == info["angle_slop_tried"][-1] and r.bin_slop == 0.0
    # the CPU split: spot checks and every rung's rotations are parts of the whole measurement
    assert 0 < info["seconds_spot_checks"] and all(t > 0 for t in info["seconds_tried"])
    assert info["seconds_spot_checks"] + sum(info["seconds_tried"]) <= info["seconds_total"]
    tc = treecorr.Catalog(ra=cat.ra, dec=cat.dec, g1=cat.g1, g2=cat.g2, ra_units="deg", dec_units="deg")
    gg = treecorr.GGCorrelation(min_sep=2.0, max_sep=20.0, nbins=6, sep_units="arcmin", metric="Arc",
                                bin_slop=0.0, angle_slop=r.angle_slop)
    gg.process(tc)
    ex = estimators.shear_shear(cat, None, BINS)
    for k in ("xip", "xim"):
        sig = np.sqrt(getattr(ex, "var" + k))
        # the patch-by-patch tree and TreeCorr's whole-catalog tree at the same slops agree closely
        assert np.max(np.abs(getattr(r, k) - getattr(gg, k)) / sig) < 0.05
        assert np.max(np.abs(getattr(r, k) - getattr(ex, k)) / sig) <= 0.1


def test_rungs_order_and_skipping():
    from cosmocorr.estimators.approximation_error import _next_rungs, slop_rungs

    rungs = slop_rungs((0.5, 0.1, 0.0), 0.1, (0.05, 0.02, 0.01, 0.0))
    assert rungs == [(0.5, 0.1), (0.1, 0.1), (0.0, 0.1), (0.0, 0.05), (0.0, 0.02), (0.0, 0.01), (0.0, 0.0)]
    # bound 10x the tolerance at bin_slop 0.5: 0.05 and above cannot pass, so bin_slop 0 next
    assert _next_rungs(rungs, (0.5, 0.1), 1.0, 0.1)[0] == (0.0, 0.1)
    # bound 2x at bin_slop 0.5: with a bound ~ sqrt(bin_slop), bin_slop <= 0.5 / 2**2 = 0.125 next
    # (0.2 could not pass; a linear bound would have kept it)
    two = slop_rungs((0.5, 0.2, 0.1, 0.0), 0.1)
    assert _next_rungs(two, (0.5, 0.1), 0.2, 0.1) == [(0.1, 0.1), (0.0, 0.1)]
    # at bin_slop 0, angle_slop 0.1 with bound 4x: angle_slop <= 0.025 next
    assert _next_rungs(rungs, (0.0, 0.1), 0.4, 0.1) == [(0.0, 0.02), (0.0, 0.01), (0.0, 0.0)]
    assert slop_rungs((0.5, 0.1), 0.1, (0.05,)) == [(0.5, 0.1), (0.1, 0.1)]   # no bin_slop 0: no angle rungs


def test_auto_says_when_only_the_exact_tree_passes():
    """A tolerance only the exact tree can meet: auto ends at bin_slop = angle_slop = 0, says that
    method='exact' would do as well, and the result equals the exact estimator's."""
    cat = _cat(16)
    with pytest.warns(cc.CosmocorrWarning, match="exact tree"):
        r = cc.shear_shear(cat, bins=BINS, method="tree", bin_slop="auto", approx_tol=1e-4, seed=16, n_rotations=4,
                           spot_npatch=6, spot_fraction=0.3, bin_slop_ladder=[0.0])
    assert (r.bin_slop, r.angle_slop) == (0.0, 0.0)
    ex = estimators.shear_shear(cat, None, BINS)
    for k in ("xip", "xim"):
        assert np.max(np.abs(getattr(r, k) - getattr(ex, k)) / np.sqrt(getattr(ex, "var" + k))) < 1e-4
