"""Projected intrinsic alignments w_g+(r_p) and w_++(r_p) of the toy HOD + IA model, for the three
HOD sets of :data:`cosmocorr.ia.HOD_SETS`, with halotools' estimators (periodic box, line of
sight z, analytic randoms) and the spread over mock realisations.

Galaxies are populated on one halo catalogue per seed; projected shapes come from the 3-D axes
seen along z as prolate spheroids (axis ratio 0.6, :meth:`cosmocorr.ia.GalaxyCatalog.projected_shapes`).
Optionally (``--check-halotools``) every curve is compared with halotools' ``gi_plus_projected``.

    python examples/ia_projected_wgp.py [--box 100] [--seeds 0 1 2] [--mu-cen 0.8 --mu-sat 0.5]
"""
import argparse
import time

import numpy as np
from _common import OUTDIR, add_figure_args, outdir, save

from cosmocorr import ia
from cosmocorr.plotting import plot_projected_ia


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_figure_args(ap)
    ap.add_argument("--box", type=float, default=100.0, help="periodic box side, Mpc/h")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--mu-cen", type=float, default=0.8)
    ap.add_argument("--mu-sat", type=float, default=0.5)
    ap.add_argument("--pi-max", type=float, default=20.0)
    ap.add_argument("--check-halotools", action="store_true")
    ap.add_argument("--outdir", default=str(OUTDIR))
    args = ap.parse_args()
    out = outdir(args.outdir)
    rp_bins = np.logspace(-1.0, np.log10(min(20.0, args.box / 3.1)), 13)
    wgp, wpp = {}, {}
    print(f"box {args.box} Mpc/h, pi_max {args.pi_max}, mu_cen {args.mu_cen}, mu_sat {args.mu_sat}, seeds {args.seeds}")
    for label, hod in ia.HOD_SETS.items():
        runs, t0, c0 = [], time.perf_counter(), time.process_time()
        for seed in args.seeds:
            halos = ia.simulate_halos(args.box, seed=seed)
            gals = ia.populate(halos, hod, args.mu_cen, args.mu_sat, seed=seed + 1000)
            runs.append(gals.projected_correlations(rp_bins, args.pi_max))
            if args.check_halotools:
                from halotools.mock_observables import gi_plus_projected

                o, e = gals.projected_shapes()
                ref = gi_plus_projected(gals.positions, o, e, gals.positions, rp_bins, args.pi_max, period=args.box)
                print(f"  {label} seed {seed}: max |cosmocorr / halotools - 1| = "
                      f"{np.max(np.abs(runs[-1]['wgp'] / ref - 1)):.1e}")
        wgp[label] = np.array([r["wgp"] for r in runs])
        wpp[label] = np.array([r["wpp"] for r in runs])
        print(f"{label}: {len(gals)} galaxies (last seed); w_g+ at r_p = {np.sqrt(rp_bins[0] * rp_bins[1]):.2f}: "
              f"{wgp[label][:, 0].mean():.3g} +- {wgp[label][:, 0].std(ddof=1):.2g} Mpc/h (mean +- spread over "
              f"{len(args.seeds)} seeds); wall {time.perf_counter() - t0:.1f}s cpu {time.process_time() - c0:.1f}s")
    print("(timings on a shared machine)")
    for name, data, ylab in (("wgp", wgp, r"$w_{g+}(r_p)$ [Mpc/h]"), ("wpp", wpp, r"$w_{++}(r_p)$ [Mpc/h]")):
        fig = plot_projected_ia(rp_bins, {k: v.mean(0) for k, v in data.items()},
                                errors={k: v.std(0, ddof=1) for k, v in data.items()}, ylabel=ylab,
                                title=f"toy HOD + IA, three HOD sets ({len(args.seeds)} seeds)")
        save(fig, out, f"ia_projected_{name}", args)


if __name__ == "__main__":
    main()
