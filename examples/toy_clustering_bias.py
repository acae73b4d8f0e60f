"""Toy example of the paper's figure 2: a clustering approximation biases omega(theta).

Clustered points plus randoms; the Landy-Szalay estimate with all pairs (naive) against the
estimate after replacing the objects by fuzzy c-means cluster objects (Algorithm 1, greedy),
for a few numbers of clusters.

    python examples/toy_clustering_bias.py [--outdir DIR]
"""
import argparse

import matplotlib.pyplot as plt
import numpy as np
from _common import OUTDIR, add_figure_args, outdir, save

import cosmocorr as cc
from cosmocorr.sky.synthetic import uniform_randoms


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_figure_args(ap)
    ap.add_argument("--outdir", default=str(OUTDIR))
    ap.add_argument("--seed", type=int, default=2)
    args = ap.parse_args()
    out = outdir(args.outdir)
    rng = np.random.default_rng(args.seed)
    box = ((149.6, 150.6), (1.7, 2.7))
    centres = rng.uniform([box[0][0], box[1][0]], [box[0][1], box[1][1]], (12, 2))
    pts = np.concatenate([c + rng.normal(0, 0.04, (30, 2)) for c in centres] + [rng.uniform([149.6, 1.7], [150.6, 2.7], (240, 2))])
    data = cc.Catalog(pts[:, 0], pts[:, 1])
    randoms = uniform_randoms(1200, *box, seed=args.seed)
    bins = cc.Bins(1.0, 50.0, 10, "log")
    naive = cc.landy_szalay(data, randoms, bins)
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    ax.plot(naive.meanr, naive.xi, "k-o", label="naive (all pairs)")
    print(f"{'c':>5} " + " ".join(f"{r:8.2f}" for r in bins.rnom))
    print(f"{'naive':>5} " + " ".join(f"{x:8.3f}" for x in naive.xi))
    for c in (30, 100, 300):
        r = cc.landy_szalay(data, randoms, bins, n_clusters=c, assignment="greedy", seed=args.seed)
        ax.plot(r.meanr, r.xi, "-s", ms=4, label=f"{c} clusters")
        print(f"{c:5d} " + " ".join(f"{x:8.3f}" for x in r.xi))
    ax.set_xscale("log"); ax.axhline(0, c="0.7", lw=0.8)
    ax.set_xlabel(r"$\theta$ [arcmin]"); ax.set_ylabel(r"$\omega(\theta)$"); ax.legend()
    ax.set_title("clustering approximation biases $\\omega(\\theta)$ (fig. 2)")
    save(fig, out, "fig02_toy_clustering_bias", args)


if __name__ == "__main__":
    main()
