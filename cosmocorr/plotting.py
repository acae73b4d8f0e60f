"""Matplotlib figures for correlation functions (Python-side plotting)."""
from __future__ import annotations

import numpy as np

__all__ = ["plot_rho", "plot_rho_statistics"]

RHO_NAMES = ("rho1", "rho2", "rho3", "rho4", "rho5")
RHO_LABELS = {k: rf"$\rho_{k[-1]}$" for k in RHO_NAMES}


def plot_rho(ax, theta, values, yerr=None, label=None, color=None, marker="o", offset=1.0, **kwargs):
    """Plot |values| against theta on log axes, in the style of the paper's figure 8.

    Positive values get filled markers, negative values open markers (their absolute value is
    drawn, as in the paper); NaN (empty) bins are skipped. ``yerr`` (same length, or (2, n))
    draws error bars. ``offset`` multiplies theta, to shift overlapping series sideways.
    Returns the line artist for the legend.
    """
    theta = np.asarray(theta, dtype=float) * offset
    values = np.asarray(values, dtype=float)
    ok = np.isfinite(values) & np.isfinite(theta)
    pos = ok & (values >= 0)
    neg = ok & (values < 0)
    if yerr is not None:
        yerr = np.asarray(yerr, dtype=float)
        err = yerr[..., ok] if yerr.ndim == 2 else yerr[ok]
        # a bar crossing zero cannot be drawn on a log axis: clip its lower end
        absval = np.abs(values[ok])
        lower = np.minimum(err if err.ndim == 1 else err[0], absval * 0.999)
        upper = err if err.ndim == 1 else err[1]
        ax.errorbar(theta[ok], absval, yerr=[lower, upper], fmt="none", ecolor=color, alpha=0.6,
                    capsize=2, elinewidth=1)
    (line,) = ax.plot(theta[pos], values[pos], linestyle="none", marker=marker, color=color, label=label, **kwargs)
    color = line.get_color()
    ax.plot(theta[neg], -values[neg], linestyle="none", marker=marker, markerfacecolor="none",
            markeredgecolor=color, **kwargs)
    ax.set_yscale("log")
    return line


def plot_rho_statistics(result, errors=None, naive=None, axes=None, title=None):
    """Five panels (rho1..rho5) of a :class:`~cosmocorr.rho.RhoResult`.

    ``errors`` maps rho name -> per-bin sigma; ``naive`` another RhoResult drawn for comparison.
    Open markers are negative values. Returns the figure.
    """
    import matplotlib.pyplot as plt

    if axes is None:
        fig, axes = plt.subplots(1, 5, figsize=(18, 3.6), constrained_layout=True)
    else:
        fig = np.ravel(axes)[0].figure
    for ax, name in zip(np.ravel(axes), RHO_NAMES):
        r = result[name]
        x = np.where(np.isfinite(r.meanr), r.meanr, result.bins.rnom)
        plot_rho(ax, x, r.xip, None if errors is None else errors.get(name), label="estimate", color="C0")
        if naive is not None:
            n = naive[name]
            plot_rho(ax, np.where(np.isfinite(n.meanr), n.meanr, naive.bins.rnom), n.xip, label="naive",
                     color="k", marker="x", offset=1.02)
        ax.set_xlabel(r"$\theta$ [arcmin]")
        ax.set_title(RHO_LABELS[name])
        ax.set_xlim(result.bins.min_sep, result.bins.max_sep)
    np.ravel(axes)[0].set_ylabel(r"$|\rho(\theta)|$ (open: negative)")
    np.ravel(axes)[0].legend(fontsize="small")
    if title:
        fig.suptitle(title)
    return fig
