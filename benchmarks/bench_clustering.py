"""Benchmark: fuzzy c-means and the paper's uncertainty experiment (NumPy backend).

1. Time per FCM iteration versus N and c, and FCM to convergence for N = 100,000, c = 100.
2. The full paper experiment: rho1..rho5 with 10 sampled assignments and 10 bootstrap
   resamples, 610 stars, 50 clusters; printed with the naive rho time from the same run.

    python benchmarks/bench_clustering.py [--per-iteration]
"""
import os
import time
from pathlib import Path

import numpy as np

import cosmocorr as cc
from cosmocorr.sky.synthetic import synthetic_star_catalog

# reference data through COSMOCORR_SHARED_DATA (default ../shared/data), as for the tests and examples
DATA = Path(os.environ.get("COSMOCORR_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data")) / "cosmos_web" / "f115w_validation_psfex.fits"


def points(n, seed=0):
    rng = np.random.default_rng(seed)
    return 150 + rng.uniform(-0.5, 0.5, n), 2.2 + rng.uniform(-0.5, 0.5, n)


def blobs(n, seed=0, groups=100, sigma_arcmin=1.5):
    rng = np.random.default_rng(seed)
    centres = np.column_stack([150 + rng.uniform(-0.5, 0.5, groups), 2.2 + rng.uniform(-0.5, 0.5, groups)])
    k = rng.integers(groups, size=n)
    return centres[k, 0] + rng.normal(0, sigma_arcmin / 60, n), centres[k, 1] + rng.normal(0, sigma_arcmin / 60, n)


def main():
    import sys
    per_iteration_only = "--per-iteration" in sys.argv
    print("| N | c | iterations (max 50) | total (s) | per iteration (ms) |")
    print("|---|---|---|---|---|")
    for n, c in ((1_000, 10), (1_000, 100), (10_000, 10), (10_000, 100), (100_000, 10), (100_000, 100)):
        ra, dec = points(n)
        init = cc.kmeans_plus_plus(ra, dec, c, seed=1)
        t0 = time.perf_counter()
        res = cc.fuzzy_c_means(ra, dec, c, init=init, max_iter=50, tol=1e-6)
        t = time.perf_counter() - t0
        print(f"| {n:,} | {c} | {res.n_iter} | {t:.2f} | {1e3 * t / res.n_iter:.1f} |", flush=True)
    if per_iteration_only:
        return
    print("\n| N = 100,000, c = 100, to convergence | tol | accelerate | iterations | J_m (arcmin^2) "
          "| time incl. k-means++ (s) |")
    print("|---|---|---|---|---|---|")
    for name, (ra, dec), tol in (("100 Gaussian groups (sigma 1.5')", blobs(100_000), 1e-6),
                                 ("uniform field (no structure)", points(100_000), 1e-3)):
        for accelerate in (False, True):
            t0 = time.perf_counter()
            res = cc.fuzzy_c_means(ra, dec, 100, seed=1, max_iter=3000, tol=tol, accelerate=accelerate)
            print(f"| {name} | {tol:g} | {accelerate} | {res.n_iter} (converged={res.converged}) "
                  f"| {res.objective[-1]:.6e} | {time.perf_counter() - t0:.1f} |", flush=True)

    stars = cc.StarCatalog.from_fits(DATA) if DATA.exists() else synthetic_star_catalog(610, seed=0)
    print(f"paper experiment on {'COSMOS-Web' if DATA.exists() else 'the synthetic catalog (COSMOS-Web not found at ' + str(DATA) + ')'}")
    bins = cc.Bins(0.0, 45.0, 8)
    t0 = time.perf_counter()
    cc.rho_statistics(stars, bins)
    t_naive = time.perf_counter() - t0
    t0 = time.perf_counter()
    cc.clustering_uncertainty(stars, bins, 50, n_samples=10, n_bootstrap=10, seed=1)
    t_exp = time.perf_counter() - t0
    print("\n| paper experiment (610 stars, 50 clusters, 10 samples + 10 bootstraps, rho1..rho5) | time (s) | ratio to one naive rho1..5 |")
    print("|---|---|---|")
    print(f"| clustering_uncertainty | {t_exp:.2f} | {t_exp / t_naive:.1f} |")
    print(f"| naive rho_statistics | {t_naive:.3f} | 1.0 |")


if __name__ == "__main__":
    main()
