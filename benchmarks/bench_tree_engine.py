"""Benchmark: the cost of cosmocorr's tree engine over calling TreeCorr directly.

``cc.shear_shear(..., method="tree")`` hands the catalog to TreeCorr (cosmocorr.backends.tree)
and reads its raw sums back; this prints its CPU and wall time against TreeCorr's own
``GGCorrelation.process`` on the same objects and settings (TreeCorr's default slops, 10 log
bins 1-60 arcmin, ``metric="Arc"``), in the same process, without and with 16 jackknife patches,
for several seeds; the ratio column is cosmocorr / TreeCorr (median and range over the seeds).

    python benchmarks/bench_tree_engine.py [--n 10000 100000] [--seeds 0 1 2] [--threads 2]
"""
import argparse
import time

import numpy as np
import treecorr

import cosmocorr as cc


def catalog(n, seed, npatch=None):
    """Uniform positions on a 2 x 2 deg field (RA 150, Dec 2), Gaussian shapes, weights 0.5-1.5."""
    rng = np.random.default_rng(seed)
    ra = 149.0 + 2.0 * rng.uniform(0, 1, n)
    dec = np.degrees(np.arcsin(rng.uniform(np.sin(np.radians(1.0)), np.sin(np.radians(3.0)), n)))
    return cc.Catalog(ra, dec, rng.normal(0, 0.26, n), rng.normal(0, 0.26, n), rng.uniform(0.5, 1.5, n),
                      npatch=npatch, patch_seed=seed)


def timed(fn):
    c0, t0 = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.process_time() - c0, time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    bins = cc.Bins(1.0, 60.0, 10, "log")
    print(f"treecorr {treecorr.__version__}, {args.threads} threads; times in s (CPU = process_time over all "
          f"threads); ratio = cosmocorr / TreeCorr, median [min, max] over seeds {args.seeds}")
    print("| N | patches | cosmocorr tree CPU | TreeCorr CPU | CPU ratio | wall ratio | max rel. diff xi+ |")
    print("|---|---|---|---|---|---|---|")
    for n in args.n:
        for npatch in (None, 16):
            rows = []
            for seed in args.seeds:
                cat = catalog(n, seed, npatch)
                vm = "shot" if npatch is None else "jackknife"
                ours, c_ours, w_ours = timed(lambda: cc.shear_shear(cat, bins=bins, method="tree", var_method=vm,
                                                                    num_threads=args.threads))

                def direct():
                    kw = dict(ra=cat.ra, dec=cat.dec, g1=cat.g1, g2=cat.g2, w=cat.w, ra_units="deg",
                              dec_units="deg")
                    if npatch is not None:
                        kw["patch"] = cat.patch
                    gg = treecorr.GGCorrelation(min_sep=1.0, max_sep=60.0, nbins=10, bin_type="Log",
                                                sep_units="arcmin", metric="Arc", var_method=vm,
                                                cross_patch_weight="simple")
                    gg.process(treecorr.Catalog(**kw), num_threads=args.threads)
                    return gg

                gg, c_tc, w_tc = timed(direct)
                diff = np.max(np.abs(ours.xip - gg.xip) / np.max(np.abs(gg.xip)))
                rows.append((c_ours, c_tc, c_ours / c_tc, w_ours / w_tc, diff))
            r = np.array(rows)
            med = np.median(r, axis=0)
            print(f"| {n:,} | {npatch or '-'} | {med[0]:.2f} | {med[1]:.2f} | {med[2]:.2f} [{r[:, 2].min():.2f}, "
                  f"{r[:, 2].max():.2f}] | {med[3]:.2f} [{r[:, 3].min():.2f}, {r[:, 3].max():.2f}] "
                  f"| {r[:, 4].max():.1e} |", flush=True)


if __name__ == "__main__":
    main()
