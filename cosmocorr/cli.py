"""Command line: cosmocorr demo | rho | gg | nn | ng | nk | kk | kg | tau | julia (rho and tau statistics,
paper eqs. 2-6; Algorithm 1 and the uncertainty study of sec. 2.3; TreeCorr's NG, NK, KK, KG correlations).

Every subcommand prints a table, and writes a figure (PNG/PDF/SVG by the extension of --out),
JSON (--json), FITS (--fits-out) and ASCII (--ascii-out) result files with provenance; FITS and
ASCII files use TreeCorr's column names and header. Existing outputs are kept unless
--overwrite. Options can come from --config FILE (TOML, or YAML when PyYAML is installed) with
the option names as keys (n_clusters = 50); options on the command line win. Errors are one line
on stderr with exit code 2 (set COSMOCORR_DEBUG=1 for a traceback).
"""
from __future__ import annotations

import argparse
import inspect
import json
import os
import sys
from pathlib import Path

import numpy as np

__all__ = ["main", "build_parser"]


class CLIError(Exception):
    """An error reported as one line on stderr, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage block
        raise CLIError(f"{self.prog}: {message} (see {self.prog} --help)")


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Shows each option's default (unless it is None/False or the help already says it)."""

    def _get_help_string(self, action):
        help = action.help or ""
        if ("default" not in help and action.default not in (None, False, argparse.SUPPRESS)
                and action.option_strings):
            help += " (default: %(default)s)"
        return help


# ----------------------------------------------------------------------------- helpers


class _BadValue(argparse.ArgumentTypeError, ValueError):
    """A command-line value out of range (argparse reports it as an error, exit code 2)."""


def _int_at_least(minimum, meaning):
    """An argparse type: an integer >= ``minimum`` (``meaning`` says why, in the error)."""
    def parse(text):
        if isinstance(text, float) and not text.is_integer():
            raise _BadValue(f"{text!r} is not an integer")
        try:
            value = int(text)
        except (TypeError, ValueError):
            raise _BadValue(f"{text!r} is not an integer") from None
        if value < minimum:
            raise _BadValue(f"must be >= {minimum} ({meaning}), got {value}")
        return value

    parse.__name__ = f"integer >= {minimum}"
    return parse


def _positive_float(text):
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise _BadValue(f"{text!r} is not a number") from None
    if not (np.isfinite(value) and value > 0):
        raise _BadValue(f"must be a positive number, got {text}")
    return value


_positive_float.__name__ = "positive number"
_SEED = _int_at_least(0, "seeds are non-negative integers, as numpy.random.default_rng takes")


def _columns(text, argname, n=3, what="g1,g2,sigma"):
    parts = [p.strip() for p in str(text).split(",")]
    if len(parts) != n or not all(parts):
        raise CLIError(f"{argname} takes {n} comma-separated column names: {what} (got {text!r})")
    return parts


def _hdu(text):
    """--hdu: an integer index or an extension name."""
    s = str(text).strip()
    try:
        return int(s)
    except ValueError:
        return s


def _supports(func, name):
    try:
        return name in inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False


def _need(func, name, option):
    if not _supports(func, name):
        raise CLIError(f"{option} is not available in this version of cosmocorr ({func.__name__} has no "
                       f"{name}= argument)")


def _resolve_seed(args, needed):
    if args.seed is not None or not needed:
        return args.seed
    # no seed given: draw one and record it, so that the run can be repeated
    return int(np.random.SeedSequence().generate_state(1, np.uint64)[0] >> 1)


def _free_name(*paths):
    """``paths`` themselves if none exists, else the same names with the first suffix ``-2``, ``-3``,
    ... that is free for all of them: default outputs are versioned, never replaced."""
    paths = [Path(p) for p in paths]
    k = 1
    while True:
        cand = paths if k == 1 else [p.with_name(f"{p.stem}-{k}{p.suffix}") for p in paths]
        if not any(c.exists() for c in cand):
            return cand
        k += 1


def _outputs(args, figure_default=True):
    """Check the outputs before any work. Files the user named (--out, --json, --fits-out,
    --ascii-out) are never replaced without --overwrite; the default figure name is versioned
    (xi.png, then xi-2.png, ...) so that re-running a command works."""
    if getattr(args, "out", None) is None and getattr(args, "_default_out", None):
        default = Path(args._default_out)
        args.out = str(default if args.overwrite else _free_name(default)[0])
    outs = [p for p in (getattr(args, "out", None), args.json, args.fits_out, args.ascii_out) if p]
    for p in outs:
        path = Path(p)
        if path.exists() and not args.overwrite:
            raise CLIError(f"output {path} exists; pass --overwrite to replace it (or choose another name)")
        if not path.parent.exists():
            raise CLIError(f"output directory {path.parent} does not exist")
    return outs


def _backend(args):
    from .backends import resolve_backend

    name = resolve_backend(args.backend, family="pair_sums")   # what runs the pair sums (provenance)
    if name == "julia":
        from .backends import julia_bridge

        julia_bridge.require_julia()
    return name


def _bins(args):
    from .sky import Bins

    missing = [f"--{k.replace('_', '-')}" for k in ("min_sep", "max_sep", "nbins", "spacing")
               if getattr(args, k) is None]
    if missing:
        raise CLIError(f"cosmocorr {args.command}: give {', '.join(missing)} (no default binning, as TreeCorr; e.g. "
                       "--min-sep 1 --max-sep 100 --nbins 10 --spacing log)")
    return Bins(args.min_sep, args.max_sep, args.nbins, args.spacing)


def _write_results(result, args, prov):
    for path, fmt in ((args.json, "json"), (args.fits_out, "fits"), (args.ascii_out, "ascii")):
        if path:
            result.write(path, format=fmt, overwrite=args.overwrite, provenance=prov)
            print(f"wrote {path}")


def _save(fig, args):
    import matplotlib.pyplot as plt

    from .plotting import save_figure

    path = save_figure(fig, args.out, dpi=args.dpi, overwrite=args.overwrite)
    plt.close(fig)
    print(f"wrote {path}")


def _mpl():
    import matplotlib

    matplotlib.use("Agg")


def _print_rows(header, rows, stream=None):
    stream = stream or sys.stdout
    stream.write(" ".join(f"{h:>12}" for h in header) + "\n")
    for r in rows:
        stream.write(" ".join(f"{v:12.4e}" if isinstance(v, float) else f"{v:>12}" for v in r) + "\n")


def _theta(meanr, rnom):
    return np.where(np.isfinite(meanr), meanr, rnom)


def _error_label(result):
    """What the error bars of ``result`` are (table header, figure legend)."""
    from .plotting import error_description

    return error_description(result) or "none"


def _print_rho(result):
    """rho0..rho5 per bin, each with its sigma (the error bars the figure draws)."""
    names = list(result)
    theta = _theta(result["rho1"].meanr, result.bins.rnom)
    cols = ["theta"] + [c for n in names for c in (n, f"sigma_{n}")]
    rows = []
    for k in range(result.bins.nbins):
        vals = [float(theta[k])]
        for n in names:
            sig = _sigma(result[n], "xip")
            vals += [float(result[n].xip[k]), float("nan") if sig is None else float(sig[k])]
        rows.append(vals)
    print(f"rho(theta) = xi+ of each pair of fields; sigma: {_error_label(result)}")
    _print_rows(cols, rows)


def _method_kwargs(args, func, seed):
    """Algorithm 1 / covariance keywords for an api estimator."""
    kw = {"backend": args.backend, "progress": args.progress}
    if args.n_clusters is not None:
        kw.update(n_clusters=args.n_clusters, n_samples=args.n_samples, assignment=args.assignment, seed=seed,
                  fuzziness=args.fuzziness)
    if args.var_method is not None:
        _need(func, "var_method", "--var-method")
        kw["var_method"] = args.var_method
    for name in ("method", "bin_slop", "angle_slop", "approx_tol"):
        value = getattr(args, name, None)
        if value is not None and not (name == "method" and value == "exact"):
            _need(func, name, "--" + name.replace("_", "-"))
            kw[name] = value
    return kw


def _estimator_name(result, args, func_name, exact_name="naive all-pairs estimator"):
    """How the result was estimated, for the printed header, the figure and the provenance."""
    if args.n_clusters is not None:
        return f"{func_name}: Algorithm 1, {args.n_clusters} clusters, {args.n_samples} x {args.assignment}"
    if getattr(result, "method", "exact") == "tree":
        return (f"{func_name}: tree estimator (TreeCorr, bin_slop={result.bin_slop:.6g}, "
                f"angle_slop={result.angle_slop:.6g})")
    return f"{func_name}: {exact_name}"


def _catalog_kwargs(args, seed):
    kw = dict(ra=args.ra, dec=args.dec, ra_units=args.ra_units, dec_units=args.dec_units, flip_g1=args.flip_g1,
              flip_g2=args.flip_g2, drop_masked=args.drop_masked, flag=args.flag, ok_flag=args.ok_flag,
              w=args.weight)
    if args.npatch is not None:
        kw.update(npatch=args.npatch, patch_seed=seed)
    return kw


def _provenance(args, backend, inputs, columns, seed, estimator, settings):
    from .io import provenance

    return provenance(backend=backend, input=inputs, columns=columns, seed=seed, estimator=estimator,
                      command=["cosmocorr", *args._argv], settings=settings)


def _settings(args, **more):
    keys = ("nbins", "min_sep", "max_sep", "spacing", "n_clusters", "n_samples", "assignment", "fuzziness", "npatch",
            "var_method", "ra_units", "dec_units", "flip_g1", "flip_g2", "drop_masked", "flag", "ok_flag", "hdu",
            "method", "bin_slop", "angle_slop", "approx_tol")
    out = {k: getattr(args, k) for k in keys if getattr(args, k, None) is not None}
    out.update({k: v for k, v in more.items() if v is not None})
    return out


# ----------------------------------------------------------------------------- commands


def cmd_rho(args):
    from . import api
    from .sky import StarCatalog

    g1s, g2s, ss = _columns(args.star_columns, "--star-columns", what="g1,g2,size")
    g1m, g2m, sm = _columns(args.model_columns, "--model-columns", what="g1,g2,size")
    study = args.n_bootstrap is not None
    if study and args.n_clusters is None:
        raise CLIError("--n-bootstrap (the epistemic vs aleatoric study) needs --n-clusters")
    tree_args = (args.bin_slop, args.angle_slop, args.approx_tol)
    if study and (args.method != "exact" or any(v is not None for v in tree_args)):
        raise CLIError("--method tree (and --bin-slop, --angle-slop) cannot be combined with --n-bootstrap: the "
                       "uncertainty study runs Algorithm 1, which correlates its clusters exactly")
    if args.aleatoric is not None and not study:
        raise CLIError("--aleatoric needs --n-bootstrap and --n-clusters (the uncertainty study)")
    if args.naive and args.n_clusters is None:
        raise CLIError("--naive overlays the exact all-pairs estimate on an Algorithm 1 run: give --n-clusters "
                       "too (without it the exact estimate is what is computed)")
    _outputs(args)
    backend = _backend(args)
    seed = _resolve_seed(args, args.n_clusters is not None or args.npatch is not None)
    sizes = {"T_star": ss, "T_model": sm} if args.sizes == "T" else {"sigma_star": ss, "sigma_model": sm}
    kw = _catalog_kwargs(args, seed)
    stars = StarCatalog.read(args.catalog, format=args.input_format, hdu=args.hdu, g1_star=g1s, g2_star=g2s,
                             g1_model=g1m, g2_model=g2m, **sizes, **kw)
    bins = _bins(args)
    columns = {"ra": args.ra, "dec": args.dec, "g1_star": g1s, "g2_star": g2s, "g1_model": g1m, "g2_model": g2m,
               ("T_star" if args.sizes == "T" else "sigma_star"): ss,
               ("T_model" if args.sizes == "T" else "sigma_model"): sm, "w": args.weight}
    _mpl()
    if study:
        from .uncertainty import clustering_uncertainty

        ukw = dict(n_samples=args.n_samples, n_bootstrap=args.n_bootstrap, fuzziness=args.fuzziness, seed=seed,
                   backend=args.backend, progress=args.progress)
        if args.aleatoric is not None:
            if _supports(clustering_uncertainty, "aleatoric"):
                ukw["aleatoric"] = args.aleatoric
            elif args.aleatoric in ("bootstrap", "subset"):
                ukw["method"] = args.aleatoric
            else:
                raise CLIError(f"--aleatoric {args.aleatoric!r} is not available in this version of cosmocorr "
                               "(choose bootstrap or subset)")
        estimator = (f"clustering_uncertainty: rho0..rho5, Algorithm 1 with {args.n_clusters} clusters, "
                     f"{args.n_samples} sampled assignments (epistemic) and {args.n_bootstrap} resamples (aleatoric)")
        u = clustering_uncertainty(stars, bins, args.n_clusters, **ukw)
        print(f"{len(stars)} stars from {args.catalog}; {estimator}; {bins}")
        for name in u.names:
            print(f"\n{name}:\n{u.table(name)}")
        prov = _provenance(args, backend, [args.catalog], columns, seed, estimator,
                           _settings(args, n_bootstrap=args.n_bootstrap, aleatoric=args.aleatoric))
        if args.out:
            from .plotting import plot_rho_panels

            th = _theta(u.meanr, bins.rnom)
            series = [
                {"label": f"Algorithm 1 mean ({args.n_clusters} clusters)", "values": u.mean,
                 "errors": u.sigma_epistemic, "marker": "o", "color": "C0",
                 "error_label": f"sigma_epistemic, {args.n_samples} sampled assignments"},
                {"label": "resampled mean", "values": u.bootstrap_mean, "errors": u.sigma_aleatoric, "marker": "D",
                 "color": "C1", "error_label": f"sigma_aleatoric, {args.n_bootstrap} x {args.aleatoric or u.method}"},
                {"label": "naive (all pairs)", "values": u.naive, "marker": "s", "color": "k"},
            ]
            fig = plot_rho_panels(th, series, names=u.names, sharey=args.sharey, scale=args.scale,
                                  xlim=(bins.min_sep, bins.max_sep), title=Path(args.catalog).name,
                                  xscale=_xscale(args))
            _save(fig, args)
        _write_results(u, args, prov)
        return 0
    mkw = _method_kwargs(args, api.rho_statistics, seed)
    result = api.rho_statistics(stars, bins, **mkw)
    estimator = _estimator_name(result, args, "rho_statistics")
    print(f"{len(stars)} stars from {args.catalog}; rho0..rho5 (xi+), {estimator}; {bins}")
    _print_rho(result)
    prov = _provenance(args, backend, [args.catalog], columns, seed, estimator, _settings(args))
    if args.out:
        from .plotting import plot_rho_statistics

        naive = None
        if args.naive and args.n_clusters is not None:
            naive = api.rho_statistics(stars, bins, backend=args.backend)
        fig = plot_rho_statistics(result, naive=naive, title=Path(args.catalog).name, sharey=args.sharey,
                                  scale=args.scale, label=(estimator.split(": ")[1] if result.method == "tree" else
                                                           "naive (all pairs)") if args.n_clusters is None else
                                  f"Algorithm 1 ({args.n_clusters} clusters) $\\pm\\ \\sigma_{{epistemic}}$")
        _save(fig, args)
    _write_results(result, args, prov)
    return 0


def cmd_gg(args):
    from . import api
    from .sky import Catalog

    _outputs(args)
    backend = _backend(args)
    seed = _resolve_seed(args, args.n_clusters is not None or args.npatch is not None)
    cat = Catalog.read(args.catalog, format=args.input_format, hdu=args.hdu, g1=args.g1, g2=args.g2,
                       **_catalog_kwargs(args, seed))
    bins = _bins(args)
    result = api.shear_shear(cat, bins=bins, **_method_kwargs(args, api.shear_shear, seed))
    estimator = _estimator_name(result, args, "shear_shear")
    print(f"{len(cat)} objects from {args.catalog}; xi+/xi-, {estimator}; {bins}")
    theta = _theta(result.meanr, bins.rnom)
    err_p = _sigma(result, "xip")
    err_m = _sigma(result, "xim")
    rows = [[float(theta[k]), float(result.xip[k]), float(err_p[k]) if err_p is not None else float("nan"),
             float(result.xim[k]), float(err_m[k]) if err_m is not None else float("nan"), float(result.npairs[k])]
            for k in range(bins.nbins)]
    print(f"sigma: {_error_label(result)}")
    _print_rows(["theta", "xip", "sigma_xip", "xim", "sigma_xim", "npairs"], rows)
    columns = {"ra": args.ra, "dec": args.dec, "g1": args.g1, "g2": args.g2, "w": args.weight}
    prov = _provenance(args, backend, [args.catalog], columns, seed, estimator, _settings(args))
    if args.out:
        _mpl()
        from .plotting import plot_xi

        fig = plot_xi(theta, result.xip, result.xim, err_p, err_m, scale=args.scale, title=Path(args.catalog).name,
                      label=estimator.split(": ")[1], xscale=_xscale(args), error_label=_error_label(result))
        _save(fig, args)
    _write_results(result, args, prov)
    return 0


def cmd_tau(args):
    from . import api
    from .sky import Catalog, StarCatalog

    g1s, g2s, ss = _columns(args.star_columns, "--star-columns", what="g1,g2,size")
    g1m, g2m, sm = _columns(args.model_columns, "--model-columns", what="g1,g2,size")
    if args.fit and (args.npatch is None or (args.var_method or "jackknife") != "jackknife"):
        raise CLIError("--fit needs the joint jackknife covariance of rho and tau: give --npatch "
                       "(and --var-method jackknife or none)")
    _outputs(args)
    backend = _backend(args)
    seed = _resolve_seed(args, args.npatch is not None or args.fit)
    gal = Catalog.read(args.catalog, format=args.input_format, hdu=args.hdu, g1=args.g1, g2=args.g2,
                       **_catalog_kwargs(args, seed))
    sizes = {"T_star": ss, "T_model": sm} if args.sizes == "T" else {"sigma_star": ss, "sigma_model": sm}
    skw = {} if args.npatch is None else {"patch_centers": gal.patch_centers}
    stars = StarCatalog.read(args.stars, format=args.stars_format, hdu=args.stars_hdu, ra=args.stars_ra,
                             dec=args.stars_dec, g1_star=g1s, g2_star=g2s, g1_model=g1m, g2_model=g2m, **sizes, **skw)
    bins = _bins(args)
    var_method = args.var_method or ("jackknife" if args.npatch is not None else "shot")
    kw = dict(backend=args.backend, var_method=var_method)
    tau = api.tau_statistics(gal, stars, bins, **kw)
    estimator = f"tau_statistics: all galaxy-star pairs, errors {var_method}"
    print(f"{len(gal)} galaxies from {args.catalog}, {len(stars)} stars from {args.stars}; tau0, tau2, tau5 (xi+), "
          f"{estimator}; {bins}")
    theta = _theta(tau.meanr, bins.rnom)
    rows = [[float(theta[k])] + [float(v) for n in tau for v in (tau[n].xip[k], np.sqrt(tau[n].varxip[k]))]
            for k in range(bins.nbins)]
    _print_rows(["theta"] + [c for n in tau for c in (n, f"sigma_{n}")], rows)
    columns = {"ra": args.ra, "dec": args.dec, "g1": args.g1, "g2": args.g2, "w": args.weight,
               "stars": {"ra": args.stars_ra, "dec": args.stars_dec, "g1_star": g1s, "g2_star": g2s,
                         "g1_model": g1m, "g2_model": g2m, "size_star": ss, "size_model": sm}}
    prov = _provenance(args, backend, [args.catalog, args.stars], columns, seed, estimator,
                       _settings(args, fit=args.fit or None))
    result, fig = tau, None
    if args.fit:
        rho = api.rho_statistics(stars, bins, **kw)
        fit = api.fit_psf_leakage(rho, tau, seed=seed, nsteps=args.nsteps, burn=args.nsteps // 3,
                                  components=("xip", "xim") if args.xim else ("xip",))
        print("\nPSF leakage fit (Gatti et al. 2021 model; joint jackknife covariance of rho0-5 and tau0,2,5):")
        print(fit.summary())
        result = fit
        if args.out:
            _mpl()
            from .plotting import plot_psf_leakage

            fig = plot_psf_leakage(fit, title=Path(args.catalog).name, scale=args.scale, xscale=_xscale(args))
    elif args.out:
        _mpl()
        from .plotting import plot_rho_panels

        series = [{"label": "tau (all pairs)", "values": {n: tau[n].xip for n in tau},
                   "errors": {n: np.sqrt(tau[n].varxip) for n in tau}, "marker": "o", "color": "C0"}]
        fig = plot_rho_panels(theta, series, names=list(tau), scale=args.scale, xlim=(bins.min_sep, bins.max_sep),
                              title=Path(args.catalog).name, xscale=_xscale(args))
    if fig is not None:
        _save(fig, args)
    _write_results(result, args, prov)
    return 0


def _xscale(args):
    return "log" if args.spacing == "log" else "linear"


def _sigma(result, name):
    std = getattr(result, f"{name}_std", None)
    if std is not None:
        return np.asarray(std, dtype=float)
    var = getattr(result, f"var{name}", None)
    return None if var is None else np.sqrt(np.asarray(var, dtype=float))


def uniform_randoms(ra, dec, n, rng):
    """``n`` points uniform on the sphere within the RA/Dec box of the data (RA wrap-around
    handled by cutting the RA circle at its largest empty gap)."""
    ra = np.mod(np.asarray(ra, float), 360.0)
    s = np.sort(ra)
    gaps = np.diff(np.concatenate([s, [s[0] + 360.0]]))
    k = int(np.argmax(gaps))
    lo = s[(k + 1) % s.size]
    width = 360.0 - gaps[k]
    sin_lo, sin_hi = np.sin(np.radians(np.min(dec))), np.sin(np.radians(np.max(dec)))
    r_ra = np.mod(lo + rng.uniform(0.0, width, n), 360.0)
    r_dec = np.degrees(np.arcsin(rng.uniform(sin_lo, sin_hi, n)))
    return r_ra, r_dec


def cmd_nn(args):
    from . import api
    from .sky import Catalog

    if (args.randoms is None) == (args.n_randoms is None):
        raise CLIError("give exactly one of --randoms FILE and --n-randoms N")
    _outputs(args)
    backend = _backend(args)
    seed = _resolve_seed(args, args.n_clusters is not None or args.npatch is not None or args.n_randoms is not None)
    kw = _catalog_kwargs(args, seed)
    data = Catalog.read(args.catalog, format=args.input_format, hdu=args.hdu, **kw)
    inputs = [args.catalog]
    if args.randoms is not None:
        rkw = dict(kw, w=args.randoms_weight)
        if args.npatch is not None:
            rkw.pop("npatch"), rkw.pop("patch_seed")
            rkw["patch_centers"] = data.patch_centers
        randoms = Catalog.read(args.randoms, format=args.input_format, hdu=args.randoms_hdu, **rkw)
        inputs.append(args.randoms)
        rdesc = f"{len(randoms)} randoms from {args.randoms}"
    else:
        if args.n_randoms < 2:
            raise CLIError("--n-randoms must be at least 2")
        rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
        r_ra, r_dec = uniform_randoms(data.ra, data.dec, args.n_randoms, rng)
        rkw = {}
        if args.npatch is not None:
            rkw["patch_centers"] = data.patch_centers
        randoms = Catalog(r_ra, r_dec, **rkw)
        rdesc = f"{len(randoms)} generated randoms (uniform on the sphere in the data's RA/Dec box, seed {seed})"
    bins = _bins(args)
    mkw = _method_kwargs(args, api.landy_szalay, seed)
    if args.estimator != "landy_szalay":
        mkw["estimator"] = args.estimator
    if args.catalog2 is not None:
        # cross-correlation: the second sample and its randoms (default: the same randoms)
        ckw = dict(kw)
        if args.npatch is not None:
            ckw.pop("npatch"), ckw.pop("patch_seed")
            ckw["patch_centers"] = data.patch_centers
        mkw["data2"] = Catalog.read(args.catalog2, format=args.input_format, hdu=args.hdu, **ckw)
        inputs.append(args.catalog2)
        if args.randoms2 is not None:
            mkw["randoms2"] = Catalog.read(args.randoms2, format=args.input_format, hdu=args.randoms_hdu,
                                           **dict(ckw, w=args.randoms_weight))
            inputs.append(args.randoms2)
    elif args.randoms2 is not None:
        raise CLIError("--randoms2 needs --catalog2 (a cross-correlation)")
    result = api.landy_szalay(data, randoms, bins=bins, **mkw)
    estimator = _estimator_name(result, args, args.estimator)
    cross = f", cross with {args.catalog2}" if args.catalog2 is not None else ""
    print(f"{len(data)} objects from {args.catalog}, {rdesc}{cross}; omega(theta), {estimator}; {bins}")
    theta = _theta(result.meanr, bins.rnom)
    err = _sigma(result, "xi")
    rows = [[float(theta[k]), float(result.xi[k]), float(err[k]) if err is not None else float("nan"),
             float(result.dd_npairs[k]), float(result.rr_npairs[k])] for k in range(bins.nbins)]
    print(f"sigma: {_error_label(result)}")
    _print_rows(["theta", "xi", "sigma_xi", "DD npairs", "RR npairs"], rows)
    columns = {"ra": args.ra, "dec": args.dec, "w": args.weight, "randoms_w": args.randoms_weight}
    prov = _provenance(args, backend, inputs, columns, seed, estimator,
                       _settings(args, n_randoms=args.n_randoms, randoms=args.randoms))
    if args.out:
        _mpl()
        import matplotlib.pyplot as plt

        from .plotting import THETA_LABEL, auto_linthresh, plot_rho, set_xscale, sign_legend_handles, y_label

        fig, ax = plt.subplots(figsize=(5.2, 4.2), constrained_layout=True)
        label = estimator.split(": ")[1] + ("" if err is None else f" (error bars: {_error_label(result)})")
        line = plot_rho(ax, theta, result.xi, yerr=err, label=label, scale=args.scale,
                        linthresh=auto_linthresh(result.xi) if args.scale == "symlog" else None)
        ax.set_xlabel(THETA_LABEL)
        set_xscale(ax, _xscale(args))
        ax.set_ylabel(y_label(r"\omega", args.scale))
        ax.set_title(f"Landy-Szalay: {Path(args.catalog).name}")
        ax.grid(True, alpha=0.25)
        ax.legend(handles=[line] + sign_legend_handles(), fontsize="small")
        _save(fig, args)
    _write_results(result, args, prov)
    return 0


#: the NG/NK/KK/KG subcommands: (api function, what the first and second catalogs are, fields)
FIELD_COMMANDS = {
    "ng": ("count_shear", "lenses", "sources", "count-shear: tangential shear gamma_t and gamma_x of sources around "
           "lenses (TreeCorr's NGCorrelation)"),
    "nk": ("count_scalar", "lenses", "scalar catalog", "count-scalar: mean scalar <kappa> around lenses (TreeCorr's "
           "NKCorrelation)"),
    "kk": ("scalar_scalar", "scalar catalog", "second scalar catalog", "scalar-scalar <k k> auto or cross "
           "(TreeCorr's KKCorrelation)"),
    "kg": ("scalar_shear", "scalar catalog", "shear catalog", "scalar-shear <k gamma_t> (TreeCorr's KGCorrelation)"),
}


def cmd_field(args):
    """ng, nk, kk, kg: read the catalog(s), run the api estimator, print, plot, write."""
    from . import api
    from .sky import Catalog

    letters = args.command.upper()
    fname = FIELD_COMMANDS[args.command][0]
    func = getattr(api, fname)
    if args.catalog2 is None and letters != "KK":
        raise CLIError(f"{args.command} needs --catalog2 FILE (the {FIELD_COMMANDS[args.command][2]})")
    if args.randoms is not None and letters not in ("NG", "NK"):
        raise CLIError(f"--randoms is for ng and nk (random-point subtraction), not {args.command}")
    _outputs(args)
    backend = _backend(args)
    seed = _resolve_seed(args, args.n_clusters is not None or args.npatch is not None)
    kw = _catalog_kwargs(args, seed)

    def read(path, letter, hdu, weight, centers=None):
        ckw = dict(kw, w=weight)
        if centers is not None:
            ckw.pop("npatch", None), ckw.pop("patch_seed", None)
            ckw["patch_centers"] = centers
        cols = {"K": {"k": args.k}, "G": {"g1": args.g1, "g2": args.g2}, "N": {}}[letter]
        return Catalog.read(path, format=args.input_format, hdu=hdu, **cols, **ckw)

    cat1 = read(args.catalog, letters[0], args.hdu, args.weight)
    centers = cat1.patch_centers if args.npatch is not None else None
    cat2 = None if args.catalog2 is None else read(args.catalog2, letters[1], args.hdu2, args.weight2, centers)
    inputs = [args.catalog] + ([args.catalog2] if args.catalog2 else [])
    mkw = _method_kwargs(args, func, seed)
    if args.randoms is not None:
        mkw["randoms"] = read(args.randoms, "N", args.randoms_hdu, args.randoms_weight, centers)
        inputs.append(args.randoms)
    bins = _bins(args)
    result = func(cat1, cat2, bins, **mkw)
    estimator = (f"{fname}: naive all-pairs estimator" if args.n_clusters is None else
                 f"{fname}: Algorithm 1, {args.n_clusters} clusters, {args.n_samples} x {args.assignment}")
    print(f"{len(cat1)} objects from {args.catalog}" + (f", {len(cat2)} from {args.catalog2}" if cat2 else "")
          + (f", {len(mkw['randoms'])} randoms from {args.randoms}" if args.randoms else "")
          + f"; {letters}, {estimator}; {bins}")
    theta = _theta(result.meanr, bins.rnom)
    err = _sigma(result, "xi")
    imag = result.xi_im is not None
    header = ["theta", "xi"] + (["xi_im"] if imag else []) + ["sigma_xi", "npairs"]
    rows = [[float(theta[k]), float(result.xi[k])] + ([float(result.xi_im[k])] if imag else [])
            + [float(err[k]) if err is not None else float("nan"), float(result.npairs[k])]
            for k in range(bins.nbins)]
    _print_rows(header, rows)
    columns = {"ra": args.ra, "dec": args.dec, "w": args.weight, "w2": args.weight2, "k": args.k, "g1": args.g1,
               "g2": args.g2}
    prov = _provenance(args, backend, inputs, columns, seed, estimator, _settings(args))
    if args.out:
        _mpl()
        from .plotting import plot_field_correlation

        fig = plot_field_correlation(theta, letters, result.xi, err, result.xi_im if imag else None,
                                     (_sigma(result, "xi_im") if _sigma(result, "xi_im") is not None else err)
                                     if imag else None, label=estimator.split(": ")[1],
                                     title=f"{letters}: {Path(args.catalog).name}", scale=args.scale,
                                     xscale=_xscale(args))
        _save(fig, args)
    _write_results(result, args, prov)
    return 0


def cmd_demo(args):
    from .api import rho_statistics
    from .sky import Bins
    from .sky.synthetic import synthetic_star_catalog

    outdir = Path(args.outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    png, js = outdir / "rho_demo.png", outdir / "rho_demo.json"
    if not args.overwrite:  # a second run writes rho_demo-2.png/.json, ... (the names are not the user's)
        png, js = _free_name(png, js)
    backend = _backend(args)
    stars = synthetic_star_catalog(n_stars=args.n_stars, seed=args.seed)
    bins = Bins(0.0, 45.0, 8, "linear")
    result = rho_statistics(stars, bins, backend=args.backend)
    estimator = "rho_statistics: naive all-pairs estimator"
    print(f"cosmocorr demo: built-in synthetic star catalog, {len(stars)} stars (seed {args.seed}); "
          f"rho0..rho5 in 8 linear bins 0-45 arcmin (naive all-pairs estimator)")
    _print_rho(result)
    _mpl()
    from .io import provenance
    from .plotting import plot_rho_statistics, save_figure

    prov = provenance(backend=backend, seed=args.seed, estimator=estimator, command=["cosmocorr", *args._argv],
                      input=None, settings={"catalog": f"synthetic_star_catalog(n_stars={args.n_stars}, "
                                                       f"seed={args.seed})", "nbins": 8, "min_sep": 0.0,
                                            "max_sep": 45.0, "spacing": "linear"})
    fig = plot_rho_statistics(result, title=f"cosmocorr demo: synthetic star catalog ({len(stars)} stars)",
                              sharey=True, label="naive (all pairs)")
    save_figure(fig, png, dpi=args.dpi, overwrite=True)
    print(f"wrote {png}")
    result.write(js, format="json", overwrite=True, provenance=prov)
    print(f"wrote {js}")
    return 0


def _gravity_selftest_cases():
    """Self-test cases for the Julia gravity forward model: xi+ and d xi+/d G (approaches "none"
    and "c", both AD modes) against the NumPy forward sensitivities, through the public
    ``xi_plus_gradient`` with its default arguments (alpha, bins, t_max) on 40 galaxies."""
    from .differentiable import xi_plus_gradient

    def case(approach, ad):
        def run(_kernels):
            ref = xi_plus_gradient(1.0, n_galaxies=40, approach=approach, backend="numpy")
            got = xi_plus_gradient(1.0, n_galaxies=40, approach=approach, backend="julia", ad=ad, state=ref.state)
            return ({"xi": ref.xi, "dxi_dG": ref.dxi_dG}, {"xi": got.xi, "dxi_dG": got.dxi_dG}, 1e-4, 1e-9)
        return f"xi_plus_gradient_{approach}_{ad}", run

    return [case(approach, ad) for approach in ("none", "c") for ad in ("forward", "reverse")]


def cmd_julia(args):
    from .backends import julia_bridge as julia

    if args.action in ("install", "selftest"):
        if args.action == "install":
            julia.install(reverse_mode=args.reverse_mode)
        elif args.reverse_mode:
            raise CLIError("--reverse-mode goes with `cosmocorr julia install`")
        print("Julia self-test: every Julia function once against the NumPy reference ...")
        from .clustering.sparse_fcm import julia_selftest_cases as sparse_fcm_cases

        stamp = julia.selftest(_gravity_selftest_cases() + sparse_fcm_cases())
        print(f"{'passed' if stamp['passed'] else 'FAILED'}; stamp written to {julia.stamp_path()}")
        print("\n".join(julia.status_lines()))
        return 0 if stamp["passed"] else 1
    info = julia.status()
    print("\n".join(julia.status_lines(info)))
    print(json.dumps(info, indent=1, default=str))
    return 0


# ----------------------------------------------------------------------------- parser


def _add_input(p, shear):
    g = p.add_argument_group("input catalog")
    g.add_argument("catalog", help="catalog file: FITS, ASCII, CSV, ECSV, HDF5 or Parquet (read with astropy)")
    g.add_argument("--input-format", default=None,
                   help="astropy format of the catalog (fits, ascii, ascii.csv, hdf5, parquet, ...); "
                        "default: from the file extension")
    g.add_argument("--hdu", type=_hdu, default=None,
                   help="FITS HDU index or EXTNAME (HDF5: dataset path); default: the first table")
    g.add_argument("--ra", default="ra", help="RA column (or a SkyCoord column)")
    g.add_argument("--dec", default="dec", help="Dec column")
    g.add_argument("--ra-units", default=None,
                   help="unit of RA without a TUNIT: deg, rad, hour, arcmin, arcsec (default: the column's unit, else deg)")
    g.add_argument("--dec-units", default=None, help="unit of Dec without a TUNIT (default: the column's unit, else deg)")
    g.add_argument("--weight", default=None, help="weight column (default: all weights 1)")
    g.add_argument("--flag", default=None, help="integer flag column; objects with a flag bit outside --ok-flag are dropped")
    g.add_argument("--ok-flag", type=_int_at_least(0, "flag bits"), default=0, help="flag bits that are acceptable")
    g.add_argument("--drop-masked", action="store_true",
                   help="drop rows with masked (missing) values instead of stopping with an error")
    if shear:
        g.add_argument("--flip-g1", action="store_true", help="negate g1 (and the model's g1) on input")
        g.add_argument("--flip-g2", action="store_true", help="negate g2 (and the model's g2) on input")
    else:
        p.set_defaults(flip_g1=False, flip_g2=False)


def _add_binning(p, paper_defaults):
    """Bins: ``rho`` defaults to the rho paper's 8 linear bins 0-45'; ``gg``/``nn`` have no default
    binning (as TreeCorr: give --min-sep, --max-sep, --nbins and --spacing)."""
    d = dict(nbins=8, min_sep=0.0, max_sep=45.0, spacing="linear") if paper_defaults else {}
    what = "" if paper_defaults else " (required)"
    g = p.add_argument_group("separation bins (arcmin)" + ("" if paper_defaults else "; no default, as TreeCorr"))
    g.add_argument("--nbins", type=_int_at_least(1, "a binning needs a bin"), default=d.get("nbins"),
                   help="number of bins" + what)
    g.add_argument("--min-sep", type=float, default=d.get("min_sep"), help="smallest separation, arcmin" + what)
    g.add_argument("--max-sep", type=float, default=d.get("max_sep"), help="largest separation, arcmin" + what)
    g.add_argument("--spacing", default=d.get("spacing"), choices=["linear", "log"],
                   help="bin spacing" + (what or "") + (" (TreeCorr's default is log)" if not paper_defaults else ""))


def _add_method(p):
    g = p.add_argument_group("estimator (paper Algorithm 1) and errors")
    g.add_argument("--backend", default=None, choices=["numpy", "julia", "auto"],
                   help="pair-sum backend (default: COSMOCORR_BACKEND, else auto)")
    g.add_argument("--n-clusters", type=_int_at_least(2, "one cluster leaves no pair"), default=None,
                   help="run Algorithm 1 with this many fuzzy c-means clusters (default: exact all-pairs estimator)")
    g.add_argument("--n-samples", type=_int_at_least(1, "at least one sampled assignment"), default=10, help="sampled cluster assignments (Algorithm 1)")
    g.add_argument("--assignment", default="sample", choices=["sample", "greedy"],
                   help="sampled (eq. 19) or greedy argmax assignment")
    g.add_argument("--fuzziness", type=float, default=2.0, help="fuzzy c-means exponent m")
    g.add_argument("--seed", type=_SEED, default=None,
                   help="seed of every random step (default: drawn at random and recorded in the outputs)")
    g.add_argument("--npatch", type=_int_at_least(2, "a jackknife needs two patches"), default=None, help="number of k-means patches for jackknife/bootstrap errors")
    g.add_argument("--var-method", default=None,
                   help="variance method: shot, jackknife, sample, bootstrap, marked_bootstrap (TreeCorr's names)")
    g.add_argument("--progress", action="store_true", help="show progress bars")
    g = p.add_argument_group("tree estimator (method tree: TreeCorr's tree, docs/tree.md)")
    g.add_argument("--method", default="exact", choices=["exact", "tree"],
                   help="exact: every pair (default); tree: TreeCorr's tree with --bin-slop, --angle-slop")
    g.add_argument("--bin-slop", type=_slop, default=None,
                   help="tree: slop in the bin placement, in bin widths (default: TreeCorr's, about 0.1 / bin_size)")
    g.add_argument("--angle-slop", type=_slop, default=None,
                   help="tree: slop in the projection angle, radians (default: TreeCorr's, 0.1 for shear)")
    g.add_argument("--approx-tol", type=float, default=None,
                   help="tree: tolerated approximation error in units of each bin's statistical sigma")


def _slop(text):
    """A slop value: a number (``--bin-slop 0.5``), or ``auto`` where the estimator accepts it."""
    if isinstance(text, str) and text.strip().lower() == "auto":
        return "auto"
    return float(text)


_slop.__name__ = "slop"   # argparse and --config name the type in their messages


def _add_output(p, default_out):
    g = p.add_argument_group("outputs")
    g.add_argument("--out", default=None,
                   help=f"figure: .png, .pdf or .svg; '' for none (default: {default_out}, or {Path(default_out).stem}-2"
                        f"{Path(default_out).suffix}, ... when it exists)")
    p.set_defaults(_default_out=default_out)
    g.add_argument("--dpi", type=_positive_float, default=200, help="figure resolution (PNG)")
    g.add_argument("--scale", default="theta", choices=["theta", "symlog", "log", "linear"],
                   help="y axis: theta (theta x value on a linear axis: the same sigma looks the same everywhere), "
                        "symlog (signed values), log (|value|, paper style) or linear")
    g.add_argument("--json", default=None, help="write the result as JSON (with provenance)")
    g.add_argument("--fits-out", default=None, help="write the result as FITS (TreeCorr's columns and header)")
    g.add_argument("--ascii-out", default=None, help="write the result as ASCII (TreeCorr's layout)")
    g.add_argument("--overwrite", action="store_true", help="replace existing output files")
    g.add_argument("--config", default=None,
                   help="TOML (or YAML) file of options, keys as the option names (n_clusters = 50); "
                        "the command line wins")


def build_parser():
    """The ``cosmocorr`` argument parser with its subcommands (demo, rho, gg, nn, julia)."""
    p = _Parser(prog="cosmocorr", description=__doc__, formatter_class=_Formatter)
    p.add_argument("--version", action="version", version=f"cosmocorr {__import__('cosmocorr').__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p._subparsers_by_name = {}

    d = sub.add_parser("demo", help="rho statistics of a built-in synthetic star catalog (no data needed)",
                       description="rho0..rho5 of a seeded synthetic star catalog in 8 linear bins 0-45 arcmin; "
                                   "writes rho_demo.png and rho_demo.json to --outdir.", formatter_class=_Formatter)
    d.add_argument("--outdir", default="cosmocorr_demo", help="where to write rho_demo.png and rho_demo.json")
    d.add_argument("--n-stars", type=_int_at_least(2, "a correlation needs a pair of stars"), default=610, help="number of synthetic stars")
    d.add_argument("--seed", type=_SEED, default=0, help="seed of the synthetic catalog")
    d.add_argument("--backend", default=None, choices=["numpy", "julia", "auto"],
                   help="pair-sum backend (default: COSMOCORR_BACKEND, else auto)")
    d.add_argument("--dpi", type=_positive_float, default=200, help="figure resolution")
    d.add_argument("--overwrite", action="store_true",
                   help="replace rho_demo.png/.json in --outdir (default: write rho_demo-2.png/.json, ... beside them)")
    d.add_argument("--config", default=None, help="TOML (or YAML) file of options")
    d.set_defaults(func=cmd_demo)

    r = sub.add_parser("rho", help="rho0..rho5 (paper eqs. 2-6) of a star catalog, exact or Algorithm 1",
                       description="rho statistics of stars with PSF-model ellipticities and sizes: the exact "
                                   "all-pairs estimator, Algorithm 1 (--n-clusters), or the epistemic vs aleatoric "
                                   "uncertainty study (--n-clusters with --n-bootstrap).", formatter_class=_Formatter)
    _add_input(r, shear=True)
    g = r.add_argument_group("star columns")
    g.add_argument("--star-columns", default="g1_vignet,g2_vignet,sig_vignet",
                   help="g1,g2,size of the stars (size: sigma, or T with --sizes T)")
    g.add_argument("--model-columns", default="g1_psfex,g2_psfex,sig_psfex", help="g1,g2,size of the PSF model")
    g.add_argument("--sizes", default="sigma", choices=["sigma", "T"], help="size columns hold sigma or T = 2 sigma^2")
    _add_binning(r, paper_defaults=True)
    _add_method(r)
    g = r.add_argument_group("uncertainty study (paper sec. 2.3, figs. 8, 14-17)")
    g.add_argument("--n-bootstrap", type=_int_at_least(2, "a spread needs two resamples"), default=None,
                   help="resamples for sigma_aleatoric; with --n-clusters runs the epistemic vs aleatoric study")
    g.add_argument("--aleatoric", default=None,
                   help="aleatoric method (bootstrap, subset, ...; see cosmocorr.clustering_uncertainty)")
    g.add_argument("--naive", action="store_true", help="overlay the exact all-pairs estimate (Algorithm 1 runs)")
    g.add_argument("--sharey", action="store_true", help="one y-range for all five panels")
    _add_output(r, "rho.png")
    r.set_defaults(func=cmd_rho)

    gg = sub.add_parser("gg", help="shear-shear xi+/xi- (paper eqs. 7-8) of a shear catalog",
                        description="xi+ and xi- of a catalog with shears: exact or Algorithm 1 (--n-clusters).",
                        formatter_class=_Formatter)
    _add_input(gg, shear=True)
    g = gg.add_argument_group("shear columns")
    g.add_argument("--g1", default="g1", help="g1 column")
    g.add_argument("--g2", default="g2", help="g2 column")
    _add_binning(gg, paper_defaults=False)
    _add_method(gg)
    _add_output(gg, "xi.png")
    gg.set_defaults(func=cmd_gg)

    nn = sub.add_parser("nn", help="Landy-Szalay omega(theta) (paper eq. 1) with a randoms file or generated randoms",
                        description="Landy-Szalay angular correlation of a catalog against --randoms FILE, or "
                                    "--n-randoms points generated uniformly on the sphere in the data's RA/Dec box.",
                        formatter_class=_Formatter)
    _add_input(nn, shear=False)
    g = nn.add_argument_group("randoms")
    g.add_argument("--randoms", default=None, help="random catalog file (same --ra/--dec column names)")
    g.add_argument("--randoms-hdu", type=_hdu, default=None, help="HDU of the random catalog")
    g.add_argument("--randoms-weight", default=None, help="weight column of the randoms")
    g.add_argument("--n-randoms", type=_int_at_least(2, "randoms need a pair"), default=None, help="generate this many uniform randoms instead")
    g.add_argument("--catalog2", default=None, help="second sample: the cross-correlation (D1D2-D1R2-R1D2+R1R2)/R1R2")
    g.add_argument("--randoms2", default=None, help="randoms of --catalog2 (default: the same randoms)")
    g.add_argument("--estimator", default="landy_szalay", choices=["landy_szalay", "natural", "davis_peebles"],
                   help="DD-2DR+RR over RR, DD/RR-1 or DD/DR-1")
    _add_binning(nn, paper_defaults=False)
    _add_method(nn)
    _add_output(nn, "omega.png")
    nn.set_defaults(func=cmd_nn)

    field_parsers = {}
    for name, (fname, first, second, what) in FIELD_COMMANDS.items():
        fp = sub.add_parser(name, help=what, formatter_class=_Formatter,
                            description=f"{what}: exact or Algorithm 1 (--n-clusters). The positional catalog is the "
                                        f"{first}; --catalog2 the {second} (read with the same column options).")
        _add_input(fp, shear="G" in name.upper())
        g = fp.add_argument_group("second catalog and fields")
        g.add_argument("--catalog2", default=None,
                       help=f"the {second} file" + (" (default: auto-correlation)" if name == "kk" else ""))
        g.add_argument("--hdu2", type=_hdu, default=None, help="HDU of --catalog2")
        g.add_argument("--weight2", default=None, help="weight column of --catalog2")
        if "k" in name:
            g.add_argument("--k", default="k", help="scalar field column")
        else:
            fp.set_defaults(k=None)
        if "g" in name:
            g.add_argument("--g1", default="g1", help="g1 column of the shear catalog")
            g.add_argument("--g2", default="g2", help="g2 column of the shear catalog")
        else:
            fp.set_defaults(g1=None, g2=None)
        if name in ("ng", "nk"):
            g.add_argument("--randoms", default=None, help="random points of the lenses: xi = DG - RG (TreeCorr's rg)")
            g.add_argument("--randoms-hdu", type=_hdu, default=None, help="HDU of the random catalog")
            g.add_argument("--randoms-weight", default=None, help="weight column of the randoms")
        else:
            fp.set_defaults(randoms=None, randoms_hdu=None, randoms_weight=None)
        _add_binning(fp, paper_defaults=False)
        _add_method(fp)
        _add_output(fp, f"{name}.png")
        fp.set_defaults(func=cmd_field)
        field_parsers[name] = fp
    t = sub.add_parser("tau", help="tau0, tau2, tau5 of galaxies against PSF stars (Gatti et al. 2021), "
                                   "optionally the alpha, beta, eta leakage fit",
                       description="tau statistics of a galaxy shear catalog against a star catalog (PSF model "
                                   "ellipticity, residual, size term); with --fit and --npatch also rho0..rho5 and the "
                                   "PSF leakage fit (GLS and emcee) on their joint jackknife covariance.",
                       formatter_class=_Formatter)
    _add_input(t, shear=True)
    g = t.add_argument_group("galaxy shear columns")
    g.add_argument("--g1", default="g1", help="g1 column")
    g.add_argument("--g2", default="g2", help="g2 column")
    g = t.add_argument_group("star catalog")
    g.add_argument("--stars", required=True, help="star catalog file (read with astropy)")
    g.add_argument("--stars-format", default=None, help="astropy format of the star catalog")
    g.add_argument("--stars-hdu", type=_hdu, default=None, help="FITS HDU of the star catalog")
    g.add_argument("--stars-ra", default="ra", help="RA column of the stars")
    g.add_argument("--stars-dec", default="dec", help="Dec column of the stars")
    g.add_argument("--star-columns", default="g1_vignet,g2_vignet,sig_vignet",
                   help="g1,g2,size of the stars (size: sigma, or T with --sizes T)")
    g.add_argument("--model-columns", default="g1_psfex,g2_psfex,sig_psfex", help="g1,g2,size of the PSF model")
    g.add_argument("--sizes", default="sigma", choices=["sigma", "T"], help="size columns hold sigma or T = 2 sigma^2")
    _add_binning(t, paper_defaults=True)
    g = t.add_argument_group("errors and the leakage fit")
    g.add_argument("--backend", default=None, choices=["numpy", "julia", "auto"],
                   help="pair-sum backend (default: COSMOCORR_BACKEND, else auto)")
    g.add_argument("--npatch", type=int, default=None,
                   help="k-means patches on the galaxies (the stars use the same centres) for jackknife errors")
    g.add_argument("--var-method", default=None,
                   help="variance method: shot, jackknife, sample, bootstrap, marked_bootstrap (default: jackknife "
                        "with --npatch, else shot)")
    g.add_argument("--seed", type=int, default=None, help="seed of the patches and the emcee chain")
    g.add_argument("--fit", action="store_true", help="fit alpha, beta, eta (needs --npatch)")
    g.add_argument("--xim", action="store_true", help="fit xi- as well as xi+ (DES Y3); default xi+ (UNIONS)")
    g.add_argument("--nsteps", type=int, default=3000, help="emcee steps per walker (a third is burn-in)")
    _add_output(t, "tau.png")
    t.set_defaults(func=cmd_tau)

    j = sub.add_parser("julia", help="Julia backend: install (then self-test), selftest, status",
                       formatter_class=_Formatter)
    j.add_argument("action", choices=["install", "selftest", "status"],
                   help="install: resolve Julia and CosmoCorr, then run the self-test; selftest: compare every Julia "
                        "function with NumPy and write the stamp 'auto' needs (exit code 1 if it fails); status: "
                        "what 'auto' chooses and why")
    j.add_argument("--reverse-mode", action="store_true",
                   help="with install: also install Zygote and SciMLSensitivity, the reverse-mode (ad='reverse') "
                        "path of the gravity forward model (a Julia package extension; the core install leaves "
                        "them out)")
    j.set_defaults(func=cmd_julia)
    p._subparsers_by_name = {"demo": d, "rho": r, "gg": gg, "nn": nn, "julia": j, "tau": t, **field_parsers}
    return p


def load_config(path):
    """Options from a TOML (or, with PyYAML, YAML) file: a flat table, option names as keys."""
    path = Path(path)
    if not path.is_file():
        raise CLIError(f"--config: file not found: {path}")
    text = path.read_bytes()
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise CLIError("--config: reading YAML needs PyYAML (pip install pyyaml); or use TOML") from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise CLIError(f"--config: {path} is not valid YAML: {' '.join(str(exc).split())}") from None
    else:
        try:
            import tomllib
        except ImportError:  # Python 3.10
            import tomli as tomllib
        try:
            data = tomllib.loads(text.decode())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise CLIError(f"--config: {path} is not valid TOML: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise CLIError(f"--config: {path} must hold a table of option = value")
    return data


def _apply_config(parser, args, argv):
    sub = parser._subparsers_by_name[args.command]
    cfg = load_config(args.config)
    dests = {a.dest: a for a in sub._actions if a.dest not in ("help", "config", "func", "catalog")}
    defaults = {}
    for key, value in cfg.items():
        dest = str(key).replace("-", "_")
        if dest not in dests:
            raise CLIError(f"--config: unknown option {key!r} for 'cosmocorr {args.command}'; options: "
                           f"{', '.join(sorted(dests))}")
        if isinstance(value, list):
            value = ",".join(str(v) for v in value)
        action = dests[dest]
        if action.type is not None and value is not None:
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                raise CLIError(f"--config: {key} = {value!r} is not a valid {action.type.__name__}")
            try:
                value = action.type(str(value) if action.type is _hdu else value)
                if action.type is int and isinstance(cfg[key], float) and not float(cfg[key]).is_integer():
                    raise ValueError
            except (TypeError, ValueError):
                raise CLIError(f"--config: {key} = {cfg[key]!r} is not a valid {action.type.__name__}") from None
        if action.choices is not None and value not in action.choices:
            raise CLIError(f"--config: {key} must be one of {', '.join(map(str, action.choices))}; got {value!r}")
        defaults[dest] = value
    sub.set_defaults(**defaults)
    return parser.parse_args(argv)


def _one_line(exc):
    msg = " ".join(str(exc).split())
    return msg or type(exc).__name__


def main(argv=None):
    """Run the command line; returns the exit code (0, or 2 after a one-line error on stderr)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if getattr(args, "config", None):
            args = _apply_config(parser, args, argv)
        args._argv = argv
        return args.func(args)
    except SystemExit as exc:  # --help / --version
        return exc.code if isinstance(exc.code, int) else 0
    except KeyboardInterrupt:
        sys.stderr.write("cosmocorr: interrupted\n")
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`: stop quietly
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 0
    except Exception as exc:
        if os.environ.get("COSMOCORR_DEBUG"):
            raise
        known = (CLIError, ValueError, TypeError, OSError, ImportError, RuntimeError)
        prefix = "cosmocorr: error: " if isinstance(exc, known) else f"cosmocorr: internal error ({type(exc).__name__}): "
        if isinstance(exc, CLIError) and str(exc).startswith("cosmocorr"):
            prefix = ""
        sys.stderr.write(prefix + _one_line(exc) + "\n")
        return 2


if __name__ == "__main__":
    sys.exit(main())
