"""PSF leakage: rho0..rho5, tau0/tau2/tau5 and the alpha, beta, eta fit (Gatti et al. 2021 model).

Default: built-in SYNTHETIC catalogs (a spatially correlated PSF field sampled by stars, and
galaxies with a known leakage injected, :func:`cosmocorr.sky.synthetic.synthetic_psf_leakage`),
over several seeds: prints the recovered parameters against the truth (pulls) and chi^2.

With ``--cosmos [PATH]``: the COSMOS-Web F115W stars (610 real stars) and a SYNTHETIC galaxy
catalog on the same field (COSMOS-Web has no shear catalog here): the galaxies carry the injected
leakage, with the stars' PSF model, residual and size term smoothed onto them
(:func:`cosmocorr.sky.synthetic.leaky_galaxies_for_stars`).

    python examples/psf_leakage.py [--seeds 0 1 2 3 4] [--cosmos [PATH]] [--outdir DIR]
"""
import argparse
import time

import numpy as np
from _common import COSMOS, OUTDIR, add_figure_args, missing_data, outdir, save

import cosmocorr as cc
from cosmocorr.plotting import plot_psf_leakage
from cosmocorr.sky.synthetic import leaky_galaxies_for_stars, synthetic_psf_leakage

NAMES = ("alpha", "beta", "eta")


def run(gal, stars, bins, seed, nsteps):
    t0, c0 = time.perf_counter(), time.process_time()
    rho = cc.rho_statistics(stars, bins, var_method="jackknife")
    tau = cc.tau_statistics(gal, stars, bins, var_method="jackknife")
    fit = cc.fit_psf_leakage(rho, tau, seed=seed, nsteps=nsteps, burn=nsteps // 3)
    return fit, time.perf_counter() - t0, time.process_time() - c0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_figure_args(ap)
    ap.add_argument("--cosmos", nargs="?", const=str(COSMOS), default=None,
                    help="use the COSMOS-Web stars at PATH (default path: the shared data) with synthetic galaxies")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--n-galaxies", type=int, default=4000)
    ap.add_argument("--npatch", type=int, default=30)
    ap.add_argument("--truth", type=float, nargs=3, default=[0.05, 1.0, -1.0], metavar=("ALPHA", "BETA", "ETA"))
    ap.add_argument("--nsteps", type=int, default=1500)
    ap.add_argument("--outdir", default=str(OUTDIR))
    args = ap.parse_args()
    out = outdir(args.outdir)
    truth = np.array(args.truth)
    bins = cc.Bins(1.0, 20.0, 5, spacing="log")
    if args.cosmos is not None:
        from pathlib import Path

        if not Path(args.cosmos).exists():
            missing_data(args.cosmos, "the COSMOS-Web star catalog")
        stars0 = cc.StarCatalog.from_fits(args.cosmos)
        print(f"COSMOS-Web stars: {len(stars0)} from {args.cosmos}; galaxies: SYNTHETIC, {args.n_galaxies} per seed, "
              f"injected alpha, beta, eta = {tuple(float(t) for t in truth)} on the stars' smoothed PSF fields")
        bins = cc.Bins(2.0, 20.0, 4, spacing="log")
        label = "COSMOS-Web stars + synthetic galaxies"
    else:
        print(f"SYNTHETIC stars (600) and galaxies ({args.n_galaxies}) per seed; injected alpha, beta, eta = "
              f"{tuple(float(t) for t in truth)}")
        label = "synthetic"
    print(f"bins {bins}; joint jackknife covariance on {args.npatch} shared patches; xi+ fitted; emcee "
          f"{args.nsteps} steps x 32 walkers")
    rows, pulls, chi2 = [], [], []
    fit = None
    for seed in args.seeds:
        if args.cosmos is not None:
            gal = leaky_galaxies_for_stars(stars0, args.n_galaxies, *truth, seed=seed, shape_noise=0.03,
                                           npatch=args.npatch, patch_seed=seed)
            stars = cc.StarCatalog(stars0.ra, stars0.dec, stars0.g1_star, stars0.g2_star, stars0.T_star,
                                   stars0.g1_model, stars0.g2_model, stars0.T_model, patch_centers=gal.patch_centers)
        else:
            gal, stars, _ = synthetic_psf_leakage(args.n_galaxies, 600, *truth, seed=seed, npatch=args.npatch,
                                                  patch_seed=seed, shape_noise=0.03, residual_e=0.01,
                                                  size_residual=0.05)
        fit, wall, cpu = run(gal, stars, bins, seed, args.nsteps)
        err = np.sqrt(np.diag(fit.param_cov))
        pulls.append((fit.params - truth) / err)
        chi2.append((fit.chi2, fit.dof))
        rows.append(f"{seed:4d} " + " ".join(f"{p:9.4f} +- {e:7.4f}" for p, e in zip(fit.params, err))
                    + f"  chi2 {fit.chi2:6.2f}/{fit.dof}  wall {wall:5.1f}s cpu {cpu:5.1f}s")
    print("seed " + " ".join(f"{n:>20}" for n in NAMES) + "  (estimate +- error)")
    print("\n".join(rows))
    pulls = np.array(pulls)
    print("pull (estimate - truth) / error over seeds: mean " + " ".join(f"{m:+.2f}" for m in pulls.mean(0))
          + ", std " + " ".join(f"{s:.2f}" for s in pulls.std(0, ddof=1)) + f"; max |pull| {np.abs(pulls).max():.2f}")
    c = np.array(chi2)
    print(f"chi2/dof: mean {np.mean(c[:, 0] / c[:, 1]):.2f} (range {np.min(c[:, 0] / c[:, 1]):.2f}-"
          f"{np.max(c[:, 0] / c[:, 1]):.2f})")
    print(f"last seed: posterior mean {np.round(fit.posterior_mean, 4)}, std {np.round(fit.posterior_std, 4)}")
    print("(timings on a shared machine; wall and CPU seconds per seed)")
    fig = plot_psf_leakage(fit, title=f"{label}, seed {args.seeds[-1]}")
    save(fig, out, "psf_leakage_cosmos" if args.cosmos is not None else "psf_leakage_synthetic", args)


if __name__ == "__main__":
    main()
