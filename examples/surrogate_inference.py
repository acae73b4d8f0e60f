"""Paper figs. 12-13 from IAEmu itself: posteriors over (mu_cen, mu_sat) for a vanishing omega(r).

As in the paper (sec. 7): the HOD fixed, uniform priors on [-1, 1] for mu_cen and mu_sat, a
Gaussian likelihood with IAEmu's aleatoric variance, NUTS with 1000 warm-up + 1000 draws per
chain (4 chains), and emcee beside it. The target is the *physical* zero of omega
(``iaemu_posterior(..., target="physical_zero")``): in IAEmu's standardised output units that is
one constant, ``IAEmu.zero_level``, exact with the output scalers and otherwise calibrated from
the physics (omega vanishes when mu_cen = mu_sat = 0). Prints R-hat, bulk/tail ESS, divergences,
E-BFMI, gradient calls and the mu_cen - mu_sat correlation for both samplers.

Without the training-set scalers (not published; ``--scalers FILE`` adds them) the example runs
at the training-set mean HOD with mu in standardised units and omega relative to its zero in
units of the output scale: it reproduces the shape of fig. 12 (posterior centred on (0, 0), the
anti-diagonal degeneracy) and fig. 13 (omega pulled to zero) but not the three stellar-mass HOD
sets of the paper, which need the input scalers (``IAEMU_HOD_SETS`` holds them in physical units).

Writes fig12_iaemu_posteriors.<format> and fig13_iaemu_omega_posterior.<format>.

    python examples/surrogate_inference.py [--checkpoint PATH] [--scalers FILE] [--warmup 1000]
        [--samples 1000] [--chains 4] [--metric dense] [--seed 0] [--outdir DIR] [--progress]
"""
import argparse
import time

import matplotlib.pyplot as plt
import numpy as np
from _common import IAEMU, OUTDIR, add_figure_args, load_iaemu, outdir, save
from scipy.stats import gaussian_kde

from cosmocorr.ia.estimators import DEFAULT_RBINS
from cosmocorr.surrogate import IAEMU_HOD_SETS, IAEmu, IAEmuScalers, hmc, iaemu_posterior, run_emcee
from cosmocorr.surrogate.diagnostics import ess_bulk, ess_tail, rhat

SIGMA_MASS = [1 - np.exp(-0.5 * k * k) for k in (1, 2, 3)]   # 2-D Gaussian 1, 2, 3 sigma
R = np.sqrt(DEFAULT_RBINS[:-1] * DEFAULT_RBINS[1:])           # IAEmu's 20 radial bins, Mpc/h


def contour_levels(density):
    """Density levels enclosing 1, 2, 3 sigma of the probability mass on the grid."""
    d = np.sort(density.ravel())[::-1]
    cum = np.cumsum(d) / d.sum()
    return sorted(d[np.searchsorted(cum, m)] for m in SIGMA_MASS)


def hod_sets(model):
    """(label, standardised 7 inputs, standardised bounds of mu_cen/mu_sat, to-physical map)."""
    if model.scalers is None:
        return [("training-mean HOD (standardised units)", np.zeros(7), np.array([[-1.0, 1.0], [-1.0, 1.0]]),
                 lambda th: th)]
    sc = model.scalers
    lo = (np.array([-1.0, -1.0]) - sc.x_mean[:2]) / sc.x_std[:2]
    hi = (np.array([1.0, 1.0]) - sc.x_mean[:2]) / sc.x_std[:2]
    to_phys = lambda th: th * sc.x_std[:2] + sc.x_mean[:2]
    return [(name, sc.transform_inputs(x), np.column_stack([lo, hi]), to_phys) for name, x in IAEMU_HOD_SETS.items()]


def run_set(model, label, x_std, bounds, args, seed):
    post = iaemu_posterior(model, x_std, bounds=bounds, correlation="omega", target="physical_zero")
    t0 = time.perf_counter()
    h = hmc(post.logp_u_and_grad, post.to_u(bounds.mean(axis=1)), n_warmup=args.warmup, n_samples=args.samples,
            n_chains=args.chains, seed=seed, metric=args.metric, names=("mu_cen", "mu_sat"), progress=args.progress)
    t_h = time.perf_counter() - t0
    th = post.to_theta(h.samples)                                        # (chains, draws, 2)
    post.n_evals = 0
    t0 = time.perf_counter()
    e = run_emcee(post.log_prob, bounds, n_walkers=16, n_steps=args.samples + args.warmup // 2,
                  n_burn=args.warmup // 2, seed=seed + 1, progress=args.progress, names=("mu_cen", "mu_sat"))
    t_e, ev_e = time.perf_counter() - t0, post.n_evals
    return dict(label=label, post=post, x=x_std, hmc=h, theta=th, t_hmc=t_h, emcee=e, t_emcee=t_e, ev_emcee=ev_e)


def report(runs, to_phys):
    print("\n| HOD | sampler | mean (mu_cen, mu_sat) | std | corr | max R-hat | min ESS bulk / tail | divergences "
          "| min E-BFMI | model calls | calls per ESS | time (s) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in runs:
        for name, s, calls, extra, t in (
                ("NUTS", r["theta"], r["hmc"].n_grad_evals, (r["hmc"].divergences, f"{r['hmc'].ebfmi.min():.2f}"),
                 r["t_hmc"]),
                ("emcee", r["emcee"].samples, r["ev_emcee"], ("-", "-"), r["t_emcee"])):
            flat = to_phys(s.reshape(-1, 2))
            eb, et = np.min(ess_bulk(s)), np.min(ess_tail(s))
            print(f"| {r['label']} | {name} | ({flat[:, 0].mean():+.3f}, {flat[:, 1].mean():+.3f}) | "
                  f"({flat[:, 0].std():.3f}, {flat[:, 1].std():.3f}) | {np.corrcoef(flat.T)[0, 1]:+.2f} | "
                  f"{np.max(rhat(s)):.4f} | {eb:.0f} / {et:.0f} | {extra[0]} | {extra[1]} | {calls:,} | "
                  f"{calls / eb:.1f} | {t:.0f} |")
    print("(emcee: walkers of one ensemble as chains, so its R-hat is a rough check; its autocorrelation "
          "times: " + "; ".join(f"{np.round(r['emcee'].autocorr_time, 1)}" for r in runs) + " steps)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_figure_args(ap)
    ap.add_argument("--random-network", action="store_true",
                    help="without the checkpoint, run the code paths on an untrained network (numbers mean nothing)")
    ap.add_argument("--checkpoint", default=str(IAEMU))
    ap.add_argument("--scalers", default=None, help="IAEmu training-set scalers (.json/.npz): physical units and "
                    "the three HOD sets of the paper")
    ap.add_argument("--outdir", default=str(OUTDIR))
    ap.add_argument("--warmup", type=int, default=1000)
    ap.add_argument("--samples", type=int, default=1000, help="NUTS draws per chain (the paper: 1000)")
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--metric", default="dense", choices=["diag", "dense", "unit"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--progress", action="store_true")
    args = ap.parse_args()
    out = outdir(args.outdir)
    model, real = load_iaemu(args.checkpoint, allow_random=args.random_network)
    model = IAEmu(model.state, dtype=np.float32)       # the checkpoint's own precision: twice as fast
    if args.scalers:
        model.scalers = IAEmuScalers.load(args.scalers)
    sets = hod_sets(model)
    to_phys = sets[0][3]
    runs = []
    for k, (label, x, bounds, _) in enumerate(sets):
        runs.append(run_set(model, label, x, bounds, args, args.seed + 10 * k))
        print(f"{label}: zero level of omega {runs[-1]['post'].zero_level:+.4f} (standardised), "
              f"NUTS {runs[-1]['t_hmc']:.0f} s, emcee {runs[-1]['t_emcee']:.0f} s")
    report(runs, to_phys)
    units = "physical" if model.scalers is not None else "standardised"
    tag = "" if real else " [random weights]"

    # fig. 12: 1, 2, 3 sigma contours of the NUTS posterior, emcee dashed
    g = np.linspace(-1, 1, 121)
    gx, gy = np.meshgrid(g, g)
    fig, axes = plt.subplots(1, len(runs), figsize=(4.8 * len(runs), 4.6), constrained_layout=True, squeeze=False)
    for ax, r in zip(axes[0], runs):
        for s, style, name in ((r["theta"], "solid", "NUTS"), (r["emcee"].samples, "dashed", "emcee")):
            flat = to_phys(s.reshape(-1, 2))
            dens = gaussian_kde(flat.T)(np.vstack([gx.ravel(), gy.ravel()])).reshape(gx.shape)
            lev = contour_levels(dens)
            if name == "NUTS":
                ax.contourf(gx, gy, dens, levels=lev + [dens.max()], cmap="Blues", alpha=0.8)
            ax.contour(gx, gy, dens, levels=lev, colors="navy" if name == "NUTS" else "C3", linewidths=1,
                       linestyles=style)
        flat = to_phys(r["theta"].reshape(-1, 2))
        ax.axhline(0, color="grey", lw=0.5); ax.axvline(0, color="grey", lw=0.5)
        ax.set_xlim(-1, 1); ax.set_ylim(-1, 1)
        ax.set_xlabel(rf"$\mu_{{cen}}$ ({units})"); ax.set_ylabel(rf"$\mu_{{sat}}$ ({units})")
        ax.set_title(f"{r['label']}\ncorr {np.corrcoef(flat.T)[0, 1]:+.2f}, R-hat {np.max(r['hmc'].rhat):.3f}",
                     fontsize=9)
    fig.suptitle(r"IAEmu posterior for physical $\omega(r) = 0$: NUTS 1, 2, 3$\sigma$ (filled), emcee (red dashed)"
                 + tag)
    save(fig, out, "fig12_iaemu_posteriors", args)

    # fig. 13: omega(r) over 1000 posterior draws against prior draws, relative to physical zero
    fig, axes = plt.subplots(1, len(runs), figsize=(4.8 * len(runs), 4.2), constrained_layout=True, sharey=True,
                             squeeze=False)
    rng = np.random.default_rng(args.seed + 7)
    for ax, r in zip(axes[0], runs):
        flat = r["theta"].reshape(-1, 2)
        lo, hi = r["post"].bounds.T
        for draws, colour, name in ((lo + (hi - lo) * rng.random((1000, 2)), "C1", "prior draws"),
                                    (flat[rng.choice(len(flat), min(1000, len(flat)), replace=False)], "C0",
                                     "posterior draws")):
            x = np.repeat(r["x"][None], len(draws), axis=0)
            x[:, :2] = draws
            y = model.raw(x)[:, :, :20]
            if model.scalers is not None:
                om = model.scalers.inverse_outputs(y, np.zeros_like(y))[0][:, 1]
            else:
                om = y[:, 1]
                om = om - r["post"].zero_level           # omega / s_omega: physical omega up to the unknown scale
            m, s = om.mean(axis=0), om.std(axis=0)
            ax.fill_between(R, m - s, m + s, color=colour, alpha=0.3)
            ax.plot(R, m, color=colour, label=f"{name} (mean, 1 sd)")
        ax.axhline(0, color="k", lw=0.5)
        ax.set_xscale("log"); ax.set_xlabel("r [Mpc/h]"); ax.set_title(r["label"], fontsize=9)
    axes[0, 0].set_ylabel(r"$\omega(r)$" if model.scalers is not None else r"$\omega(r) / s_\omega$ (zero = physical zero)")
    axes[0, 0].legend()
    fig.suptitle(r"$\omega(r)$ from the IAEmu posterior (fig. 13)" + tag)
    save(fig, out, "fig13_iaemu_omega_posterior", args)


if __name__ == "__main__":
    main()
