"""The shared figure style: open/filled markers by sign, whole error bars, shared y-ranges, legends, formats."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest

from cosmocorr import rho_statistics
from cosmocorr.plotting import plot_rho, plot_rho_panels, plot_rho_statistics, plot_xi, save_figure
from cosmocorr.sky.synthetic import synthetic_star_catalog

THETA = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
VALS = np.array([1e-5, -2e-5, np.nan, 3e-6, 4e-6])
ERR = np.array([1e-6, 1e-6, 1e-6, 5e-6, 1e-7])  # bin 4: the bar crosses zero


def _markers(ax):
    # the data points (error-bar caps and arrows are drawn below them, zorder 2)
    pts = [ln for ln in ax.get_lines() if ln.get_zorder() == 3 and len(ln.get_xdata())]
    filled = [ln for ln in pts if ln.get_markerfacecolor() not in ("none", "white", (1, 1, 1, 1))]
    hollow = [ln for ln in pts if ln.get_markerfacecolor() in ("white", (1.0, 1.0, 1.0, 1.0))]
    return filled, hollow


@pytest.mark.parametrize("scale", ["log", "symlog", "linear"])
def test_negative_values_are_open_markers_of_the_same_shape(scale):
    fig, ax = plt.subplots()
    plot_rho(ax, THETA, VALS, yerr=ERR, marker="x", scale=scale)  # "x" cannot be open: drawn as "X"
    filled, hollow = _markers(ax)
    assert len(filled) == 1 and len(hollow) == 1
    assert filled[0].get_marker() == hollow[0].get_marker() == "X"
    np.testing.assert_allclose(filled[0].get_xdata(), [1.0, 4.0, 5.0])
    np.testing.assert_allclose(hollow[0].get_xdata(), [2.0])
    expect_neg = 2e-5 if scale == "log" else -2e-5
    np.testing.assert_allclose(hollow[0].get_ydata(), [expect_neg])
    assert ax.get_yscale() == scale
    plt.close(fig)


def _bar_segments(ax):
    segs = []
    for coll in ax.collections:
        for s in coll.get_segments():
            if len(s) == 2 and s[0][0] == s[1][0]:  # vertical bars
                segs.append((s[0][0], min(s[0][1], s[1][1]), max(s[0][1], s[1][1])))
    return sorted(segs)


def test_symlog_bars_are_whole_and_cross_zero():
    fig, ax = plt.subplots()
    plot_rho(ax, THETA, VALS, yerr=ERR, scale="symlog")
    segs = {x: (lo, hi) for x, lo, hi in _bar_segments(ax)}
    for x, v, e in zip(THETA, VALS, ERR):
        if np.isfinite(v):
            np.testing.assert_allclose(segs[x], (v - e, v + e), rtol=1e-12)
    assert segs[4.0][0] < 0 < segs[4.0][1]  # the bar through zero is drawn as it is
    plt.close(fig)


def test_log_axis_bar_through_zero_does_not_stretch_the_axis():
    fig, ax = plt.subplots()
    plot_rho(ax, THETA, VALS, yerr=ERR, scale="log")
    fig.canvas.draw()
    lo, hi = ax.get_ylim()
    assert lo > 1e-7  # no clipping to 1e-3 |value| and no axis down to 1e-12
    segs = _bar_segments(ax)
    top = [s for s in segs if s[0] == 4.0]
    assert any(np.isclose(s[2], 3e-6 + 5e-6) for s in top)  # the upper end is the whole bar
    plt.close(fig)


def test_rho_panels_shared_range_and_legend(tmp_path):
    res = rho_statistics(synthetic_star_catalog(150, seed=2), min_sep=0, max_sep=45, nbins=8, spacing="linear")
    fig = plot_rho_statistics(res, naive=res, sharey=True)
    axes = fig.axes
    assert len(axes) == 5
    assert len({ax.get_ylim() for ax in axes}) == 1
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    # the legend says what the error bars are (issue 27); the naive series has none
    assert "estimate (error bars: shot noise)" in labels and "naive (all pairs)" in labels
    assert any("open" in s for s in labels)
    assert all("arcmin" in ax.get_xlabel() for ax in axes)
    save_figure(fig, tmp_path / "rho.png", dpi=60)
    plt.close(fig)
    fig = plot_rho_statistics(res, sharey=False)
    assert len({ax.get_ylim() for ax in fig.axes}) > 1
    plt.close(fig)


def test_plot_panels_series_and_plot_xi():
    th = np.linspace(3, 40, 6)
    vals = {"xip": np.sin(th / 7) * 1e-4}
    fig = plot_rho_panels(th, [{"label": "a", "values": vals, "errors": {"xip": np.full(6, 3e-5)}},
                               {"label": "b", "values": vals}], names=["xip"], labels={"xip": "xi+"})
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels[:2] == ["a", "b"]
    plt.close(fig)
    fig = plot_xi(th, vals["xip"], -vals["xip"], np.full(6, 1e-5), np.full(6, 1e-5))
    assert [ax.get_title() for ax in fig.axes] == [r"$\xi_+$", r"$\xi_-$"]
    assert "theta" in fig.axes[0].get_ylabel() and "arcmin" in fig.axes[1].get_xlabel()  # theta x xi (default)
    plt.close(fig)


def test_save_figure_formats(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([1, 2], [1, 2])
    assert save_figure(fig, tmp_path / "f.pdf").read_bytes()[:4] == b"%PDF"
    assert b"<svg" in save_figure(fig, tmp_path / "f.svg").read_bytes()[:500]
    assert save_figure(fig, tmp_path / "f", format="png").suffix == ".png"
    with pytest.raises(FileExistsError):
        save_figure(fig, tmp_path / "f.pdf", overwrite=False)
    with pytest.raises(ValueError, match="format"):
        save_figure(fig, tmp_path / "f.docx")
    plt.close(fig)


def test_default_scale_is_theta_times_value_on_a_linear_axis():
    fig, ax = plt.subplots()
    plot_rho(ax, THETA, VALS, yerr=ERR)
    filled, hollow = _markers(ax)
    ok = np.isfinite(VALS)
    pos, neg = ok & (VALS >= 0), ok & (VALS < 0)
    np.testing.assert_allclose(filled[0].get_ydata(), THETA[pos] * VALS[pos], rtol=1e-12)
    np.testing.assert_allclose(hollow[0].get_ydata(), THETA[neg] * VALS[neg], rtol=1e-12)
    segs = {x: (lo, hi) for x, lo, hi in _bar_segments(ax)}
    for x, v, e in zip(THETA, VALS, ERR):
        if np.isfinite(v):  # theta x the whole bar
            np.testing.assert_allclose(segs[x], (x * (v - e), x * (v + e)), rtol=1e-12)
    assert ax.get_yscale() == "linear"
    plt.close(fig)


def test_log_axis_has_no_arrow_heads():
    fig, ax = plt.subplots()
    plot_rho(ax, THETA, VALS, yerr=ERR, scale="log")
    # an arrow (errorbar uplims) would be a caret marker; a bar through zero continues dashed instead
    assert not [ln for ln in ax.get_lines() if ln.get_marker() in ("^", "v", 2, 3, 6, 7, 10, 11)]
    dashed = [c for c in ax.collections if any(ls[1] is not None for ls in c.get_linestyles())]
    assert dashed and np.allclose([s[0][0] for c in dashed for s in c.get_segments()], [4.0])
    plt.close(fig)


def test_y_labels_are_physical():
    res = rho_statistics(synthetic_star_catalog(80, seed=3), min_sep=1, max_sep=45, nbins=4, spacing="linear")
    fig = plot_rho_statistics(res)
    assert fig.axes[0].get_ylabel() == r"$\theta\,\rho(\theta)$ [arcmin]"
    plt.close(fig)
    fig = plot_xi(THETA, VALS, VALS, ERR, ERR, scale="log", error_label="jackknife, 20 patches")
    assert fig.axes[0].get_ylabel() == r"$|\xi_+(\theta)|$ (dimensionless)"
    assert "cosmocorr (error bars: jackknife, 20 patches)" in [t.get_text() for t in fig.legends[0].get_texts()]
    plt.close(fig)
