"""Command line: ``cosmocorr demo``, ``cosmocorr rho CATALOG.fits ...``, ``cosmocorr julia install``."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

__all__ = ["main"]


def _columns(text, argname):
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 3 or not all(parts):
        raise SystemExit(f"error: {argname} takes three comma-separated column names: g1,g2,sigma (got {text!r})")
    return parts


def _print_table(result, stream=sys.stdout):
    names = list(result)
    stream.write(f"{'theta':>9} " + " ".join(f"{n:>12}" for n in names) + "\n")
    for k in range(result.bins.nbins):
        mr = result["rho1"].meanr[k]
        theta = mr if np.isfinite(mr) else result.bins.rnom[k]
        stream.write(f"{theta:9.3f} " + " ".join(f"{result[n].xip[k]:12.4e}" for n in names) + "\n")


def _write_outputs(result, out_png, out_json, title):
    import matplotlib

    matplotlib.use("Agg")
    from .plotting import plot_rho_statistics

    if out_png:
        fig = plot_rho_statistics(result, title=title)
        fig.savefig(out_png, dpi=120)
        print(f"wrote {out_png}")
    if out_json:
        result.to_json(out_json)
        print(f"wrote {out_json}")


def cmd_rho(args):
    from .api import rho_statistics
    from .sky import Bins, StarCatalog

    g1s, g2s, ss = _columns(args.star_columns, "--star-columns")
    g1m, g2m, sm = _columns(args.model_columns, "--model-columns")
    try:
        stars = StarCatalog.from_fits(args.catalog, ra=args.ra, dec=args.dec, g1_star=g1s, g2_star=g2s,
                                      sigma_star=ss, g1_model=g1m, g2_model=g2m, sigma_model=sm,
                                      w=args.weight, hdu=args.hdu)
        bins = Bins(args.min_sep, args.max_sep, args.nbins, args.spacing)
    except (ValueError, TypeError) as exc:
        raise SystemExit(f"error: {exc}") from None
    result = rho_statistics(stars, bins, backend=args.backend)
    print(f"{len(stars)} stars from {args.catalog}; rho statistics (xi+), {bins}")
    _print_table(result)
    _write_outputs(result, args.out, args.json, Path(args.catalog).name)
    return 0


def cmd_demo(args):
    from .api import rho_statistics
    from .sky import Bins
    from .sky.synthetic import synthetic_star_catalog

    outdir = Path(args.outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    stars = synthetic_star_catalog(n_stars=args.n_stars, seed=args.seed)
    bins = Bins(0.0, 45.0, 8, "linear")
    result = rho_statistics(stars, bins, backend=args.backend)
    print(f"cosmocorr demo: built-in synthetic star catalog, {len(stars)} stars (seed {args.seed}); "
          f"rho1..rho5 in 8 linear bins 0-45 arcmin (naive all-pairs estimator)")
    _print_table(result)
    _write_outputs(result, outdir / "rho_demo.png", outdir / "rho_demo.json", "synthetic star catalog")
    return 0


def cmd_julia(args):
    from .backends import julia_bridge as julia

    if args.action == "install":
        julia.install()
    else:
        info = julia.status()
        print(json.dumps(info, indent=1, default=str) if isinstance(info, dict) else info)
    return 0


def build_parser():
    p = argparse.ArgumentParser(prog="cosmocorr", description=__doc__)
    p.add_argument("--version", action="version", version=f"cosmocorr {__import__('cosmocorr').__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="run rho statistics on a built-in synthetic star catalog")
    d.add_argument("--outdir", default="cosmocorr_demo", help="where to write rho_demo.png/json")
    d.add_argument("--n-stars", type=int, default=610)
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--backend", default=None, choices=["numpy", "julia", "auto"])
    d.set_defaults(func=cmd_demo)

    r = sub.add_parser("rho", help="rho1..rho5 from a FITS star catalog")
    r.add_argument("catalog", help="FITS file with a binary table of stars")
    r.add_argument("--star-columns", default="g1_vignet,g2_vignet,sig_vignet", help="g1,g2,sigma of the stars")
    r.add_argument("--model-columns", default="g1_psfex,g2_psfex,sig_psfex", help="g1,g2,sigma of the PSF model")
    r.add_argument("--ra", default="ra")
    r.add_argument("--dec", default="dec")
    r.add_argument("--weight", default=None, help="optional weight column")
    r.add_argument("--hdu", type=int, default=1)
    r.add_argument("--nbins", type=int, default=8)
    r.add_argument("--min-sep", type=float, default=0.0, help="arcmin")
    r.add_argument("--max-sep", type=float, default=45.0, help="arcmin")
    r.add_argument("--spacing", default="linear", choices=["linear", "log"])
    r.add_argument("--out", default="rho.png", help="figure (PNG); '' for none")
    r.add_argument("--json", default=None, help="write the numbers as JSON")
    r.add_argument("--backend", default=None, choices=["numpy", "julia", "auto"])
    r.set_defaults(func=cmd_rho)

    j = sub.add_parser("julia", help="one-time Julia set-up for the Julia backend")
    j.add_argument("action", choices=["install", "status"])
    j.set_defaults(func=cmd_julia)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
