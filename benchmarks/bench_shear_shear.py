"""Benchmark: cosmocorr.shear_shear (NumPy backend) against TreeCorr brute force, same run.

For N = 610 (the COSMOS-Web catalog when ../shared/data is present, else the synthetic one),
10,000 and 50,000 objects over a COSMOS-sized field, 8 linear bins 0-45 arcmin (the paper's
rho binning). Prints the time ratio (cosmocorr / TreeCorr brute=True), the largest relative
difference of xi+ over the bins, and the peak memory cosmocorr allocated (tracemalloc).

    python benchmarks/bench_shear_shear.py [--sizes 610 10000 50000] [--repeat 3]
"""
import argparse
import time
import tracemalloc
from pathlib import Path

import numpy as np
import treecorr

import cosmocorr as cc
from cosmocorr.sky.synthetic import synthetic_shear_catalog, synthetic_star_catalog

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cosmos_web" / "f115w_validation_psfex.fits"


def catalog(n):
    if n == 610:
        stars = cc.StarCatalog.from_fits(DATA) if DATA.exists() else synthetic_star_catalog(610, seed=0)
        return cc.Catalog(stars.ra, stars.dec, stars.de.real, stars.de.imag), ("COSMOS-Web" if DATA.exists() else "synthetic")
    return synthetic_shear_catalog(n, seed=n, width_deg=0.77), "synthetic"


def best_time(fn, repeat):
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[610, 10_000, 50_000])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    bins = cc.Bins(0.0, 45.0, 8)
    rows = []
    for n in args.sizes:
        cat, kind = catalog(n)
        rep = args.repeat if n <= 10_000 else 1
        tc = treecorr.Catalog(ra=cat.ra, dec=cat.dec, g1=cat.g1, g2=cat.g2, w=cat.w, ra_units="deg", dec_units="deg")

        def run_tc():
            gg = treecorr.GGCorrelation(min_sep=0.0, max_sep=45.0, nbins=8, bin_type="Linear", sep_units="arcmin",
                                        brute=True, metric="Arc")
            gg.process(tc)
            return gg

        t_tc, gg = best_time(run_tc, rep)
        t_cc, res = best_time(lambda: cc.shear_shear(cat, bins=bins, backend="numpy"), rep)
        tracemalloc.start()
        cc.shear_shear(cat, bins=bins, backend="numpy")
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        rel = np.max(np.abs(res.xip - gg.xip) / np.abs(gg.xip))
        assert np.array_equal(res.npairs, gg.npairs)
        rows.append((n, kind, t_cc, t_tc, t_cc / t_tc, rel, peak))
        print(f"N={n}: cosmocorr {t_cc:.3f}s, TreeCorr brute {t_tc:.3f}s", flush=True)
    print()
    print("| N | catalog | cosmocorr (s) | TreeCorr brute (s) | ratio | max rel. diff xi+ | peak memory (MiB) |")
    print("|---|---|---|---|---|---|---|")
    for n, kind, a, b, r, rel, peak in rows:
        print(f"| {n:,} | {kind} | {a:.3f} | {b:.3f} | {r:.2f} | {rel:.1e} | {peak:.0f} |")


if __name__ == "__main__":
    main()
