"""Figure-8 style plotting: |rho| on a log axis, negative values as open markers."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from cosmocorr.plotting import plot_rho, plot_rho_statistics
from cosmocorr import rho_statistics
from cosmocorr.sky.synthetic import synthetic_star_catalog


def test_plot_rho_marks_negative_values_open():
    fig, ax = plt.subplots()
    theta = np.array([1.0, 2.0, 3.0, 4.0])
    vals = np.array([1e-5, -2e-5, np.nan, 3e-6])
    plot_rho(ax, theta, vals, yerr=np.full(4, 1e-6))
    lines = ax.get_lines()
    filled, hollow = lines[-2], lines[-1]
    np.testing.assert_allclose(filled.get_xdata(), [1.0, 4.0])
    np.testing.assert_allclose(filled.get_ydata(), [1e-5, 3e-6])
    np.testing.assert_allclose(hollow.get_xdata(), [2.0])
    np.testing.assert_allclose(hollow.get_ydata(), [2e-5])
    assert hollow.get_markerfacecolor() == "none"
    assert ax.get_yscale() == "log"
    plt.close(fig)


def test_plot_rho_statistics_has_five_panels(tmp_path):
    res = rho_statistics(synthetic_star_catalog(150, seed=2), min_sep=0, max_sep=45, nbins=8)
    fig = plot_rho_statistics(res, naive=res)
    assert len(fig.axes) == 5
    fig.savefig(tmp_path / "f.png")
    plt.close(fig)
