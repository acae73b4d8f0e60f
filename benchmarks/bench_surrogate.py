"""Benchmark: the NumPy surrogate path (IAEmu forward/Jacobian, HMC vs emcee).

    python benchmarks/bench_surrogate.py
"""
import time
from pathlib import Path

import numpy as np

from cosmocorr.surrogate import IAEmu, effective_sample_size, hmc, iaemu_posterior, run_emcee

CKPT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "iaemu" / "iaemu.pt"


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main():
    model = IAEmu.from_checkpoint(CKPT) if CKPT.exists() else IAEmu.random(0)
    m32 = IAEmu(model.state, dtype=np.float32)
    x = np.random.default_rng(0).normal(size=(1000, 7))
    rows = [
        ("forward, batch of 1,000 (float64)", timed(lambda: model.raw(x))[0]),
        ("forward, batch of 1,000 (float32)", timed(lambda: m32.raw(x))[0]),
        ("full input Jacobian (3x40x7), 1 input, backprop", timed(lambda: model.raw_jacobian(x[:1]))[0]),
        ("full input Jacobian, batch of 100, backprop", timed(lambda: model.raw_jacobian(x[:100]))[0]),
        ("full input Jacobian, batch of 100, forward tangents",
         timed(lambda: model.raw_jacobian(x[:100], method="forward"))[0]),
        ("value + gradient of the omega log-likelihood (float64 / float32), ms",
         None),
    ]
    grads = []
    for mm in (model, m32):
        p = iaemu_posterior(mm, np.zeros(7))
        grads.append(timed(lambda: [p.logp_u_and_grad(np.array([0.1, 0.2])) for _ in range(200)])[0] / 200 * 1e3)
    rows[-1] = (rows[-1][0], f"{grads[0]:.2f} / {grads[1]:.2f}")
    print("| IAEmu (NumPy) | time (s) |\n|---|---|")
    for name, t in rows:
        print(f"| {name} | {t if isinstance(t, str) else f'{t:.3f}'} |")
    post = iaemu_posterior(m32, np.zeros(7))   # float32: the checkpoint's own precision, twice as fast
    post.n_evals = 0
    t_h, h = timed(lambda: hmc(post.logp_u_and_grad, np.zeros(2), n_warmup=1000, n_samples=1000, n_chains=1, seed=0))
    ev_h = post.n_evals
    ess_h = effective_sample_size(post.to_theta(h.samples)).min()
    post.n_evals = 0
    t_e, (e, _) = timed(lambda: run_emcee(post.log_prob, post.bounds, n_walkers=8, n_steps=1500, n_burn=500, seed=0))
    ev_e = post.n_evals
    ess_e = effective_sample_size(e).min()
    print("\n| sampler (2 free inputs, omega = 0 target) | iterations | time (s) | model calls | min ESS | ESS/s | ESS per call |")
    print("|---|---|---|---|---|---|---|")
    print(f"| HMC (NUTS), 1 chain, float32 model | 1000 warm-up + 1000 | {t_h:.1f} | {ev_h} (with gradient) | {ess_h:.0f} | {ess_h / t_h:.1f} | {ess_h / ev_h:.4f} |")
    print(f"| emcee, 8 walkers, float32 model | 1500 steps (500 burn) | {t_e:.1f} | {ev_e} | {ess_e:.0f} | {ess_e / t_e:.1f} | {ess_e / ev_e:.4f} |")


if __name__ == "__main__":
    main()
