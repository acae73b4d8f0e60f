"""Clustering error versus the number of clusters, on the real catalog.

For c in a range of cluster numbers: |xi_clustered - xi_naive| per bin (mean over sampled
assignments) and sigma_epistemic, for rho1 (= xi+ of delta e). Prints a table, writes a PNG.

    python examples/clustering_error_vs_nclusters.py [--catalog PATH] [--outdir DIR]
"""
import argparse

import matplotlib.pyplot as plt
import numpy as np
from _common import COSMOS, OUTDIR, add_figure_args, load_stars, outdir, save

import cosmocorr as cc


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_figure_args(ap)
    ap.add_argument("--catalog", default=str(COSMOS))
    ap.add_argument("--outdir", default=str(OUTDIR))
    ap.add_argument("--clusters", type=int, nargs="+", default=[10, 25, 50, 100, 200, 400])
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args()
    out = outdir(args.outdir)
    stars, name = load_stars(args.catalog)
    cat = cc.Catalog(stars.ra, stars.dec, stars.de.real, stars.de.imag)
    bins = cc.Bins(0.0, 45.0, 8)
    naive = cc.shear_shear(cat, bins=bins)
    rows = []
    for c in args.clusters:
        r = cc.shear_shear(cat, bins=bins, n_clusters=c, n_samples=10, seed=args.seed)
        rows.append((c, np.abs(r.xip - naive.xip), r.xip_std))
    print(f"rho1 on {name}: mean over bins of |xi_c - xi_naive| and sigma_epistemic (units of 1e-6)")
    print(f"{'c':>5} {'|bias|':>10} {'sigma_ep':>10} {'|naive|':>10}")
    for c, bias, sig in rows:
        print(f"{c:5d} {1e6 * np.nanmean(bias):10.2f} {1e6 * np.nanmean(sig):10.2f} {1e6 * np.nanmean(np.abs(naive.xip)):10.2f}")
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for c, bias, sig in rows:
        axes[0].plot(naive.meanr, bias, "-o", ms=3, label=f"c={c}")
        axes[1].plot(naive.meanr, sig, "-o", ms=3, label=f"c={c}")
    for ax, t in zip(axes, (r"$|\xi_c - \xi_{naive}|$", r"$\sigma_{epistemic}$")):
        ax.set_yscale("log"); ax.set_xlabel(r"$\theta$ [arcmin]"); ax.set_title(t)
    axes[0].set_ylabel(r"$\rho_1$ error (dimensionless)")
    axes[1].legend(fontsize="small")
    fig.suptitle(f"rho1 clustering error vs number of clusters ({name})")
    save(fig, out, "clustering_error_vs_nclusters", args)


if __name__ == "__main__":
    main()
