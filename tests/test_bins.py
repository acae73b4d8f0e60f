"""Bins follow TreeCorr's edge conventions."""
import numpy as np
import pytest
import treecorr

from cosmocorr import Bins


@pytest.mark.parametrize("spacing, lo, hi, n", [("linear", 0.0, 45.0, 8), ("linear", 2.0, 160.0, 3), ("log", 0.5, 200.0, 12)])
def test_edges_and_centres_match_treecorr(spacing, lo, hi, n):
    b = Bins(lo, hi, n, spacing)
    gg = treecorr.GGCorrelation(min_sep=lo, max_sep=hi, nbins=n, bin_type=spacing.capitalize(), sep_units="arcmin")
    np.testing.assert_allclose(b.edges[:-1], gg.left_edges, rtol=1e-12)
    np.testing.assert_allclose(b.edges[1:], gg.right_edges, rtol=1e-12)
    np.testing.assert_allclose(b.rnom, gg.rnom, rtol=1e-12)


def test_index_half_open_intervals():
    b = Bins(0.0, 40.0, 4)
    r = np.array([0.0, 1e-12, 9.999999, 10.0, 39.9999, 40.0, 55.0, -1.0])
    np.testing.assert_array_equal(b.index(r), [-1, 0, 0, 1, 3, -1, -1, -1])
    lb = Bins(1.0, 100.0, 2, "log")
    np.testing.assert_array_equal(lb.index([0.99, 1.0, 9.99, 10.0, 99.99, 100.0]), [-1, 0, 0, 1, 1, -1])


@pytest.mark.parametrize("args, exc, match", [
    ((10.0, 10.0, 3), ValueError, "min_sep"),
    ((20.0, 10.0, 3), ValueError, "min_sep"),
    ((0.0, 10.0, 0), ValueError, "nbins"),
    ((0.0, 10.0, 2.5), TypeError, "nbins"),
    ((0.0, 10.0, 3, "log"), ValueError, "min_sep"),
    ((-1.0, 10.0, 3), ValueError, "min_sep"),
    ((0.0, np.inf, 3), ValueError, "max_sep"),
    ((0.0, 10.0, 3, "cubic"), ValueError, "spacing"),
    (("0", 10.0, 3), TypeError, "min_sep"),
])
def test_invalid_bins(args, exc, match):
    with pytest.raises(exc, match=match):
        Bins(*args)


def test_coerce():
    assert Bins.coerce(min_sep=1, max_sep=2, nbins=3, spacing="linear") == Bins(1, 2, 3)
    # no spacing: TreeCorr's keywords default to log bins, cosmocorr 0.1.0's to linear; refused (issue 27)
    with pytest.raises(ValueError, match="spacing: give spacing='log' .* or spacing='linear'"):
        Bins.coerce(min_sep=1, max_sep=2, nbins=3)
    with pytest.raises(TypeError, match="bins"):
        Bins.coerce((1, 2, 3))
    with pytest.raises(TypeError, match="min_sep"):
        Bins.coerce(min_sep=1, nbins=3)
