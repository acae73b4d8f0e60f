"""The paper's surrogate experiment end to end on our own simulations (Algorithm 3, figs. 11-13).

For each of three HOD parameter sets (stand-ins for the paper's stellar-mass cuts): simulate a
training set over (mu_cen, mu_sat) with the toy HOD + IA forward model (Latin hypercube, several
realisations each, xi/omega/eta in IAEmu's 20 bins), train a deep-ensemble surrogate (70/10/20
split), check it on new simulations, then sample the posterior for omega = 0 with NUTS (1000
warm-up + 1000 draws per chain, as the paper) and with emcee: uniform priors on [-1, 1]^2 and a
zero-mean Gaussian likelihood with the surrogate's aleatoric covariance.

Writes fig11_ia_surrogate.png (xi, omega, eta with aleatoric and epistemic error bars and the
forward model's own mean), fig12_ia_posteriors.png (1, 2, 3 sigma contours for the three sets)
and fig13_ia_omega_posterior.png (omega from posterior draws against prior draws), and prints a
table. About 5 minutes with the defaults on 2 cores; --quick runs a small version in ~1 minute.

    python examples/ia_surrogate_experiment.py [--outdir DIR] [--box 100] [--points 64]
        [--realisations 4] [--samples 1000] [--quick] [--progress]
"""
import argparse
import time

import matplotlib.pyplot as plt
import numpy as np
from _common import OUTDIR, add_figure_args, outdir, save
from scipy.stats import gaussian_kde

from cosmocorr import ia
from cosmocorr.surrogate import effective_sample_size, hmc, run_emcee, split_rhat

SIGMA_MASS = [1 - np.exp(-0.5 * k * k) for k in (1, 2, 3)]   # 2-D Gaussian 1, 2, 3 sigma


def contour_levels(kde, grid_pts, density):
    """Density levels enclosing the 1, 2, 3 sigma probability mass on the grid."""
    d = np.sort(density.ravel())[::-1]
    cum = np.cumsum(d) / d.sum()
    return sorted(d[np.searchsorted(cum, m)] for m in SIGMA_MASS)


def run_set(label, hod, halos, args, seed):
    t0 = time.perf_counter()
    ts = ia.simulate_training_set(hod, n_points=args.points, n_realisations=args.realisations, halos=halos,
                                  seed=seed, progress=args.progress)
    sur = ia.IASurrogate.fit(ts, n_members=args.members, epochs=args.epochs, seed=seed + 1, progress=args.progress)
    test = sur.members[0].history["test_loss"]
    post = sur.posterior("omega")
    post.n_evals = 0
    t_h = time.perf_counter()
    h = hmc(post.logp_u_and_grad, np.zeros(2), n_warmup=args.samples, n_samples=args.samples, n_chains=2,
            seed=seed + 2, progress=args.progress)
    t_h = time.perf_counter() - t_h
    th = post.to_theta(h.samples)
    e, _ = run_emcee(post.log_prob, post.bounds, n_walkers=8, n_steps=args.samples + args.samples // 2,
                     n_burn=args.samples // 2, seed=seed + 3, progress=args.progress)
    flat = th.reshape(-1, 2)
    ef = e.reshape(-1, 2)
    row = dict(label=label, n_gal=ts.n_galaxies.mean(), rate=ts.rate, test=test, mean=flat.mean(0), std=flat.std(0),
               corr=np.corrcoef(flat.T)[0, 1], ess=effective_sample_size(th).min(), rhat=split_rhat(th).max(),
               t_hmc=t_h, emcee_mean=ef.mean(0), emcee_corr=np.corrcoef(ef.T)[0, 1],
               seconds=time.perf_counter() - t0)
    return ts, sur, flat, row


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_figure_args(ap)
    ap.add_argument("--outdir", default=str(OUTDIR))
    ap.add_argument("--box", type=float, default=100.0, help="periodic box length, Mpc/h")
    ap.add_argument("--points", type=int, default=64, help="Latin-hypercube points in (mu_cen, mu_sat)")
    ap.add_argument("--realisations", type=int, default=4)
    ap.add_argument("--members", type=int, default=3, help="ensemble members (epistemic sigma)")
    ap.add_argument("--epochs", type=int, default=1500)
    ap.add_argument("--samples", type=int, default=1000, help="NUTS warm-up and draws per chain")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="small box and sample sizes (about a minute)")
    ap.add_argument("--progress", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.box, args.points, args.realisations, args.members, args.samples = 60.0, 30, 3, 2, 300
    out = outdir(args.outdir)
    halos = ia.simulate_halos(args.box, seed=args.seed)
    print(f"halo catalogue: {len(halos):,} halos in a {args.box:g} Mpc/h periodic box")
    results = []
    for k, (label, hod) in enumerate(ia.HOD_SETS.items()):
        results.append(run_set(label, hod, halos, args, seed=args.seed + 10 * (k + 1)))
        r = results[-1][3]
        print(f"{label}: {r['seconds']:.0f} s (training set {r['rate']:.0f} simulations/min)")

    print("\n| HOD set | galaxies | sims/min | test NLL | HMC mean (mu_cen, mu_sat) | HMC std | corr | ESS | R-hat "
          "| emcee mean | emcee corr |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for *_, r in results:
        print(f"| {r['label']} | {r['n_gal']:,.0f} | {r['rate']:.0f} | {r['test']:.3f} | "
              f"({r['mean'][0]:+.3f}, {r['mean'][1]:+.3f}) | ({r['std'][0]:.3f}, {r['std'][1]:.3f}) | "
              f"{r['corr']:+.2f} | {r['ess']:.0f} | {r['rhat']:.3f} | "
              f"({r['emcee_mean'][0]:+.3f}, {r['emcee_mean'][1]:+.3f}) | {r['emcee_corr']:+.2f} |")

    # fig. 11: the surrogate at one parameter point against the forward model itself
    ts, sur, _, _ = results[0]
    theta = np.array([0.5, 0.3])
    rng = np.random.default_rng(args.seed + 99)
    sims = np.stack([ia.populate(halos, ts.hod, *theta, seed=rng).correlations(ts.rbins).stack()
                     for _ in range(args.realisations * 2)])
    mean, alea, epi = sur.predict(theta)
    r = sur.meanr
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), constrained_layout=True)
    for j, (ax, name) in enumerate(zip(axes, ia.CORRELATIONS)):
        ax.errorbar(r, mean[0, j], yerr=alea[0, j], fmt="o", ms=3, capsize=2, label="surrogate, aleatoric")
        ax.errorbar(r * 1.04, mean[0, j], yerr=epi[0, j], fmt="none", ecolor="C3", capsize=2, label="epistemic")
        ax.plot(r, np.nanmean(sims[:, j][:, sur.bins], axis=0), "k--", lw=1, label="forward model mean")
        ax.set_xscale("log")
        if name == "xi":
            ax.set_yscale("log")
        ax.set_xlabel("r [Mpc/h]")
        ax.set_title({"xi": r"$\xi(r)$", "omega": r"$\omega(r)$", "eta": r"$\eta(r)$"}[name])
        ax.set_ylabel({"xi": r"$\xi(r)$", "omega": r"$\omega(r)$", "eta": r"$\eta(r)$"}[name] + " (dimensionless)")
    axes[0].legend()
    fig.suptitle(f"toy HOD + IA surrogate at mu_cen={theta[0]}, mu_sat={theta[1]} ({results[0][3]['label']})")
    save(fig, out, "fig11_ia_surrogate", args)

    # fig. 12: posterior contours
    g = np.linspace(-1, 1, 121)
    gx, gy = np.meshgrid(g, g)
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.6), constrained_layout=True)
    for ax, (_, _, flat, row) in zip(axes, results):
        kde = gaussian_kde(flat.T)
        dens = kde(np.vstack([gx.ravel(), gy.ravel()])).reshape(gx.shape)
        ax.contourf(gx, gy, dens, levels=contour_levels(kde, gx, dens) + [dens.max()], cmap="Blues", alpha=0.8)
        ax.contour(gx, gy, dens, levels=contour_levels(kde, gx, dens), colors="navy", linewidths=1)
        ax.axhline(0, color="grey", lw=0.5); ax.axvline(0, color="grey", lw=0.5)
        ax.set_xlim(-1, 1); ax.set_ylim(-1, 1)
        ax.set_xlabel(r"$\mu_{cen}$"); ax.set_ylabel(r"$\mu_{sat}$")
        ax.set_title(f"{row['label']} (corr {row['corr']:+.2f})")
    fig.suptitle(r"posterior for $\omega(r) = 0$: 1, 2, 3 $\sigma$ contours (NUTS)")
    save(fig, out, "fig12_ia_posteriors", args)

    # fig. 13: omega from posterior samples vs from the prior
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2), constrained_layout=True, sharey=True)
    prior = np.random.default_rng(args.seed + 7).uniform(-1, 1, (300, 2))
    for ax, (ts, sur, flat, row) in zip(axes, results):
        pick = flat[np.random.default_rng(args.seed + 8).choice(len(flat), 300, replace=False)]
        for draws, colour, name in ((prior, "C1", "prior draws"), (pick, "C0", "posterior draws")):
            om = sur.predict(draws)[0][:, 1]
            lo, mid, hi = np.percentile(om, [16, 50, 84], axis=0)
            ax.fill_between(sur.meanr, lo, hi, color=colour, alpha=0.3)
            ax.plot(sur.meanr, mid, color=colour, label=name + " (median, 68%)")
        ax.axhline(0, color="k", lw=0.5)
        ax.set_xscale("log"); ax.set_xlabel("r [Mpc/h]"); ax.set_title(row["label"])
    axes[0].set_ylabel(r"$\omega(r)$"); axes[0].legend()
    save(fig, out, "fig13_ia_omega_posterior", args)
    for name in ("fig11_ia_surrogate.png", "fig12_ia_posteriors.png", "fig13_ia_omega_posterior.png"):
        print(f"wrote {out / name}")


if __name__ == "__main__":
    main()
