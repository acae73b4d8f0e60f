"""How far is each approach's gradient from the exact (no-clustering) gradient as c grows?

The paper left this open; here it is answered with numbers: max over bins of
|dxi_approach - dxi_exact| / max|dxi_exact| for approaches a, b and c.

    python examples/gradient_error_vs_nclusters.py [--n-galaxies 300] [--outdir DIR]
"""
import argparse

import matplotlib.pyplot as plt
import numpy as np
from _common import OUTDIR, add_figure_args, outdir, save

import cosmocorr as cc


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_figure_args(ap)
    ap.add_argument("--n-galaxies", type=int, default=300)
    ap.add_argument("--clusters", type=int, nargs="+", default=[10, 25, 50, 100, 150, 300])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--outdir", default=str(OUTDIR))
    args = ap.parse_args()
    out = outdir(args.outdir)
    n = args.n_galaxies
    exact = cc.xi_plus_gradient(1.0, n, approach="none", seed=args.seed)
    scale = np.max(np.abs(exact.dxi_dG))
    table = {}
    print(f"relative gradient error vs exact, N = {n}")
    print(f"{'c':>5} {'a':>9} {'b':>9} {'c':>9}")
    for c in args.clusters:
        row = []
        for approach in ("a", "b", "c"):
            if approach == "b" and c > n // 2:
                row.append(np.nan)
                continue
            r = cc.xi_plus_gradient(1.0, n, approach=approach, n_clusters=c, seed=args.seed)
            row.append(np.max(np.abs(r.dxi_dG - exact.dxi_dG)) / scale)
        table[c] = row
        print(f"{c:5d} " + " ".join(f"{v:9.3f}" for v in row))
    fig, ax = plt.subplots(figsize=(6, 4.5))
    cs = np.array(list(table))
    for k, approach in enumerate("abc"):
        ax.plot(cs, [table[c][k] for c in cs], "-o", label=f"approach {approach}")
    ax.set_xscale("log"); ax.set_yscale("log"); ax.set_xlabel("number of clusters"); ax.set_ylabel("relative gradient error")
    ax.legend(); ax.set_title(f"gradient error vs exact (N={n})")
    save(fig, out, "gradient_error_vs_nclusters", args)


if __name__ == "__main__":
    main()
