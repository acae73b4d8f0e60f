"""COSMOS-Web rho statistics with clustering (epistemic) and bootstrap (aleatoric) errors.

Reproduces the paper's figures 5 (cluster centres over the stars), 6 (weight matrix U),
9 (max membership and entropy), 8 and 14-17 (rho1..rho5, bootstrap panel and sampling panel,
8 linear bins 0-45 arcmin) for 50 and 100 clusters.

    python examples/cosmos_rho_uncertainty.py [--catalog PATH] [--outdir DIR]
"""
import argparse

import matplotlib.pyplot as plt
import numpy as np
from _common import COSMOS, OUTDIR, add_figure_args, load_stars, outdir, save

import cosmocorr as cc


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_figure_args(ap)
    ap.add_argument("--catalog", default=str(COSMOS),
                    help="star catalog (default: COSMOS-Web under COSMOCORR_SHARED_DATA; synthetic, said so, if absent)")
    ap.add_argument("--outdir", default=str(OUTDIR))
    ap.add_argument("--clusters", type=int, nargs="+", default=[50, 100])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--progress", action="store_true")
    args = ap.parse_args()
    out = outdir(args.outdir)
    stars, name = load_stars(args.catalog)
    bins = cc.Bins(0.0, 45.0, 8)
    for c in args.clusters:
        u = cc.clustering_uncertainty(stars, bins, c, n_samples=10, n_bootstrap=10, seed=args.seed, progress=args.progress)
        fit = u.clustering
        # fig. 5: centres over the stars
        fig, ax = plt.subplots(figsize=(6, 5.5))
        ax.scatter(stars.ra, stars.dec, s=4, c="0.5", label="stars")
        ax.scatter(fit.centers[:, 0], fit.centers[:, 1], s=30, marker="X", c="C3", label=f"{c} FCM centres")
        ax.invert_xaxis()
        ax.set_xlabel("RA [deg]"); ax.set_ylabel("Dec [deg]"); ax.legend(); ax.set_title(f"{name}: cluster centres (fig. 5)")
        save(fig, out, f"fig05_centres_c{c}", args); plt.close(fig)
        # fig. 6: weight matrix
        fig, ax = plt.subplots(figsize=(7, 5))
        order = np.argsort(np.argmax(fit.membership, axis=1))
        im = ax.imshow(fit.membership[order].T, aspect="auto", cmap="viridis", interpolation="nearest")
        fig.colorbar(im, label="membership $U_{ik}$")
        ax.set_xlabel("object (sorted by cluster)"); ax.set_ylabel("cluster"); ax.set_title(f"weight matrix U (fig. 6), c={c}")
        save(fig, out, f"fig06_membership_c{c}", args); plt.close(fig)
        # fig. 9: max probability and entropy
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        axes[0].hist(cc.max_membership(fit.membership), bins=30); axes[0].set_xlabel("maximum membership probability")
        axes[1].hist(cc.membership_entropy(fit.membership), bins=30); axes[1].set_xlabel("Shannon entropy [nats]")
        for a in axes:
            a.set_ylabel("number of stars")
        fig.suptitle(f"assignment distributions (fig. 9), c={c}"); save(fig, out, f"fig09_membership_stats_c{c}", args)
        plt.close(fig)
        # figs. 8, 14-17
        print(f"\nc = {c}: median sigma_epistemic / sigma_aleatoric per statistic")
        for k, stat in enumerate(u.names):
            fig = u.plot(stat)
            save(fig, out, f"fig{[8, 14, 15, 16, 17][k]:02d}_{stat}_c{c}", args); plt.close(fig)
            print(f"  {stat}: {np.nanmedian(u.ratio(stat)):.2f}")
        print(u.table("rho1"))
    print(f"\nfigures written to {out}")


if __name__ == "__main__":
    main()
