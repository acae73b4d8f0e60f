"""Benchmark: the exact NG, NK, KK (auto) and KG kernels against TreeCorr brute force, same process (issue 24).

Each new kernel (``cosmocorr.backends.numpy_kernels.field_pair_sums``, what ``count_shear``,
``count_scalar``, ``scalar_scalar`` and ``scalar_shear`` run) against TreeCorr's
``NGCorrelation`` etc. with ``brute=True``, ``metric="Arc"`` on the same objects and bins (N
lenses and N sources over a 1 deg x 1 deg field, 8 linear bins 0.5-45 arcmin, weights and fields
from ``--seed``). Timings are interleaved (TreeCorr, then cosmocorr, ``--repeat`` times); the best
of each is kept and the spread of the per-repeat ratios printed, because the machine may be
shared. Both wall time and CPU time (all threads of this process, ``time.process_time``) are
measured: on a busy machine the CPU-time ratio is the steadier one. The bar is a CPU-time ratio
<= 2 (as for shear-shear, ``benchmarks/bench_shear_shear.py``). The last columns check the
results: npairs identical, and the largest difference of xi relative to the sum of |terms| per
bin (TreeCorr keeps w*k and w*g in single precision, so ~1e-8 on these float64 inputs).

    python benchmarks/bench_corr_types.py [--sizes 2000 10000 20000] [--repeat 3] [--seed 1]
"""
import argparse
import time

import numpy as np
import treecorr

import cosmocorr as cc
from cosmocorr._parallel import n_threads
from cosmocorr.backends import numpy_kernels as nk

BINS = cc.Bins(0.5, 45.0, 8)
TYPES = {"NG": ("NGCorrelation", "N", "G", "spin2"), "NK": ("NKCorrelation", "N", "K", "scalar"),
         "KK": ("KKCorrelation", "K", "K", "scalar"), "KG": ("KGCorrelation", "K", "G", "spin2")}


def catalogs(n, seed):
    rng = np.random.default_rng(seed)

    def one():
        ra, dec = rng.uniform(150.0, 151.0, n), rng.uniform(2.0, 3.0, n)
        return cc.Catalog(ra, dec, rng.normal(0, 0.25, n), rng.normal(0, 0.25, n), rng.uniform(0.5, 1.5, n),
                          k=rng.normal(0.0, 1.0, n))
    return one(), one()


def timed(fn):
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - t0, time.process_time() - c0, out


def field(cat, letter):
    return {"N": np.ones(cat.nobj), "K": cat.k, "G": cat.g}[letter]


def tc_catalog(cat, letter):
    kw = dict(ra=cat.ra, dec=cat.dec, w=cat.w, ra_units="deg", dec_units="deg")
    if letter == "K":
        kw["k"] = cat.k
    elif letter == "G":
        kw.update(g1=cat.g1, g2=cat.g2)
    return treecorr.Catalog(**kw)


def spread(r):
    return f"{min(r):.2f}-{max(r):.2f}" if len(r) > 1 else f"{r[0]:.2f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[2_000, 10_000, 20_000])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    print(f"threads: {n_threads()}, bins {BINS.min_sep}-{BINS.max_sep} arcmin x {BINS.nbins} linear, 1 deg field, "
          f"seed {args.seed}")
    rows = []
    for n in args.sizes:
        c1, c2 = catalogs(n, args.seed)
        for name, (cls, l1, l2, kind) in TYPES.items():
            auto = name == "KK"
            b = c1 if auto else c2
            t1 = tc_catalog(c1, l1)
            t2 = None if auto else tc_catalog(b, l2)
            f1, f2 = field(c1, l1), field(b, l2)

            def run_tc():
                corr = getattr(treecorr, cls)(min_sep=BINS.min_sep, max_sep=BINS.max_sep, nbins=BINS.nbins,
                                              bin_type="Linear", sep_units="arcmin", brute=True, metric="Arc")
                corr.process(t1) if auto else corr.process(t1, t2)
                return corr

            def run_cc():
                return nk.field_pair_sums(c1.xyz, c1.w, f1, b.xyz, b.w, f2, kind, BINS.min_sep, BINS.max_sep,
                                          BINS.nbins, False, auto, logr=True)

            tw, tcpu, cw, ccpu = [], [], [], []
            for _ in range(args.repeat):
                w, c, tc = timed(run_tc)
                tw.append(w)
                tcpu.append(c)
                w, c, sums = timed(run_cc)
                cw.append(w)
                ccpu.append(c)
            # |terms| per bin: the same kernel on |fields|, the scale of the sums' rounding
            scale = nk.field_pair_sums(c1.xyz, c1.w, np.abs(f1), b.xyz, b.w, np.abs(f2), "scalar", BINS.min_sep,
                                       BINS.max_sep, BINS.nbins, False, auto)["xi"]
            diff = np.max(np.abs(sums["xi"] - tc.xi * tc.weight) / scale)
            same = np.array_equal(sums["npairs"], tc.npairs)
            rw = [a / b_ for a, b_ in zip(cw, tw)]
            rc = [a / b_ for a, b_ in zip(ccpu, tcpu)]
            rows.append((f"{n:,}", name + (" (auto)" if auto else ""), f"{min(tw):.3f}", f"{min(cw):.3f}",
                         f"{min(cw) / min(tw):.2f} ({spread(rw)})", f"{min(ccpu) / min(tcpu):.2f} ({spread(rc)})",
                         f"{'yes' if same else 'NO'} / {diff:.1e}"))
            print(f"N={n} {name}: TreeCorr brute {min(tw):.3f}s, cosmocorr {min(cw):.3f}s", flush=True)
    print()
    print("| N (each catalog) | type | TreeCorr brute (s) | cosmocorr kernel (s) | ratio, wall (spread) "
          "| ratio, CPU time (spread) | npairs identical / max diff xi (rel. to sum abs terms) |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
