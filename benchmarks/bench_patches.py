"""Benchmark: k-means patches (issue 27): cosmocorr's ``Catalog(npatch=)`` against TreeCorr's.

    python benchmarks/bench_patches.py            # N = 1e5 and 1e6, 100 patches, seeds 1 2 3
    python benchmarks/bench_patches.py 1e5        # only N = 1e5

Positions uniform on a 10 x 10 deg field (seed 0). In one process, for each seed: the CPU time
(all threads of this process, ``time.process_time``) and wall time of
``cosmocorr.Catalog(ra, dec, npatch=100, patch_seed=seed)`` and of
``treecorr.Catalog(ra=, dec=, npatch=100)`` with its patches built (``.patch``), their ratio,
the k-means objective of both (sum over objects of the squared chord to the patch centre, the
inertia TreeCorr minimises) and whether cosmocorr's labels equal those of
``treecorr.Field.run_kmeans`` given ``rng=numpy.random.default_rng(seed)``.
"""
import sys
import time

import numpy as np
import treecorr

import cosmocorr as cc
from cosmocorr.sky.geometry import unit_vectors


def inertia(ra, dec, labels, centers):
    """sum |x - mu|^2 over objects, mu the unit vector of the object's patch centre."""
    d = unit_vectors(ra, dec) - unit_vectors(centers[:, 0], centers[:, 1])[:, labels]
    return float(np.einsum("ij,ij->", d, d))


def clock(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def main(sizes=(100_000, 1_000_000), npatch=100, seeds=(1, 2, 3)):
    print("Machine shared with other jobs: CPU time (all threads of this process) is the steadier figure.")
    print(f"| N | npatch | seed | cosmocorr wall / cpu (s) | TreeCorr Catalog wall / cpu (s) | cpu ratio cosmocorr / "
          f"TreeCorr | inertia cosmocorr / TreeCorr Catalog - 1 | labels == run_kmeans(rng=default_rng(seed)) |")
    print("|---|---|---|---|---|---|---|---|")
    for n in sizes:
        rng = np.random.default_rng(0)
        ra, dec = rng.uniform(10.0, 20.0, n), rng.uniform(-5.0, 5.0, n)
        ratios = []
        for seed in seeds:
            ours, w_ours, c_ours = clock(lambda: cc.Catalog(ra, dec, npatch=npatch, patch_seed=seed))

            def theirs():
                cat = treecorr.Catalog(ra=ra, dec=dec, ra_units="deg", dec_units="deg", npatch=npatch)
                cat.patch                     # noqa: B018 (builds the patches if not yet built)
                return cat

            tc, w_tc, c_tc = clock(theirs)
            tc_centers = np.column_stack([np.degrees(np.arctan2(tc.patch_centers[:, 1], tc.patch_centers[:, 0])),
                                          np.degrees(np.arcsin(np.clip(tc.patch_centers[:, 2], -1, 1)))])
            rel = inertia(ra, dec, ours.patch, ours.patch_centers) / inertia(ra, dec, tc.patch, tc_centers) - 1
            field = treecorr.Catalog(ra=ra, dec=dec, ra_units="deg", dec_units="deg").getNField(
                max_top=int.bit_length(npatch) - 1, coords="spherical")
            ref, _ = field.run_kmeans(npatch, rng=np.random.default_rng(seed))
            ratios.append(c_ours / c_tc)
            print(f"| {n:,} | {npatch} | {seed} | {w_ours:.2f} / {c_ours:.2f} | {w_tc:.2f} / {c_tc:.2f} "
                  f"| {c_ours / c_tc:.2f} | {rel:+.2e} | {bool(np.array_equal(ours.patch, ref))} |", flush=True)
        print(f"N = {n:,}: cpu ratio cosmocorr / TreeCorr over seeds {list(seeds)}: mean {np.mean(ratios):.2f}, "
              f"range {min(ratios):.2f}-{max(ratios):.2f}", flush=True)


if __name__ == "__main__":
    only = [int(float(a)) for a in sys.argv[1:]]
    main(sizes=tuple(only) if only else (100_000, 1_000_000))
