"""Benchmark: 3-D IA estimators (omega, eta) against halotools, and the training-set rate.

    python benchmarks/bench_ia.py [--n 100000] [--threads 2] [--reference-estimators /tmp/old_ia_estimators.py]

Both codes run in this process on the same catalogues and IAEmu's 20 bins (0.1 to 15.8 Mpc/h);
halotools (a test-only dependency) is skipped when it is not installed. ``--reference-estimators FILE``
also times the one-pass estimator from another file (e.g. the previous version,
``git show HEAD:cosmocorr/ia/estimators.py > /tmp/old_ia_estimators.py``) in the same process.
"""
import argparse
import importlib.util
import time

import numpy as np

from cosmocorr import ia


def timed(fn, repeat=1):
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def mock_catalog(n, seed=0):
    """The toy HOD + IA model in a box sized to hold about n galaxies."""
    hod = ia.HOD_SETS["logM*>=9.0"]
    trial = ia.populate(ia.simulate_halos(100.0, seed=seed), hod, 0.5, 0.5, seed=seed)
    box = 100.0 * (n / len(trial)) ** (1 / 3)
    gal = ia.populate(ia.simulate_halos(box, seed=seed), hod, 0.5, 0.5, seed=seed)
    return gal.positions, gal.orientations, box


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--threads", type=int, default=2, help="halotools num_threads")
    ap.add_argument("--reference-estimators", default=None, help="another ia/estimators.py to time")
    ap.add_argument("--skip-training", action="store_true", help="skip the training-set rate table")
    args = ap.parse_args()
    ref = None
    if args.reference_estimators:
        spec = importlib.util.spec_from_file_location("cosmocorr.ia._reference_estimators", args.reference_estimators)
        ref = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(ref)
    rng = np.random.default_rng(1)
    rbins = ia.DEFAULT_RBINS
    try:
        from halotools.mock_observables import ed_3d, ee_3d
    except ImportError:
        ed_3d = ee_3d = None
    uni_x = rng.uniform(0, 250.0, (args.n, 3))
    uni_e = rng.normal(size=(args.n, 3))
    catalogs = [("uniform, L = 250 Mpc/h", uni_x, uni_e, 250.0), ("toy HOD + IA mock", *mock_catalog(args.n))]
    print(f"| catalogue | N | cosmocorr omega + eta (s) | one pass xi/omega/eta (s) | halotools ed_3d + ee_3d (s) "
          f"| ratio halotools / cosmocorr (separate / one pass) | max abs diff |")
    print("|---|---|---|---|---|---|---|")
    for name, x, e, box in catalogs:
        t_cc, (om, et) = timed(lambda: (ia.omega(x, e, rbins, period=box), ia.eta(x, e, rbins, period=box)))
        t_one, _ = timed(lambda: ia.ia_correlations(x, e, rbins, period=box))
        if ed_3d is not None:
            t_ht, (om_h, et_h) = timed(lambda: (ed_3d(x, e, x, rbins, period=box, num_threads=args.threads),
                                                ee_3d(x, e, x, e, rbins, period=box, num_threads=args.threads)))
            diff = max(np.max(np.abs(om - om_h)), np.max(np.abs(et - et_h)))
            extra = f"{t_ht:.2f} | {t_ht / t_cc:.2f} / {t_ht / t_one:.2f} | {diff:.1e}"
        else:
            extra = "not installed | - | -"
        print(f"| {name} | {x.shape[0]:,} | {t_cc:.2f} | {t_one:.2f} | {extra} |")
        if ref is not None:
            t_ref, r_ref = timed(lambda: ref.ia_correlations(x, e, rbins, period=box))
            r_new = ia.ia_correlations(x, e, rbins, period=box)
            d = max(np.max(np.abs(r_new.omega - r_ref.omega)), np.max(np.abs(r_new.eta - r_ref.eta)))
            same = np.array_equal(r_new.npairs, r_ref.npairs)
            print(f"|   reference file, one pass | | | {t_ref:.2f} (this one {t_ref / t_one:.2f}x faster) | "
                  f"npairs identical: {same} | | {d:.1e} |")
    if args.skip_training:
        return

    print("\n| HOD set | box (Mpc/h) | galaxies | simulations per minute (populate + xi/omega/eta) |")
    print("|---|---|---|---|")
    halos = ia.simulate_halos(100.0, seed=2)
    for label, hod in ia.HOD_SETS.items():
        ts = ia.simulate_training_set(hod, n_points=8, n_realisations=2, halos=halos, seed=3)
        print(f"| {label} | 100 | {ts.n_galaxies.mean():,.0f} | {ts.rate:.0f} |")


if __name__ == "__main__":
    main()
