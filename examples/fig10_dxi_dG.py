"""Paper figure 10: d xi+/d G in three linear bins up to 160 arcmin at G = 1 (forward mode).

    python examples/fig10_dxi_dG.py [--n-galaxies 200] [--approach c] [--outdir DIR]
"""
import argparse
import time

import matplotlib.pyplot as plt
import numpy as np
from _common import OUTDIR, add_figure_args, outdir, save

import cosmocorr as cc


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_figure_args(ap)
    ap.add_argument("--n-galaxies", type=int, default=200)
    ap.add_argument("--n-clusters", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--outdir", default=str(OUTDIR))
    args = ap.parse_args()
    out = outdir(args.outdir)
    bins = cc.Bins(0.0, 160.0, 3)
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    print(f"{'approach':>9} " + " ".join(f"{r:>10.1f}'" for r in bins.rnom) + "   time")
    for k, approach in enumerate(("none", "c", "b", "a")):
        t0 = time.perf_counter()
        r = cc.xi_plus_gradient(1.0, args.n_galaxies, bins=bins, approach=approach, n_clusters=args.n_clusters, seed=args.seed)
        dt = time.perf_counter() - t0
        print(f"{approach:>9} " + " ".join(f"{v:11.4g}" for v in r.dxi_dG) + f"  {dt:5.2f}s")
        ax.plot(bins.rnom + 3 * (k - 1.5), r.dxi_dG, "o", label=f"approach {approach}" if approach != "none" else "no clustering (exact)")
    ax.axhline(0, c="0.7", lw=0.8)
    ax.set_xlabel(r"$\theta$ [arcmin]"); ax.set_ylabel(r"$\partial\xi_+/\partial G$ at G = 1"); ax.legend()
    ax.set_title(f"fig. 10: {args.n_galaxies} galaxies, {args.n_clusters} clusters")
    save(fig, out, "fig10_dxi_dG", args)


if __name__ == "__main__":
    main()
