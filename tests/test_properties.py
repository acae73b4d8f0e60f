"""Property-based tests over the public API (issue 16), with hypothesis.

Catalogs are drawn from seeds (positions, shears and weights from numpy.random), so that the
drawn geometry is generic: no separation falls on a bin edge by construction. Properties:

- results are finite where npairs > 0 and NaN exactly where npairs == 0 (the README's meaning of NaN);
- shear-shear xi+ and xi- are invariant under a rotation of the sky (to 1e-10): exactly for RA
  shifts (rotations about the pole leave the local north/east frame, hence g, unchanged) and for
  a general rotation when every shear is turned by its local frame rotation, g' = g exp(-2 i beta),
  beta the angle from the new local east to the rotated old east, measured towards north;
- invariant under a permutation of the objects;
- a cross-correlation split into pieces of the second catalog sums to the whole (pair sums);
- invalid inputs of each class raise ValueError/TypeError whose message names the argument.

Example counts are bounded so that the file runs in a few seconds.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

import cosmocorr as cc
from cosmocorr.estimators import naive_pair_sums
from cosmocorr.sky.geometry import unit_vectors, vectors_to_radec

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
seeds = st.integers(0, 2**32 - 1)


@st.composite
def catalogs(draw, min_n=2, max_n=40, zero_weights=True):
    """A shear Catalog in a random patch (crossing RA = 0 and reaching the poles sometimes)."""
    n = draw(st.integers(min_n, max_n))
    rng = np.random.default_rng(draw(seeds))
    ra0 = draw(st.sampled_from([0.0, 150.0, 359.5, 200.0]))
    dec0 = draw(st.sampled_from([-89.0, -30.0, 0.0, 2.0, 60.0, 89.5]))
    width = draw(st.sampled_from([0.05, 0.5, 2.0]))
    ra = np.mod(ra0 + rng.uniform(-width, width, n), 360.0)
    # near the poles but not on them: at a pole the local north/east frame (hence g) is undefined
    dec = np.clip(dec0 + rng.uniform(-width, width, n), -89.9, 89.9)
    g1, g2 = rng.normal(0, 0.2, n), rng.normal(0, 0.2, n)
    w = rng.uniform(0.1, 3.0, n) if draw(st.booleans()) else None
    if zero_weights and w is not None and draw(st.booleans()):
        w[rng.random(n) < 0.3] = 0.0
        w[rng.integers(n)] = 1.0      # not all zero
    return cc.Catalog(ra, dec, g1, g2, w)


@st.composite
def bin_sets(draw):
    spacing = draw(st.sampled_from(["linear", "log"]))
    lo = draw(st.sampled_from([0.0, 0.1, 1.0, 5.0])) if spacing == "linear" else draw(st.sampled_from([0.1, 1.0, 5.0]))
    hi = lo + draw(st.sampled_from([1.0, 10.0, 60.0, 300.0]))
    return cc.Bins(lo, hi, draw(st.integers(1, 12)), spacing)


def _assert_nan_exactly_where_empty(npairs, *arrays):
    empty = np.asarray(npairs) == 0
    for a in arrays:
        assert np.all(np.isnan(a[empty])), a
        assert np.all(np.isfinite(a[~empty])), a


@SETTINGS
@given(catalogs(), bin_sets())
def test_shear_shear_finite_where_pairs_nan_where_none(cat, bins):
    r = cc.shear_shear(cat, bins=bins)
    _assert_nan_exactly_where_empty(r.npairs, r.xip, r.xim, r.xip_im, r.xim_im, r.meanr)
    assert np.all(r.npairs >= 0) and np.all((r.weight > 0) == (r.npairs > 0))


@SETTINGS
@given(catalogs(zero_weights=True), catalogs(min_n=2, max_n=30), bin_sets())
def test_landy_szalay_and_cross_finite_where_pairs(data, randoms, bins):
    ls = cc.landy_szalay(data, randoms, bins=bins)
    _assert_nan_exactly_where_empty(ls.dd_npairs, ls.meanr)
    _assert_nan_exactly_where_empty(ls.rr_npairs, ls.xi)
    x = cc.shear_shear(data, randoms, bins=bins)
    _assert_nan_exactly_where_empty(x.npairs, x.xip, x.xim, x.xip_im, x.xim_im, x.meanr)


def _close(a, b, tol=1e-10):
    """Equal NaN pattern; finite values within tol (absolute, in units of the largest |value|)."""
    a, b = np.asarray(a), np.asarray(b)
    assert np.array_equal(np.isnan(a), np.isnan(b))
    m = np.isfinite(a)
    if m.any():
        scale = max(1.0, float(np.max(np.abs(b[m]))))
        np.testing.assert_allclose(a[m], b[m], rtol=0, atol=tol * scale)


@SETTINGS
@given(catalogs(min_n=5), bin_sets(), st.floats(-720.0, 720.0, allow_nan=False))
def test_xi_invariant_under_ra_shift(cat, bins, shift):
    moved = cc.Catalog(np.mod(cat.ra + shift, 360.0), cat.dec, cat.g1, cat.g2, cat.w)
    a, b = cc.shear_shear(cat, bins=bins), cc.shear_shear(moved, bins=bins)
    np.testing.assert_array_equal(a.npairs, b.npairs)
    _close(b.xip, a.xip)
    _close(b.xim, a.xim)


def _local_basis(ra, dec):
    a, d = np.radians(ra), np.radians(dec)
    east = np.stack([-np.sin(a), np.cos(a), np.zeros_like(a)])
    north = np.stack([-np.sin(d) * np.cos(a), -np.sin(d) * np.sin(a), np.cos(d)])
    return east, north


def rotate_catalog(cat, R):
    """The catalog seen after the sky rotation R: positions R x and shears in the new local frame."""
    xyz = R @ unit_vectors(cat.ra, cat.dec)
    radec = vectors_to_radec(xyz)
    ra2, dec2 = radec[:, 0], radec[:, 1]
    east1, _ = _local_basis(cat.ra, cat.dec)
    east2, north2 = _local_basis(ra2, dec2)
    moved_east = R @ east1
    beta = np.arctan2(np.sum(moved_east * north2, axis=0), np.sum(moved_east * east2, axis=0))
    g = cat.g * np.exp(-2j * beta)
    return cc.Catalog(ra2, dec2, g.real, g.imag, cat.w)


@SETTINGS
@given(st.integers(0, 2**32 - 1), st.integers(5, 40), bin_sets(), st.integers(0, 2**32 - 1))
def test_xi_invariant_under_general_rotation(cat_seed, n, bins, rot_seed):
    # patches away from the poles, where the local frame is defined for every object
    rng = np.random.default_rng(cat_seed)
    ra, dec = rng.uniform(10, 14, n), rng.uniform(-3, 3, n)
    cat = cc.Catalog(ra, dec, rng.normal(0, 0.2, n), rng.normal(0, 0.2, n), rng.uniform(0.1, 2, n))
    R = Rotation.random(random_state=np.random.default_rng(rot_seed)).as_matrix()
    moved = rotate_catalog(cat, R)
    if np.any(np.abs(moved.dec) > 89.9):
        return     # the rotated patch touches a pole, where north/east are undefined
    a, b = cc.shear_shear(cat, bins=bins), cc.shear_shear(moved, bins=bins)
    np.testing.assert_array_equal(a.npairs, b.npairs)
    _close(b.xip, a.xip)
    _close(b.xim, a.xim)


def test_rotation_transform_is_not_trivially_satisfied():
    """Without the frame rotation of the shears, a general rotation changes xi-: the test above
    checks something."""
    rng = np.random.default_rng(1)
    cat = cc.Catalog(rng.uniform(10, 14, 60), rng.uniform(-3, 3, 60), rng.normal(0, 0.2, 60), rng.normal(0, 0.2, 60))
    R = Rotation.from_euler("xyz", [40, 70, 10], degrees=True).as_matrix()
    moved = rotate_catalog(cat, R)
    wrong = cc.Catalog(moved.ra, moved.dec, cat.g1, cat.g2)
    bins = cc.Bins(1.0, 300.0, 5)
    ref = cc.shear_shear(cat, bins=bins)
    _close(cc.shear_shear(moved, bins=bins).xim, ref.xim)
    assert np.max(np.abs(cc.shear_shear(wrong, bins=bins).xim - ref.xim)) > 1e-4


@SETTINGS
@given(catalogs(min_n=3), bin_sets(), seeds)
def test_invariant_under_permutation(cat, bins, seed):
    p = np.random.default_rng(seed).permutation(cat.nobj)
    shuffled = cat.subset(p)
    a, b = cc.shear_shear(cat, bins=bins), cc.shear_shear(shuffled, bins=bins)
    np.testing.assert_array_equal(a.npairs, b.npairs)
    np.testing.assert_allclose(b.weight, a.weight, rtol=1e-12)
    _close(b.xip, a.xip, 1e-12)
    _close(b.xim, a.xim, 1e-12)
    _close(b.meanr, a.meanr, 1e-12)


@SETTINGS
@given(catalogs(min_n=2, max_n=30), catalogs(min_n=2, max_n=30), bin_sets(), st.integers(1, 5), seeds)
def test_cross_correlation_splits_into_pieces(cat1, cat2, bins, n_pieces, seed):
    whole = naive_pair_sums(cat1, cat2, bins)
    labels = np.random.default_rng(seed).integers(0, n_pieces, cat2.nobj)
    parts = [naive_pair_sums(cat1, cat2.subset(labels == k), bins)
             for k in range(n_pieces) if np.any(cat2.w[labels == k] > 0)]
    for key, value in whole.items():
        total = np.sum([p[key] for p in parts], axis=0)
        if key == "npairs":
            np.testing.assert_array_equal(total, value)
        else:
            scale = max(1.0, float(np.max(np.abs(value))))
            np.testing.assert_allclose(total, value, rtol=0, atol=1e-12 * scale)


# ---------------------------------------------------------------- invalid inputs, by class
def _names(exc_info, name):
    assert name in str(exc_info.value), (name, str(exc_info.value))


_CAT = cc.Catalog(np.linspace(10, 11, 12), np.linspace(0, 1, 12), np.zeros(12), np.zeros(12))
_BINS = cc.Bins(1.0, 30.0, 3)
not_real = st.one_of(st.none(), st.text(max_size=3), st.complex_numbers(allow_nan=False).filter(lambda z: z.imag != 0),
                     st.lists(st.floats(), max_size=2), st.booleans())
non_finite = st.sampled_from([np.nan, np.inf, -np.inf])


@SETTINGS
@given(st.one_of(not_real, non_finite, st.floats(-10, 1.0)))
def test_invalid_fuzziness(value):
    with pytest.raises((TypeError, ValueError)) as e:
        cc.fuzzy_c_means(_CAT.ra, _CAT.dec, 3, fuzziness=value, seed=0)
    _names(e, "fuzziness")
    with pytest.raises((TypeError, ValueError)) as e:
        cc.shear_shear(_CAT, bins=_BINS, n_clusters=3, fuzziness=value)
    _names(e, "fuzziness")


@SETTINGS
@given(st.one_of(st.integers(max_value=-1), st.floats(allow_nan=True), st.text(max_size=3), st.complex_numbers()))
def test_invalid_seed(value):
    for call in (lambda: cc.kmeans_plus_plus(_CAT.ra, _CAT.dec, 3, seed=value),
                 lambda: cc.shear_shear(_CAT, bins=_BINS, n_clusters=3, seed=value),
                 lambda: cc.xi_plus_gradient(seed=value, n_galaxies=10, n_clusters=3)):
        with pytest.raises((TypeError, ValueError)) as e:
            call()
        _names(e, "seed")


@SETTINGS
@given(st.one_of(st.integers(max_value=0), st.floats().filter(lambda f: not float(f).is_integer()),
                 st.text(max_size=2), st.none(), st.integers(13, 10**6)))
def test_invalid_n_clusters(value):
    with pytest.raises((TypeError, ValueError)) as e:
        cc.fuzzy_c_means(_CAT.ra, _CAT.dec, value, seed=0)
    _names(e, "n_clusters")
    if value is not None:     # n_clusters=None is the exact estimator
        with pytest.raises((TypeError, ValueError)) as e:
            cc.shear_shear(_CAT, bins=_BINS, n_clusters=value)
        _names(e, "n_clusters")


@SETTINGS
@given(st.one_of(not_real, non_finite, st.floats(-1e6, 0.0)))
def test_invalid_alpha_G_tol(value):
    with pytest.raises((TypeError, ValueError)) as e:
        cc.soft_bin_weights(np.ones(3), _BINS, value)
    _names(e, "alpha")
    with pytest.raises((TypeError, ValueError)) as e:
        cc.xi_plus_gradient(G=value)
    _names(e, "G")
    with pytest.raises((TypeError, ValueError)) as e:
        cc.fuzzy_c_means(_CAT.ra, _CAT.dec, 2, tol=value, seed=0)
    _names(e, "tol")


@SETTINGS
@given(st.integers(1, 20), seeds, st.sampled_from(["neg", "nan", "inf", "zero"]))
def test_invalid_weights(n, seed, kind):
    rng = np.random.default_rng(seed)
    ra, dec = rng.uniform(0, 1, n), rng.uniform(0, 1, n)
    w = rng.uniform(0.1, 1.0, n)
    if kind == "zero":
        w[:] = 0.0
    else:
        w[rng.integers(n)] = {"neg": -rng.uniform(1e-9, 5), "nan": np.nan, "inf": np.inf}[kind]
    with pytest.raises(ValueError) as e:
        cc.Catalog(ra, dec, w=w)
    _names(e, "w")
    if n >= 2:
        with pytest.raises(ValueError) as e:
            cc.fuzzy_c_means(ra, dec, 1, weights=w, seed=0)
        _names(e, "weights")
    from cosmocorr.ia import ia_pair_sums
    with pytest.raises(ValueError) as e:
        ia_pair_sums(rng.uniform(0, 5, (n, 3)), [0.5, 1.0], weights=w)
    _names(e, "weights")


@SETTINGS
@given(st.integers(1, 50), seeds, non_finite)
def test_invalid_separations_in_soft_bins(n, seed, bad):
    r = np.random.default_rng(seed).uniform(0, 40, n)
    r[np.random.default_rng(seed).integers(n)] = bad
    with pytest.raises(ValueError) as e:
        cc.soft_bin_weights(r, _BINS, 1.0)
    _names(e, "r")


@SETTINGS
@given(st.sampled_from(["min_sep", "max_sep", "nbins", "spacing"]))
def test_bins_conflicts(name):
    value = {"min_sep": 0.5, "max_sep": 20.0, "nbins": 3, "spacing": "log"}[name]
    with pytest.raises(ValueError) as e:
        cc.shear_shear(_CAT, bins=_BINS, **{name: value})
    _names(e, name)


@SETTINGS
@given(st.sampled_from(["box_size", "filament_length", "clustering_scale", "log_mass_min", "halo_alignment"]),
       st.one_of(non_finite, not_real))
def test_invalid_halo_sizes(name, value):
    from cosmocorr.ia import simulate_halos
    with pytest.raises((TypeError, ValueError)) as e:
        simulate_halos(**{name: value})
    _names(e, name)


@SETTINGS
@given(st.lists(st.integers(-50, 60), min_size=1, max_size=5).filter(lambda b: min(b) < 0 or max(b) >= 20),
       st.sampled_from(["target", "bounds"]), non_finite)
def test_invalid_posterior_bins_targets_bounds(bins, which, bad):
    from cosmocorr.surrogate import IAEmu, iaemu_posterior
    model = IAEmu.random(0)
    with pytest.raises(ValueError) as e:
        iaemu_posterior(model, np.zeros(7), bins=bins)
    _names(e, "bins")
    kw = {"target": np.full(20, bad)} if which == "target" else {"bounds": ((-1.0, bad), (-1.0, 1.0))}
    with pytest.raises(ValueError) as e:
        iaemu_posterior(model, np.zeros(7), **kw)
    _names(e, which)
