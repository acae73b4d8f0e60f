"""Benchmark: the NumPy surrogate path (IAEmu forward/Jacobian) and the samplers (issue 14).

1. IAEmu forward passes and Jacobians (published checkpoint).
2. Gradient calls per effective sample (minimum bulk ESS, rank-normalised) for NUTS, counting
   every gradient call of every chain, warm-up included, "before" (metric="unit": the identity
   mass matrix, step size adapted only, as the sampler was before issue 14) against "after"
   (windowed adaptation of a diagonal or dense metric), on
   - a badly scaled 2-d Gaussian (sd 1 and 0.01),
   - a correlated 10-d Gaussian (sd 0.1 .. 10 log-spaced, correlation 0.9^|i-j|),
   - the paper's IAEmu posterior over (mu_cen, mu_sat) aimed at the physical zero of omega.
   The reference ("optimum") is the same NUTS handed the true covariance as a fixed metric; the
   last column compares sampling-phase gradients per ESS with it (the warm-up is the cost of
   learning the metric, which the reference is given).
All runs: 4 chains, 1000 warm-up + 1000 draws, in one process (ratios, not times, are the result:
the machine is shared).

    python benchmarks/bench_surrogate.py [--samplers-only] [--seeds 2]
"""
import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

from cosmocorr.surrogate import IAEmu, ess_bulk, hmc, iaemu_posterior, run_emcee

# reference data through COSMOCORR_SHARED_DATA (default ../shared/data), as for the tests and examples
CKPT = Path(os.environ.get("COSMOCORR_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data")) / "iaemu" / "iaemu.pt"


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def iaemu_timings(model):
    m32 = IAEmu(model.state, dtype=np.float32)
    x = np.random.default_rng(0).normal(size=(1000, 7))
    rows = [
        ("forward, batch of 1,000 (float64)", timed(lambda: model.raw(x))[0]),
        ("forward, batch of 1,000 (float32)", timed(lambda: m32.raw(x))[0]),
        ("full input Jacobian (3x40x7), 1 input, backprop", timed(lambda: model.raw_jacobian(x[:1]))[0]),
        ("full input Jacobian, batch of 100, backprop", timed(lambda: model.raw_jacobian(x[:100]))[0]),
        ("full input Jacobian, batch of 100, forward tangents",
         timed(lambda: model.raw_jacobian(x[:100], method="forward"))[0]),
    ]
    grads = []
    for mm in (model, m32):
        p = iaemu_posterior(mm, np.zeros(7))
        grads.append(timed(lambda: [p.logp_u_and_grad(np.array([0.1, 0.2])) for _ in range(200)])[0] / 200 * 1e3)
    rows.append(("value + gradient of the omega log-likelihood (float64 / float32), ms", f"{grads[0]:.2f} / {grads[1]:.2f}"))
    print("| IAEmu (NumPy) | time (s) |\n|---|---|")
    for name, t in rows:
        print(f"| {name} | {t if isinstance(t, str) else f'{t:.3f}'} |")


# ---------------------------------------------------------------------------------- targets
def scaled_gaussian():
    sd = np.array([1.0, 0.01])
    return (lambda x: (-0.5 * np.sum((x / sd) ** 2), -x / sd**2)), np.full(2, 0.1), np.diag(sd**2)


def correlated_gaussian(k=10):
    sd = np.exp(np.linspace(np.log(0.1), np.log(10), k))
    cov = 0.9 ** np.abs(np.subtract.outer(np.arange(k), np.arange(k))) * np.outer(sd, sd)
    prec = np.linalg.inv(cov)
    return (lambda x: (-0.5 * x @ prec @ x, -prec @ x)), np.full(k, 0.1), cov


def run(f, x0, seeds, **kw):
    """Mean over seeds of: total gradients / min ESS, sampling-phase gradients / min ESS; and the
    last result."""
    tot, samp, ess, secs = [], [], [], []
    for s in seeds:
        t, r = timed(lambda: hmc(f, x0, n_warmup=1000, n_samples=1000, n_chains=4, seed=s, **kw))
        e = float(np.min(r.ess))
        tot.append(r.n_grad_evals / e)
        samp.append(r.n_leapfrog.sum() / e)
        ess.append(e)
        secs.append(t)
    return dict(total=np.mean(tot), sampling=np.mean(samp), ess=np.mean(ess), grads=r.n_grad_evals, secs=np.mean(secs),
                rhat=float(np.max(r.rhat)), div=r.divergences, r=r)


def row(problem, label, res, before, oracle):
    ratio = before["total"] / res["total"] if before is not None else 1.0
    vs = res["sampling"] / oracle["sampling"] if oracle is not None else float("nan")
    print(f"| {problem} | {label} | {res['grads']:,} | {res['ess']:.0f} | {res['rhat']:.3f} | {res['total']:.1f} | "
          f"{ratio:.1f}x | {res['sampling']:.2f} | {vs:.2f} |")


def samplers(seeds, model):
    print("\n| problem | NUTS metric | gradient calls (last seed) | min bulk ESS | max R-hat | gradients / ESS "
          "(warm-up incl.) | fewer than before | sampling-phase gradients / ESS | vs. true-metric reference |")
    print("|---|---|---|---|---|---|---|---|---|")
    for problem, (f, x0, cov), afters in (("2-d Gaussian, sd 1 and 0.01", scaled_gaussian(), ("diag",)),
                                          ("10-d correlated Gaussian", correlated_gaussian(), ("diag", "dense"))):
        oracle = run(f, x0, seeds, metric="dense", inv_metric=cov, adapt_metric=False)
        before = run(f, x0, seeds, metric="unit")
        row(problem, "unit (before)", before, None, oracle)
        for m in afters:
            row(problem, f"{m} (after)", run(f, x0, seeds, metric=m), before, oracle)
        row(problem, "true covariance, fixed (reference)", oracle, before, oracle)
    if model is None:
        print(f"(IAEmu rows skipped: no checkpoint at {CKPT})")
        return
    post = iaemu_posterior(model, np.zeros(7), target="physical_zero")   # float32: the checkpoint's precision
    f, x0 = post.logp_u_and_grad, np.zeros(2)
    before = run(f, x0, seeds[:1], metric="unit")
    row("IAEmu posterior (mu_cen, mu_sat), physical zero", "unit (before)", before, None, None)
    for m in ("diag", "dense"):
        res = run(f, x0, seeds[:1], metric=m)
        row("IAEmu posterior (mu_cen, mu_sat), physical zero", f"{m} (after)", res, before, None)
    th = post.to_theta(res["r"].samples).reshape(-1, 2)
    print(f"\nIAEmu, dense: posterior mean ({th[:, 0].mean():+.3f}, {th[:, 1].mean():+.3f}), corr "
          f"{np.corrcoef(th.T)[0, 1]:+.2f}, zero level {post.zero_level:.4f}; NUTS {res['secs']:.1f} s for "
          f"{res['grads']:,} gradients (before: {before['secs']:.1f} s)")
    post.n_evals = 0
    t_e, e = timed(lambda: run_emcee(post.log_prob, post.bounds, n_walkers=8, n_steps=2500, n_burn=500, seed=0))
    ess_e = float(np.min(ess_bulk(e.samples)))
    print(f"emcee (8 walkers, 2500 steps, 500 burn-in): {post.n_evals:,} model calls (no gradient), min bulk ESS "
          f"{ess_e:.0f}, {post.n_evals / ess_e:.1f} calls per ESS, {t_e:.1f} s; autocorrelation time "
          f"{np.round(e.autocorr_time, 1)} steps")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samplers-only", action="store_true", help="skip the IAEmu forward/Jacobian timings")
    ap.add_argument("--seeds", type=int, default=2, help="seeds averaged on the Gaussians (IAEmu: one)")
    args = ap.parse_args()
    model = None
    if CKPT.exists():
        model = IAEmu.from_checkpoint(CKPT)
        if not args.samplers_only:
            iaemu_timings(model)
        model = IAEmu(model.state, dtype=np.float32)
    else:
        sys.stderr.write(f"bench_surrogate.py: no IAEmu checkpoint at {CKPT} (set COSMOCORR_SHARED_DATA): "
                         "only the Gaussian sampler rows are measured.\n")
    samplers(list(range(1, args.seeds + 1)), model)


if __name__ == "__main__":
    main()
