"""Coverage of the measured tree approximation error for NG, NK, KK, KG (docs/tree_error.md).

For each seed: a Gaussian random shear field (gaussian_shear_catalog, 4000 objects, 0.6 deg),
lenses = 1000 of its objects, k = its g1; the tree at bin_slop=0.25, angle_slop=0.3 with its
approximation error (6 rotations, 10 spot patches, 30 % of units checked) against the exact
estimator. A bin is covered when |delta - approx_error| <= 2 sqrt(approx_error_err^2 +
approx_sigma^2), delta = tree - exact. Prints the covered fraction per type and seed, and
max |delta| / sigma_stat. tau: the same sources against 1000 synthetic_star_catalog stars. Usage: python benchmarks/coverage_approx_types.py [seeds...]
"""
import sys
import time
import warnings

import numpy as np

import cosmocorr as cc
from cosmocorr.sky.synthetic import gaussian_shear_catalog, synthetic_star_catalog

BINS = cc.Bins(2.0, 20.0, 6, "log")
FAST = dict(n_rotations=6, spot_npatch=10, spot_fraction=0.3, approx_error=True)


def report(seed, name, hits, worst, wall, cpu):
    print(f"seed {seed} {name}: covered {hits.sum()}/{hits.size}  max|delta|/sigma {worst:.2e}  "
          f"(wall {wall:.1f} s, cpu {cpu:.1f} s, shared machine)", flush=True)


def main(seeds):
    warnings.simplefilter("ignore")
    total = {}
    for seed in seeds:
        src = gaussian_shear_catalog(4000, seed=seed, width_deg=0.6, scale_arcmin=3.0, shape_noise=0.1, signal=0.02)
        lenses = src.subset(np.random.default_rng(seed).choice(src.nobj, 1000, replace=False))
        kcat = cc.Catalog(src.ra, src.dec, k=src.g.real)
        for name, fn, args in (("NG", cc.count_shear, (lenses, src)), ("NK", cc.count_scalar, (lenses, kcat)),
                               ("KK", cc.scalar_scalar, (kcat,)), ("KG", cc.scalar_shear, (kcat, src))):
            t0, c0 = time.perf_counter(), time.process_time()
            r = fn(*args, bins=BINS, method="tree", bin_slop=0.25, angle_slop=0.3, seed=seed, **FAST)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            ex = fn(*args, bins=BINS)
            hits, worst = [], 0.0
            for k in r.approx_error:
                d = getattr(r, k) - getattr(ex, k)
                hits.append(np.abs(d - r.approx_error[k]) <= 2 * np.hypot(r.approx_error_err[k], r.approx_sigma[k]))
                worst = max(worst, float(np.max(np.abs(d) / np.sqrt(ex.varxi))))
            hits = np.concatenate(hits)
            total.setdefault(name, []).append(hits)
            report(seed, name, hits, worst, wall, cpu)
        # tau0, tau2, tau5: the sources against 1000 synthetic PSF stars on the same field
        stars = synthetic_star_catalog(1000, seed=seed, ra0=150.0, width_deg=0.6)
        t0, c0 = time.perf_counter(), time.process_time()
        r = cc.tau_statistics(src, stars, bins=BINS, method="tree", bin_slop=0.25, angle_slop=0.3, seed=seed, **FAST)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        ex = cc.tau_statistics(src, stars, bins=BINS)
        hits, worst = [], 0.0
        for n in r:
            for k in ("xip", "xim"):
                d = getattr(r[n], k) - getattr(ex[n], k)
                hits.append(np.abs(d - r[n].approx_error[k]) <= 2 * np.hypot(r[n].approx_error_err[k],
                                                                              r[n].approx_sigma[k]))
                worst = max(worst, float(np.max(np.abs(d) / np.sqrt(getattr(ex[n], "var" + k)))))
        hits = np.concatenate(hits)
        total.setdefault("tau", []).append(hits)
        report(seed, "tau", hits, worst, wall, cpu)
    for name, h in total.items():
        h = np.concatenate(h)
        print(f"{name}: covered {h.sum()}/{h.size} = {h.mean():.3f} over seeds {list(seeds)}")


if __name__ == "__main__":
    main([int(s) for s in sys.argv[1:]] or [1, 2, 3, 4])
