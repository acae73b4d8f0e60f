"""Matplotlib figures for correlation functions, in one shared style (imports no other layer):
the layouts of paper figs. 8-9 and 14-18.

The style, used by every figure of the package, the command line and the examples:

- every series has one marker shape; **filled markers are positive values, open markers
  negative ones** (unfillable shapes such as ``"x"`` are replaced by a fillable one, ``"X"``);
- the default y axis (``scale="theta"``) is theta x value on a linear axis: the same sigma
  looks the same at every separation and near zero, and the signed values keep their whole
  error bars. ``"symlog"`` (signed values; linear within ``linthresh`` of zero, logarithmic
  beyond), ``"log"`` (``|value|``, the paper's figure 8) and ``"linear"`` are available;
- error bars are never clipped. On a ``"log"`` axis a bar that reaches zero or below is drawn
  up to its upper end and continued downwards as a dashed segment ("the interval includes
  zero"; no arrow head, which would read as an upper limit); it does not stretch the axis;
- the legend says what the error bars are (``error_label``: shot noise, jackknife with K
  patches, the spread over sampled assignments, ...);
- axes are labelled with units (separations in arcmin; correlations are dimensionless), each
  figure has a legend naming every series and what open/filled markers mean, and panels can
  share one y-range (``sharey=True``);
- :func:`save_figure` writes PNG (at ``dpi``, default 200), PDF or SVG (by extension or
  ``format``) for papers.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["plot_rho", "plot_rho_statistics", "plot_rho_panels", "plot_xi", "save_figure", "sign_legend_handles",
           "plot_field_correlation", "FIELD_LABELS", "plot_psf_leakage", "plot_projected_ia",
           "auto_linthresh", "set_xscale", "error_description", "y_label", "RHO_NAMES", "RHO_LABELS", "THETA_LABEL",
           "DEFAULT_DPI", "SCALES", "plot_approximation_error"]

RHO_NAMES = ("rho1", "rho2", "rho3", "rho4", "rho5")
RHO_LABELS = {k: rf"$\rho_{k[-1]}$" for k in RHO_NAMES}
THETA_LABEL = r"$\theta$ [arcmin]"
DEFAULT_DPI = 200
SCALES = ("theta", "symlog", "log", "linear")
#: unfillable markers and the fillable shape drawn instead (open/filled must be visible)
_FILLABLE = {"x": "X", "+": "P", "1": "v", "2": "^", "3": "<", "4": ">", "|": "d", "_": "s", ".": "o", ",": "o"}
SERIES_MARKERS = ("o", "s", "D", "^", "v", "P", "X")


def error_description(result):
    """What a result's error bars are, in words for a legend (duck-typed: no cosmocorr import).

    ``std over n sampled assignments (epistemic)`` for Algorithm 1 results (``xip_std``), else
    from ``var_method``: ``shot noise``, ``jackknife, K patches``, ...; None without errors.
    """
    r = result["rho1"] if hasattr(result, "rho") else result
    samples = getattr(r, "xip_samples", getattr(r, "xi_samples", None))
    if getattr(r, "xip_std", None) is not None or getattr(r, "xi_std", None) is not None:
        n = 0 if samples is None else len(samples)
        return f"std over {n} sampled assignments (epistemic)" if n else "std over sampled assignments (epistemic)"
    if all(getattr(r, k, None) is None for k in ("varxip", "varxi")):
        return None
    method = getattr(r, "var_method", "shot") or "shot"
    if method == "shot":
        return "shot noise"
    npatch = getattr(r, "npatch", None)
    return f"{method.replace('_', ' ')}, {npatch} patches" if npatch else method.replace("_", " ")


def y_label(symbol, scale):
    """The y-axis label of ``symbol`` (a LaTeX name such as ``\\rho``) for ``scale``."""
    if scale == "theta":
        return rf"$\theta\,{symbol}(\theta)$ [arcmin]"
    if scale == "log":
        return rf"$|{symbol}(\theta)|$ (dimensionless)"
    return rf"${symbol}(\theta)$ (dimensionless)"


def _with_errors(label, error_label):
    return label if not error_label else f"{label} (error bars: {error_label})"


def _fillable(marker):
    return _FILLABLE.get(marker, marker)


def auto_linthresh(*arrays):
    """A symlog linear threshold for the given values/errors: the 10th percentile of the non-zero
    finite magnitudes (so that most points sit in the logarithmic part), never 0."""
    vals = np.concatenate([np.abs(np.ravel(np.asarray(a, dtype=float))) for a in arrays if a is not None])
    vals = vals[np.isfinite(vals) & (vals > 0)]
    if vals.size == 0:
        return 1e-10
    t = float(np.percentile(vals, 10))
    return 10.0 ** np.floor(np.log10(t))


def _errors(yerr, ok):
    if yerr is None:
        return None
    yerr = np.asarray(yerr, dtype=float)
    if yerr.ndim == 2:
        lo, hi = yerr[0][ok], yerr[1][ok]
    else:
        lo = hi = yerr[ok]
    if np.any(lo < 0) or np.any(hi < 0):
        raise ValueError("yerr must be non-negative")
    return lo, hi


def plot_rho(ax, theta, values, yerr=None, label=None, color=None, marker="o", offset=1.0, scale="theta",
             linthresh=None, markersize=5, **kwargs):
    """One series of a correlation function against theta, negative values as open markers.

    Parameters
    ----------
    ax : matplotlib Axes
    theta, values : array_like
        Separations (arcmin) and values; NaN (empty) bins are skipped.
    yerr : array_like, optional
        Symmetric (n,) or asymmetric (2, n) errors, drawn in full.
    label, color, marker :
        The series' legend label, colour and marker shape (positive: filled, negative: open).
    offset : float
        Multiplies theta, to shift overlapping series sideways.
    scale : {"theta", "log", "symlog", "linear"}
        ``"theta"`` (default): theta x value on a linear axis, with theta x its whole bar.
        ``"log"``: ``|value|`` on a log axis (paper fig. 8); a bar reaching zero is drawn to its
        upper end and continued downwards dashed, never clipped. ``"symlog"``/``"linear"``: the
        signed value with its whole bar (``linthresh`` sets the symlog linear range; default
        :func:`auto_linthresh`).

    Returns
    -------
    The line artist of the positive points (for legends).
    """
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
    theta0 = np.asarray(theta, dtype=float)
    theta = theta0 * offset
    values = np.asarray(values, dtype=float)
    if theta.shape != values.shape:
        raise ValueError(f"theta and values must have the same shape, got {theta.shape} and {values.shape}")
    marker = _fillable(marker)
    ok = np.isfinite(values) & np.isfinite(theta)
    pos = ok & (values >= 0)
    neg = ok & (values < 0)
    err = _errors(yerr, ok)
    if scale == "theta":  # theta x value and theta x its error, on a linear axis
        values = theta0 * values
        if err is not None:
            err = (theta0[ok] * err[0], theta0[ok] * err[1])
    signed = scale != "log"
    y = values if signed else np.abs(values)
    (line,) = ax.plot(theta[pos], y[pos], linestyle="none", marker=marker, color=color, label=label,
                      markersize=markersize, zorder=3, **kwargs)
    color = line.get_color()
    ax.plot(theta[neg], y[neg], linestyle="none", marker=marker, markerfacecolor="white", markeredgecolor=color,
            markeredgewidth=1.2, markersize=markersize, zorder=3, **kwargs)
    if err is not None:
        lo, hi = err
        t, yy = theta[ok], y[ok]
        if signed:
            ax.errorbar(t, yy, yerr=[lo, hi], fmt="none", ecolor=color, alpha=0.7, capsize=2, elinewidth=1, zorder=2)
        else:
            # |v| - lo <= 0: the interval reaches zero; draw the bar up to |v| + hi and an arrow down
            vabs = np.abs(values[ok])
            lower = np.where(values[ok] >= 0, lo, hi)  # the side of the bar towards zero
            upper = np.where(values[ok] >= 0, hi, lo)
            crosses = vabs - lower <= 0
            good = ~crosses
            ax.errorbar(t[good], vabs[good], yerr=[lower[good], upper[good]], fmt="none", ecolor=color, alpha=0.7,
                        capsize=2, elinewidth=1, zorder=2)
            if np.any(crosses):
                ax.errorbar(t[crosses], vabs[crosses], yerr=[np.zeros(crosses.sum()), upper[crosses]], fmt="none",
                            ecolor=color, alpha=0.7, capsize=2, elinewidth=1, zorder=2)
                # dashed below the point, no arrow head: "the interval includes zero" (an arrow
                # would read as an upper limit); 0.9 |v| long, so it does not stretch the axis
                ax.vlines(t[crosses], vabs[crosses] * 0.1, vabs[crosses], colors=color, linestyles="dashed",
                          alpha=0.7, linewidth=1, zorder=2)
    if scale == "log":
        ax.set_yscale("log")
    elif scale == "symlog":
        if linthresh is None:
            linthresh = auto_linthresh(values, None if err is None else np.concatenate(err))
        ax.set_yscale("symlog", linthresh=linthresh)
        ax.axhline(0.0, color="0.6", linewidth=0.6, zorder=1)
    else:  # "theta" and "linear"
        ax.axhline(0.0, color="0.6", linewidth=0.6, zorder=1)
    return line


def set_xscale(ax, xscale):
    """Separation axis scale; a log axis gets plain-number labels (1, 10, 100) and no crowded minor labels."""
    ax.set_xscale(xscale)
    if xscale == "log":
        from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())


def _legend_loc(fig):
    engine = fig.get_layout_engine()
    return "outside lower center" if type(engine).__name__ == "ConstrainedLayoutEngine" else "lower center"


def sign_legend_handles(color="0.3", marker="o"):
    """Two legend handles explaining the marker convention: filled = positive, open = negative."""
    from matplotlib.lines import Line2D

    return [Line2D([], [], linestyle="none", marker=marker, color=color, label="filled: value > 0"),
            Line2D([], [], linestyle="none", marker=marker, markerfacecolor="white", markeredgecolor=color,
                   label="open: value < 0")]


def plot_rho_panels(theta, series, names=RHO_NAMES, labels=None, axes=None, title=None, sharey=False,
                    scale="theta", linthresh=None, xlim=None, ncols=None, xscale="linear", symbol=r"\rho"):
    """Panels of several statistics (rho0..rho5), each showing every series.

    Parameters
    ----------
    theta : array_like or dict
        Separations (arcmin), one array for all or a dict name -> array.
    series : list of dict
        Each ``{"label": str, "values": {name: array}, "errors": {name: array} (optional),
        "error_label": str (optional: what the errors are, shown in the legend), "marker": str
        (optional), "color": str (optional), "theta": dict or array (optional)}``.
    sharey : bool
        One y-range for all panels (and one ``linthresh`` on symlog axes).
    scale : {"theta", "symlog", "log", "linear"}
        See :func:`plot_rho`; default theta x value on a linear axis.
    symbol : str
        LaTeX name of the statistic for the y label (``\\rho``, ``\\xi_+``, ``\\omega``).
    xscale : {"linear", "log"}
        The separation axis (``"log"`` for logarithmic bins).

    Returns
    -------
    matplotlib Figure
    """
    import matplotlib.pyplot as plt

    names = list(names)
    labels = labels or RHO_LABELS
    if axes is None:
        ncols = ncols or len(names)
        nrows = int(np.ceil(len(names) / ncols))
        fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, 3.4 * nrows + 0.7), sharey=sharey,
                                 constrained_layout=True, squeeze=False)
    else:
        fig = np.ravel(axes)[0].figure
    flat = np.ravel(axes)
    if scale == "symlog" and linthresh is None and sharey:
        linthresh = auto_linthresh(*[s["values"][n] for s in series for n in names])
    handles = []
    for i, s in enumerate(series):
        marker = s.get("marker", SERIES_MARKERS[i % len(SERIES_MARKERS)])
        color = s.get("color", f"C{i}")
        th_all = s.get("theta", theta)
        for ax, name in zip(flat, names):
            th = th_all[name] if isinstance(th_all, dict) else th_all
            err = (s.get("errors") or {}).get(name)
            line = plot_rho(ax, th, s["values"][name], yerr=err,
                            label=_with_errors(s["label"], s.get("error_label") if s.get("errors") else None),
                            color=color, marker=marker,
                            offset=1.0 + 0.025 * i, scale=scale,
                            linthresh=linthresh if linthresh is not None else None)
        handles.append(line)
    for ax, name in zip(flat, names):
        ax.set_title(labels.get(name, name))
        ax.set_xlabel(THETA_LABEL)
        set_xscale(ax, xscale)
        if xlim is not None and (xscale == "linear" or xlim[0] > 0):
            ax.set_xlim(*xlim)
        ax.grid(True, which="major", alpha=0.25)
    for ax in flat[len(names):]:
        ax.set_visible(False)
    for ax in np.atleast_2d(axes)[:, 0]:
        ax.set_ylabel(y_label(symbol, scale))
    fig.legend(handles=handles + sign_legend_handles(), loc=_legend_loc(fig),
               ncol=min(len(handles) + 2, 6), fontsize="small", frameon=False)
    if title:
        fig.suptitle(title)
    return fig


def plot_rho_statistics(result, errors=None, naive=None, axes=None, title=None, sharey=False, scale="theta",
                        label="estimate", naive_label="naive (all pairs)", error_label=None):
    """Panels (rho0..rho5) of a RhoResult-like object (``result["rho1"].xip``, ``.meanr``,
    ``result.bins``).

    ``errors`` maps rho name -> per-bin sigma (default: the result's ``xip_std`` for Algorithm 1
    results, else ``sqrt(varxip)`` when present); ``naive``: another result drawn for comparison.
    ``sharey``: one y-range for all panels. ``scale``: ``"theta"`` (default: theta x rho on a
    linear axis), ``"symlog"`` (signed values, whole error bars), ``"log"`` (``|value|``, paper
    style) or ``"linear"``. ``error_label``: what the errors are, for the legend (default:
    :func:`error_description` of the result). Returns the figure.
    """
    def theta_of(res):
        return {n: np.where(np.isfinite(res[n].meanr), res[n].meanr, res.bins.rnom) for n in RHO_NAMES}

    def default_errors(res):
        out = {}
        for n in RHO_NAMES:
            r = res[n]
            if getattr(r, "xip_std", None) is not None:
                out[n] = np.asarray(r.xip_std, dtype=float)
            elif getattr(r, "varxip", None) is not None:
                out[n] = np.sqrt(np.asarray(r.varxip, dtype=float))
        return out or None

    series = [{"label": label, "values": {n: result[n].xip for n in RHO_NAMES}, "theta": theta_of(result),
               "errors": default_errors(result) if errors is None else errors, "marker": "o", "color": "C0",
               "error_label": error_description(result) if error_label is None else error_label}]
    if naive is not None:
        series.append({"label": naive_label, "values": {n: naive[n].xip for n in RHO_NAMES}, "theta": theta_of(naive),
                       "marker": "s", "color": "k"})
    return plot_rho_panels(None, series, axes=axes, title=title, sharey=sharey, scale=scale,
                           xlim=(result.bins.min_sep, result.bins.max_sep),
                           xscale="log" if getattr(result.bins, "spacing", "linear") == "log" else "linear")


def plot_xi(theta, xip, xim, xip_err=None, xim_err=None, label="cosmocorr", axes=None, title=None,
            scale="theta", sharey=True, theta_m=None, xscale="linear", error_label=None):
    """xi+ and xi- (two panels) with error bars; negative values open, bars never clipped.

    Parameters
    ----------
    theta : array_like
        Separations in arcmin (``theta_m`` for xi- if different).
    xip, xim : array_like
    xip_err, xim_err : array_like, optional
        1-sigma errors (e.g. ``sqrt(varxip)``), symmetric (n,) or (2, n).
    scale : {"theta", "symlog", "log", "linear"}
        See :func:`plot_rho`; default theta x xi on a linear axis.
    error_label : str, optional
        What the errors are (``"shot noise"``, ``"jackknife, 20 patches"``), shown in the legend.

    Returns
    -------
    matplotlib Figure
    """
    import matplotlib.pyplot as plt

    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.9), sharey=sharey, constrained_layout=True)
    else:
        fig = axes[0].figure
    linthresh = auto_linthresh(xip, xim) if scale == "symlog" else None
    th_m = theta if theta_m is None else theta_m
    lp = plot_rho(axes[0], theta, xip, yerr=xip_err, label=_with_errors(label, error_label if xip_err is not None
                                                                        else None),
                  color="C0", marker="o", scale=scale, linthresh=linthresh)
    plot_rho(axes[1], th_m, xim, yerr=xim_err, label=label, color="C0", marker="o", scale=scale, linthresh=linthresh)
    for ax, name, sym in zip(axes, (r"$\xi_+$", r"$\xi_-$"), (r"\xi_+", r"\xi_-")):
        ax.set_title(name)
        ax.set_xlabel(THETA_LABEL)
        set_xscale(ax, xscale)
        ax.set_ylabel(y_label(sym, scale))
        ax.grid(True, alpha=0.25)
    fig.legend(handles=[lp] + sign_legend_handles(), loc=_legend_loc(fig), ncol=3, fontsize="small",
               frameon=False)
    if title:
        fig.suptitle(title)
    return fig


#: the y labels (real, imaginary part) of the NG, NK, KK, KG and NN figures
FIELD_LABELS = {"NG": (r"$\gamma_t(\theta)$", r"$\gamma_\times(\theta)$"), "NK": (r"$\langle\kappa\rangle(\theta)$", None),
                "KK": (r"$\xi_{\kappa\kappa}(\theta)$", None),
                "KG": (r"$\langle\kappa\,\gamma_t\rangle(\theta)$", r"$\langle\kappa\,\gamma_\times\rangle(\theta)$"),
                "NN": (r"$\omega(\theta)$", None)}


def plot_field_correlation(theta, letters, xi, xi_err=None, xi_im=None, xi_im_err=None, label="cosmocorr", ax=None,
                           title=None, scale="symlog", xscale="linear"):
    """One panel of an NG, NK, KK, KG (or NN) correlation: ``xi`` with its error bars and, for NG
    and KG, the imaginary part (gamma_x, a null test) as a second series.

    Parameters
    ----------
    theta : array_like
        Separations (arcmin).
    letters : {"NG", "NK", "KK", "KG", "NN"}
        The statistic (sets the y label).
    xi, xi_im : array_like
        The correlation and its imaginary part (None: not drawn).
    xi_err, xi_im_err : array_like, optional
        1-sigma errors (e.g. ``sqrt(varxi)`` or the epistemic ``xi_std``).
    label : str
    scale : {"symlog", "log", "linear"}
    xscale : {"linear", "log"}

    Returns
    -------
    matplotlib Figure
    """
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(5.4, 4.2), constrained_layout=True)
    else:
        fig = ax.figure
    re_label, im_label = FIELD_LABELS[letters]
    linthresh = auto_linthresh(xi, xi_im) if scale == "symlog" else None
    handles = [plot_rho(ax, theta, xi, yerr=xi_err, label=f"{re_label}: {label}", color="C0", marker="o",
                        scale=scale, linthresh=linthresh)]
    if xi_im is not None and im_label is not None:
        handles.append(plot_rho(ax, theta, xi_im, yerr=xi_im_err, label=im_label, color="C1", marker="s",
                                offset=1.03, scale=scale, linthresh=linthresh))
    ax.set_xlabel(THETA_LABEL)
    set_xscale(ax, xscale)
    ax.set_ylabel((f"|{re_label}|" if scale == "log" else re_label) + " (dimensionless)")
    ax.grid(True, alpha=0.25)
    ax.legend(handles=handles + sign_legend_handles(), fontsize="small")
    if title:
        ax.set_title(title)
    return fig


def save_figure(fig, path, dpi=DEFAULT_DPI, format=None, overwrite=True):
    """Save ``fig`` as PNG/PDF/SVG (from the extension or ``format``) at ``dpi``; returns the path.

    With ``overwrite=False`` an existing file is a FileExistsError.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True (--overwrite) to replace it")
    fmt = format or (path.suffix[1:].lower() if path.suffix else "png")
    if fmt not in ("png", "pdf", "svg", "eps", "ps", "jpg", "jpeg", "tif", "tiff"):
        raise ValueError(f"format: unsupported figure format {fmt!r}; use png, pdf or svg")
    if not path.suffix:
        path = path.with_suffix("." + fmt)
    fig.savefig(path, dpi=dpi, format=fmt, bbox_inches="tight")
    return path


def plot_psf_leakage(fit, title=None, scale="symlog", xscale=None):
    """The PSF-leakage figure of Gatti et al. (2021) / UNIONS: tau0, tau2, tau5 (xi+) with their
    errors and the best-fit model alpha R + beta R + eta R, and the implied xi+_sys(theta) with its
    16-84 per cent posterior band (fourth panel).

    ``fit``: a :class:`cosmocorr.PSFLeakageResult` (``theta``, ``tau``, ``tau_err``,
    ``tau_model``, ``xi_sys``, ``xi_sys_lo``, ``xi_sys_hi``). Negative values are open markers.
    Returns the figure.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(16, 3.8), constrained_layout=True)
    nb = fit.bins.nbins
    theta = np.asarray(fit.theta, dtype=float)
    xs = xscale or ("log" if getattr(fit.bins, "spacing", "linear") == "log" else "linear")
    vals = [fit.tau[:, :nb], fit.tau_model[:, :nb], fit.xi_sys]
    linthresh = auto_linthresh(*vals) if scale == "symlog" else None
    handles = []
    for k, (ax, name) in enumerate(zip(axes[:3], (r"$\tau_0$", r"$\tau_2$", r"$\tau_5$"))):
        h = plot_rho(ax, theta, fit.tau[k, :nb], yerr=fit.tau_err[k, :nb], label="measured", color="C0",
                     scale=scale, linthresh=linthresh)
        (m,) = ax.plot(theta, fit.tau_model[k, :nb], "-", color="C3", label=r"best fit $\alpha, \beta, \eta$")
        ax.set_title(name + r"$_+$")
        if k == 0:
            handles = [h, m]
    ax = axes[3]
    band = ax.fill_between(theta, fit.xi_sys_lo, fit.xi_sys_hi, color="C2", alpha=0.3,
                           label=r"$\xi_+^{\rm sys}$ 16-84% posterior")
    (line,) = ax.plot(theta, fit.xi_sys, "-", color="C2", label=r"$\xi_+^{\rm sys}$ (best fit)")
    ax.set_title(r"$\xi_+^{\rm sys}(\theta)$")
    if scale == "symlog":
        ax.set_yscale("symlog", linthresh=linthresh)
    elif scale == "log":
        ax.set_yscale("log")
    for ax in axes:
        ax.set_xlabel(THETA_LABEL)
        set_xscale(ax, xs)
        ax.grid(True, alpha=0.25)
    axes[0].set_ylabel("correlation (dimensionless)")
    txt = ", ".join(f"{n} = {getattr(fit, n):.3g} $\\pm$ {getattr(fit, n + '_err'):.2g}"
                    for n in ("alpha", "beta", "eta"))
    fig.legend(handles=handles + [line, band] + sign_legend_handles(), loc=_legend_loc(fig), ncol=6,
               fontsize="small", frameon=False)
    fig.suptitle((title + ": " if title else "") + txt + f"; $\\chi^2$ = {fit.chi2:.1f} / {fit.dof}")
    return fig


def plot_projected_ia(rp_bins, curves, errors=None, ylabel=r"$w_{g+}(r_p)$ [Mpc/h]", title=None, ax=None):
    """Projected IA correlations (e.g. w_g+ of several HOD sets) against r_p, log x axis, symlog y.

    ``curves``: dict label -> values per bin; ``errors``: dict label -> 1-sigma per bin.
    Negative values are open markers. Returns the figure.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 4), constrained_layout=True)
    else:
        fig = ax.figure
    rp_bins = np.asarray(rp_bins, dtype=float)
    rp = np.sqrt(rp_bins[1:] * rp_bins[:-1])
    linthresh = auto_linthresh(*curves.values())
    handles = []
    for k, (label, v) in enumerate(curves.items()):
        yerr = None if errors is None else errors.get(label)
        handles.append(plot_rho(ax, rp, v, yerr=yerr, label=label, color=f"C{k}",
                                marker=SERIES_MARKERS[k % len(SERIES_MARKERS)], offset=1.0 + 0.03 * k,
                                scale="symlog", linthresh=linthresh))
    ax.set_xscale("log")
    ax.set_xlabel(r"$r_p$ [Mpc/h]")
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.25)
    ax.legend(handles=handles + sign_legend_handles(), fontsize="small")
    if title:
        ax.set_title(title)
    return fig


def _approx_panels(result):
    """(label, approx dicts' key, the entry holding them) for every statistic of a tree result."""
    if getattr(result, "rho", None) is not None and isinstance(result.rho, dict):
        return [(f"{RHO_LABELS.get(n, n)} $\\xi_+$", "xip", result.rho[n]) for n in result.rho]
    return [({"xip": r"$\xi_+$", "xim": r"$\xi_-$", "xi": r"$w(\theta)$"}.get(k, k), k, result)
            for k in result.approx_error]


def plot_approximation_error(result, axes=None, title=None, xscale=None):
    """The measured approximation error of a ``method="tree"`` result beside its statistical error.

    One panel per statistic (xi+ and xi-; w for Landy-Szalay; xi+ of each rho), on a log axis
    against separation: the statistical sigma (sqrt of the result's variance; line), the random
    part ``approx_sigma`` and the magnitude of the systematic part ``|approx_error|``, each with
    its standard error as an error bar (``approx_sigma_err``, ``approx_error_err``; a bar
    reaching zero continues as an arrow), and ``approx_tol`` sigma when recorded (dashed).

    Parameters
    ----------
    result : ShearShearResult, LandySzalayResult or RhoResult
        With ``approx_error`` etc. set (``method="tree"`` with ``approx_error=True``).
    axes : array of Axes, optional
    title : str, optional
    xscale : {"log", "linear"}, optional
        Default: that of the result's bins.

    Returns
    -------
    matplotlib Figure
    """
    import matplotlib.pyplot as plt

    panels_of = _approx_panels(result) if getattr(result, "approx_info", None) is not None else []
    if not panels_of or any(getattr(e, "approx_error", None) is None for _, _, e in panels_of):
        raise ValueError("result has no approximation error: compute it with method='tree' (approx_error=True)")
    if axes is None:
        n = len(panels_of)
        fig, axes = plt.subplots(1, n, figsize=(3.8 * n, 3.6), sharey=True, constrained_layout=True, squeeze=False)
    else:
        fig = np.ravel(axes)[0].figure
    bins = result.bins
    xscale = xscale or ("log" if getattr(bins, "spacing", "log") == "log" else "linear")
    tol = (result.approx_info or {}).get("approx_tol")
    handles = []
    for ax, (label, key, entry) in zip(np.ravel(axes), panels_of):
        theta = np.asarray(bins.rnom, dtype=float)
        var = getattr(entry, "var" + key, None)
        sig = np.sqrt(np.asarray(var, dtype=float)) if var is not None else None
        h = []
        if sig is not None:
            (line,) = ax.plot(theta, sig, color="k", label="statistical sigma")
            h.append(line)
            if tol is not None:
                (tl,) = ax.plot(theta, tol * sig, color="k", linestyle="--", linewidth=0.8,
                                label=f"approx_tol = {tol:g} sigma")
                h.append(tl)
        h.append(plot_rho(ax, theta, entry.approx_sigma[key], yerr=entry.approx_sigma_err[key], color="C1",
                          marker="o", offset=0.98, scale="log", label="approx_sigma (random part)"))
        h.append(plot_rho(ax, theta, entry.approx_error[key], yerr=entry.approx_error_err[key], color="C0",
                          marker="s", offset=1.02, scale="log", label="|approx_error| (systematic)"))
        handles = h
        ax.set_title(label)
        ax.set_xlabel(THETA_LABEL)
        set_xscale(ax, xscale)
        ax.grid(True, which="major", alpha=0.25)
    np.ravel(axes)[0].set_ylabel("error (units of the statistic)")
    fig.legend(handles=handles + sign_legend_handles(), loc=_legend_loc(fig), ncol=3, fontsize="small",
               frameon=False)
    if title:
        fig.suptitle(title)
    return fig
