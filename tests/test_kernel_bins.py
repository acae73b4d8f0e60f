"""The fast NumPy pair kernel bins every pair exactly as the reference formula does (issue 17).

The kernel takes separations from the chord, 2 asin(|a - b| / 2), and falls back to the Vincenty
form atan2(|a x b|, a . b) (``sky.geometry.vincenty_from_vectors``, an independent
implementation here) for pairs within a safe margin of a bin edge. These tests put pairs within a
few ulp of every edge and compare the kernel's counts with the reference binning of every pair.
"""
import numpy as np
import pytest

from cosmocorr.backends import numpy_kernels as nk
from cosmocorr.sky.geometry import ARCMIN, unit_vectors, vincenty_from_vectors
from cosmocorr.sky.synthetic import synthetic_shear_catalog


def _rotate_towards(a, angle, rng):
    """Unit vectors at exactly ``angle`` (radians, up to rounding) from ``a`` (3, n), random direction."""
    t = rng.normal(size=a.shape)
    t -= a * np.sum(a * t, axis=0)
    t /= np.linalg.norm(t, axis=0)
    return a * np.cos(angle) + t * np.sin(angle)


def _edge_catalogs(edges, rng, ulps=(-3, -1, 0, 1, 3), repeat=30):
    """Pairs (a_i, b_i) at each edge times (1 + k eps), ``repeat`` random orientations each."""
    ang = np.array([e * (1.0 + k * np.finfo(float).eps) for e in edges for k in ulps for _ in range(repeat)]) * ARCMIN
    ra = rng.uniform(0, 360, ang.size)
    dec = np.degrees(np.arcsin(rng.uniform(-0.99, 0.99, ang.size)))
    a = unit_vectors(ra, dec)
    b = _rotate_towards(a, ang, rng)
    b /= np.linalg.norm(b, axis=0)
    return a, b


def _reference_counts(a, b, w1, w2, min_sep, max_sep, nbins, log, auto, rows=200):
    """Counts, sum w w r and sum w w ln r per bin over all pairs, Vincenty separation + bin_index."""
    out = np.zeros((3, nbins))
    for i0 in range(0, a.shape[1], rows):
        i1 = min(a.shape[1], i0 + rows)
        r = vincenty_from_vectors(*a[:, i0:i1, None], *b[:, None, :]) / ARCMIN
        k = nk.bin_index(r, min_sep, max_sep, nbins, log)
        if auto:
            k[np.arange(b.shape[1])[None, :] <= np.arange(i0, i1)[:, None]] = -1
        m = k >= 0
        ww = (w1[i0:i1, None] * w2[None, :])[m]
        out += [np.bincount(k[m], minlength=nbins), np.bincount(k[m], weights=ww * r[m], minlength=nbins),
                np.bincount(k[m], weights=ww * np.log(r[m]), minlength=nbins)]
    return out


BINNINGS = [(0.0, 60.0, 10, False), (0.5, 45.0, 8, False), (0.5, 90.0, 12, True), (1e-3, 3.0, 7, True)]


@pytest.mark.parametrize("binning", BINNINGS, ids=["lin0", "lin", "log", "log_small"])
def test_pairs_at_bin_edges_land_in_the_reference_bins(binning, rng):
    min_sep, max_sep, nbins, log = binning
    edges = (np.exp(np.linspace(np.log(min_sep), np.log(max_sep), nbins + 1)) if log
             else np.linspace(min_sep, max_sep, nbins + 1))
    edges = edges[edges > 0]
    a, b = _edge_catalogs(edges, rng)
    w1, w2 = rng.uniform(0.5, 2, a.shape[1]), rng.uniform(0.5, 2, b.shape[1])
    # the engineered pairs are hard cases: the chord separation alone puts some of them in
    # another bin than the reference (so the margin and its fallback are exercised)
    k_ref = nk.bin_index(vincenty_from_vectors(*a, *b) / ARCMIN, min_sep, max_sep, nbins, log)
    k_chord = nk.bin_index(nk.chord_separation(a, b), min_sep, max_sep, nbins, log)
    assert np.any(k_ref != k_chord)
    ref_n, ref_wr, ref_wlogr = _reference_counts(a, b, w1, w2, min_sep, max_sep, nbins, log, auto=False)
    for chunk in (1000, nk.DEFAULT_CHUNK_PAIRS):
        got = nk.pair_sums(a, w1, None, b, w2, None, min_sep, max_sep, nbins, log, False, chunk_pairs=chunk,
                           logr=True)
        np.testing.assert_array_equal(got["npairs"], ref_n)
        np.testing.assert_allclose(got["wr"], ref_wr, rtol=1e-12)
        np.testing.assert_allclose(got["wlogr"], ref_wlogr, rtol=1e-10, atol=1e-10)
    # auto-correlation of the union: the same pairs, each once
    xyz = np.concatenate([a, b], axis=1)
    w = np.concatenate([w1, w2])
    ref_n, ref_wr, _ = _reference_counts(xyz, xyz, w, w, min_sep, max_sep, nbins, log, auto=True)
    got = nk.pair_sums(xyz, w, None, xyz, w, None, min_sep, max_sep, nbins, log, True)
    np.testing.assert_array_equal(got["npairs"], ref_n)
    np.testing.assert_allclose(got["wr"], ref_wr, rtol=1e-12)


def test_chord_and_vincenty_agree_to_the_assumed_error(rng):
    # the margin assumes |r_chord - r_vincenty| <= 1e-13 r + 1e-13 rad; check it with a factor 100 to spare
    a = unit_vectors(rng.uniform(0, 360, 4000), np.degrees(np.arcsin(rng.uniform(-1, 1, 4000))))
    ang = np.exp(rng.uniform(np.log(1e-9), np.log(np.pi / 2), 4000))
    b = _rotate_towards(a, ang, rng)
    b /= np.linalg.norm(b, axis=0)
    r_fast = nk.chord_separation(a, b) * ARCMIN
    r_ref = vincenty_from_vectors(*a, *b)
    assert np.all(np.abs(r_fast - r_ref) <= 1e-2 * (nk._REL_ERR * r_ref + nk._ABS_ERR))


def test_far_pairs_and_antipodes(rng):
    # separations up to 180 degrees: tiles beyond 90 degrees use the reference formula
    ra = rng.uniform(0, 360, 300)
    dec = np.degrees(np.arcsin(rng.uniform(-1, 1, 300)))
    a = unit_vectors(ra, dec)
    b = -a[:, :50]                            # exact antipodes of the first 50
    xyz = np.concatenate([a, b], axis=1)
    w = rng.uniform(0.5, 2, xyz.shape[1])
    for log, lo in ((False, 0.0), (True, 30.0)):
        ref_n, ref_wr, _ = _reference_counts(xyz, xyz, w, w, lo, 180 * 60.0 + 1, 9, log, auto=True)
        got = nk.pair_sums(xyz, w, None, xyz, w, None, lo, 180 * 60.0 + 1, 9, log, True)
        np.testing.assert_array_equal(got["npairs"], ref_n)
        np.testing.assert_allclose(got["wr"], ref_wr, rtol=1e-12)


def _naive_shear_sums(xyz1, w1, g1, xyz2, w2, g2, min_sep, max_sep, nbins, log, auto):
    """Direct per-pair sums with TreeCorr's projection written from sky.geometry (slow, small N)."""
    from cosmocorr.sky.geometry import pair_direction

    X1, X2 = xyz1[:, :, None], xyz2[:, None, :]
    r = vincenty_from_vectors(*X1, *X2) / ARCMIN
    k = nk.bin_index(r, min_sep, max_sep, nbins, log)
    if auto:
        k[np.tril_indices(xyz1.shape[1])] = -1
    d2 = pair_direction(*X1, *X2)                # direction at 2 towards 1
    d1 = pair_direction(*X2, *X1)                # at 1 towards 2
    with np.errstate(invalid="ignore", divide="ignore"):   # self pairs (dropped below)
        z1 = g1[:, None] * np.conj(d1) ** 2 / np.abs(d1) ** 2
        z2 = g2[None, :] * np.conj(d2) ** 2 / np.abs(d2) ** 2
    ww = w1[:, None] * w2[None, :]
    m = k >= 0
    out = {"npairs": np.bincount(k[m], minlength=nbins).astype(float)}
    xp, xm = (ww * z1 * np.conj(z2))[m], (ww * z1 * z2)[m]
    for name, v in (("xip", xp.real), ("xip_im", xp.imag), ("xim", xm.real), ("xim_im", xm.imag)):
        out[name] = np.bincount(k[m], weights=v, minlength=nbins)
    return out


@pytest.mark.parametrize("auto", [True, False])
def test_shear_sums_match_direct_projection(auto, rng):
    c1 = synthetic_shear_catalog(250, seed=3, weighted=True)
    c2 = c1 if auto else synthetic_shear_catalog(200, seed=4, weighted=True, ra0=150.2)
    g2 = c2.g if not auto else c1.g * np.exp(0.7j) + 0.02   # auto with two different fields
    args = (c1.xyz, c1.w, c1.g, c2.xyz, c2.w, g2, 0.5, 60.0, 7, False, auto)
    ref = _naive_shear_sums(*args)
    got = nk.pair_sums(*args)
    scale = np.max(np.abs(ref["xip"]))
    np.testing.assert_array_equal(got["npairs"], ref["npairs"])
    for name in ("xip", "xip_im", "xim", "xim_im"):
        np.testing.assert_allclose(got[name], ref[name], rtol=1e-10, atol=1e-12 * scale, err_msg=name)


def test_fields_in_one_pass_equal_separate_passes(rng):
    c = synthetic_shear_catalog(700, seed=5, weighted=True)
    f = [c.g, rng.normal(0, 0.01, c.nobj) + 1j * rng.normal(0, 0.01, c.nobj), 0.3 * c.g * np.exp(1j)]
    pairs = [(0, 0), (1, 0), (2, 2), (1, 2), (0, 2)]
    for log, lo in ((False, 0.0), (True, 0.5)):
        b = (lo, 60.0, 9, log)
        got = nk.pair_sums_fields(c.xyz, c.w, f, pairs, *b, logr=True)
        for (i, j), s in zip(pairs, got):
            one = nk.pair_sums(c.xyz, c.w, f[i], c.xyz, c.w, f[j], *b, True, logr=True)
            if i == j:
                one["xip_im"] = np.zeros_like(one["xip_im"])
            else:
                two = nk.pair_sums(c.xyz, c.w, f[j], c.xyz, c.w, f[i], *b, True, logr=True)
                one = {k: one[k] - two[k] if k == "xip_im" else one[k] + two[k] for k in one}
            assert set(s) == set(one)
            for k in one:
                np.testing.assert_allclose(s[k], one[k], rtol=1e-11, atol=1e-13, err_msg=f"{(i, j)} {k}")


def test_sorting_keeps_pair_orientation(rng):
    # auto-correlation with the imaginary part of xi+: defined by the original order i < j
    c = synthetic_shear_catalog(400, seed=6, weighted=True)
    args = (c.xyz, c.w, c.g, c.xyz, c.w, c.g, 0.0, 60.0, 5, False, True)
    ref = _naive_shear_sums(*args)
    got = nk.pair_sums(*args)
    np.testing.assert_allclose(got["xip_im"], ref["xip_im"], rtol=1e-10, atol=1e-12 * np.max(np.abs(ref["xip"])))


def test_empty_and_bad_inputs():
    z = np.zeros((3, 0))
    out = nk.pair_sums(z, np.zeros(0), None, z, np.zeros(0), None, 0.0, 10.0, 3, False, True)
    assert all(np.array_equal(v, np.zeros(3)) for v in out.values())
    with pytest.raises(ValueError, match="xyz1"):
        nk.pair_sums(np.zeros((2, 4)), np.ones(4), None, np.zeros((3, 4)), np.ones(4), None, 0.0, 10.0, 3, False, False)
    with pytest.raises(ValueError, match="pairs"):
        nk.pair_sums_fields(np.eye(3), np.ones(3), [np.zeros(3, complex)], [(0, 1)], 0.0, 10.0, 3, False)
