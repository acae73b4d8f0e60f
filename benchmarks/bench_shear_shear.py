"""Benchmark: the NumPy pair kernel and cosmocorr.shear_shear against TreeCorr, same process (issue 17).

For N = 610 (the COSMOS-Web catalog when COSMOCORR_SHARED_DATA has it, else the synthetic one),
10,000, 20,000 and 50,000 objects over a 1 deg x 1 deg field, 8 linear bins 0.5-45 arcmin.
Every timing is repeated (interleaved: TreeCorr, then cosmocorr, then again), the best is kept
and the spread of the per-repeat ratios is printed, because the machine may be shared. Wall
time and CPU time (all threads of this process) are both measured: on a busy machine the CPU
time ratio is the steadier one.

Columns: the kernel alone (``pair_sums``, what the backend switch dispatches to), the full
``shear_shear`` estimator (kernel plus whatever the estimator adds, e.g. the ``wlogr`` pass),
TreeCorr ``brute=True`` and the tree code (default ``bin_slop``), the ratio kernel / brute,
the peak memory the kernel allocated (tracemalloc), and, with ``--reference-kernels``, the same
kernel from another file (e.g. the previous version, ``git show HEAD:cosmocorr/backends/numpy_kernels.py
> /tmp/old_kernels.py``) for a before/after in one process. A second table times rho1..rho5
(``rho_pair_sums``: one pass for all five) against one shear-shear kernel call on the same stars.

    python benchmarks/bench_shear_shear.py [--sizes 610 10000 20000 50000] [--repeat 3]
        [--brute-max 50000] [--reference-kernels /tmp/old_kernels.py] [--reference-max 20000]
"""
import argparse
import importlib.util
import os
import time
import tracemalloc
from pathlib import Path

import numpy as np
import treecorr

import cosmocorr as cc
from cosmocorr._parallel import n_threads
from cosmocorr.backends import numpy_kernels as nk
from cosmocorr.estimators import rho_pair_sums
from cosmocorr.sky.synthetic import synthetic_shear_catalog, synthetic_star_catalog

# reference data through COSMOCORR_SHARED_DATA (default ../shared/data), as for the tests and examples
DATA = Path(os.environ.get("COSMOCORR_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data")) / "cosmos_web" / "f115w_validation_psfex.fits"
BINS = cc.Bins(0.5, 45.0, 8)


def catalog(n):
    if n == 610 and DATA.exists():
        stars = cc.StarCatalog.from_fits(DATA)
        return cc.Catalog(stars.ra, stars.dec, stars.de.real, stars.de.imag), "COSMOS-Web"
    return synthetic_shear_catalog(n, seed=n, width_deg=1.0), "synthetic"


def timed(fn):
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - t0, time.process_time() - c0, out


def load_kernels(path):
    spec = importlib.util.spec_from_file_location("cosmocorr.backends._reference_kernels", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def kernel_args(cat):
    return (cat.xyz, cat.w, cat.g, cat.xyz, cat.w, cat.g, BINS.min_sep, BINS.max_sep, BINS.nbins, False, True)


def spread(ratios):
    return f"{min(ratios):.2f}-{max(ratios):.2f}" if len(ratios) > 1 else f"{ratios[0]:.2f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[610, 10_000, 20_000, 50_000])
    ap.add_argument("--repeat", type=int, default=3, help="repeats for N <= 20,000 (one above)")
    ap.add_argument("--brute-max", type=int, default=50_000, help="skip TreeCorr brute force above this N")
    ap.add_argument("--reference-kernels", type=Path, default=None, help="another numpy_kernels.py to time")
    ap.add_argument("--reference-max", type=int, default=20_000, help="largest N for the reference kernels")
    ap.add_argument("--rho-max", type=int, default=20_000, help="largest N for the rho table")
    args = ap.parse_args()
    ref = load_kernels(args.reference_kernels) if args.reference_kernels else None
    print(f"threads: {n_threads()}, bins {BINS.min_sep}-{BINS.max_sep} arcmin x {BINS.nbins} linear, "
          f"1 deg field")
    rows, rho_rows = [], []
    for n in args.sizes:
        cat, kind = catalog(n)
        rep = args.repeat if n <= 20_000 else 1
        tc = treecorr.Catalog(ra=cat.ra, dec=cat.dec, g1=cat.g1, g2=cat.g2, w=cat.w, ra_units="deg", dec_units="deg")

        def run_tc(brute):
            gg = treecorr.GGCorrelation(min_sep=BINS.min_sep, max_sep=BINS.max_sep, nbins=BINS.nbins,
                                        bin_type="Linear", sep_units="arcmin", brute=brute, metric="Arc")
            gg.process(tc)
            return gg

        brute = n <= args.brute_max
        t = {k: [] for k in ("tc", "tc_cpu", "k", "k_cpu", "ss", "ref")}
        gg = res = None
        for _ in range(rep):
            if brute:
                w, c, gg = timed(lambda: run_tc(True))
                t["tc"].append(w)
                t["tc_cpu"].append(c)
            w, c, sums = timed(lambda: nk.pair_sums(*kernel_args(cat)))
            t["k"].append(w)
            t["k_cpu"].append(c)
            w, _, res = timed(lambda: cc.shear_shear(cat, bins=BINS, backend="numpy"))
            t["ss"].append(w)
        if ref is not None and n <= args.reference_max:
            for _ in range(1 if n >= 10_000 else rep):
                w, _, old = timed(lambda: ref.pair_sums(*kernel_args(cat)))
                t["ref"].append(w)
            assert np.array_equal(old["npairs"], sums["npairs"])
        t_tree, _, _ = timed(lambda: run_tc(False))
        tracemalloc.start()
        nk.pair_sums(*kernel_args(cat))
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        if brute:
            rel = np.max(np.abs(res.xip - gg.xip) / np.abs(gg.xip))
            same = np.array_equal(res.npairs, gg.npairs)
            ratios = [a / b for a, b in zip(t["k"], t["tc"])]
            cpu_ratios = [a / b for a, b in zip(t["k_cpu"], t["tc_cpu"])]
            tc_s = f"{min(t['tc']):.3f}"
            ratio_s = f"{min(t['k']) / min(t['tc']):.2f} ({spread(ratios)})"
            cpu_s = f"{min(t['k_cpu']) / min(t['tc_cpu']):.2f} ({spread(cpu_ratios)})"
            ss_s = f"{min(t['ss']) / min(t['tc']):.2f}"
            chk = f"{'yes' if same else 'NO'} / {rel:.1e}"
        else:
            tc_s = ratio_s = cpu_s = ss_s = "skipped"
            chk = "-"
        ref_s = f"{min(t['ref']):.2f} ({min(t['ref']) / min(t['k']):.1f}x)" if t["ref"] else "-"
        rows.append((n, kind, f"{min(t['k']):.3f}", f"{min(t['ss']):.3f}", tc_s, ratio_s, cpu_s, ss_s,
                     f"{t_tree:.3f}", ref_s, chk, f"{peak:.0f}"))
        print(f"N={n}: kernel {min(t['k']):.3f}s, shear_shear {min(t['ss']):.3f}s, TreeCorr brute {tc_s}s, "
              f"tree {t_tree:.3f}s, reference {ref_s}", flush=True)
        if n <= args.rho_max:
            stars = synthetic_star_catalog(n, seed=n, width_deg=1.0)
            sc = stars.catalog
            one = lambda: nk.pair_sums(sc.xyz, sc.w, stars.fields()["de"], sc.xyz, sc.w, stars.fields()["de"],  # noqa: E731
                                       BINS.min_sep, BINS.max_sep, BINS.nbins, False, True, logr=True)
            t1, t5 = [], []
            for _ in range(rep):
                t1.append(timed(one)[0])
                t5.append(timed(lambda: rho_pair_sums(stars, BINS, backend="numpy"))[0])
            rr = [a / b for a, b in zip(t5, t1)]
            rho_rows.append((n, f"{min(t1):.3f}", f"{min(t5):.3f}", f"{min(t5) / min(t1):.2f} ({spread(rr)})"))
    print()
    print("| N | catalog | kernel (s) | shear_shear (s) | TreeCorr brute (s) | ratio kernel/brute, wall (spread) "
          "| ratio, CPU time (spread) | ratio shear_shear/brute | TreeCorr tree (s) | reference kernel (s, slower by) "
          "| npairs identical / max rel. diff xi+ | peak memory (MiB) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print("| " + f"{row[0]:,} | " + " | ".join(row[1:]) + " |")
    if rho_rows:
        print()
        print("| N stars | one shear-shear kernel (s) | rho1..rho5, one pass (s) | ratio (spread) |")
        print("|---|---|---|---|")
        for n, a, b, r in rho_rows:
            print(f"| {n:,} | {a} | {b} | {r} |")


if __name__ == "__main__":
    main()
