"""Benchmark: value and forward-mode d xi+/d G per approach versus N (NumPy backend).

The ratio column compares with the value-only cost of the same approach in the same run
(the estimator evaluated on plain arrays, the ODE without sensitivities).

    python benchmarks/bench_gradient.py [--sizes 500 1000 2000] [--approaches none c b a]
        [--reference-soft /tmp/old_soft_estimator.py] [--reference-ode]

``--reference-soft FILE`` also times the exact estimator (``soft_xi_plus`` on the simulated catalog's
Duals, the cost of approach "none" after the ODE) from another file, e.g. the previous version
(``git show HEAD:cosmocorr/differentiable/soft_estimator.py > /tmp/old_soft_estimator.py``), in the
same process, and prints the largest relative difference of value and tangent.
"""
import argparse
import importlib.util
import time

import numpy as np

import cosmocorr as cc
from cosmocorr.differentiable import dual as dl
from cosmocorr.differentiable import soft_xi_plus
from cosmocorr.differentiable.gravity import simulate_catalog


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[500, 1000, 2000])
    ap.add_argument("--clusters", type=int, default=50)
    ap.add_argument("--approaches", nargs="+", default=["none", "c", "b", "a"])
    ap.add_argument("--reference-soft", default=None, help="another soft_estimator.py to time (same process)")
    ap.add_argument("--reference-ode", action="store_true",
                    help="also time the forward model with its sensitivities as one ODE system (the previous "
                         "integration) against the grouped integration, same process")
    args = ap.parse_args()
    bins = cc.Bins(0.0, 160.0, 3)
    print("| N | approach | clusters | value + gradient (s) | value only, no clustering (s) | ratio |")
    print("|---|---|---|---|---|---|")
    for n in args.sizes:
        t0 = time.perf_counter()
        cat = simulate_catalog(1.0, n, seed=0, with_tangent=False)
        dl.value(soft_xi_plus(cat.xyz.v, cat.g.real, cat.g.imag, np.ones(n), bins, 1.0))
        t_val = time.perf_counter() - t0
        for approach in args.approaches:
            t0 = time.perf_counter()
            cc.xi_plus_gradient(1.0, n, bins=bins, approach=approach, n_clusters=args.clusters, seed=0)
            t = time.perf_counter() - t0
            print(f"| {n:,} | {approach} | {args.clusters if approach != 'none' else '-'} | {t:.2f} | {t_val:.2f} | {t / t_val:.1f} |",
                  flush=True)
    if args.reference_soft:
        spec = importlib.util.spec_from_file_location("cosmocorr.differentiable._reference_soft", args.reference_soft)
        ref = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(ref)
        print("\n| N | soft_xi_plus value + d/dG (s) | reference file (s) | speed-up | max rel. diff value / tangent |")
        print("|---|---|---|---|---|")
        for n in args.sizes:
            cat = simulate_catalog(1.0, n, seed=0)
            a = (cat.xyz, cat.g.real, cat.g.imag, np.ones(n), bins, 1.0)
            t0 = time.perf_counter()
            new = soft_xi_plus(*a)
            t_new = time.perf_counter() - t0
            t0 = time.perf_counter()
            old = ref.soft_xi_plus(*a)
            t_old = time.perf_counter() - t0
            dv = np.max(np.abs(dl.value(new) - dl.value(old)) / np.abs(dl.value(old)))
            dt = np.max(np.abs(dl.tangent(new) - dl.tangent(old)) / np.abs(dl.tangent(old)))
            print(f"| {n:,} | {t_new:.2f} | {t_old:.2f} | {t_old / t_new:.1f} | {dv:.1e} / {dt:.1e} |", flush=True)
    if args.reference_ode:
        from cosmocorr.differentiable.gravity import initial_conditions, integrate

        print("\n| N | ODE + sensitivities, grouped (s) | one system (s) | speed-up | max abs. diff x / dx/dG |")
        print("|---|---|---|---|---|")
        for n in args.sizes:
            x0, v0 = initial_conditions(n, 0)
            t0 = time.perf_counter()
            xg, dg = integrate(x0, v0, 1.0)
            t_g = time.perf_counter() - t0
            t0 = time.perf_counter()
            x1, d1 = integrate(x0, v0, 1.0, group_size=n)
            t_1 = time.perf_counter() - t0
            print(f"| {n:,} | {t_g:.2f} | {t_1:.2f} | {t_1 / t_g:.1f} | {np.abs(xg - x1).max():.1e} / "
                  f"{np.abs(dg - d1).max():.1e} |", flush=True)


if __name__ == "__main__":
    main()
