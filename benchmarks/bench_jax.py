"""Benchmark: cosmocorr.jax (issue 25) against the NumPy kernels it calls, same process.

For each N (synthetic shear catalog, 8 linear bins 1-45 arcmin, sigmoid alpha = 1/arcmin): the NumPy
value pass, the NumPy VJP given the value (``soft_shear_shear_vjp(..., value=)``: the reverse pass
alone) and the NumPy JVP with P = 1; then, through ``cosmocorr.jax.soft_shear_shear`` under
``jax.jit``, the value, ``jax.value_and_grad`` of a loss sum_k c+_k xi+_k + c-_k xi-_k with respect
to all five per-object inputs (one value pass and one reverse pass: no Jacobian) and ``jax.jvp``
with one tangent per input. Each line: CPU time (time.process_time, over threads), wall time, and
CPU / (NumPy value CPU). The smallest CPU time of ``--repeat`` interleaved rounds is shown with
its range. The gradients are compared with the NumPy VJP (largest relative difference printed).

    python benchmarks/bench_jax.py [--sizes 20000] [--width 10] [--repeat 2] [--seed 0]
"""
import argparse
import time

import numpy as np

import jax
import jax.numpy as jnp

jax.config.update("jax_enable_x64", True)

import cosmocorr as cc  # noqa: E402
import cosmocorr.jax as ccj  # noqa: E402
from cosmocorr.differentiable import soft_shear_shear, soft_shear_shear_vjp  # noqa: E402
from cosmocorr.sky.synthetic import synthetic_shear_catalog  # noqa: E402

INPUTS = ("ra", "dec", "g1", "g2", "w")


def cpu_wall(fn):
    c0, w0 = time.process_time(), time.perf_counter()
    out = jax.block_until_ready(fn())
    return out, time.process_time() - c0, time.perf_counter() - w0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[20_000])
    ap.add_argument("--width", type=float, default=10.0)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    bins = cc.Bins(1.0, 45.0, 8)
    alpha = 1.0
    print(f"bins {bins}, sigmoid alpha = {alpha}/arcmin, field {args.width} x {args.width} deg, seed {args.seed}, "
          f"smallest CPU of {args.repeat} rounds")
    print("| N | call | CPU (s) | wall (s) | CPU / NumPy value CPU | CPU range (s) |")
    print("|---|---|---|---|---|---|")
    for n in args.sizes:
        cat = synthetic_shear_catalog(n, seed=args.seed, width_deg=args.width, weighted=True)
        rng = np.random.default_rng(args.seed)
        cp, cm = rng.normal(size=bins.nbins), rng.normal(size=bins.nbins)
        x = tuple(jnp.asarray(getattr(cat, k)) for k in INPUTS)
        t = tuple(jnp.asarray(rng.normal(size=n)) for _ in INPUTS)

        def loss(*a):
            xip, xim = ccj.soft_shear_shear(*a, bins.edges, alpha)
            return jnp.dot(cp, xip) + jnp.dot(cm, xim)
        value = jax.jit(lambda *a: ccj.soft_shear_shear(*a, bins.edges, alpha))
        vg = jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2, 3, 4)))
        jvp = jax.jit(lambda x, t: jax.jvp(lambda *a: ccj.soft_shear_shear(*a, bins.edges, alpha), x, t))
        small = tuple(a[:50] for a in x)            # compile once on a small catalog of the same dtype
        jax.block_until_ready(value(*small))
        calls = {
            "NumPy value": lambda: soft_shear_shear(cat, bins, alpha),
            "NumPy VJP given the value (reverse only)": lambda: soft_shear_shear_vjp(cat, bins, cp, cm, alpha=alpha,
                                                                                     value=res),
            "NumPy JVP P=1": lambda: soft_shear_shear(cat, bins, alpha, tangents={k: np.asarray(v) for k, v in
                                                                                 zip(INPUTS, t)}),
            "JAX value (jit)": lambda: value(*x),
            "JAX value_and_grad (jit; value + reverse)": lambda: vg(*x),
            "JAX jvp, 5 inputs (jit; value + forward)": lambda: jvp(x, t),
        }
        res = soft_shear_shear(cat, bins, alpha)
        vg(*x), jvp(x, t), value(*x)                  # compile at this N
        times = {k: [] for k in calls}
        outs = {}
        for _ in range(args.repeat):
            for k, fn in calls.items():
                outs[k], c, w = cpu_wall(fn)
                times[k].append((c, w))
        base = min(c for c, _ in times["NumPy value"])
        for k, tw in times.items():
            c, w = min(tw)
            cs = [q[0] for q in tw]
            print(f"| {n:,} | {k} | {c:.1f} | {w:.1f} | {c / base:.2f} | {min(cs):.1f}-{max(cs):.1f} |")
        g = outs["JAX value_and_grad (jit; value + reverse)"][1]
        ref = outs["NumPy VJP given the value (reverse only)"]
        dg = max(float(np.max(np.abs(np.asarray(gk) - ref[k])) / np.max(np.abs(ref[k]))) for k, gk in zip(INPUTS, g))
        r = outs["NumPy JVP P=1"]
        dj = outs["JAX jvp, 5 inputs (jit; value + forward)"][1]
        dt = max(float(np.max(np.abs(np.asarray(a) - b[:, 0])) / np.max(np.abs(b))) for a, b in zip(dj, (r.dxip, r.dxim)))
        print(f"N = {n:,}: JAX grad vs NumPy VJP largest relative difference {dg:.1e}; JAX jvp vs NumPy JVP {dt:.1e}")


if __name__ == "__main__":
    main()
