"""emcee versus HMC on the paper's surrogate posterior (sec. 7, figs. 12-13 setup).

Posterior over (mu_cen, mu_sat) with uniform [-1, 1] priors, the other HOD inputs fixed, a
Gaussian likelihood with IAEmu's aleatoric variance and a zero target for omega (standardised
units: the published checkpoint ships without its output scalers). Prints the posterior mean
and covariance from both samplers and their effective samples per second and per model call.

    python examples/surrogate_inference.py [--checkpoint PATH] [--outdir DIR] [--samples 500]
"""
import argparse
import time

import matplotlib.pyplot as plt
import numpy as np
from _common import IAEMU, OUTDIR, load_iaemu, outdir

from cosmocorr.surrogate import effective_sample_size, hmc, iaemu_posterior, run_emcee


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default=str(IAEMU))
    ap.add_argument("--outdir", default=str(OUTDIR))
    ap.add_argument("--samples", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--progress", action="store_true")
    args = ap.parse_args()
    out = outdir(args.outdir)
    model, real = load_iaemu(args.checkpoint)
    post = iaemu_posterior(model, np.zeros(7), free=("mu_cen", "mu_sat"), bounds=((-1, 1), (-1, 1)), correlation="omega")
    n = args.samples
    post.n_evals = 0
    t0 = time.perf_counter()
    h = hmc(post.logp_u_and_grad, np.zeros(2), n_warmup=n, n_samples=n, n_chains=2, seed=args.seed, progress=args.progress)
    t_h, ev_h = time.perf_counter() - t0, post.n_evals
    th = post.to_theta(h.samples)
    post.n_evals = 0
    t0 = time.perf_counter()
    e, acc = run_emcee(post.log_prob, post.bounds, n_walkers=8, n_steps=n + n // 2, n_burn=n // 2, seed=args.seed,
                       progress=args.progress)
    t_e, ev_e = time.perf_counter() - t0, post.n_evals
    ess_h, ess_e = effective_sample_size(th).min(), effective_sample_size(e).min()
    print(f"{'sampler':>8} {'mean mu_cen':>12} {'mean mu_sat':>12} {'ESS':>8} {'ESS/s':>8} {'ESS/call':>9} {'R-hat':>6}")
    from cosmocorr.surrogate import split_rhat
    for name, s, ess, t, ev in (("HMC", th, ess_h, t_h, ev_h), ("emcee", e, ess_e, t_e, ev_e)):
        flat = s.reshape(-1, 2)
        print(f"{name:>8} {flat[:, 0].mean():12.3f} {flat[:, 1].mean():12.3f} {ess:8.0f} {ess / t:8.1f} {ess / ev:9.4f} "
              f"{split_rhat(s).max():6.3f}")
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot(*e.reshape(-1, 2).T, ",", alpha=0.4, label="emcee")
    ax.plot(*th.reshape(-1, 2).T, ".", ms=2, alpha=0.4, label="HMC (NUTS)")
    ax.set_xlabel(r"$\mu_{cen}$"); ax.set_ylabel(r"$\mu_{sat}$"); ax.set_xlim(-1, 1); ax.set_ylim(-1, 1); ax.legend()
    ax.set_title("posterior for zero omega (standardised units)" + ("" if real else " [random weights]"))
    fig.savefig(out / "surrogate_posterior.png", dpi=110)
    print(f"wrote {out / 'surrogate_posterior.png'}")


if __name__ == "__main__":
    main()
