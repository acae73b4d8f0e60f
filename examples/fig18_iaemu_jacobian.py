"""Paper figure 18: Jacobian of each IAEmu correlation with respect to the 7 inputs, per bin.

In standardised units (no scalers are published with the checkpoint), at the origin of the
standardised input space unless --x is given.

    python examples/fig18_iaemu_jacobian.py [--checkpoint PATH] [--outdir DIR]
"""
import argparse
import time

import matplotlib.pyplot as plt
import numpy as np
from _common import IAEMU, OUTDIR, add_figure_args, load_iaemu, outdir, save

from cosmocorr.surrogate import INPUT_NAMES, OUTPUT_NAMES


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_figure_args(ap)
    ap.add_argument("--random-network", action="store_true",
                    help="without the checkpoint, run the code paths on an untrained network (numbers mean nothing)")
    ap.add_argument("--checkpoint", default=str(IAEMU))
    ap.add_argument("--outdir", default=str(OUTDIR))
    ap.add_argument("--x", type=float, nargs=7, default=[0.0] * 7, help="standardised inputs")
    args = ap.parse_args()
    out = outdir(args.outdir)
    model, real = load_iaemu(args.checkpoint, allow_random=args.random_network)
    t0 = time.perf_counter()
    J = model.raw_jacobian(np.array(args.x))[0, :, :20, :]      # (3, 20, 7): the means
    print(f"Jacobian of 3 x 20 means w.r.t. 7 inputs in {1e3 * (time.perf_counter() - t0):.1f} ms")
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5), constrained_layout=True)
    for ax, name, j in zip(axes, OUTPUT_NAMES, J):
        lim = np.abs(j).max()
        im = ax.imshow(j.T, aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim)
        ax.set_yticks(range(7), INPUT_NAMES)
        ax.set_xlabel("radial bin")
        ax.set_title(f"d {name} / d input")
        fig.colorbar(im, ax=ax, label=f"$\\partial$ {name} / $\\partial$ input (standardised units)")
        print(f"{name:>6}: largest |d/dinput| per input: " + ", ".join(f"{n}={v:.3g}" for n, v in zip(INPUT_NAMES, np.abs(j).max(0))))
    fig.suptitle("IAEmu Jacobians (fig. 18), standardised units" + ("" if real else " [random weights]"))
    save(fig, out, "fig18_iaemu_jacobian", args)


if __name__ == "__main__":
    main()
