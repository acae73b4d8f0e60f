"""Paper figure 11: IAEmu xi, omega, eta with aleatoric and epistemic (MC dropout) error bars.

Standardised output units unless a scaler file (--scalers, .json/.npz with x_mean, x_std, y_mean,
y_std) is supplied, in which case --x is in physical units.

    python examples/fig11_iaemu_predictions.py [--checkpoint PATH] [--scalers FILE] [--outdir DIR]
"""
import argparse

import matplotlib.pyplot as plt
import numpy as np
from _common import IAEMU, OUTDIR, add_figure_args, load_iaemu, outdir, save

from cosmocorr.surrogate import OUTPUT_NAMES, IAEmuScalers


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_figure_args(ap)
    ap.add_argument("--random-network", action="store_true",
                    help="without the checkpoint, run the code paths on an untrained network (numbers mean nothing)")
    ap.add_argument("--checkpoint", default=str(IAEMU))
    ap.add_argument("--scalers", default=None)
    ap.add_argument("--x", type=float, nargs=7, default=[0.3, -0.2, 0.0, 0.0, 0.0, 0.0, 0.0])
    ap.add_argument("--passes", type=int, default=100)
    ap.add_argument("--outdir", default=str(OUTDIR))
    args = ap.parse_args()
    out = outdir(args.outdir)
    model, real = load_iaemu(args.checkpoint, allow_random=args.random_network)
    if args.scalers:
        model.scalers = IAEmuScalers.load(args.scalers)
    pred = model.predict(np.array(args.x), n_passes=args.passes, seed=0)
    units = "physical units" if pred.physical_units else "standardised units (no scalers supplied)"
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), constrained_layout=True)
    from cosmocorr.ia import DEFAULT_RBINS

    b = np.sqrt(DEFAULT_RBINS[1:] * DEFAULT_RBINS[:-1])   # IAEmu's 20 log bins, 0.1-15.8 Mpc/h: centres
    for j, (ax, name) in enumerate(zip(axes, OUTPUT_NAMES)):
        m, a, e = pred.mean[0, j], pred.aleatoric_std[0, j], pred.epistemic_std[0, j]
        ax.errorbar(b, m, yerr=a, fmt="o", ms=3, capsize=2, label="aleatoric")
        ax.errorbar(b * 1.03, m, yerr=e, fmt="none", ecolor="C3", capsize=2, label="epistemic (MC dropout)")
        ax.set_xscale("log"); ax.set_xlabel(r"$r$ [Mpc/$h$]"); ax.set_title(name)
        ax.set_ylabel(f"{name} ({units.split(' (')[0]})")
        print(f"{name:>6}: median aleatoric std {np.median(a):.3g}, median epistemic std {np.median(e):.3g}")
    axes[0].legend()
    fig.suptitle(f"IAEmu predictions (fig. 11), {units}" + ("" if real else " [random weights]"))
    save(fig, out, "fig11_iaemu_predictions", args)


if __name__ == "__main__":
    main()
