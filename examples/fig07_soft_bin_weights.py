"""Paper figure 7: soft weights of a distance bin [1, 2] for several sharpness values (eqs. 22-23).

    python examples/fig07_soft_bin_weights.py [--outdir DIR]
"""
import argparse

import matplotlib.pyplot as plt
import numpy as np
from _common import OUTDIR, add_figure_args, outdir, save

import cosmocorr as cc


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_figure_args(ap)
    ap.add_argument("--outdir", default=str(OUTDIR))
    args = ap.parse_args()
    out = outdir(args.outdir)
    b = cc.Bins(1.0, 2.0, 1)
    x = np.linspace(0, 3, 601)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for alpha in (2, 5, 10, 20, 50, 200):
        axes[0].plot(x, cc.soft_bin_weights(x, b, alpha, "sigmoid")[0], label=rf"$\alpha$={alpha}")
        axes[1].plot(x, cc.soft_bin_weights(x, b, alpha, "gaussian")[0], label=rf"$\alpha$={alpha}")
    for ax, t in zip(axes, ("product of sigmoids (eq. 22)", "Gaussian bump (eq. 23, centred on (a+b)/2)")):
        ax.axvspan(1, 2, color="0.9"); ax.set_xlabel("separation"); ax.set_title(t); ax.legend(fontsize="small")
    axes[0].set_ylabel("weight W(1, x, 2)")
    save(fig, out, "fig07_soft_bin_weights", args)


if __name__ == "__main__":
    main()
