"""Command line: cosmocorr demo | rho | gg | nn | julia (rho statistics, paper eqs. 2-6; Algorithm 1
and the uncertainty study of sec. 2.3).

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


def _outputs(args, figure_default=True):
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

    name = resolve_backend(args.backend)
    if name == "julia":
        from .backends import julia_bridge

        julia_bridge.require_julia()
    return name


def _bins(args):
    from .sky import Bins

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


def _print_rho(result):
    names = list(result)
    theta = _theta(result["rho1"].meanr, result.bins.rnom)
    cols = ["theta"] + [f"{n}" for n in names]
    has_std = getattr(result["rho1"], "xip_std", None) is not None
    if has_std:
        cols = ["theta"] + [c for n in names for c in (n, f"{n}_std")]
    rows = []
    for k in range(result.bins.nbins):
        vals = [float(theta[k])]
        for n in names:
            vals.append(float(result[n].xip[k]))
            if has_std:
                vals.append(float(result[n].xip_std[k]))
        rows.append(vals)
    _print_rows(cols, rows)


def _method_kwargs(args, func, seed):
    """Algorithm 1 / covariance keywords for an api estimator."""
    kw = {"backend": args.backend}
    if args.n_clusters is not None:
        kw.update(n_clusters=args.n_clusters, n_samples=args.n_samples, assignment=args.assignment, seed=seed,
                  fuzziness=args.fuzziness, progress=args.progress)
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
        estimator = (f"clustering_uncertainty: rho1..rho5, Algorithm 1 with {args.n_clusters} clusters, "
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
                {"label": f"Algorithm 1 mean $\\pm\\ \\sigma_{{epistemic}}$ ({args.n_clusters} clusters)",
                 "values": u.mean, "errors": u.sigma_epistemic, "marker": "o", "color": "C0"},
                {"label": f"resampled mean $\\pm\\ \\sigma_{{aleatoric}}$ ({args.aleatoric or u.method})",
                 "values": u.bootstrap_mean, "errors": u.sigma_aleatoric, "marker": "D", "color": "C1"},
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
    print(f"{len(stars)} stars from {args.catalog}; rho1..rho5 (xi+), {estimator}; {bins}")
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
    _print_rows(["theta", "xip", "sigma_xip", "xim", "sigma_xim", "npairs"], rows)
    columns = {"ra": args.ra, "dec": args.dec, "g1": args.g1, "g2": args.g2, "w": args.weight}
    prov = _provenance(args, backend, [args.catalog], columns, seed, estimator, _settings(args))
    if args.out:
        _mpl()
        from .plotting import plot_xi

        fig = plot_xi(theta, result.xip, result.xim, err_p, err_m, scale=args.scale, title=Path(args.catalog).name,
                      label=estimator.split(": ")[1], xscale=_xscale(args))
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
    result = api.landy_szalay(data, randoms, bins=bins, **_method_kwargs(args, api.landy_szalay, seed))
    estimator = _estimator_name(result, args, "landy_szalay")
    print(f"{len(data)} objects from {args.catalog}, {rdesc}; omega(theta), {estimator}; {bins}")
    theta = _theta(result.meanr, bins.rnom)
    err = _sigma(result, "xi")
    rows = [[float(theta[k]), float(result.xi[k]), float(err[k]) if err is not None else float("nan"),
             float(result.dd_npairs[k]), float(result.rr_npairs[k])] for k in range(bins.nbins)]
    _print_rows(["theta", "xi", "sigma_xi", "DD npairs", "RR npairs"], rows)
    columns = {"ra": args.ra, "dec": args.dec, "w": args.weight, "randoms_w": args.randoms_weight}
    prov = _provenance(args, backend, inputs, columns, seed, estimator,
                       _settings(args, n_randoms=args.n_randoms, randoms=args.randoms))
    if args.out:
        _mpl()
        import matplotlib.pyplot as plt

        from .plotting import THETA_LABEL, auto_linthresh, plot_rho, set_xscale, sign_legend_handles

        fig, ax = plt.subplots(figsize=(5.2, 4.2), constrained_layout=True)
        line = plot_rho(ax, theta, result.xi, yerr=err, label=estimator.split(": ")[1], scale=args.scale,
                        linthresh=auto_linthresh(result.xi) if args.scale == "symlog" else None)
        ax.set_xlabel(THETA_LABEL)
        set_xscale(ax, _xscale(args))
        ax.set_ylabel(r"$\omega(\theta)$ (dimensionless)" if args.scale != "log" else r"$|\omega(\theta)|$")
        ax.set_title(f"Landy-Szalay: {Path(args.catalog).name}")
        ax.grid(True, alpha=0.25)
        ax.legend(handles=[line] + sign_legend_handles(), fontsize="small")
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
    for p in (png, js):
        if p.exists() and not args.overwrite:
            raise CLIError(f"output {p} exists; pass --overwrite to replace it (or choose another --outdir)")
    backend = _backend(args)
    stars = synthetic_star_catalog(n_stars=args.n_stars, seed=args.seed)
    bins = Bins(0.0, 45.0, 8, "linear")
    result = rho_statistics(stars, bins, backend=args.backend)
    estimator = "rho_statistics: naive all-pairs estimator"
    print(f"cosmocorr demo: built-in synthetic star catalog, {len(stars)} stars (seed {args.seed}); "
          f"rho1..rho5 in 8 linear bins 0-45 arcmin (naive all-pairs estimator)")
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
            julia.install()
        print("Julia self-test: every Julia function once against the NumPy reference ...")
        stamp = julia.selftest(_gravity_selftest_cases())
        print(f"{'passed' if stamp['passed'] else 'FAILED'}; stamp written to {julia.stamp_path()}")
        print(f"backend='auto' now uses {'julia' if julia.auto_ready() else 'numpy'} ({julia.auto_reason()})")
        return 0 if stamp["passed"] else 1
    print(json.dumps(julia.status(), indent=1, default=str))
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
    g.add_argument("--ok-flag", type=int, default=0, help="flag bits that are acceptable")
    g.add_argument("--drop-masked", action="store_true",
                   help="drop rows with masked (missing) values instead of stopping with an error")
    if shear:
        g.add_argument("--flip-g1", action="store_true", help="negate g1 (and the model's g1) on input")
        g.add_argument("--flip-g2", action="store_true", help="negate g2 (and the model's g2) on input")
    else:
        p.set_defaults(flip_g1=False, flip_g2=False)


def _add_binning(p):
    g = p.add_argument_group("separation bins (arcmin)")
    g.add_argument("--nbins", type=int, default=8, help="number of bins")
    g.add_argument("--min-sep", type=float, default=0.0, help="smallest separation, arcmin")
    g.add_argument("--max-sep", type=float, default=45.0, help="largest separation, arcmin")
    g.add_argument("--spacing", default="linear", choices=["linear", "log"], help="bin spacing")


def _add_method(p):
    g = p.add_argument_group("estimator (paper Algorithm 1) and errors")
    g.add_argument("--backend", default=None, choices=["numpy", "julia", "auto"],
                   help="pair-sum backend (default: COSMOCORR_BACKEND, else auto)")
    g.add_argument("--n-clusters", type=int, default=None,
                   help="run Algorithm 1 with this many fuzzy c-means clusters (default: exact all-pairs estimator)")
    g.add_argument("--n-samples", type=int, default=10, help="sampled cluster assignments (Algorithm 1)")
    g.add_argument("--assignment", default="sample", choices=["sample", "greedy"],
                   help="sampled (eq. 19) or greedy argmax assignment")
    g.add_argument("--fuzziness", type=float, default=2.0, help="fuzzy c-means exponent m")
    g.add_argument("--seed", type=int, default=None,
                   help="seed of every random step (default: drawn at random and recorded in the outputs)")
    g.add_argument("--npatch", type=int, default=None, help="number of k-means patches for jackknife/bootstrap errors")
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
    g.add_argument("--out", default=default_out, help="figure: .png, .pdf or .svg; '' for none")
    g.add_argument("--dpi", type=float, default=200, help="figure resolution (PNG)")
    g.add_argument("--scale", default="symlog", choices=["symlog", "log", "linear"],
                   help="y axis: symlog (signed, whole error bars), log (|value|, paper style) or linear")
    g.add_argument("--json", default=None, help="write the result as JSON (with provenance)")
    g.add_argument("--fits-out", default=None, help="write the result as FITS (TreeCorr's columns and header)")
    g.add_argument("--ascii-out", default=None, help="write the result as ASCII (TreeCorr's layout)")
    g.add_argument("--overwrite", action="store_true", help="replace existing output files")
    g.add_argument("--config", default=None,
                   help="TOML (or YAML) file of options, keys as the option names (n_clusters = 50); "
                        "the command line wins")


def build_parser():
    p = _Parser(prog="cosmocorr", description=__doc__, formatter_class=_Formatter)
    p.add_argument("--version", action="version", version=f"cosmocorr {__import__('cosmocorr').__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p._subparsers_by_name = {}

    d = sub.add_parser("demo", help="rho statistics of a built-in synthetic star catalog (no data needed)",
                       description="rho1..rho5 of a seeded synthetic star catalog in 8 linear bins 0-45 arcmin; "
                                   "writes rho_demo.png and rho_demo.json to --outdir.", formatter_class=_Formatter)
    d.add_argument("--outdir", default="cosmocorr_demo", help="where to write rho_demo.png and rho_demo.json")
    d.add_argument("--n-stars", type=int, default=610, help="number of synthetic stars")
    d.add_argument("--seed", type=int, default=0, help="seed of the synthetic catalog")
    d.add_argument("--backend", default=None, choices=["numpy", "julia", "auto"],
                   help="pair-sum backend (default: COSMOCORR_BACKEND, else auto)")
    d.add_argument("--dpi", type=float, default=200, help="figure resolution")
    d.add_argument("--overwrite", action="store_true", help="replace existing outputs in --outdir")
    d.add_argument("--config", default=None, help="TOML (or YAML) file of options")
    d.set_defaults(func=cmd_demo)

    r = sub.add_parser("rho", help="rho1..rho5 (paper eqs. 2-6) of a star catalog, exact or Algorithm 1",
                       description="rho statistics of stars with PSF-model ellipticities and sizes: the exact "
                                   "all-pairs estimator, Algorithm 1 (--n-clusters), or the epistemic vs aleatoric "
                                   "uncertainty study (--n-clusters with --n-bootstrap).", formatter_class=_Formatter)
    _add_input(r, shear=True)
    g = r.add_argument_group("star columns")
    g.add_argument("--star-columns", default="g1_vignet,g2_vignet,sig_vignet",
                   help="g1,g2,size of the stars (size: sigma, or T with --sizes T)")
    g.add_argument("--model-columns", default="g1_psfex,g2_psfex,sig_psfex", help="g1,g2,size of the PSF model")
    g.add_argument("--sizes", default="sigma", choices=["sigma", "T"], help="size columns hold sigma or T = 2 sigma^2")
    _add_binning(r)
    _add_method(r)
    g = r.add_argument_group("uncertainty study (paper sec. 2.3, figs. 8, 14-17)")
    g.add_argument("--n-bootstrap", type=int, default=None,
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
    _add_binning(gg)
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
    g.add_argument("--n-randoms", type=int, default=None, help="generate this many uniform randoms instead")
    _add_binning(nn)
    _add_method(nn)
    _add_output(nn, "omega.png")
    nn.set_defaults(func=cmd_nn)

    j = sub.add_parser("julia", help="Julia backend: install (then self-test), selftest, status",
                       formatter_class=_Formatter)
    j.add_argument("action", choices=["install", "selftest", "status"],
                   help="install: resolve Julia and CosmoCorr, then run the self-test; selftest: compare every Julia "
                        "function with NumPy and write the stamp 'auto' needs (exit code 1 if it fails); status: "
                        "what 'auto' chooses and why")
    j.set_defaults(func=cmd_julia)
    p._subparsers_by_name = {"demo": d, "rho": r, "gg": gg, "nn": nn, "julia": j}
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
