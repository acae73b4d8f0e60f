"""Benchmark: the new exact kernels against their references, same process.

1. ``cosmocorr.tau_statistics`` (tau0, tau2, tau5: three galaxy-star GG cross sums) against
   TreeCorr ``brute=True`` (three ``GGCorrelation.process(gal, star_field)``), for a few galaxy
   numbers against 610 stars (COSMOS-Web positions when the shared data is present, else the
   synthetic PSF field), 8 log bins 1-30 arcmin.
2. ``cosmocorr.ia.wgp`` / ``wpp`` against halotools' ``gi_plus_projected`` / ``ii_plus_projected``
   on the same periodic mock (uniform points, random orientations), num_threads=1 for halotools.

Every timing is repeated (interleaved), the best kept, and the spread of the per-repeat ratios
printed; wall and CPU time (time.process_time) are both given because the machine may be shared.

    python benchmarks/bench_tau_ia.py [--galaxies 2000 10000 30000] [--points 5000 20000] [--repeat 3]
"""
import argparse
import os
import time
from pathlib import Path

import numpy as np
import treecorr

import cosmocorr as cc
from cosmocorr.sky.synthetic import leaky_galaxies_for_stars, synthetic_psf_leakage

DATA = Path(os.environ.get("COSMOCORR_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data")) / "cosmos_web" / "f115w_validation_psfex.fits"
BINS = cc.Bins(1.0, 30.0, 8, spacing="log")


def timed(fn):
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - t0, time.process_time() - c0, out


def best(fns, repeat):
    """Interleaved repeats of each function; best wall/cpu of each and the per-repeat wall ratios."""
    walls = [[] for _ in fns]
    cpus = [[] for _ in fns]
    for _ in range(repeat):
        for k, fn in enumerate(fns):
            w, c, _ = timed(fn)
            walls[k].append(w)
            cpus[k].append(c)
    ratios = np.array(walls[0]) / np.array(walls[1])
    return [min(w) for w in walls], [min(c) for c in cpus], ratios


def bench_tau(sizes, repeat):
    print("tau statistics (3 GG cross sums) vs TreeCorr brute=True, 8 log bins 1-30 arcmin, num_threads=1")
    print(f"{'N_gal':>7} {'N_star':>6} {'cosmocorr s':>12} {'TreeCorr s':>11} {'ratio wall':>11} {'ratio cpu':>10} "
          f"{'ratio spread':>14}")
    for n in sizes:
        if DATA.exists():
            stars = cc.StarCatalog.from_fits(DATA)
            gal = leaky_galaxies_for_stars(stars, n, seed=n)
            src = "COSMOS-Web stars"
        else:
            gal, stars, _ = synthetic_psf_leakage(n, 610, seed=n)
            src = "synthetic stars"
        f = stars.fields()
        gcat = treecorr.Catalog(ra=gal.ra, dec=gal.dec, g1=gal.g1, g2=gal.g2, ra_units="deg", dec_units="deg")
        scats = [treecorr.Catalog(ra=stars.ra, dec=stars.dec, g1=f[k].real, g2=f[k].imag, ra_units="deg",
                                  dec_units="deg") for k in ("em", "de", "edt")]

        def tc():
            for sc in scats:
                gg = treecorr.GGCorrelation(min_sep=1.0, max_sep=30.0, nbins=8, sep_units="arcmin", brute=True)
                gg.process(gcat, sc, metric="Arc", num_threads=1)

        def ours():
            cc.tau_statistics(gal, stars, BINS, num_threads=1)

        (w_ours, w_tc), (c_ours, c_tc), ratios = best([ours, tc], repeat)
        print(f"{n:7d} {len(stars):6d} {w_ours:12.3f} {w_tc:11.3f} {w_ours / w_tc:11.2f} {c_ours / c_tc:10.2f} "
              f"{ratios.min():6.2f}-{ratios.max():.2f}   ({src})")


def bench_ia(sizes, repeat):
    from halotools.mock_observables import gi_plus_projected, ii_plus_projected

    print("\nprojected IA vs halotools (num_threads=1), periodic box 100 Mpc/h, 10 log r_p bins 0.1-20, pi_max 20")
    print(f"{'N':>7} {'stat':>5} {'cosmocorr s':>12} {'halotools s':>12} {'ratio wall':>11} {'ratio cpu':>10} "
          f"{'ratio spread':>14} {'max rel diff':>13}")
    rp = np.logspace(-1, np.log10(20.0), 11)
    for n in sizes:
        rng = np.random.default_rng(n)
        x = rng.uniform(0, 100.0, (n, 3))
        o = rng.normal(size=(n, 2))
        e = rng.uniform(0, 0.4, n)
        for name, ours, ref in (
            ("w_g+", lambda: cc.ia.wgp(x, o, e, x, rp, 20.0, period=100.0),
             lambda: gi_plus_projected(x, o, e, x, rp, 20.0, period=100.0)),
            ("w_++", lambda: cc.ia.wpp(x, o, e, x, o, e, rp, 20.0, period=100.0),
             lambda: ii_plus_projected(x, o, e, x, o, e, rp, 20.0, period=100.0)),
        ):
            (w_o, w_r), (c_o, c_r), ratios = best([ours, ref], repeat)
            diff = np.max(np.abs(ours() / ref() - 1))
            print(f"{n:7d} {name:>5} {w_o:12.3f} {w_r:12.3f} {w_o / w_r:11.2f} {c_o / c_r:10.2f} "
                  f"{ratios.min():6.2f}-{ratios.max():.2f} {diff:13.1e}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--galaxies", type=int, nargs="+", default=[2000, 10000, 30000])
    ap.add_argument("--points", type=int, nargs="+", default=[5000, 20000])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    bench_tau(args.galaxies, args.repeat)
    bench_ia(args.points, args.repeat)
    print("\n(shared machine: wall times are noisy; the CPU-time ratio is the steadier one)")


if __name__ == "__main__":
    main()
