"""Benchmark: per-object derivatives of the soft xi+- (issue 25) against the value pass, same process.

For each N: the value pass (``soft_shear_shear`` without tangents), the VJP (``soft_shear_shear_vjp``:
a value pass plus one reverse pass; and given the value pass's result, ``value=``, the reverse
pass alone, as in a reverse-mode AD rule that keeps the forward result) and the JVP with P = 1, 4, 16 tangents (every object's ra, dec,
g1, g2, w moved along P random directions). Each line prints CPU time (time.process_time, summed
over threads) and wall time, the ratio of CPU times against the value pass (timed without
tracemalloc, whose allocation hook slows the many small temporaries of the tiled passes several-fold
and the reverse pass most), and the tracemalloc peak of a second run of the call (NumPy reports its
buffers to tracemalloc) beside the size of one (N, N) float
array. The machine may be shared: compare the CPU-time ratios. With ``--repeat R`` the value pass
and the two VJPs run R times in interleaved rounds (value, VJP, reverse only, value, ...) and each
line gives the smallest CPU time (the least disturbed by other jobs) with the range over the rounds.

    python benchmarks/bench_differentiable.py [--sizes 25000 100000] [--seeds 0] [--width 10] [--P 1 4 16] [--repeat 1]
"""
import argparse
import time
import tracemalloc

import numpy as np

import cosmocorr as cc
from cosmocorr.differentiable import soft_shear_shear, soft_shear_shear_vjp
from cosmocorr.sky.synthetic import synthetic_shear_catalog


def timed(fn):
    """(result, CPU s, wall s, tracemalloc peak bytes): the times from a run without tracemalloc (its
    allocation hook slows allocation-heavy code several-fold), the peak from a second, traced run."""
    c0, w0 = time.process_time(), time.perf_counter()
    out = fn()
    c1, w1 = time.process_time(), time.perf_counter()
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return out, c1 - c0, w1 - w0, peak


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[25_000, 100_000])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--width", type=float, default=10.0, help="side of the square field (degrees)")
    ap.add_argument("--alpha", type=float, default=1.0)
    ap.add_argument("--P", type=int, nargs="*", default=[1, 4, 16], help="JVP widths (none: no JVP)")
    ap.add_argument("--repeat", type=int, default=1, help="rounds of the value pass and the VJPs")
    args = ap.parse_args()
    bins = cc.Bins(1.0, 45.0, 8)
    print(f"bins {bins}, sigmoid alpha = {args.alpha}/arcmin, field {args.width} x {args.width} deg, "
          f"threads: cosmocorr default")
    print("| N | seed | pass | CPU (s) | wall (s) | CPU / value CPU | peak memory (MB, traced run) | (N, N) float64 (MB) |"
          + (f" CPU range over {args.repeat} rounds (s) |" if args.repeat > 1 else ""))
    print("|---|---|---|---|---|---|---|---|" + ("---|" if args.repeat > 1 else ""))
    for n in args.sizes:
        for seed in args.seeds:
            cat = synthetic_shear_catalog(n, seed=seed, width_deg=args.width, weighted=True)
            nn = 8 * n * n / 1e6
            rng = np.random.default_rng(seed)
            cp, cm = rng.normal(size=bins.nbins), rng.normal(size=bins.nbins)
            rounds = []
            for _ in range(args.repeat):
                res, *t_val = timed(lambda: soft_shear_shear(cat, bins, args.alpha))
                g, *t_vjp = timed(lambda: soft_shear_shear_vjp(cat, bins, cp, cm, alpha=args.alpha))
                g2, *t_rev = timed(lambda: soft_shear_shear_vjp(cat, bins, cp, cm, alpha=args.alpha, value=res))
                rounds.append((t_val, t_vjp, t_rev))
            names = ("value", "VJP (value + reverse)", "VJP given the value (reverse only)")
            rows, spread = [], {}
            for q, name in enumerate(names):
                best = min((r[q] for r in rounds), key=lambda t: t[0])     # smallest CPU time
                rows.append((name, *best))
                cpus = [r[q][0] for r in rounds]
                spread[name] = f" {min(cpus):.1f}-{max(cpus):.1f} |"
            c_val = rows[0][1]
            same = max(float(np.max(np.abs(g[k] - g2[k])) / np.max(np.abs(g[k]))) for k in g)
            rel = float("nan")
            for P in args.P:
                T = {k: rng.normal(size=(n, P)) for k in ("ra", "dec", "g1", "g2", "w")}
                r, c, w, m = timed(lambda: soft_shear_shear(cat, bins, args.alpha, tangents=T))
                rows.append((f"JVP P={P}", c, w, m))
                if P == args.P[0]:   # the two passes agree: <v, J t> = <J^T v, t>
                    lhs = sum(g[k] @ T[k] for k in T)
                    rhs = cp @ r.dxip + cm @ r.dxim
                    rel = np.max(np.abs(lhs - rhs) / np.abs(rhs))
            for name, c, w, m in rows:
                print(f"| {n:,} | {seed} | {name} | {c:.1f} | {w:.1f} | {c / c_val:.2f} | {m / 1e6:.0f} | {nn:,.0f} |"
                      + (spread.get(name, " |") if args.repeat > 1 else ""), flush=True)
            ident = f"{rel:.1e}" if args.P else "not checked (no JVP: --P empty)"
            print(f"<v, J t> identity at N = {n:,}, seed {seed}: largest relative difference {ident}; "
                  f"VJP with and without value=: largest relative difference {same:.1e}", flush=True)


if __name__ == "__main__":
    main()
